/*
 * dsl_load.c: dsl_load, a DSL file read, checked and normalised into a
 * struct dsl_app (see dsl.h), as Dify's import_app checks one
 * (api/services/app_dsl_service.py) and its editor opens one.  Here: the
 * node types import accepts; the state of one load and its messages,
 * each naming the node it is about (dsl_int.h); the sections of the file
 * (version, app, model_config, the workflow's features and variables);
 * the envelope of every node and edge; and what the app row gets from
 * the graph.  In between, load_workflow has dsl_normalise.c migrate the
 * graph and dsl_check.c check it as a whole.
 *
 * dsl_load is pure so that the fuzzer (tests/fuzz/fuzz_dsl.c) can run it:
 * it never aborts on input, reports every problem it finds rather than the
 * first, and only normalises nodes whose envelope is sound.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_int.h"
#include "workflow/workflow.h"

/*
 * Dify's node types.  Import accepts exactly these (anything else, e.g.
 * human-input or the trigger types, fails naming the node) and warns about
 * the ones the workflow engine has no executor for (wf_type_find in
 * lib/workflow/wf_node.c), so a run fails when it reaches one.  Asking
 * the engine's own table, rather than keeping a second list here, means a
 * warning can never outlive the node type's implementation.
 */
static const char *const node_types[] = {
	"start", "end", "answer", "llm", "knowledge-retrieval",
	"question-classifier", "if-else", "code", "template-transform",
	"http-request", "tool", "variable-aggregator",
	"variable-assigner",	/* legacy name of the aggregator */
	"assigner", "parameter-extractor", "iteration", "iteration-start",
	"loop", "loop-start", "loop-end", "list-operator",
	"document-extractor", "agent",
};

static const char *const app_modes[] = {
	"workflow", "advanced-chat", "chat", "agent-chat", "completion", NULL
};

#define ERR_MAX		256

int
dsl_node_type_known(const char *type)
{
	size_t	i;

	for (i = 0; i < sizeof(node_types) / sizeof(node_types[0]); i++)
		if (strcmp(node_types[i], type) == 0)
			return 1;
	return 0;
}

int
dsl_node_type_runnable(const char *type)
{
	return dsl_node_type_known(type) && wf_type_find(type) != NULL;
}

const char *
dsl_node_type_at(size_t i)
{
	return i < sizeof(node_types) / sizeof(node_types[0]) ?
	    node_types[i] : NULL;
}

/* ---- messages: problems and warnings, each naming its node ---- */

#define SAY_MAX		200	/* messages of each kind listed */

#define QUOTE_MAX	80

