/*
 * tool.h: the door of lib/tool/, the built-in tools that agent apps,
 * agent nodes and tool nodes call.  Stands on core (and files inside).
 */
#ifndef TOOL_H
#define TOOL_H

#include "core/core.h"

/* ---- tools.c: built-in tools ---- */

struct tool_def {
	const char	*provider;
	const char	*name;
	const char	*description;
	const char	*params_schema;		/* JSON Schema text */
	int		 (*run)(json_object *args, struct buf *out, char *err,
			    size_t errlen);
};

/* A built-in tool by provider (NULL: any) and name, or NULL. */
const struct tool_def *tool_find(const char *provider, const char *name);
/* The tool as an OpenAI "tools" item (new object). */
json_object *tool_schema(const struct tool_def *);
/* Run a tool: its text output appended to "out"; 0, or -1 with "err". */
int	 tool_run(const struct tool_def *, json_object *args, struct buf *out,
	    char *err, size_t errlen);

#endif
