/*
 * wf_run.c: the engine that runs a workflow graph (spec workflow.md 4).
 * Mirrors the semantics of Dify 1.9+'s graph engine, run sequentially:
 *
 *  - edges are unknown, taken or skipped; a node is ready when none of
 *    its incoming edges is unknown and one is taken; skips propagate, so
 *    a join runs once, after the untaken side is settled;
 *  - branch nodes (if-else, classifiers, fail-branch error strategy)
 *    take the edges of their selected handle and skip the others;
 *  - response nodes (answer, end) have templates that become active as
 *    soon as the node is certain to run and are emitted in order, text
 *    first, streamed LLM text chunk by chunk as it arrives, other values
 *    once they exist (4.3);
 *  - failures go through retry_config and error_strategy (4.6), the run
 *    ends succeeded, partial-succeeded, failed or stopped (4.5);
 *  - the stop flag of the task is polled every 100 ms between nodes and
 *    inside LLM streaming (wf_engine_tick).
 * Node executions and the run are stored as they happen (db_workflow.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workflow/workflow.h"

#define STEPS_MAX		500
#define POLL_INTERVAL_S		0.1
#define HEARTBEAT_INTERVAL_S	5.0
#define STOPPED_MSG		"Stopped by user."
#define GONE_MSG		"The client disconnected before the run " \
				"finished."

enum { NS_WAIT, NS_QUEUED, NS_RUNNING, NS_DONE, NS_SKIPPED };
enum { ES_UNKNOWN, ES_TAKEN, ES_SKIPPED };

struct wf_edge {
	int		 src, dst;
	const char	*handle;
	int		 state;
};

/* A response node's template being streamed. */
struct wf_tpl {
	int		 node;
	struct wf_seg	*segs;
	int		 nsegs;
	int		 cur;		/* segment in progress */
	int		 chunk;		/* chunks of a stream consumed */
	int		 active, done, order;
};

/* ---- building ---- */

static int
find_node(struct wf_engine *e, const char *id)
{
	int	i;

	for (i = 0; i < e->nnodes; i++)
		if (strcmp(e->nodes[i].id, id) == 0)
			return i;
	return -1;
}

static const char *
node_type(json_object *n)
{
	return json_str(json_get(n, "data"), "type");
}

/* Nodes inside iterations and loops, and sticky notes, are not ours. */
static int
top_level(json_object *n)
{
	const char	*parent = json_str(n, "parentId"), *t = node_type(n);
	const char	*env = json_str(n, "type");

	if (parent != NULL && *parent != '\0')
		return 0;
	if (env != NULL && strcmp(env, "custom-note") == 0)
		return 0;
	return t != NULL && *t != '\0' && strcmp(t, "iteration-start") != 0 &&
	    strcmp(t, "loop-start") != 0;
}

int
wf_graph_check(json_object *graph, char *err, size_t errlen)
{
	json_object	*nodes = json_get(graph, "nodes"), *n;
	json_object	*edges = json_get(graph, "edges"), *ed;
	size_t		 i, j, nn, ne;
	int		 root = 0;
	const char	*id, *t, *s;

	if (nodes == NULL || !json_object_is_type(nodes, json_type_array)) {
		snprintf(err, errlen, "The graph has no nodes.");
		return -1;
	}
	nn = json_object_array_length(nodes);
	for (i = 0; i < nn; i++) {
		n = json_object_array_get_idx(nodes, i);
		id = json_str(n, "id");
		t = node_type(n);
		if (id == NULL) {
			snprintf(err, errlen, "A node has no id.");
			return -1;
		}
		if (t == NULL || *t == '\0')
			continue;	/* notes */
		if (wf_type_find(t) == NULL) {
			snprintf(err, errlen, "No class mapping found for "
			    "node type: %s (node %s)", t, id);
			return -1;
		}
		if (strcmp(t, "start") == 0)
			root = 1;
	}
	if (!root) {
		snprintf(err, errlen, "The workflow has no start node.");
		return -1;
	}
	ne = edges && json_object_is_type(edges, json_type_array) ?
	    json_object_array_length(edges) : 0;
	for (i = 0; i < ne; i++) {
		ed = json_object_array_get_idx(edges, i);
		for (j = 0; j < 2; j++) {
			size_t	k;

			s = json_str(ed, j == 0 ? "source" : "target");
			for (k = 0; s != NULL && k < nn; k++)
				if (strcmp(s, json_str(
				    json_object_array_get_idx(nodes, k),
				    "id")) == 0)
					break;
			if (s == NULL || k == nn) {
				snprintf(err, errlen, "An edge names an "
				    "unknown node: %s", s ? s : "(none)");
				return -1;
			}
		}
	}
	return 0;
}

json_object *
wf_start_form(json_object *graph)
{
	json_object	*nodes = json_get(graph, "nodes"), *form, *vars, *v;
	json_object	*it;
	const char	*type;
	size_t		 i, n, k, m;

	form = json_object_new_array();
	n = nodes && json_object_is_type(nodes, json_type_array) ?
	    json_object_array_length(nodes) : 0;
	for (i = 0; i < n; i++) {
		json_object	*d = json_get(json_object_array_get_idx(nodes,
		    i), "data");

		type = json_str(d, "type");
		if (type == NULL || strcmp(type, "start") != 0)
			continue;
		vars = json_get(d, "variables");
		m = vars && json_object_is_type(vars, json_type_array) ?
		    json_object_array_length(vars) : 0;
		for (k = 0; k < m; k++) {
			v = json_object_array_get_idx(vars, k);
			type = json_str(v, "type");
			if (type == NULL || json_str(v, "variable") == NULL)
				continue;
			it = json_object_new_object();
			json_object_object_add(it, type, json_copy(v));
			json_object_array_add(form, it);
		}
		break;
	}
	return form;
}

/* The assigner's targets (conversation or loop variables) as selectors. */
static json_object *
assigner_writes(json_object *d)
{
	json_object	*w = json_object_new_array(), *items, *sel;
	const char	*parts[WF_SELECTOR_MAX];
	size_t		 i, n;

	sel = json_get(d, "assigned_variable_selector");
	if (wf_selector_parts(sel, parts) >= 2)
		json_object_array_add(w, json_copy(sel));
	items = json_get(d, "items");
	n = items && json_object_is_type(items, json_type_array) ?
	    json_object_array_length(items) : 0;
	for (i = 0; i < n; i++) {
		sel = json_get(json_object_array_get_idx(items, i),
		    "variable_selector");
		if (wf_selector_parts(sel, parts) >= 2)
			json_object_array_add(w, json_copy(sel));
	}
	return w;
}

static void
add_seg(struct wf_engine *e, struct wf_tpl *t, int *cap, struct wf_seg *s)
{
	struct pool	*p = e->r->p;

	if (t->nsegs == *cap) {
		struct wf_seg	*n;

		*cap = *cap ? *cap * 2 : 8;
		n = pool_alloc(p, (size_t)*cap * sizeof(*n));
		if (t->nsegs > 0)
			memcpy(n, t->segs, (size_t)t->nsegs * sizeof(*n));
		t->segs = n;
	}
	t->segs[t->nsegs++] = *s;
}

/* The template of a response node: answer text, or end outputs. */
static void
build_template(struct wf_engine *e, int idx, struct wf_tpl *t)
{
	struct wf_node	*n = &e->nodes[idx];
	json_object	*outs, *o;
	struct wf_seg	 s;
	size_t		 i, k;
	int		 cap = 0, np;

	memset(t, 0, sizeof(*t));
	t->node = idx;
	if (strcmp(n->type, "answer") == 0) {
		const char	*a = json_str(n->data, "answer");

		t->nsegs = wf_tmpl_parse(e->r->p, a ? a : "", &t->segs);
		return;
	}
	outs = json_get(n->data, "outputs");
	k = outs && json_object_is_type(outs, json_type_array) ?
	    json_object_array_length(outs) : 0;
	for (i = 0; i < k; i++) {
		o = json_object_array_get_idx(outs, i);
		if (i > 0) {
			memset(&s, 0, sizeof(s));
			s.text = "\n";
			s.len = 1;
			add_seg(e, t, &cap, &s);
		}
		memset(&s, 0, sizeof(s));
		np = wf_selector_parts(json_get(o, "value_selector"), s.parts);
		if (np < 0)
			continue;
		s.nparts = np;
		s.is_var = 1;
		s.text = "";
		add_seg(e, t, &cap, &s);
	}
}