/* "s" quoted and escaped for a message, at most QUOTE_MAX bytes of it. */
const char *
dsl_qs(struct dsl_load *L, const char *s)
{
	size_t	 n = strlen(s), cut = n, i, o = 0;
	char	*out;

	if (n > QUOTE_MAX) {
		cut = QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	out = pool_alloc(&L->p, cut * 4 + 8);
	out[o++] = '"';
	for (i = 0; i < cut; i++) {
		unsigned char	ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(out + o, 5, "\\x%02x", ch);
			o += 4;
		} else
			out[o++] = (char)ch;
	}
	if (cut < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* node "id": "title" (type), or node #N when it has no id. */
static void
node_desc(struct dsl_load *L, struct buf *b, const struct dsl_node *nd)
{
	const char	*t;

	if (nd->id != NULL)
		buf_printf(b, "node %s", dsl_qs(L, nd->id));
	else
		buf_printf(b, "node #%d", nd->pos + 1);
	if (nd->title != NULL && nd->title[0] != '\0')
		buf_printf(b, ": %s", dsl_qs(L, nd->title));
	if (nd->type != NULL && nd->type[0] != '\0') {
		t = dsl_qs(L, nd->type);
		buf_printf(b, " (%.*s)", (int)strlen(t) - 2, t + 1);
	}
}

/* Add a message to "list", prefixed with the node it is about. */
void
dsl_say(struct dsl_load *L, json_object *list, const struct dsl_node *nd,
    const char *fmt, ...)
{
	struct buf	 b;
	char		 msg[4096];
	va_list		 ap;

	if (json_object_array_length(list) >= SAY_MAX) {
		L->unsaid[list == L->a->problems ? 0 : 1]++;
		return;
	}
	buf_init(&b, 8192);
	if (nd != NULL) {
		node_desc(L, &b, nd);
		buf_puts(&b, ": ");
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dsl_tidy(msg);
	buf_puts(&b, msg);
	json_object_array_add(list, json_object_new_string(buf_cstr(&b)));
	buf_free(&b);
}

struct dsl_node *
dsl_find_node(struct dsl_load *L, const char *id)
{
	json_object	*v;

	if (id == NULL || !json_object_object_get_ex(L->index, id, &v))
		return NULL;
	return &L->nodes[json_object_get_int(v)];
}

int
dsl_type_is(const struct dsl_node *nd, const char *type)
{
	return nd->type != NULL && strcmp(nd->type, type) == 0;
}

/* ---- the sections of the file, and the envelopes of the graph ---- */

/* An optional string field of "o": 0, or -1 after a problem. */
static int
opt_string(struct dsl_load *L, json_object *o, const char *key,
    const char *what, const char **out)
{
	json_object	*v = json_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		PROBLEM(L, NULL, "%s.%s: must be a string", what, key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* "1.2.3" into numbers (more than four parts are ignored): 0 or -1. */
static int
version_parse(const char *s, long v[4])
{
	char	*end;
	int	 i = 0;

	memset(v, 0, 4 * sizeof(v[0]));
	for (;;) {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		if (i < 4)
			v[i++] = strtol(s, &end, 10);
		else
			strtol(s, &end, 10);
		if (errno != 0)
			return -1;
		if (*end == '\0')
			return 0;
		if (*end != '.')
			return -1;
		s = end + 1;
	}
}

/* version, kind and the app section (spec 2.5 rules 2 and 4). */
static void
load_header(struct dsl_load *L, const char *name)
{
	struct dsl_app	*a = L->a;
	json_object	*app, *v;
	long		 have[4], cur[4];
	int		 i;

	v = json_get(a->doc, "version");
	if (v == NULL && !json_object_object_get_ex(a->doc, "version", NULL))
		a->version = "0.1.0";
	else if (!json_object_is_type(v, json_type_string))
		PROBLEM(L, NULL, "version: must be a string such as '0.6.0' "
		    "(quote it)");
	else {
		a->version = json_object_get_string(v);
		if (version_parse(a->version, have) == -1)
			PROBLEM(L, NULL, "version: %s is not a version number",
			    dsl_qs(L, a->version));
		else {
			version_parse(DSL_VERSION, cur);
			for (i = 0; i < 4 && have[i] == cur[i]; i++)
				;
			if (i < 4 && have[i] > cur[i])
				WARN(L, NULL, "version %s is newer than %s, "
				    "the newest this importer knows",
				    dsl_qs(L, a->version), DSL_VERSION);
		}
	}
	app = json_get(a->doc, "app");
	if (!json_object_is_type(app, json_type_object)) {
		PROBLEM(L, NULL, "app: missing (Missing app data in YAML "
		    "content)");
		return;
	}
	if (opt_string(L, app, "mode", "app", &a->mode) == 0) {
		if (a->mode == NULL)
			PROBLEM(L, NULL, "app.mode: missing");
		else if (!dsl_in_list(app_modes, a->mode)) {
			PROBLEM(L, NULL, "app.mode: unknown mode %s (expected "
			    "workflow, advanced-chat, chat, agent-chat or "
			    "completion)", dsl_qs(L, a->mode));
			a->mode = NULL;
		}
	}
	if (name != NULL)
		a->name = name;
	else if (opt_string(L, app, "name", "app", &a->name) == -1)
		a->name = "-";	/* not a string: reported already */
	if (a->name == NULL || a->name[0] == '\0')
		PROBLEM(L, NULL, "app.name: missing (or give a name)");
	opt_string(L, app, "description", "app", &a->description);
	opt_string(L, app, "icon_type", "app", &a->icon_type);
	opt_string(L, app, "icon", "app", &a->icon);
	opt_string(L, app, "icon_background", "app", &a->icon_background);
	v = json_get(app, "use_icon_as_answer_icon");
	if (json_object_is_type(v, json_type_boolean))
		a->use_icon_as_answer_icon = json_object_get_boolean(v);
	else if (v != NULL)
		PROBLEM(L, NULL, "app.use_icon_as_answer_icon: must be true "
		    "or false");
}

static void
load_model_config(struct dsl_load *L)
{
	json_object	*mc = json_get(L->a->doc, "model_config");

	if (!json_object_is_type(mc, json_type_object)) {
		PROBLEM(L, NULL, "model_config: missing (Missing model_config "
		    "for chat/agent-chat/completion app)");
		return;
	}
	if (json_get(mc, "model") == NULL)
		WARN(L, NULL, "model_config.model: missing; the app cannot "
		    "answer until it has a model");
	L->a->config = dsl_copy_value(mc);
}

/* Environment or conversation variables: a list of {name, value_type,
 * value, ...} (spec 2.3). */
static json_object *
load_variables(struct dsl_load *L, json_object *wf, const char *key)
{
	json_object	*list = json_get(wf, key), *item;
	const char	*name;
	size_t		 i;

	if (list == NULL)
		return json_object_new_array();
	if (!json_object_is_type(list, json_type_array)) {
		PROBLEM(L, NULL, "workflow.%s: must be a list", key);
		return NULL;
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object)) {
			PROBLEM(L, NULL, "%s[%zu]: not a mapping", key, i);
			continue;
		}
		name = json_str(item, "name");
		if (name == NULL || name[0] == '\0')
			PROBLEM(L, NULL, "%s[%zu]: missing name", key, i);
		if (json_str(item, "value_type") == NULL)
			PROBLEM(L, NULL, "%s[%zu] %s: missing value_type", key,
			    i, dsl_qs(L, name ? name : ""));
		if (!json_object_object_get_ex(item, "value", NULL))
			PROBLEM(L, NULL, "%s[%zu] %s: missing value", key, i,
			    dsl_qs(L, name ? name : ""));
	}
	return dsl_copy_value(list);
}

/* The nodes, notes dropped, each envelope checked; fills the index. */
static void
load_nodes(struct dsl_load *L, json_object *list)
{
	json_object	*item, *v;
	struct dsl_node	*nd, *other;
	const char	*top;
	size_t		 i, len = json_object_array_length(list);

	L->cap = 2 * len + 1;	/* a container adds at most one node */
	L->nodes = xcalloc(L->cap, sizeof(*L->nodes));
	for (i = 0; i < len; i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object)) {
			PROBLEM(L, NULL, "node #%zu: not a mapping", i + 1);
			continue;
		}
		top = json_str(item, "type");
		if (top != NULL && strcmp(top, "custom-note") == 0)
			continue;	/* an editor sticky note */
		nd = &L->nodes[L->n++];
		nd->obj = item;
		nd->pos = (int)i;
		json_object_array_add(L->node_list, json_object_get(item));
		v = json_get(item, "data");
		if (json_object_is_type(v, json_type_object)) {
			nd->data = v;
			nd->title = json_str(v, "title");
			nd->type = json_str(v, "type");
		}
		v = json_get(item, "id");
		if (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) > 0)
			nd->id = json_object_get_string(v);
		else if (v != NULL && !json_object_is_type(v, json_type_null))
			PROBLEM(L, nd, "id must be a string (quote it)");
		else
			PROBLEM(L, nd, "missing id");
		if (nd->data == NULL)
			PROBLEM(L, nd, "missing data");
		else if (nd->type == NULL || nd->type[0] == '\0')
			PROBLEM(L, nd, "missing data.type");
		else if (!dsl_node_type_known(nd->type))
			PROBLEM(L, nd, "unknown node type");
		nd->ok = nd->id != NULL && nd->type != NULL &&
		    dsl_node_type_known(nd->type);
		if (nd->id == NULL)
			continue;
		if ((other = dsl_find_node(L, nd->id)) != NULL) {
			PROBLEM(L, nd, "duplicate id (node #%d has it too)",
			    other->pos + 1);
			nd->ok = 0;
			continue;
		}
		json_object_object_add(L->index, nd->id,
		    json_object_new_int((int)(nd - L->nodes)));
	}
}

