/*
 * dsl_normalise.c: the migrations Dify's editor applies to a graph when
 * it opens one (web/app/components/workflow/utils/workflow-init.ts), so
 * that an old file is stored as the editor would save it: per-node
 * defaults (initialNodes), a start node for every iteration and loop
 * that lacks one, as those of files before DSL 0.1.2 do
 * (preprocessNodesAndEdges), and edge handles, type and end types
 * (initialEdges).  Only nodes whose envelope dsl_load found sound are
 * touched; what cannot be done is a problem naming the container.
 */
#include <string.h>

#include "dsl_int.h"

/* JavaScript's falsiness, which the editor's defaults test. */
static int
falsy(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return 1;
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	default:
		return 0;
	}
}

/* The editor's per-node defaults (initialNodes in workflow-init.ts). */
static void
normalise_node(struct dsl_node *nd)
{
	json_object	*d = nd->data, *cases, *tc, *v, *c;

	if (falsy(json_get(nd->obj, "type")))
		json_object_object_add(nd->obj, "type",
		    json_object_new_string("custom"));
	if (dsl_type_is(nd, "if-else")) {
		cases = json_get(d, "cases");
		if (cases == NULL && !falsy(json_get(d, "logical_operator")) &&
		    json_get(d, "conditions") != NULL) {
			c = json_object_new_object();
			json_object_object_add(c, "case_id",
			    json_object_new_string("true"));
			json_object_object_add(c, "logical_operator",
			    json_object_get(json_get(d, "logical_operator")));
			json_object_object_add(c, "conditions",
			    json_object_get(json_get(d, "conditions")));
			cases = json_object_new_array();
			json_object_array_add(cases, c);
			json_object_object_add(d, "cases", cases);
		}
		if (json_object_is_type(cases, json_type_array) &&
		    json_object_array_length(cases) > 0 &&
		    json_get(d, "conditions") != NULL &&
		    !falsy(json_get(d, "logical_operator"))) {
			json_object_object_del(d, "conditions");
			json_object_object_del(d, "logical_operator");
		}
	}
	if (dsl_type_is(nd, "iteration")) {
		if (falsy(json_get(d, "is_parallel")))
			json_object_object_add(d, "is_parallel",
			    json_object_new_boolean(0));
		if (falsy(json_get(d, "parallel_nums")))
			json_object_object_add(d, "parallel_nums",
			    json_object_new_int(10));
	}
	if ((dsl_type_is(nd, "iteration") || dsl_type_is(nd, "loop")) &&
	    falsy(json_get(d, "error_handle_mode")))
		json_object_object_add(d, "error_handle_mode",
		    json_object_new_string("terminated"));
	if (dsl_type_is(nd, "http-request") &&
	    falsy(json_get(d, "retry_config"))) {
		v = json_object_new_object();
		json_object_object_add(v, "retry_enabled",
		    json_object_new_boolean(1));
		json_object_object_add(v, "max_retries",
		    json_object_new_int(3));
		json_object_object_add(v, "retry_interval",
		    json_object_new_int(100));
		json_object_object_add(d, "retry_config", v);
	}
	if (dsl_type_is(nd, "tool") && falsy(json_get(d, "version")) &&
	    falsy(json_get(d, "tool_node_version"))) {
		json_object_object_add(d, "tool_node_version",
		    json_object_new_string("2"));
		tc = json_get(d, "tool_configurations");
		if (json_object_is_type(tc, json_type_object)) {
			json_object_object_foreach(tc, k, val) {
				if (json_object_is_type(val,
				    json_type_object) ||
				    json_object_is_type(val, json_type_array))
					continue;
				c = json_object_new_object();
				json_object_object_add(c, "type",
				    json_object_new_string("constant"));
				json_object_object_add(c, "value",
				    json_object_get(val));
				json_object_object_add(tc, k, c);
			}
		}
	}
}

static json_object *
new_position(int x, int y)
{
	json_object	*p = json_object_new_object();

	json_object_object_add(p, "x", json_object_new_int(x));
	json_object_object_add(p, "y", json_object_new_int(y));
	return p;
}

/*
 * Give a container a start node (getIterationStartNode): pre-0.1.2 files
 * name an ordinary first child in start_node_id or none at all.  "k"
 * numbers the added start nodes per container type, as the editor does.
 */
static void
add_start_node(struct dsl_load *L, struct dsl_node *c,
    struct dsl_node *first, int k)
{
	int		 iter = dsl_type_is(c, "iteration");
	const char	*flag = iter ? "isInIteration" : "isInLoop";
	json_object	*n, *d, *e, *ed;
	struct dsl_node	*nd, *parent;
	char		*id, *eid;