/* Nodes of an iteration's or loop's graph: those inside "parent". */
static int
inside(json_object *n, const char *parent)
{
	const char	*p = json_str(n, "parentId"), *t = node_type(n);

	return p != NULL && strcmp(p, parent) == 0 && t != NULL && *t != '\0';
}

/*
 * Build the graph to run: the top level (parent NULL, rooted at the
 * start node), or the graph inside container "parent", rooted at
 * "root_id".
 */
static int
build(struct wf_engine *e, const char *parent, const char *root_id,
    char *err, size_t errlen)
{
	struct wf_run	*r = e->r;
	json_object	*nodes = json_get(r->graph, "nodes");
	json_object	*edges = json_get(r->graph, "edges"), *jn, *je;
	size_t		 i, nn, ne;
	int		 k, s, d, root = -1;
	const char	*strategy;

	if (parent == NULL && wf_graph_check(r->graph, err, errlen) == -1)
		return -1;
	nn = json_object_array_length(nodes);
	e->nodes = xcalloc(nn + 1, sizeof(*e->nodes));
	for (i = 0; i < nn; i++) {
		struct wf_node	*n;

		jn = json_object_array_get_idx(nodes, i);
		if (parent == NULL ? !top_level(jn) : !inside(jn, parent))
			continue;
		n = &e->nodes[e->nnodes++];
		n->id = json_str(jn, "id");
		n->data = json_get(jn, "data");
		n->type = json_str(n->data, "type");
		n->title = json_str(n->data, "title");
		if (n->title == NULL)
			n->title = "";
		n->t = wf_type_find(n->type);
		strategy = json_str(n->data, "error_strategy");
		n->fail_branch = strategy != NULL &&
		    strcmp(strategy, "fail-branch") == 0;
		if (strcmp(n->type, "assigner") == 0)
			n->writes = assigner_writes(n->data);
		buf_init(&n->stream.data, UPSTREAM_TEXT_MAX);
		if (root < 0 && (parent == NULL ? strcmp(n->type, "start") ==
		    0 : root_id != NULL && strcmp(n->id, root_id) == 0))
			root = e->nnodes - 1;
	}
	if (root < 0) {
		snprintf(err, errlen, "The %s %s has no start node.",
		    parent ? "graph of node" : "workflow",
		    parent ? parent : "");
		return -1;
	}
	if (root > 0) {
		/* the root first: it is also the first in ready order */
		struct wf_node	tmp = e->nodes[0];

		e->nodes[0] = e->nodes[root];
		e->nodes[root] = tmp;
	}
	ne = edges && json_object_is_type(edges, json_type_array) ?
	    json_object_array_length(edges) : 0;
	e->edges = xcalloc(ne + 1, sizeof(*e->edges));
	for (i = 0; i < ne; i++) {
		const char	*h;

		je = json_object_array_get_idx(edges, i);
		s = find_node(e, json_str(je, "source"));
		d = find_node(e, json_str(je, "target"));
		if (s < 0 || d < 0)
			continue;	/* inside a container */
		h = json_str(je, "sourceHandle");
		e->edges[e->nedges].src = s;
		e->edges[e->nedges].dst = d;
		e->edges[e->nedges].handle = h != NULL && *h != '\0' ? h :
		    "source";
		e->nedges++;
	}
	for (k = 0; k < e->nnodes; k++) {
		e->nodes[k].in = xcalloc((size_t)e->nedges + 1, sizeof(int));
		e->nodes[k].out = xcalloc((size_t)e->nedges + 1, sizeof(int));
	}
	for (k = 0; k < e->nedges; k++) {
		struct wf_node	*a = &e->nodes[e->edges[k].src];
		struct wf_node	*b = &e->nodes[e->edges[k].dst];

		a->out[a->nout++] = k;
		b->in[b->nin++] = k;
	}
	e->queue = xcalloc((size_t)e->nnodes + 1, sizeof(int));
	e->tpls = xcalloc((size_t)e->nnodes + 1, sizeof(*e->tpls));
	for (k = 0; k < e->nnodes; k++)
		if (e->nodes[k].t->kind == WF_K_RESPONSE)
			build_template(e, k, &e->tpls[e->ntpls++]);
	return 0;
}

static struct wf_engine *
top(struct wf_engine *e)
{
	while (e->parent != NULL)
		e = e->parent;
	return e;
}

static void
engine_free(struct wf_engine *e)
{
	int	i;

	for (i = 0; i < e->nnodes; i++) {
		free(e->nodes[i].in);
		free(e->nodes[i].out);
		buf_free(&e->nodes[i].stream.data);
		free(e->nodes[i].stream.ends);
		json_object_put(e->nodes[i].writes);
	}
	free(e->nodes);
	free(e->edges);
	free(e->queue);
	free(e->tpls);
	json_object_put(e->outputs);
	json_object_put(e->start_out);
	if (e->pool == &e->own_pool)
		wf_pool_free(e->pool);
}

/* ---- secret environment variables ---- */

/*
 * A secret env value (or the form it takes in a URL or a form body) and
 * what shows instead.  Node events and stored executions, their inputs,
 * process_data, outputs and errors, show the mask; the variable pool, and
 * so the requests nodes make and the run's own outputs, keep the value.
 */
struct wf_secret {
	const char	*find;
	size_t		 len;
	const char	*mask;
};

#define SECRET_LOG_MIN_CHARS	24

static size_t
utf8_chars(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* Bytes of the first "k" characters of s (n bytes). */
static size_t
utf8_span(const char *s, size_t n, size_t k)
{
	size_t	i = 0;

	while (i < n && k > 0) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		k--;
	}
	return i;
}

/*
 * Dify's SecretVariable.log, encrypter.obfuscated_token: the first six
 * characters, a star for each but the last two, the last two.  That
 * shows eight characters whatever the length (and all of a short one),
 * so a secret under SECRET_LOG_MIN_CHARS characters is all stars.
 */
static const char *
secret_log(struct pool *p, const char *s)
{
	size_t	 n = strlen(s), chars = utf8_chars(s, n), head, tail, i;
	char	*o, *d;

	o = pool_alloc(p, n + chars + 1);
	d = o;
	if (chars < SECRET_LOG_MIN_CHARS) {
		for (i = 0; i < chars; i++)
			*d++ = '*';
	} else {
		head = utf8_span(s, n, 6);
		tail = n - utf8_span(s, n, chars - 2);
		memcpy(d, s, head);
		d += head;
		for (i = 0; i < chars - 8; i++)
			*d++ = '*';
		memcpy(d, s + n - tail, tail);
		d += tail;
	}
	*d = '\0';
	return o;
}

static void
add_secret(struct wf_engine *e, struct pool *p, const char *find, int *cap)
{
	struct wf_secret	*sc;
	int			 i;

	if (find == NULL || *find == '\0')
		return;
	for (i = 0; i < e->nsecrets; i++)
		if (strcmp(e->secrets[i].find, find) == 0)
			return;
	if (e->nsecrets == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		sc = pool_alloc(p, (size_t)*cap * sizeof(*sc));
		if (e->nsecrets > 0)
			memcpy(sc, e->secrets, (size_t)e->nsecrets *
			    sizeof(*sc));
		e->secrets = sc;
	}
	/* longest first, so that a longer form is masked whole */
	for (i = e->nsecrets; i > 0 && e->secrets[i - 1].len < strlen(find);
	    i--)
		e->secrets[i] = e->secrets[i - 1];
	e->secrets[i].find = find;
	e->secrets[i].len = strlen(find);
	e->secrets[i].mask = secret_log(p, find);
	e->nsecrets++;
}

/* The secrets of the run's environment_variables (value_type secret). */
static void
load_secrets(struct wf_engine *e)
{
	struct wf_run	*r = e->r;
	json_object	*d;
	const char	*v, *enc[2];
	size_t		 i, n;
	int		 cap = 0;

	n = r->env_decls && json_object_is_type(r->env_decls,
	    json_type_array) ? json_object_array_length(r->env_decls) : 0;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(r->env_decls, i);
		v = json_str(d, "value");
		if (json_str(d, "value_type") == NULL ||
		    strcmp(json_str(d, "value_type"), "secret") != 0 ||
		    v == NULL || *v == '\0')
			continue;
		add_secret(e, r->p, v, &cap);
		wf_http_encodings(r->p, v, enc);
		add_secret(e, r->p, enc[0], &cap);
		/* a URL ends at '#': the rest is no form of the secret */
		if (strchr(v, '#') == NULL)
			add_secret(e, r->p, enc[1], &cap);
	}
}

