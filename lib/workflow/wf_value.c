/*
 * wf_value.c: a workflow variable's "text" and "markdown" renderings, as
 * core/variables/segments.py gives them (spec workflow.md 3.6), over the
 * Python forms of lib/core/pyval.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

int
wf_is_file(json_object *v)
{
	const char	*id = json_str(v, "dify_model_identity");

	return id != NULL && strcmp(id, "__dify__file__") == 0;
}

static int
all_strings(json_object *arr)
{
	size_t	i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(arr, i),
		    json_type_string))
			return 0;
	return 1;
}

/* A file as markdown: an image link for images, a link otherwise. */
static void
file_markdown(struct buf *b, json_object *f)
{
	const char	*type = json_str(f, "type"), *name, *url;

	name = json_str(f, "filename");
	url = json_str(f, "url");
	if (url == NULL)
		url = json_str(f, "remote_url");
	buf_printf(b, "%s[%s](%s)", type != NULL && strcmp(type, "image") ==
	    0 ? "!" : "", name ? name : "", url ? url : "");
}

void
wf_render(struct buf *b, json_object *v, enum wf_render mode)
{
	size_t		 i, n;
	json_object	*item;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return;
	case json_type_string:
		buf_append(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		return;
	case json_type_boolean:
	case json_type_int:
	case json_type_double:
		py_repr(b, v);
		return;
	case json_type_object:
		if (wf_is_file(v)) {
			if (mode == WF_MARKDOWN)
				file_markdown(b, v);
			return;
		}
		py_json(b, v, mode == WF_MARKDOWN ? 2 : 0);
		return;
	case json_type_array:
		n = json_object_array_length(v);
		if (n == 0)
			return;
		if (mode == WF_TEXT) {
			if (wf_is_file(json_object_array_get_idx(v, 0)))
				return;
			if (all_strings(v))
				py_json(b, v, 0);
			else
				py_repr(b, v);
			return;
		}
		for (i = 0; i < n; i++) {
			item = json_object_array_get_idx(v, i);
			if (i > 0)
				buf_puts(b, "\n");
			if (wf_is_file(item))
				file_markdown(b, item);
			else {
				buf_puts(b, "- ");
				py_str(b, item);
			}
		}
		return;
	}
}
