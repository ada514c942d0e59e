/*
 * dsl_export.c: an app as a DSL file (dsl_export), the document Dify's
 * export_dsl builds (api/services/app_dsl_service.py) written as YAML
 * that reads back the same: keys sorted as yaml.dump writes them, every
 * string quoted that PyYAML would read as something else (dsl_scalar.c
 * says which), doubles spelt as Python spells them.  Secret environment
 * variables and tool credentials are left out unless asked for; agent
 * tools never carry theirs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "dsl_int.h"

static int
emit_write(void *data, unsigned char *bytes, size_t size)
{
	return buf_append(data, bytes, size) == 0;
}

static int
emit_event(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
	return ok && yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t len, int plain,
    yaml_scalar_style_t style)
{
	yaml_event_t	ev;

	return emit_event(em, &ev, yaml_scalar_event_initialize(&ev, NULL,
	    NULL, (yaml_char_t *)s, (int)len, plain, 1, style));
}

/*
 * A string: plain only when PyYAML would read it back as a string, and
 * multi-line text as a literal block (libyaml falls back to double quotes
 * when a block cannot hold it exactly).
 */
static int
emit_string(yaml_emitter_t *em, const char *s, size_t len)
{
	int	plain = strlen(s) == len && dsl_resolve_plain(s) == K_STR;

	return emit_scalar(em, s, len, plain, memchr(s, '\n', len) != NULL ?
	    YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int
key_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int
emit_value(yaml_emitter_t *em, json_object *v)
{
	yaml_event_t	 ev;
	const char	**keys;
	char		 num[48], *e;
	size_t		 i, n;
	int		 rc = 0;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return emit_scalar(em, "null", 4, 1, YAML_ANY_SCALAR_STYLE);
	case json_type_boolean:
		return emit_scalar(em, json_object_get_boolean(v) ? "true" :
		    "false", json_object_get_boolean(v) ? 4 : 5, 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_int:
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_object_get_int64(v));
		return emit_scalar(em, num, strlen(num), 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_double:
		if (!isfinite(json_object_get_double(v)))
			return emit_scalar(em, "null", 4, 1,
			    YAML_ANY_SCALAR_STYLE);
		/* PyYAML's represent_float: 1e+16 becomes 1.0e+16 */
		dsl_py_repr(json_object_get_double(v), num + 2);
		if (strchr(num + 2, '.') == NULL &&
		    (e = strchr(num + 2, 'e')) != NULL) {
			memmove(e + 2, e, strlen(e) + 1);
			memcpy(e, ".0", 2);
		}
		return emit_scalar(em, num + 2, strlen(num + 2), 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_string:
		return emit_string(em, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	case json_type_array:
		if (emit_event(em, &ev, yaml_sequence_start_event_initialize(
		    &ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE)) == -1)
			return -1;
		for (i = 0; i < json_object_array_length(v) && rc == 0; i++)
			rc = emit_value(em, json_object_array_get_idx(v, i));
		if (rc == -1)
			return -1;
		return emit_event(em, &ev,
		    yaml_sequence_end_event_initialize(&ev));
	case json_type_object:
		n = (size_t)json_object_object_length(v);
		keys = xcalloc(n + 1, sizeof(*keys));
		i = 0;
		json_object_object_foreach(v, k, val) {
			(void)val;
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), key_cmp);
		rc = emit_event(em, &ev, yaml_mapping_start_event_initialize(
		    &ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE));
		for (i = 0; i < n && rc == 0; i++) {
			rc = emit_string(em, keys[i], strlen(keys[i]));
			if (rc == 0)
				rc = emit_value(em, json_get(v, keys[i]));
		}
		free(keys);
		if (rc == -1)
			return -1;
		return emit_event(em, &ev,
		    yaml_mapping_end_event_initialize(&ev));
	}
	return -1;
}

static void
add_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

static json_object *
or_empty(json_object *v, int array)
{
	if (v != NULL)
		return json_object_get(v);
	return array ? json_object_new_array() : json_object_new_object();
}

static void
drop_credentials(json_object *tools)
{
	size_t	i;

	if (!json_object_is_type(tools, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(tools); i++)
		json_object_object_del(json_object_array_get_idx(tools, i),
		    "credential_id");
}

/*
 * The nodes without the workspace's tool credentials, as Dify exports
 * them when secrets are not asked for: a copy.
 */
static json_object *
nodes_without_credentials(json_object *nodes)
{
	json_object	*copy = dsl_copy_value(nodes), *d;
	const char	*type;
	size_t		 i;

	for (i = 0; i < json_object_array_length(copy); i++) {
		d = json_get(json_object_array_get_idx(copy, i), "data");
		type = json_str(d, "type");
		if (type != NULL && strcmp(type, "tool") == 0)
			json_object_object_del(d, "credential_id");
		if (type != NULL && strcmp(type, "agent") == 0)
			drop_credentials(json_get(json_get(json_get(d,
			    "agent_parameters"), "tools"), "value"));
	}
	return copy;
}

/* The document as Dify's export_dsl builds it. */
static json_object *
export_doc(const struct dsl_app *a, int include_secret)
{
	json_object	*doc = json_object_new_object(), *app, *wf, *g, *env;
	json_object	*item, *cfg, *nodes;
	const char	*vt;
	size_t		 i;

	app = json_object_new_object();
	add_str(app, "name", a->name);
	add_str(app, "mode", a->mode);
	add_str(app, "icon", a->icon);
	add_str(app, "icon_type", a->icon_type);
	add_str(app, "icon_background", a->icon_background);
	add_str(app, "description", a->description ? a->description : "");
	json_object_object_add(app, "use_icon_as_answer_icon",
	    json_object_new_boolean(a->use_icon_as_answer_icon));
	json_object_object_add(doc, "app", app);
	add_str(doc, "kind", "app");
	add_str(doc, "version", DSL_VERSION);
	json_object_object_add(doc, "dependencies", json_object_new_array());
	if (!app_mode_is_workflow(a->mode)) {
		/* Dify drops agent tools' credentials, secrets or not */
		cfg = a->config != NULL ? dsl_copy_value(a->config) :
		    json_object_new_object();
		drop_credentials(json_get(json_get(cfg, "agent_mode"),
		    "tools"));
		json_object_object_add(doc, "model_config", cfg);
		return doc;
	}
	env = json_object_new_array();
	for (i = 0; a->env != NULL && i < json_object_array_length(a->env);
	    i++) {
		item = dsl_copy_value(json_object_array_get_idx(a->env, i));
		vt = json_str(item, "value_type");
		if (!include_secret && vt != NULL && strcmp(vt, "secret") == 0)
			json_object_object_add(item, "value",
			    json_object_new_string(""));
		json_object_array_add(env, item);
	}
	g = json_object_new_object();
	nodes = json_get(a->graph, "nodes");
	json_object_object_add(g, "nodes", nodes == NULL ?
	    json_object_new_array() : include_secret ?
	    json_object_get(nodes) : nodes_without_credentials(nodes));
	json_object_object_add(g, "edges",
	    or_empty(json_get(a->graph, "edges"), 1));
	wf = json_object_new_object();
	json_object_object_add(wf, "conversation_variables",
	    or_empty(a->conv, 1));
	json_object_object_add(wf, "environment_variables", env);
	json_object_object_add(wf, "features", or_empty(a->features, 0));
	json_object_object_add(wf, "graph", g);
	json_object_object_add(doc, "workflow", wf);
	return doc;
}

int
dsl_export(const struct dsl_app *a, int include_secret, struct buf *out)
{
	yaml_emitter_t	 em;
	yaml_event_t	 ev;
	json_object	*doc;
	int		 rc = -1;

	if (!yaml_emitter_initialize(&em))
		return -1;
	yaml_emitter_set_output(&em, emit_write, out);
	yaml_emitter_set_unicode(&em, 1);
	doc = export_doc(a, include_secret);
	if (emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev,
	    YAML_UTF8_ENCODING)) == 0 &&
	    emit_event(&em, &ev, yaml_document_start_event_initialize(&ev,
	    NULL, NULL, NULL, 1)) == 0 &&
	    emit_value(&em, doc) == 0 &&
	    emit_event(&em, &ev, yaml_document_end_event_initialize(&ev,
	    1)) == 0 &&
	    emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev)) == 0 &&
	    yaml_emitter_flush(&em))
		rc = 0;
	yaml_emitter_delete(&em);
	json_object_put(doc);
	return rc;
}
