/*
 * template.h: the door of lib/template/, the Jinja2 subset of
 * template-transform nodes and jinja2 prompts.  Stands on core only.
 */
#ifndef TEMPLATE_H
#define TEMPLATE_H

#include "core/core.h"

/* ---- tmpl.c: the Jinja2 subset of template-transform and jinja2 prompts */

#define TMPL_OUTPUT_MAX		(1024 * 1024)
/*
 * Render Jinja2 "src" (len bytes) with the variables of object "vars"
 * (borrowed; NULL for none) into "out" (appended; its cap bounds the
 * output).  Returns 0, or -1 with a message in err[errlen].
 */
int	 tmpl_render(const char *src, size_t len, json_object *vars,
	    struct buf *out, char *err, size_t errlen);

#endif