/*
 * "s" (n bytes) with every secret masked, in "out" (NUL-terminated), or
 * 0 when none occurs.  A mask is never longer than what it replaces.
 */
static int
mask_text(struct wf_engine *e, const char *s, size_t n, struct buf *out)
{
	struct wf_engine	*t = top(e);
	const struct wf_secret	*sc;
	size_t			 i = 0, from = 0;
	int			 k, hit = 0;

	while (i < n) {
		for (k = 0; k < t->nsecrets; k++) {
			sc = &t->secrets[k];
			if (sc->len <= n - i && s[i] == sc->find[0] &&
			    memcmp(s + i, sc->find, sc->len) == 0)
				break;
		}
		if (k == t->nsecrets) {
			i++;
			continue;
		}
		if (!hit) {
			buf_init(out, n + 1);
			hit = 1;
		}
		buf_append(out, s + from, i - from);
		buf_puts(out, t->secrets[k].mask);
		i += t->secrets[k].len;
		from = i;
	}
	if (hit) {
		buf_append(out, s + from, n - from);
		buf_cstr(out);
	}
	return hit;
}

/*
 * "o" as it may show: a new reference, "o" itself when it holds no
 * secret, else a copy with every secret masked (the original may be a
 * value of the variable pool, which keeps the secret).
 */
static json_object *
masked(struct wf_engine *e, json_object *o, int depth)
{
	json_object	*c, *v;
	struct buf	 b;
	size_t		 i, n;
	int		 changed = 0;

	if (o == NULL || top(e)->nsecrets == 0 || depth > JSON_MAX_DEPTH)
		return json_object_get(o);
	switch (json_object_get_type(o)) {
	case json_type_string:
		if (!mask_text(e, json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), &b))
			return json_object_get(o);
		c = json_object_new_string_len(b.p, (int)b.len);
		buf_free(&b);
		return c;
	case json_type_array:
		n = json_object_array_length(o);
		c = json_object_new_array();
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(o, i);
			json_object_array_add(c, masked(e, v, depth + 1));
			changed |= json_object_array_get_idx(c, i) != v;
		}
		break;
	case json_type_object:
		c = json_object_new_object();
		json_object_object_foreach(o, k, val) {
			v = masked(e, val, depth + 1);
			changed |= v != val;
			json_object_object_add(c, k, v);
		}
		break;
	default:
		return json_object_get(o);
	}
	if (changed)
		return c;
	json_object_put(c);
	return json_object_get(o);
}

/* A node's error message as it may show, in place. */
static void
mask_error(struct wf_engine *e, char *err, size_t size)
{
	struct buf	b;

	if (mask_text(e, err, strlen(err), &b)) {
		snprintf(err, size, "%s", b.p);
		buf_free(&b);
	}
}

/* ---- events ---- */

static int
emit(struct wf_engine *e, const char *name, json_object *data)
{
	struct wf_run	*r = e->r;

	if (r->sink.event == NULL || r->client_gone) {
		json_object_put(data);
		return r->client_gone ? -1 : 0;
	}
	if (r->sink.event(r->sink.arg, name, data) == -1) {
		r->client_gone = 1;
		return -1;
	}
	return 0;
}

static void
add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* File objects found among values (flattened), for "files". */
static void
collect_files(json_object *out, json_object *v, int depth)
{
	size_t	i, n;

	if (v == NULL || depth > 3)
		return;
	if (wf_is_file(v)) {
		json_object_array_add(out, json_object_get(v));
		return;
	}
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			collect_files(out, json_object_array_get_idx(v, i),
			    depth + 1);
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, x) {
			(void)k;
			collect_files(out, x, depth + 1);
		}
	}
}

static json_object *
node_head(struct wf_node *n)
{
	json_object	*o = json_object_new_object();

	add_str(o, "id", n->exec_id);
	add_str(o, "node_id", n->id);
	add_str(o, "node_type", n->type);
	add_str(o, "title", n->title);
	json_object_object_add(o, "index", json_object_new_int(n->index));
	json_object_object_add(o, "predecessor_node_id", NULL);
	return o;
}

/* iteration_id and loop_id: the container a node runs in, if any. */
static void
container_ids(struct wf_engine *e, json_object *o)
{
	const char	*t = e->container ? e->container->type : "";

	add_str(o, "iteration_id", strcmp(t, "iteration") == 0 ?
	    e->container->id : NULL);
	add_str(o, "loop_id", strcmp(t, "loop") == 0 ? e->container->id :
	    NULL);
}

static void
emit_node_started(struct wf_engine *e, struct wf_node *n)
{
	json_object	*o = node_head(n);

	json_object_object_add(o, "inputs", NULL);
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(n->created_at));
	json_object_object_add(o, "extras", json_object_new_object());
	container_ids(e, o);
	json_object_object_add(o, "agent_strategy", NULL);
	emit(e, "node_started", o);
}

static json_object *
or_empty(json_object *o)
{
	return o != NULL ? json_object_get(o) : json_object_new_object();
}

static json_object *
node_finished_data(struct wf_engine *e, struct wf_node *n, struct wf_exec *x,
    const char *status, const char *error, double elapsed, int64_t finished)
{
	json_object	*o = node_head(n), *files, *v;

	v = masked(e, x->inputs, 0);
	json_object_object_add(o, "inputs", or_empty(v));
	json_object_put(v);
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	v = masked(e, x->process_data, 0);
	json_object_object_add(o, "process_data", or_empty(v));
	json_object_put(v);
	json_object_object_add(o, "process_data_truncated",
	    json_object_new_boolean(0));
	v = masked(e, x->outputs, 0);
	json_object_object_add(o, "outputs", or_empty(v));
	json_object_put(v);
	json_object_object_add(o, "outputs_truncated",
	    json_object_new_boolean(0));
	add_str(o, "status", status);
	add_str(o, "error", error);
	json_object_object_add(o, "elapsed_time",
	    json_object_new_double(elapsed));
	json_object_object_add(o, "execution_metadata", x->metadata != NULL &&
	    json_object_object_length(x->metadata) > 0 ?
	    json_object_get(x->metadata) : NULL);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(n->created_at));
	json_object_object_add(o, "finished_at",
	    json_object_new_int64(finished));
	files = json_object_new_array();
	if (strcmp(n->type, "answer") != 0)
		collect_files(files, x->outputs, 0);
	else if (json_get(x->outputs, "files") != NULL)
		collect_files(files, json_get(x->outputs, "files"), 0);
	json_object_object_add(o, "files", files);
	container_ids(e, o);
	return o;
}

json_object *
wf_finished_data(struct wf_run *r)
{
	json_object	*o = json_object_new_object(), *by, *files;

	add_str(o, "id", r->run_id);
	add_str(o, "workflow_id", r->workflow_id);
	add_str(o, "status", r->status);
	json_object_object_add(o, "outputs", r->outputs ?
	    json_object_get(r->outputs) : json_object_new_object());
	add_str(o, "error", r->error);
	json_object_object_add(o, "elapsed_time",
	    json_object_new_double(r->elapsed));
	json_object_object_add(o, "total_tokens",
	    json_object_new_int(r->total_tokens));
	json_object_object_add(o, "total_steps",
	    json_object_new_int(r->total_steps));
	by = json_object_new_object();
	add_str(by, "id", r->end_user_id);
	add_str(by, "user", r->user);
	json_object_object_add(o, "created_by", by);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(r->created_at));
	json_object_object_add(o, "finished_at",
	    json_object_new_int64(r->finished_at));
	json_object_object_add(o, "exceptions_count",
	    json_object_new_int(r->exceptions_count));
	files = json_object_new_array();
	collect_files(files, r->outputs, 0);
	json_object_object_add(o, "files", files);
	return o;
}

json_object *
wf_run_usage(struct wf_run *r, double latency)
{
	json_object	*u = json_object_new_object();
	char		 price[32];

	usage_json(u, r->provider ? r->provider : "", r->prompt_tokens,
	    r->completion_tokens, latency, price);
	json_object_object_add(u, "time_to_first_token", r->first_token_s >= 0 ?
	    json_object_new_double(r->first_token_s) : NULL);
	json_object_object_add(u, "time_to_generate", r->first_token_s >= 0 ?
	    json_object_new_double(latency - r->first_token_s) : NULL);
	return u;
}

/* ---- ticking: stop flag, time limit, pings ---- */

