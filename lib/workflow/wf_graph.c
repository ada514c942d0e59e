/*
 * wf_graph.c: the graph an engine walks (spec workflow.md 4), as Dify's
 * core/workflow/graph/graph.py builds it.  wf_graph_check() is what a
 * graph must hold to be run at all; wf_graph_build() turns the top level,
 * or the graph inside an iteration or a loop, into the engine's arrays of
 * nodes and edges (indexes, not pointers), root first; wf_engine_free()
 * releases them.  Node data stays borrowed from the run's graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

int
wf_graph_find(struct wf_engine *e, const char *id)
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

/* Nodes of an iteration's or loop's graph: those inside "parent". */
int
wf_graph_inside(json_object *n, const char *parent)
{
	const char	*p = json_str(n, "parentId"), *t = node_type(n);

	return p != NULL && strcmp(p, parent) == 0 && t != NULL && *t != '\0';
}

/*
 * Build the graph to run: the top level (parent NULL, rooted at the
 * start node), or the graph inside container "parent", rooted at
 * "root_id".
 */
int
wf_graph_build(struct wf_engine *e, const char *parent, const char *root_id,
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
		if (parent == NULL ? !top_level(jn) :
		    !wf_graph_inside(jn, parent))
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
		s = wf_graph_find(e, json_str(je, "source"));
		d = wf_graph_find(e, json_str(je, "target"));
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
	wf_stream_templates(e);
	return 0;
}

struct wf_engine *
wf_engine_top(struct wf_engine *e)
{
	while (e->parent != NULL)
		e = e->parent;
	return e;
}

void
wf_engine_free(struct wf_engine *e)
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