void
dsl_add_edge(struct dsl_load *L, struct dsl_node *src, struct dsl_node *tgt)
{
	if (L->ne == L->ecap) {
		L->ecap = L->ecap ? 2 * L->ecap : 64;
		L->esrc = xrealloc(L->esrc, L->ecap * sizeof(*L->esrc));
		L->etgt = xrealloc(L->etgt, L->ecap * sizeof(*L->etgt));
	}
	L->esrc[L->ne] = (int)(src - L->nodes);
	L->etgt[L->ne] = (int)(tgt - L->nodes);
	L->ne++;
}

/* One end of an edge: the node; NULL, and "*why" set, when it is not. */
static struct dsl_node *
edge_end(struct dsl_load *L, json_object *e, const char *end, const char **why)
{
	json_object	*v = json_get(e, end);
	struct dsl_node	*nd;

	*why = NULL;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*why = pool_printf(&L->p, "missing %s", end);
		return NULL;
	}
	if ((nd = dsl_find_node(L, json_object_get_string(v))) == NULL)
		*why = pool_printf(&L->p, "%s %s is not a node", end,
		    dsl_qs(L, json_object_get_string(v)));
	return nd;
}

/* edge "id" (from node ...): what is wrong */
static void
edge_problem(struct dsl_load *L, json_object *e, size_t i,
    struct dsl_node *other, const char *dir, const char *why)
{
	struct buf	 b;
	const char	*eid = json_str(e, "id");