static void
abort_run(struct wf_engine *e, const char *status, const char *error)
{
	e = top(e);
	if (e->aborted)
		return;
	e->aborted = 1;
	e->abort_status = status;
	e->abort_error = error;
}

int
wf_engine_tick(struct wf_engine *e)
{
	struct wf_run	*r = e->r;
	double		 now = now_mono();
	int		 rc, beat;

	e = top(e);
	if (e->aborted)
		return -1;
	if (r->client_gone) {
		abort_run(e, "stopped", GONE_MSG);
		return -1;
	}
	if (now - r->started > cfg->app_max_execution_s) {
		abort_run(e, "failed", pool_printf(r->p, "Maximum execution "
		    "time exceeded: %.2fs > %ds", now - r->started,
		    cfg->app_max_execution_s));
		return -1;
	}
	if (r->db != NULL && r->task_id != NULL &&
	    now - e->last_poll >= POLL_INTERVAL_S) {
		beat = now - e->last_beat >= HEARTBEAT_INTERVAL_S;
		rc = db_task_poll(r->db, r->task_id, beat);
		e->last_poll = now;
		if (beat)
			e->last_beat = now;
		if (rc == 1) {
			r->stopped = 1;
			abort_run(e, "stopped", STOPPED_MSG);
			return -1;
		}
	}
	if (r->streaming && now >= e->next_ping) {
		e->next_ping = now + cfg->ping_interval_s;
		if (r->sink.ping != NULL && r->sink.ping(r->sink.arg) == -1) {
			r->client_gone = 1;
			abort_run(e, "stopped", GONE_MSG);
			return -1;
		}
	}
	return 0;
}

/* ---- response templates ---- */

static int
give_chunk(struct wf_engine *e, const char *text, size_t len,
    json_object *sel)
{
	struct wf_run	*r = e->r;
	int		 rc = 0;

	buf_append(&r->answer, text, len);
	if (r->sink.chunk != NULL && !r->client_gone &&
	    r->sink.chunk(r->sink.arg, text, len, sel) == -1) {
		r->client_gone = 1;
		rc = -1;
	}
	json_object_put(sel);
	return rc;
}

static json_object *
selector_json(const char *const *parts, int n)
{
	json_object	*a = json_object_new_array();
	int		 i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(parts[i]));
	return a;
}

static int
reserved_owner(const char *o)
{
	return strcmp(o, "sys") == 0 || strcmp(o, "env") == 0 ||
	    strcmp(o, "conversation") == 0;
}

/* Emit what template "t" can emit now; 1 when it is complete. */
static int
advance(struct wf_engine *e, struct wf_tpl *t)
{
	struct wf_node	*rn = &e->nodes[t->node], *n;
	struct wf_seg	*s;
	const char	*answer_sel[2];
	json_object	*v;
	struct buf	 b;
	int		 k;

	answer_sel[0] = rn->id;
	answer_sel[1] = "answer";
	while (t->cur < t->nsegs) {
		s = &t->segs[t->cur];
		if (!s->is_var) {
			give_chunk(e, s->text, s->len,
			    selector_json(answer_sel, 2));
			t->cur++;
			continue;
		}
		k = find_node(e, s->parts[0]);
		if (k < 0 || reserved_owner(s->parts[0])) {
			/*
			 * sys, env, conversation, or a node outside this graph
			 * (an enclosing loop's variables): the value is there
			 * now or never will be
			 */
			if (wf_pool_get(e->pool, s->parts, s->nparts, &v)) {
				buf_init(&b, UPSTREAM_TEXT_MAX);
				wf_render(&b, v, WF_MARKDOWN);
				if (b.len > 0)
					give_chunk(e, b.p, b.len,
					    selector_json(s->parts, s->nparts));
				buf_free(&b);
			}
			t->cur++;
			continue;
		}
		if (e->nodes[k].state == NS_SKIPPED) {
			t->cur++;
			continue;
		}
		n = &e->nodes[k];
		if (s->nparts == 2 && strcmp(s->parts[1], "text") == 0 &&
		    n->stream.open) {
			for (; t->chunk < n->stream.n; t->chunk++) {
				size_t	a = t->chunk ?
				    n->stream.ends[t->chunk - 1] : 0;

				give_chunk(e, n->stream.data.p ?
				    n->stream.data.p + a : "",
				    n->stream.ends[t->chunk] - a,
				    selector_json(s->parts, 2));
			}
			if (!n->stream.closed)
				return 0;
			t->chunk = 0;
			t->cur++;
			continue;
		}
		if (n->state != NS_DONE)
			return 0;
		if (n->ok && wf_pool_get(e->pool, s->parts, s->nparts, &v)) {
			buf_init(&b, UPSTREAM_TEXT_MAX);
			wf_render(&b, v, WF_MARKDOWN);
			if (b.len > 0)
				give_chunk(e, b.p, b.len,
				    selector_json(s->parts, s->nparts));
			buf_free(&b);
		}
		t->cur++;
	}
	return 1;
}

static void
pump(struct wf_engine *e)
{
	struct wf_tpl	*t, *first;
	int		 i;

	for (;;) {
		first = NULL;
		for (i = 0; i < e->ntpls; i++) {
			t = &e->tpls[i];
			if (t->active && !t->done && (first == NULL ||
			    t->order < first->order))
				first = t;
		}
		if (first == NULL || !advance(e, first))
			return;
		first->done = 1;
	}
}

/* Whether edges from node "u" must be taken for "t" to be certain. */
static int
guarded(struct wf_engine *e, int u, struct wf_tpl *t)
{
	struct wf_node	*n = &e->nodes[u];
	size_t		 i, m;
	int		 k;

	if (n->t->kind == WF_K_BRANCH || n->t->kind == WF_K_CONTAINER ||
	    n->t->kind == WF_K_RESPONSE || n->fail_branch)
		return 1;
	if (n->writes == NULL)
		return 0;
	/* an assigner blocks the templates that read what it writes */
	m = json_object_array_length(n->writes);
	for (i = 0; i < m; i++) {
		const char	*parts[WF_SELECTOR_MAX];

		wf_selector_parts(json_object_array_get_idx(n->writes, i),
		    parts);
		for (k = 0; k < t->nsegs; k++)
			if (t->segs[k].is_var && t->segs[k].nparts >= 2 &&
			    strcmp(t->segs[k].parts[0], parts[0]) == 0 &&
			    strcmp(t->segs[k].parts[1], parts[1]) == 0)
				return 1;
	}
	return 0;
}

/*
 * Whether some path from the root reaches node "v" with every guarded
 * edge taken (memo: -1 unknown, -2 visiting).
 */
static int
certain(struct wf_engine *e, int v, struct wf_tpl *t, int *memo)
{
	struct wf_node	*n = &e->nodes[v];
	struct wf_edge	*ed;
	int		 i, r = 0;

	if (memo[v] >= 0)
		return memo[v];
	if (memo[v] == -2)
		return 0;
	if (v == 0)
		return memo[v] = 1;
	memo[v] = -2;
	for (i = 0; i < n->nin && !r; i++) {
		ed = &e->edges[n->in[i]];
		if (ed->state == ES_SKIPPED)
			continue;
		if (guarded(e, ed->src, t) && ed->state != ES_TAKEN)
			continue;
		r = certain(e, ed->src, t, memo);
	}
	return memo[v] = r;
}

static void
activate(struct wf_engine *e)
{
	int	*memo = xcalloc((size_t)e->nnodes + 1, sizeof(int));
	int	 i, k;

	for (i = 0; i < e->ntpls; i++) {
		struct wf_tpl	*t = &e->tpls[i];

		if (t->active || e->nodes[t->node].state == NS_SKIPPED)
			continue;
		for (k = 0; k < e->nnodes; k++)
			memo[k] = -1;
		if (certain(e, t->node, t, memo)) {
			t->active = 1;
			t->order = e->next_order++;
		}
	}
	free(memo);
}

int
wf_stream_chunk(struct wf_engine *e, struct wf_node *n, const char *text,
    size_t len)
{
	struct wf_stream	*s = &n->stream;

	s->open = 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->ends = xrealloc(s->ends, (size_t)s->cap * sizeof(*s->ends));
	}
	if (buf_append(&s->data, text, len) == -1)
		return -1;
	s->ends[s->n++] = s->data.len;
	pump(e);
	return e->r->client_gone ? -1 : 0;
}

