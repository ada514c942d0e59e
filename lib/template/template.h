/*
 * template.h: the door of lib/template/, the Jinja2 subset of
 * template-transform nodes and jinja2 prompts.  Stands on core only.
 */
#ifndef TEMPLATE_H
#define TEMPLATE_H

#include "core/core.h"

/* ---- tmpl.c: the Jinja2 subset of template-transform and jinja2 prompts */

#define TMPL_OUTPUT_MAX		(1024 * 1024)
#define TMPL_STOPPED		1

/*
 * What one render may do, and what it did.  A step is a node, a loop
 * round, an operator, a filter or method call, and each item or 64 bytes
 * one of them goes through; bytes are what the strings, lists and dicts
 * the render has made and still holds (output included) cost.  "tick"
 * (NULL: none) is called every few thousand steps, well under a
 * millisecond apart; non-zero ends the render.
 */
struct tmpl_limits {
	long long	 max_steps;	/* 0: TMPL_STEPS_MAX */
	size_t		 max_bytes;	/* 0: TMPL_BYTES_MAX */
	int		(*tick)(void *arg);
	void		*arg;
	long long	 steps;		/* set by tmpl_render */
	size_t		 bytes;		/* at most alive at once */
};

/*
 * Render Jinja2 "src" (len bytes) with the variables of object "vars"
 * (borrowed; NULL for none) into "out" (appended; its cap bounds the
 * output), within "lim" (NULL: the defaults, no tick).  Returns 0, -1
 * with a message in err[errlen] (past a limit too), or TMPL_STOPPED when
 * the tick ended the render.
 */
int	 tmpl_render(const char *src, size_t len, json_object *vars,
	    struct tmpl_limits *lim, struct buf *out, char *err,
	    size_t errlen);

#endif