	id = pool_printf(&L->p, "%sstart%d", c->id, k);
	if (dsl_find_node(L, id) != NULL || L->n == L->cap) {
		PROBLEM(L, c, "cannot add its start node: id %s is taken",
		    dsl_qs(L, id));
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "title", json_object_new_string(""));
	json_object_object_add(d, "desc", json_object_new_string(""));
	json_object_object_add(d, "type", json_object_new_string(iter ?
	    "iteration-start" : "loop-start"));
	json_object_object_add(d, flag, json_object_new_boolean(1));
	n = json_object_new_object();
	json_object_object_add(n, "id", json_object_new_string(id));
	json_object_object_add(n, "type", json_object_new_string(iter ?
	    "custom-iteration-start" : "custom-loop-start"));
	json_object_object_add(n, "data", d);
	json_object_object_add(n, "position", new_position(24, 68));
	json_object_object_add(n, "targetPosition",
	    json_object_new_string("left"));
	json_object_object_add(n, "sourcePosition",
	    json_object_new_string("right"));
	json_object_object_add(n, "zIndex", json_object_new_int(1002));
	json_object_object_add(n, "parentId", json_object_new_string(c->id));
	json_object_object_add(n, "selectable", json_object_new_boolean(0));
	json_object_object_add(n, "draggable", json_object_new_boolean(0));
	json_object_array_add(L->node_list, n);
	nd = &L->nodes[L->n];
	memset(nd, 0, sizeof(*nd));
	nd->obj = n;
	nd->data = d;
	nd->id = json_str(n, "id");
	nd->type = json_str(d, "type");
	nd->title = "";
	nd->pos = c->pos;
	nd->ok = 1;
	json_object_object_add(L->index, nd->id,
	    json_object_new_int((int)L->n));
	L->n++;
	json_object_object_add(c->data, "start_node_id",
	    json_object_new_string(id));
	if (first == NULL)
		return;
	parent = dsl_find_node(L, json_str(first->obj, "parentId"));
	ed = json_object_new_object();
	json_object_object_add(ed, "sourceType", json_object_new_string(
	    nd->type));
	json_object_object_add(ed, "targetType", json_object_new_string(
	    first->type));
	json_object_object_add(ed, "isInIteration", json_object_new_boolean(
	    parent != NULL && dsl_type_is(parent, "iteration")));
	if (parent != NULL && dsl_type_is(parent, "iteration"))
		json_object_object_add(ed, "iteration_id",
		    json_object_new_string(parent->id));
	json_object_object_add(ed, "isInLoop", json_object_new_boolean(
	    parent != NULL && dsl_type_is(parent, "loop")));
	if (parent != NULL && dsl_type_is(parent, "loop"))
		json_object_object_add(ed, "loop_id",
		    json_object_new_string(parent->id));
	eid = pool_printf(&L->p, "%s-source-%s-target", id, first->id);
	e = json_object_new_object();
	json_object_object_add(e, "id", json_object_new_string(eid));
	json_object_object_add(e, "type", json_object_new_string("custom"));
	json_object_object_add(e, "source", json_object_new_string(id));
	json_object_object_add(e, "sourceHandle",
	    json_object_new_string("source"));
	json_object_object_add(e, "target", json_object_new_string(first->id));
	json_object_object_add(e, "targetHandle",
	    json_object_new_string("target"));
	json_object_object_add(e, "data", ed);
	json_object_object_add(e, "zIndex", json_object_new_int(1002));
	json_object_array_add(L->edge_list, e);
	dsl_add_edge(L, nd, first);
}

/* preprocessNodesAndEdges: containers without a proper start node. */
static void
add_start_nodes(struct dsl_load *L, const char *ctype, const char *custom)
{
	size_t		 i, n = L->n;
	struct dsl_node	*c, *first;
	json_object	*sid;
	const char	*top;
	int		 k = 0, pass;

	/* first those naming an ordinary node, then those naming none */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			c = &L->nodes[i];
			if (!c->ok || !dsl_type_is(c, ctype))
				continue;
			sid = json_get(c->data, "start_node_id");
			if (falsy(sid)) {
				if (pass == 1)
					add_start_node(L, c, NULL, k++);
				continue;
			}
			if (!json_object_is_type(sid, json_type_string)) {
				if (pass == 0)
					PROBLEM(L, c, "start_node_id must be "
					    "a string");
				continue;
			}
			first = dsl_find_node(L, json_object_get_string(sid));
			if (first == NULL) {
				if (pass == 0)
					PROBLEM(L, c, "start_node_id %s is "
					    "not a node", dsl_qs(L,
					    json_object_get_string(sid)));
				continue;
			}
			top = json_str(first->obj, "type");
			if (pass == 0 && (top == NULL ||
			    strcmp(top, custom) != 0))
				add_start_node(L, c, first->ok ? first : NULL,
				    k++);
		}
	}
}

/* initialEdges: handles, edge type and end types filled in. */
static void
normalise_edges(struct dsl_load *L)
{
	json_object	*e, *d;
	struct dsl_node	*nd;
	size_t		 i;

	for (i = 0; i < json_object_array_length(L->edge_list); i++) {
		e = json_object_array_get_idx(L->edge_list, i);
		json_object_object_add(e, "type",
		    json_object_new_string("custom"));
		if (falsy(json_get(e, "sourceHandle")))
			json_object_object_add(e, "sourceHandle",
			    json_object_new_string("source"));
		if (falsy(json_get(e, "targetHandle")))
			json_object_object_add(e, "targetHandle",
			    json_object_new_string("target"));
		d = json_get(e, "data");
		if (d == NULL) {
			d = json_object_new_object();
			json_object_object_add(e, "data", d);
		}
		if (!json_object_is_type(d, json_type_object))
			continue;
		nd = dsl_find_node(L, json_str(e, "source"));
		if (falsy(json_get(d, "sourceType")) && nd != NULL &&
		    nd->type != NULL)
			json_object_object_add(d, "sourceType",
			    json_object_new_string(nd->type));
		nd = dsl_find_node(L, json_str(e, "target"));
		if (falsy(json_get(d, "targetType")) && nd != NULL &&
		    nd->type != NULL)
			json_object_object_add(d, "targetType",
			    json_object_new_string(nd->type));
	}
}

void
dsl_normalise(struct dsl_load *L)
{
	size_t	i;

	for (i = 0; i < L->n; i++)
		if (L->nodes[i].ok)
			normalise_node(&L->nodes[i]);
	add_start_nodes(L, "iteration", "custom-iteration-start");
	add_start_nodes(L, "loop", "custom-loop-start");
	normalise_edges(L);
}