void
wf_stream_close(struct wf_engine *e, struct wf_node *n)
{
	if (!n->stream.open || n->stream.closed)
		return;
	wf_stream_chunk(e, n, "", 0);
	n->stream.closed = 1;
	pump(e);
}

/* ---- scheduling ---- */

static void
enqueue(struct wf_engine *e, int k)
{
	if (e->nodes[k].state != NS_WAIT)
		return;
	e->nodes[k].state = NS_QUEUED;
	e->queue[e->qtail++] = k;
}

static void skip_node(struct wf_engine *, int);

/* Settle the edge's target after "ed" changed. */
static void
settle(struct wf_engine *e, struct wf_edge *ed)
{
	struct wf_node	*t = &e->nodes[ed->dst];
	int		 i, taken = 0;

	if (t->state != NS_WAIT)
		return;
	for (i = 0; i < t->nin; i++) {
		int	st = e->edges[t->in[i]].state;

		if (st == ES_UNKNOWN)
			return;
		if (st == ES_TAKEN)
			taken = 1;
	}
	if (taken)
		enqueue(e, ed->dst);
	else
		skip_node(e, ed->dst);
}

static void
skip_node(struct wf_engine *e, int k)
{
	struct wf_node	*n = &e->nodes[k];
	int		 i;

	n->state = NS_SKIPPED;
	for (i = 0; i < n->nout; i++) {
		e->edges[n->out[i]].state = ES_SKIPPED;
		settle(e, &e->edges[n->out[i]]);
	}
}

/* Mark the outgoing edges of a finished node: "handle" or all of them. */
static void
take_edges(struct wf_engine *e, struct wf_node *n, const char *handle)
{
	int	i;

	for (i = 0; i < n->nout; i++) {
		struct wf_edge	*ed = &e->edges[n->out[i]];

		ed->state = handle == NULL || strcmp(ed->handle, handle) == 0 ?
		    ES_TAKEN : ES_SKIPPED;
	}
	for (i = 0; i < n->nout; i++)
		settle(e, &e->edges[n->out[i]]);
}

/* ---- running one node ---- */

static void
exec_free(struct wf_exec *x)
{
	json_object_put(x->inputs);
	json_object_put(x->process_data);
	json_object_put(x->outputs);
	json_object_put(x->metadata);
	memset(x, 0, sizeof(*x));
}

static void
store_node(struct wf_engine *e, struct wf_node *n, struct wf_exec *x,
    const char *status, const char *error, double elapsed, int64_t fin)
{
	struct wf_run		*r = e->r;
	struct wf_node_row	 row;

	if (r->db == NULL)
		return;
	memset(&row, 0, sizeof(row));
	row.id = n->exec_id;
	row.run_id = r->run_id;
	row.inputs = masked(e, x->inputs, 0);
	row.process_data = masked(e, x->process_data, 0);
	row.outputs = masked(e, x->outputs, 0);
	row.metadata = x->metadata;
	row.status = status;
	row.error = error;
	row.elapsed_time = elapsed;
	row.finished_at = fin;
	if (db_wf_node_finish(r->db, &row) == -1)
		log_error("run %s: node %s not stored", r->run_id, n->id);
	json_object_put(row.inputs);
	json_object_put(row.process_data);
	json_object_put(row.outputs);
}

/* Outputs of a handled failure: defaults, error_message, error_type. */
static json_object *
default_outputs(struct wf_node *n, struct wf_exec *x, int with_defaults)
{
	json_object	*o = json_object_new_object(), *dv, *item, *v, *p;
	const char	*key, *type;
	size_t		 i, m;

	dv = with_defaults ? json_get(n->data, "default_value") : NULL;
	m = dv && json_object_is_type(dv, json_type_array) ?
	    json_object_array_length(dv) : 0;
	for (i = 0; i < m; i++) {
		item = json_object_array_get_idx(dv, i);
		key = json_str(item, "key");
		type = json_str(item, "type");
		v = json_get(item, "value");
		if (key == NULL)
			continue;
		/* non-string defaults may come as JSON text */
		if (type != NULL && strcmp(type, "string") != 0 &&
		    json_object_is_type(v, json_type_string) &&
		    (p = json_tokener_parse(json_object_get_string(v))) !=
		    NULL) {
			json_object_object_add(o, key, p);
			continue;
		}
		json_object_object_add(o, key, json_object_get(v));
	}
	json_object_object_add(o, "error_message",
	    json_object_new_string(x->error));
	json_object_object_add(o, "error_type", json_object_new_string(
	    x->error_type ? x->error_type : "WorkflowNodeError"));
	return o;
}

static void
sleep_ms(struct wf_engine *e, int ms)
{
	double		 until = now_mono() + ms / 1000.0;
	struct timespec	 ts;

	while (now_mono() < until && wf_engine_tick(e) == 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 20 * 1000 * 1000;
		nanosleep(&ts, NULL);
	}
}

static void
add_outputs(struct wf_engine *e, struct wf_node *n, json_object *outs)
{
	json_object	*cur;

	e = top(e);
	if (outs == NULL)
		return;
	if (strcmp(n->type, "answer") == 0) {
		struct buf	 b;
		const char	*prev = json_str(e->outputs, "answer");

		buf_init(&b, (size_t)UPSTREAM_TEXT_MAX * 2);
		buf_puts(&b, prev ? prev : "");
		buf_puts(&b, json_str(outs, "answer") ? json_str(outs,
		    "answer") : "");
		json_object_object_add(e->outputs, "answer",
		    json_object_new_string(buf_cstr(&b)));
		buf_free(&b);
		cur = json_get(e->outputs, "files");
		if (cur == NULL) {
			cur = json_object_new_array();
			json_object_object_add(e->outputs, "files", cur);
		}
		collect_files(cur, json_get(outs, "files"), 0);
		return;
	}
	json_object_object_foreach(outs, k, v)
		json_object_object_add(e->outputs, k, json_object_get(v));
}

/*
 * Run node "k": events, retries, error strategy, edges.  Returns 0 to go
 * on, -1 when the run ends (failure without strategy, or abort).
 */