	buf_init(&b, 4096);
	if (eid != NULL)
		buf_printf(&b, "edge %s", dsl_qs(L, eid));
	else
		buf_printf(&b, "edge #%zu", i + 1);
	if (other != NULL) {
		buf_printf(&b, " (%s ", dir);
		node_desc(L, &b, other);
		buf_puts(&b, ")");
	}
	PROBLEM(L, NULL, "%s: %s", buf_cstr(&b), why);
	buf_free(&b);
}

static void
load_edges(struct dsl_load *L, json_object *list)
{
	json_object	*e;
	struct dsl_node	*src, *tgt;
	const char	*swhy, *twhy;
	size_t		 i;

	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (!json_object_is_type(e, json_type_object)) {
			PROBLEM(L, NULL, "edge #%zu: not a mapping", i + 1);
			continue;
		}
		json_object_array_add(L->edge_list, json_object_get(e));
		src = edge_end(L, e, "source", &swhy);
		tgt = edge_end(L, e, "target", &twhy);
		if (swhy != NULL)
			edge_problem(L, e, i, tgt, "to", swhy);
		if (twhy != NULL)
			edge_problem(L, e, i, src, "from", twhy);
		if (src != NULL && tgt != NULL)
			dsl_add_edge(L, src, tgt);
	}
}

/* ---- the workflow, and what the app row gets from its graph ---- */

/* [{<type>: <variable>}, ...] of the first start node (Dify's
 * Workflow.user_input_form(to_old_structure=True)). */
static json_object *
user_input_form(struct dsl_load *L)
{
	json_object	*form = json_object_new_array(), *vars, *var, *item;
	struct dsl_node	*nd = NULL;
	const char	*type;
	size_t		 i;

	for (i = 0; i < L->n && nd == NULL; i++)
		if (L->nodes[i].ok && dsl_type_is(&L->nodes[i], "start"))
			nd = &L->nodes[i];
	vars = nd != NULL ? json_get(nd->data, "variables") : NULL;
	if (vars == NULL)
		return form;
	if (!json_object_is_type(vars, json_type_array)) {
		PROBLEM(L, nd, "variables must be a list");
		return form;
	}
	for (i = 0; i < json_object_array_length(vars); i++) {
		var = json_object_array_get_idx(vars, i);
		type = json_str(var, "type");
		if (type == NULL || type[0] == '\0') {
			PROBLEM(L, nd, "variables[%zu]: missing type", i);
			continue;
		}
		if (json_str(var, "variable") == NULL)
			PROBLEM(L, nd, "variables[%zu]: missing variable name",
			    i);
		item = json_object_new_object();
		json_object_object_add(item, type, dsl_copy_value(var));
		json_object_array_add(form, item);
	}
	return form;
}

static json_object *
first_llm_model(struct dsl_load *L)
{
	json_object	*m;
	size_t		 i;

	for (i = 0; i < L->n; i++) {
		if (!L->nodes[i].ok || !dsl_type_is(&L->nodes[i], "llm"))
			continue;
		m = json_get(L->nodes[i].data, "model");
		return json_object_is_type(m, json_type_object) ?
		    dsl_copy_value(m) : NULL;
	}
	return NULL;
}

