/*
 * wf_container.c: the iteration and loop nodes (spec workflow.md 4.4),
 * as Dify's core/workflow/nodes/iteration/iteration_node.py and
 * nodes/loop/loop_node.py run them, sequentially.  Each item or round
 * walks the graph inside the container (wf_run_round) on the run's
 * variable pool, after forgetting what the inner nodes made last time;
 * the container's own events frame the rounds.  A stop or time-out
 * inside ends the container with WF_ABORT.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

#define LOOP_COUNT_MAX	100

/* Forget the outputs of every node inside container "c". */
static void
forget_inner(struct wf_engine *e, struct wf_node *c)
{
	json_object	*nodes = json_get(e->r->graph, "nodes"), *jn;
	size_t		 i, n = json_object_array_length(nodes);

	for (i = 0; i < n; i++) {
		jn = json_object_array_get_idx(nodes, i);
		if (wf_graph_inside(jn, c->id))
			wf_pool_forget(e->pool, json_str(jn, "id"));
	}
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
		py_repr(&b, sel);
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
		py_repr(&b, items);
		snprintf(err, sizeof(err), "Invalid iterator value: %s, please "
		    "provide a list.", buf_cstr(&b));
		buf_free(&b);
		return container_fail(x, err);
	}
	len = json_object_array_length(items);
	o = wf_event_container(n);
	json_object_object_add(o, "metadata", json_object_new_object());
	json_object_object_add(json_get(o, "metadata"), "iteration_length",
	    json_object_new_int64((int64_t)len));
	json_object_object_add(o, "inputs", json_copy(x->inputs));
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	wf_event_emit(e, "iteration_started", o);
	map = json_object_new_object();
	for (i = 0; i < len; i++) {
		o = wf_event_container(n);
		json_object_object_add(o, "index", json_object_new_int64(
		    (int64_t)i));
		wf_event_emit(e, "iteration_next", o);
		forget_inner(e, n);
		wf_pool_set(e->pool, n->id, "item", json_copy(
		    json_object_array_get_idx(items, i)));
		wf_pool_set(e->pool, n->id, "index",
		    json_object_new_int64((int64_t)i));
		r0 = now_mono();
		rc = wf_run_round(e, n, (int)i, &le, err, sizeof(err));
		round_time(map, (int)i, now_mono() - r0);
		if (wf_engine_top(e)->aborted) {
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
			wf_event_completed(e, n, "iteration_completed", x, err,
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
	wf_event_completed(e, n, "iteration_completed", x, NULL,
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
	o = wf_event_container(n);
	json_object_object_add(o, "metadata", json_object_new_object());
	json_object_object_add(json_get(o, "metadata"), "loop_length",
	    json_object_new_int(count));
	json_object_object_add(o, "inputs", json_copy(x->inputs));
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	wf_event_emit(e, "loop_started", o);
	map = json_object_new_object();
	b = loop_break(e, n, err, sizeof(err));
	for (; b == 0 && rounds < count; ) {
		forget_inner(e, n);
		wf_pool_set(e->pool, n->id, "index",
		    json_object_new_int(rounds));
		r0 = now_mono();
		rc = wf_run_round(e, n, rounds, &le, err, sizeof(err));
		round_time(map, rounds, now_mono() - r0);
		if (wf_engine_top(e)->aborted) {
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
		o = wf_event_container(n);
		json_object_object_add(o, "index", json_object_new_int(rounds));
		json_object_object_add(o, "pre_loop_output",
		    json_object_new_object());
		wf_event_emit(e, "loop_next", o);
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
	wf_event_completed(e, n, "loop_completed", x, b == -1 ? err : NULL,
	    e->r->total_tokens - tokens0, map, "loop_duration_map", rounds);
	json_object_put(map);
	if (b == -1)
		return container_fail(x, err);
	return WF_OK;
}