static int
run_node(struct wf_engine *e, int k)
{
	struct wf_run		*r = e->r;
	struct wf_engine	*t = top(e);
	struct wf_node		*n = &e->nodes[k];
	struct wf_exec		 x;
	struct wf_node_row	 row;
	json_object		*rc_cfg = json_get(n->data, "retry_config");
	const char		*strategy = json_str(n->data, "error_strategy");
	const char		*status, *error = NULL, *handle = NULL;
	int			 rc, retries = 0, max_retries = 0, interval = 0;
	int			 i;
	double			 elapsed;
	int64_t			 fin;

	/* steps count the top level only */
	if (e == t && r->total_steps + 1 > STEPS_MAX) {
		abort_run(e, "failed", pool_printf(r->p, "Maximum execution "
		    "steps exceeded: %d > %d", r->total_steps + 1, STEPS_MAX));
		return -1;
	}
	n->state = NS_RUNNING;
	n->index = ++e->index;
	uuid_new(n->exec_id);
	n->created_at = now_s();
	n->t0 = now_mono();
	if (e == t)
		r->total_steps++;
	if (r->db != NULL) {
		memset(&row, 0, sizeof(row));
		row.id = n->exec_id;
		row.run_id = r->run_id;
		row.index = n->index;
		row.node_id = n->id;
		row.node_type = n->type;
		row.title = n->title;
		for (i = 0; i < n->nin; i++)
			if (e->edges[n->in[i]].state == ES_TAKEN) {
				row.predecessor = e->nodes[
				    e->edges[n->in[i]].src].id;
				break;
			}
		row.status = "running";
		row.created_at = n->created_at;
		if (db_wf_node_start(r->db, r->app_id, &row) == -1)
			log_error("run %s: node %s not stored", r->run_id,
			    n->id);
	}
	if (!n->t->silent && n->t->kind != WF_K_CONTAINER)
		emit_node_started(e, n);
	if (n->t->retry && json_object_get_boolean(json_get(rc_cfg,
	    "retry_enabled"))) {
		max_retries = json_object_get_int(json_get(rc_cfg,
		    "max_retries"));
		interval = json_object_get_int(json_get(rc_cfg,
		    "retry_interval"));
		if (max_retries > 10)
			max_retries = 10;
		if (interval < 0 || interval > 5000)
			interval = interval < 0 ? 0 : 5000;
	}
	for (;;) {
		memset(&x, 0, sizeof(x));
		if (n->t->run == NULL) {
			snprintf(x.error, sizeof(x.error), "Node type %s is "
			    "not supported by this server (node %s).",
			    n->type, n->id);
			x.error_type = "WorkflowNodeError";
			rc = WF_FAIL;
		} else
			rc = n->t->run(e, n, &x);
		/* the error shows in events, the run and its rows */
		mask_error(e, x.error, sizeof(x.error));
		if (rc == WF_ABORT || t->aborted) {
			wf_stream_close(e, n);
			n->state = NS_DONE;
			if (!t->aborted)
				abort_run(e, "stopped", r->client_gone ?
				    GONE_MSG : STOPPED_MSG);
			store_node(e, n, &x, "failed", t->abort_error,
			    now_mono() - n->t0, now_s());
			exec_free(&x);
			return -1;
		}
		if (rc == WF_OK || retries >= max_retries)
			break;
		/* a retry: report the failed attempt, wait, go again */
		retries++;
		r->exceptions_count++;
		if (e == t)
			r->total_steps++;
		{
			json_object	*d = node_finished_data(e, n, &x,
			    "retry", x.error, now_mono() - n->t0, now_s());

			json_object_object_add(d, "retry_index",
			    json_object_new_int(retries));
			emit(e, "node_retry", d);
		}
		exec_free(&x);
		sleep_ms(e, interval);
		if (t->aborted) {
			n->state = NS_DONE;
			store_node(e, n, &x, "failed", t->abort_error,
			    now_mono() - n->t0, now_s());
			return -1;
		}
	}
	wf_stream_close(e, n);
	elapsed = now_mono() - n->t0;
	fin = now_s();
	r->total_tokens += x.tokens;
	if (rc == WF_OK) {
		status = "succeeded";
		handle = n->t->kind == WF_K_BRANCH ? (x.handle ? x.handle :
		    "false") : n->fail_branch ? "source" : NULL;
		if (x.outputs == NULL)
			x.outputs = json_object_new_object();
	} else if (strategy != NULL && (strcmp(strategy, "default-value") ==
	    0 || strcmp(strategy, "fail-branch") == 0)) {
		status = "exception";
		error = x.error;
		r->exceptions_count++;
		json_object_put(x.outputs);
		x.outputs = default_outputs(n, &x, strategy[0] == 'd');
		if (x.metadata == NULL)
			x.metadata = json_object_new_object();
		json_object_object_add(x.metadata, "error_strategy",
		    json_object_new_string(strategy));
		handle = strategy[0] == 'f' ? "fail-branch" : NULL;
	} else {
		status = "failed";
		error = x.error;
	}
	if (e->container != NULL) {
		int	it = strcmp(e->container->type, "iteration") == 0;

		if (x.metadata == NULL)
			x.metadata = json_object_new_object();
		json_object_object_add(x.metadata, it ? "iteration_id" :
		    "loop_id", json_object_new_string(e->container->id));
		json_object_object_add(x.metadata, it ? "iteration_index" :
		    "loop_index", json_object_new_int(e->round));
	}
	if (rc == WF_OK || status[0] == 'e') {
		n->ok = 1;
		wf_pool_add(e->pool, n->id, x.outputs);
		if (n->t->kind == WF_K_RESPONSE)
			add_outputs(e, n, x.outputs);
	}
	n->state = NS_DONE;
	store_node(e, n, &x, status, error, elapsed, fin);
	if (!n->t->silent && n->t->kind != WF_K_CONTAINER)
		emit(e, "node_finished", node_finished_data(e, n, &x, status,
		    error, elapsed, fin));
	if (status[0] == 'f') {
		e->fail_error = pool_strdup(r->p, x.error);
		exec_free(&x);
		pump(e);
		return -1;
	}
	exec_free(&x);
	take_edges(e, n, handle);
	activate(e);
	pump(e);
	return 0;
}

/* ---- containers: iteration and loop (spec 4.4) ---- */

#define LOOP_COUNT_MAX	100

/* Forget the outputs of every node inside container "c". */
static void
forget_inner(struct wf_engine *e, struct wf_node *c)
{
	json_object	*nodes = json_get(e->r->graph, "nodes"), *jn;
	size_t		 i, n = json_object_array_length(nodes);

	for (i = 0; i < n; i++) {
		jn = json_object_array_get_idx(nodes, i);
		if (inside(jn, c->id))
			wf_pool_forget(e->pool, json_str(jn, "id"));
	}
}

/*
 * One round of the graph inside container "c", on the shared pool.
 * Returns 0, or -1 with the failing node's error in "err"; a stop or
 * time-out shows in top(e)->aborted.
 */
static int
run_round(struct wf_engine *e, struct wf_node *c, int round, int *loop_end,
    char *err, size_t errlen)
{
	struct wf_engine	 sub;
	int			 rc = 0, k;

	memset(&sub, 0, sizeof(sub));
	sub.r = e->r;
	sub.parent = e;
	sub.container = c;
	sub.round = round;
	sub.pool = e->pool;
	*loop_end = 0;
	if (build(&sub, c->id, json_str(c->data, "start_node_id"), err,
	    errlen) == -1) {
		engine_free(&sub);
		return -1;
	}
	enqueue(&sub, 0);
	while (sub.qhead < sub.qtail && !sub.loop_end) {
		if (wf_engine_tick(&sub) == -1) {
			rc = -1;
			break;
		}
		k = sub.queue[sub.qhead++];
		if (run_node(&sub, k) == -1) {
			rc = -1;
			break;
		}
	}
	pump(&sub);
	if (rc == -1)
		snprintf(err, errlen, "%s", sub.fail_error ? sub.fail_error :
		    "The run was stopped.");
	*loop_end = sub.loop_end;
	engine_free(&sub);
	return rc;
}

static json_object *
container_event(struct wf_node *n)
{
	json_object	*o = json_object_new_object();

	add_str(o, "id", n->id);
	add_str(o, "node_id", n->id);
	add_str(o, "node_type", n->type);
	add_str(o, "title", n->title);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(n->created_at));
	json_object_object_add(o, "extras", json_object_new_object());
	return o;
}

/* The *_completed event of a container. */
static void
emit_completed(struct wf_engine *e, struct wf_node *n, const char *name,
    struct wf_exec *x, const char *error, int tokens, json_object *map,
    const char *map_name, int steps)
{
	json_object	*o = container_event(n), *md;

	json_object_object_add(o, "outputs", or_empty(x->outputs));
	json_object_object_add(o, "outputs_truncated",
	    json_object_new_boolean(0));
	json_object_object_add(o, "inputs", or_empty(x->inputs));
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	add_str(o, "status", error ? "failed" : "succeeded");
	add_str(o, "error", error);
	json_object_object_add(o, "elapsed_time",
	    json_object_new_double(now_mono() - n->t0));
	json_object_object_add(o, "total_tokens", json_object_new_int(tokens));
	md = x->metadata != NULL ? json_copy(x->metadata) :
	    json_object_new_object();
	json_object_object_add(md, "total_tokens", json_object_new_int(tokens));
	json_object_object_add(md, "total_price", json_object_new_string("0"));
	json_object_object_add(md, "currency", json_object_new_string("USD"));
	json_object_object_add(md, map_name, json_object_get(map));
	json_object_object_add(o, "execution_metadata", md);
	json_object_object_add(o, "finished_at",
	    json_object_new_int64(now_s()));
	json_object_object_add(o, "steps", json_object_new_int(steps));
	emit(e, name, o);
}

static void
round_time(json_object *map, int i, double secs)
{
	char	k[16];

	snprintf(k, sizeof(k), "%d", i);
	json_object_object_add(map, k, json_object_new_double(secs));
}

static int
container_fail(struct wf_exec *x, const char *msg)
{
	snprintf(x->error, sizeof(x->error), "%s", msg);
	x->error_type = "WorkflowNodeError";
	return WF_FAIL;
}