static void
load_workflow(struct dsl_load *L)
{
	struct dsl_app	*a = L->a;
	json_object	*wf = json_get(a->doc, "workflow"), *g, *nodes, *edges;
	json_object	*form, *model;
	size_t		 i;

	if (!json_object_is_type(wf, json_type_object)) {
		PROBLEM(L, NULL, "workflow: missing (Missing workflow data for "
		    "workflow/advanced chat app)");
		return;
	}
	a->features = json_get(wf, "features");
	if (a->features == NULL)
		a->features = json_object_new_object();
	else if (json_object_is_type(a->features, json_type_object))
		a->features = dsl_copy_value(a->features);
	else {
		PROBLEM(L, NULL, "workflow.features: must be a mapping");
		a->features = NULL;
	}
	a->env = load_variables(L, wf, "environment_variables");
	a->conv = load_variables(L, wf, "conversation_variables");
	g = json_get(wf, "graph");
	nodes = json_get(g, "nodes");
	edges = json_get(g, "edges");
	if (!json_object_is_type(nodes, json_type_array)) {
		PROBLEM(L, NULL, "workflow.graph.nodes: missing");
		return;
	}
	if (edges != NULL && !json_object_is_type(edges, json_type_array)) {
		PROBLEM(L, NULL, "workflow.graph.edges: must be a list");
		return;
	}
	a->graph = json_object_new_object();
	L->node_list = json_object_new_array();
	L->edge_list = json_object_new_array();
	json_object_object_add(a->graph, "nodes", L->node_list);
	json_object_object_add(a->graph, "edges", L->edge_list);
	load_nodes(L, nodes);
	if (edges != NULL)
		load_edges(L, edges);
	dsl_normalise(L);
	dsl_check_graph(L);
	for (i = 0; i < L->n; i++)
		if (L->nodes[i].ok && !dsl_node_type_runnable(
		    L->nodes[i].type))
			WARN(L, &L->nodes[i], "the engine cannot run %s nodes "
			    "yet: runs fail when they reach it",
			    L->nodes[i].type);
	a->config = json_object_new_object();
	if (a->features != NULL) {
		json_object_object_foreach(a->features, k, v)
			json_object_object_add(a->config, k,
			    dsl_copy_value(v));
	}
	form = user_input_form(L);
	json_object_object_add(a->config, "user_input_form", form);
	if ((model = first_llm_model(L)) != NULL)
		json_object_object_add(a->config, "model", model);
}

int
dsl_load(const char *text, size_t len, const char *name, struct dsl_app *a)
{
	struct dsl_load	 L;
	char		 err[ERR_MAX];

	memset(a, 0, sizeof(*a));
	memset(&L, 0, sizeof(L));
	L.a = a;
	L.index = json_object_new_object();
	a->problems = json_object_new_array();
	a->warnings = json_object_new_array();
	a->doc = dsl_yaml_to_json(text, len, err, sizeof(err));
	if (a->doc == NULL && err[0] != '\0')
		PROBLEM(&L, NULL, "invalid YAML: %s", err);
	else if (!json_object_is_type(a->doc, json_type_object))
		PROBLEM(&L, NULL, "Invalid YAML format: content must be a "
		    "mapping");
	else {
		load_header(&L, name);
		if (a->mode != NULL && app_mode_is_workflow(a->mode))
			load_workflow(&L);
		else if (a->mode != NULL)
			load_model_config(&L);
	}
	a->nproblems = json_object_array_length(a->problems) + L.unsaid[0];
	if (L.unsaid[0] > 0)
		json_object_array_add(a->problems, json_object_new_string(
		    pool_printf(&L.p, "and %zu more problems", L.unsaid[0])));
	if (L.unsaid[1] > 0)
		json_object_array_add(a->warnings, json_object_new_string(
		    pool_printf(&L.p, "and %zu more warnings", L.unsaid[1])));
	free(L.nodes);
	free(L.esrc);
	free(L.etgt);
	json_object_put(L.index);
	pool_free_all(&L.p);
	return json_object_array_length(a->problems) > 0 ? -1 : 0;
}

void
dsl_app_free(struct dsl_app *a)
{
	json_object_put(a->doc);
	json_object_put(a->config);
	json_object_put(a->graph);
	json_object_put(a->features);
	json_object_put(a->env);
	json_object_put(a->conv);
	json_object_put(a->problems);
	json_object_put(a->warnings);
	memset(a, 0, sizeof(*a));
}