int
wf_run_iteration(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*sel = json_get(n->data, "iterator_selector"), *items;
	json_object	*out, *v, *map, *o;
	const char	*mode = json_str(n->data, "error_handle_mode");
	json_object	*flat = json_get(n->data, "flatten_output");
	char		 err[1024];
	struct buf	 b;
	size_t		 i, len;
	int		 rc, le, lists = 1, tokens0 = e->r->total_tokens;
	double		 r0;

	if (!wf_pool_get_sel(e->pool, sel, &items)) {
		buf_init(&b, 4096);
		wf_py_repr(&b, sel);
		snprintf(err, sizeof(err), "Iterator variable %s not found",
		    buf_cstr(&b));
		buf_free(&b);
		return container_fail(x, err);
	}
	x->inputs = json_object_new_object();
	json_object_object_add(x->inputs, "iterator_selector",
	    json_copy(items));
	x->outputs = json_object_new_object();
	out = json_object_new_array();
	json_object_object_add(x->outputs, "output", out);
	if (items == NULL || (json_object_is_type(items, json_type_array) &&
	    json_object_array_length(items) == 0))
		return WF_OK;	/* no rounds, no iteration events */
	if (!json_object_is_type(items, json_type_array)) {
		buf_init(&b, 4096);
		wf_py_repr(&b, items);
		snprintf(err, sizeof(err), "Invalid iterator value: %s, please "
		    "provide a list.", buf_cstr(&b));
		buf_free(&b);
		return container_fail(x, err);
	}
	len = json_object_array_length(items);
	o = container_event(n);
	json_object_object_add(o, "metadata", json_object_new_object());
	json_object_object_add(json_get(o, "metadata"), "iteration_length",
	    json_object_new_int64((int64_t)len));
	json_object_object_add(o, "inputs", json_copy(x->inputs));
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	emit(e, "iteration_started", o);
	map = json_object_new_object();
	for (i = 0; i < len; i++) {
		o = container_event(n);
		json_object_object_add(o, "index", json_object_new_int64(
		    (int64_t)i));
		emit(e, "iteration_next", o);
		forget_inner(e, n);
		wf_pool_set(e->pool, n->id, "item", json_copy(
		    json_object_array_get_idx(items, i)));
		wf_pool_set(e->pool, n->id, "index",
		    json_object_new_int64((int64_t)i));
		r0 = now_mono();
		rc = run_round(e, n, (int)i, &le, err, sizeof(err));
		round_time(map, (int)i, now_mono() - r0);
		if (top(e)->aborted) {
			json_object_put(map);
			return WF_ABORT;
		}
		if (rc == -1) {
			if (mode != NULL &&
			    strcmp(mode, "continue-on-error") == 0) {
				json_object_array_add(out, NULL);
				lists = 0;
				continue;
			}
			if (mode != NULL &&
			    strcmp(mode, "remove-abnormal-output") == 0)
				continue;
			emit_completed(e, n, "iteration_completed", x, err,
			    e->r->total_tokens - tokens0, map,
			    "iteration_duration_map", (int)i + 1);
			json_object_put(map);
			return container_fail(x, err);
		}
		if (!wf_pool_get_sel(e->pool, json_get(n->data,
		    "output_selector"), &v))
			v = NULL;
		if (!json_object_is_type(v, json_type_array))
			lists = 0;
		json_object_array_add(out, json_copy(v));
	}
	/* lists of lists flatten unless flatten_output is false */
	if (lists && json_object_array_length(out) > 0 && (flat == NULL ||
	    json_object_get_boolean(flat))) {
		json_object	*f = json_object_new_array();
		size_t		 k, m;

		for (i = 0; i < json_object_array_length(out); i++) {
			v = json_object_array_get_idx(out, i);
			m = json_object_array_length(v);
			for (k = 0; k < m; k++)
				json_object_array_add(f, json_object_get(
				    json_object_array_get_idx(v, k)));
		}
		json_object_object_add(x->outputs, "output", f);
	}
	emit_completed(e, n, "iteration_completed", x, NULL,
	    e->r->total_tokens - tokens0, map, "iteration_duration_map",
	    (int)len);
	json_object_put(map);
	return WF_OK;
}

/* A constant loop variable of "type", converted as Dify converts it. */
static json_object *
loop_constant(const char *type, json_object *v)
{
	const char	*s;
	char		*end;
	double		 d;
	json_object	*p;

	if (!json_object_is_type(v, json_type_string) || type == NULL)
		return json_copy(v);
	s = json_object_get_string(v);
	if (strcmp(type, "number") == 0) {
		d = strtod(s, &end);
		if (end == s || *end != '\0')
			return json_copy(v);
		if (strchr(s, '.') == NULL && strchr(s, 'e') == NULL &&
		    fabs(d) < 9e15)
			return json_object_new_int64((int64_t)d);
		return json_object_new_double(d);
	}
	if (strcmp(type, "boolean") == 0)
		return json_object_new_boolean(strcmp(s, "true") == 0 ||
		    strcmp(s, "1") == 0);
	if (strcmp(type, "object") == 0 || strncmp(type, "array", 5) == 0) {
		p = json_tokener_parse(s);
		return p != NULL ? p : json_copy(v);
	}
	return json_copy(v);
}

/* Whether the loop's break conditions hold: 1, 0, or -1 with err. */
static int
loop_break(struct wf_engine *e, struct wf_node *n, char *err, size_t errlen)
{
	json_object	*c = json_get(n->data, "break_conditions");

	if (c == NULL || !json_object_is_type(c, json_type_array) ||
	    json_object_array_length(c) == 0)
		return 0;
	return wf_cond_case(e->pool, e->r->p, c, json_str(n->data,
	    "logical_operator"), NULL, NULL, err, errlen);
}

int
wf_run_loop(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*vars = json_get(n->data, "loop_variables"), *v, *o;
	json_object	*map, *varmap;
	const char	*label, *reason = "loop_completed";
	char		 err[1024];
	size_t		 i, nv;
	int		 count, rounds = 0, rc, le, b;
	int		 tokens0 = e->r->total_tokens;
	double		 r0;

	count = json_object_get_int(json_get(n->data, "loop_count"));
	if (count < 1)
		count = 1;
	if (count > LOOP_COUNT_MAX) {
		snprintf(err, sizeof(err), "Loop count %d exceeds the limit "
		    "of %d.", count, LOOP_COUNT_MAX);
		return container_fail(x, err);
	}
	x->inputs = json_object_new_object();
	json_object_object_add(x->inputs, "loop_count",
	    json_object_new_int(count));
	nv = vars && json_object_is_type(vars, json_type_array) ?
	    json_object_array_length(vars) : 0;
	for (i = 0; i < nv; i++) {
		json_object	*lv = json_object_array_get_idx(vars, i);
		const char	*vt = json_str(lv, "value_type");

		label = json_str(lv, "label");
		if (label == NULL)
			continue;
		if (vt != NULL && strcmp(vt, "variable") == 0) {
			if (!wf_pool_get_sel(e->pool, json_get(lv, "value"),
			    &v))
				v = NULL;
			v = json_copy(v);
		} else
			v = loop_constant(json_str(lv, "var_type"),
			    json_get(lv, "value"));
		json_object_object_add(x->inputs, label, json_copy(v));
		wf_pool_set(e->pool, n->id, label, v);
	}
	o = container_event(n);
	json_object_object_add(o, "metadata", json_object_new_object());
	json_object_object_add(json_get(o, "metadata"), "loop_length",
	    json_object_new_int(count));
	json_object_object_add(o, "inputs", json_copy(x->inputs));
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	emit(e, "loop_started", o);
	map = json_object_new_object();
	b = loop_break(e, n, err, sizeof(err));
	for (; b == 0 && rounds < count; ) {
		forget_inner(e, n);
		wf_pool_set(e->pool, n->id, "index",
		    json_object_new_int(rounds));
		r0 = now_mono();
		rc = run_round(e, n, rounds, &le, err, sizeof(err));
		round_time(map, rounds, now_mono() - r0);
		if (top(e)->aborted) {
			json_object_put(map);
			return WF_ABORT;
		}
		if (rc == -1) {
			b = -1;
			break;
		}
		rounds++;
		if (le) {
			reason = "loop_break";
			break;
		}
		if ((b = loop_break(e, n, err, sizeof(err))) != 0) {
			if (b == 1)
				reason = "loop_break";
			break;
		}
		o = container_event(n);
		json_object_object_add(o, "index", json_object_new_int(rounds));
		json_object_object_add(o, "pre_loop_output",
		    json_object_new_object());
		emit(e, "loop_next", o);
	}
	if (b == 1 && rounds == 0)
		reason = "loop_break";
	x->outputs = json_object_new_object();
	varmap = json_object_new_object();
	for (i = 0; i < nv; i++) {
		const char	*parts[2];

		label = json_str(json_object_array_get_idx(vars, i), "label");
		if (label == NULL)
			continue;
		parts[0] = n->id;
		parts[1] = label;
		if (!wf_pool_get(e->pool, parts, 2, &v))
			v = NULL;
		json_object_object_add(x->outputs, label, json_copy(v));
		json_object_object_add(varmap, label, json_copy(v));
	}
	json_object_object_add(x->outputs, "loop_round",
	    json_object_new_int(rounds));
	x->metadata = json_object_new_object();
	json_object_object_add(x->metadata, "loop_variable_map", varmap);
	json_object_object_add(x->metadata, "completed_reason",
	    json_object_new_string(reason));
	emit_completed(e, n, "loop_completed", x, b == -1 ? err : NULL,
	    e->r->total_tokens - tokens0, map, "loop_duration_map", rounds);
	json_object_put(map);
	if (b == -1)
		return container_fail(x, err);
	return WF_OK;
}

/* ---- the run ---- */

static void
sys_vars(struct wf_engine *e, json_object *started, json_object *start_out)
{
	struct wf_run	*r = e->r;
	json_object	*files = r->files != NULL ? json_object_get(r->files) :
			    json_object_new_array();
	struct {
		const char	*name;
		json_object	*v;
		int		 in_started;
	} sys[9];
	int		 n = 0, i;

	sys[n].name = "files", sys[n].v = files, sys[n++].in_started = 1;
	sys[n].name = "user_id", sys[n].v = json_object_new_string(r->user),
	    sys[n++].in_started = 1;
	sys[n].name = "app_id", sys[n].v = json_object_new_string(r->app_id),
	    sys[n++].in_started = 1;
	sys[n].name = "workflow_id",
	    sys[n].v = json_object_new_string(r->workflow_id),
	    sys[n++].in_started = 1;
	sys[n].name = "workflow_run_id",
	    sys[n].v = json_object_new_string(r->run_id),
	    sys[n++].in_started = 1;
	if (r->chat) {
		sys[n].name = "query", sys[n].v = json_object_new_string(
		    r->query ? r->query : ""), sys[n++].in_started = 1;
		sys[n].name = "conversation_id",
		    sys[n].v = json_object_new_string(r->conversation_id ?
		    r->conversation_id : ""), sys[n++].in_started = 0;
		sys[n].name = "dialogue_count",
		    sys[n].v = json_object_new_int(r->dialogue_count),
		    sys[n++].in_started = 1;
	} else {
		sys[n].name = "timestamp",
		    sys[n].v = json_object_new_int64(r->created_at),
		    sys[n++].in_started = 0;
	}
	for (i = 0; i < n; i++) {
		char	key[64];

		snprintf(key, sizeof(key), "sys.%s", sys[i].name);
		if (sys[i].in_started)
			json_object_object_add(started, key,
			    json_object_get(sys[i].v));
		json_object_object_add(start_out, key,
		    json_object_get(sys[i].v));
		wf_pool_set(e->pool, "sys", sys[i].name, sys[i].v);
	}
}

/* env.* from the workflow's declarations, conversation.* as loaded. */
static void
load_vars(struct wf_engine *e)
{
	struct wf_run	*r = e->r;
	json_object	*d;
	const char	*name;
	size_t		 i, n;

	n = r->env_decls && json_object_is_type(r->env_decls,
	    json_type_array) ? json_object_array_length(r->env_decls) : 0;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(r->env_decls, i);
		name = json_str(d, "name");
		if (name != NULL)
			wf_pool_set(e->pool, "env", name,
			    json_copy(json_get(d, "value")));
	}
	if (r->conv != NULL && json_object_is_type(r->conv, json_type_object)) {
		json_object_object_foreach(r->conv, k, v)
			wf_pool_set(e->pool, "conversation", k, json_copy(v));
	} else if (r->chat) {
		n = r->conv_decls && json_object_is_type(r->conv_decls,
		    json_type_array) ? json_object_array_length(r->conv_decls) :
		    0;
		for (i = 0; i < n; i++) {
			d = json_object_array_get_idx(r->conv_decls, i);
			name = json_str(d, "name");
			if (name != NULL)
				wf_pool_set(e->pool, "conversation", name,
				    json_copy(json_get(d, "value")));
		}
	}
}

/* What the store keeps of a run. */
static void
run_rec(const struct wf_run *r, struct wf_run_rec *w)
{
	memset(w, 0, sizeof(*w));
	w->run_id = r->run_id;
	w->app_id = r->app_id;
	w->workflow_id = r->workflow_id;
	w->version = r->version;
	w->end_user_id = r->end_user_id;
	w->conversation_id = r->conversation_id;
	w->message_id = r->message_id;
	w->task_id = r->task_id;
	w->created_at = r->created_at;
	w->status = r->status;
	w->outputs = r->outputs;
	w->error = r->error;
	w->elapsed = r->elapsed;
	w->total_tokens = r->total_tokens;
	w->total_steps = r->total_steps;
	w->exceptions_count = r->exceptions_count;
	w->finished_at = r->finished_at;
}

int
wf_run_graph(struct wf_run *r)
{
	struct wf_engine	 e;
	struct wf_run_rec	 rec;
	json_object		*start_out;
	char			 err[512];
	int			 k, rc;

	memset(&e, 0, sizeof(e));
	e.r = r;
	r->e = &e;
	r->first_token_s = -1;
	buf_init(&r->answer, (size_t)UPSTREAM_TEXT_MAX * 2);
	if (r->run_id[0] == '\0')
		uuid_new(r->run_id);
	r->created_at = now_s();
	e.pool = &e.own_pool;
	wf_pool_init(e.pool);
	e.outputs = json_object_new_object();
	if (build(&e, NULL, NULL, err, sizeof(err)) == -1) {
		r->error = pool_strdup(r->p, err);
		r->status = "failed";
		engine_free(&e);
		r->e = NULL;
		return -1;
	}
	load_vars(&e);
	load_secrets(&e);
	r->started_inputs = json_object_new_object();
	start_out = json_object_new_object();
	if (r->inputs != NULL && json_object_is_type(r->inputs,
	    json_type_object)) {
		json_object_object_foreach(r->inputs, ik, iv) {
			json_object_object_add(r->started_inputs, ik,
			    json_object_get(iv));
			json_object_object_add(start_out, ik,
			    json_object_get(iv));
		}
	}
	sys_vars(&e, r->started_inputs, start_out);
	e.start_out = start_out;	/* what the start node publishes */
	run_rec(r, &rec);
	if (r->db != NULL && db_wf_run_create(r->db, &rec,
	    r->started_inputs) == -1) {
		r->error = "The run could not be stored.";
		r->status = "failed";
		engine_free(&e);
		r->e = NULL;
		return -1;
	}
	e.last_poll = e.last_beat = now_mono();
	e.next_ping = r->started + cfg->ping_interval_s;
	{
		json_object	*o = json_object_new_object();

		add_str(o, "id", r->run_id);
		add_str(o, "workflow_id", r->workflow_id);
		json_object_object_add(o, "inputs",
		    json_object_get(r->started_inputs));
		json_object_object_add(o, "created_at",
		    json_object_new_int64(r->created_at));
		add_str(o, "reason", "initial");
		emit(&e, "workflow_started", o);
	}
	enqueue(&e, 0);
	rc = 0;
	while (e.qhead < e.qtail) {
		if (wf_engine_tick(&e) == -1) {
			rc = -1;
			break;
		}
		k = e.queue[e.qhead++];
		if (run_node(&e, k) == -1) {
			rc = -1;
			break;
		}
	}
	pump(&e);
	if (e.aborted) {
		r->status = e.abort_status;
		r->error = e.abort_error;
	} else if (rc == -1) {
		r->status = "failed";
		r->error = e.fail_error;
	}
	else
		r->status = r->exceptions_count > 0 ? "partial-succeeded" :
		    "succeeded";
	r->finished_at = now_s();
	r->elapsed = now_mono() - r->started;
	r->outputs = json_object_get(e.outputs);
	if (r->db != NULL) {
		if (strcmp(r->status, "failed") == 0 ||
		    strcmp(r->status, "stopped") == 0)
			db_wf_nodes_abandon(r->db, r->run_id, r->error);
		run_rec(r, &rec);
		if (db_wf_run_finish(r->db, &rec) == -1)
			log_error("run %s: not finished in the database",
			    r->run_id);
	}
	engine_free(&e);
	r->e = NULL;
	return 0;
}

void
wf_run_free(struct wf_run *r)
{
	json_object_put(r->outputs);
	json_object_put(r->started_inputs);
	r->outputs = r->started_inputs = NULL;
	buf_free(&r->answer);
}
