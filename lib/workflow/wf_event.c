/*
 * wf_event.c: the payloads of the events a run sends (spec workflow.md
 * 7.1-7.3), as Dify's core/app/apps/common/workflow_response_converter.py
 * builds them: workflow_started and workflow_finished, node_started,
 * node_finished and node_retry, and the iteration and loop events.  A
 * node's inputs, process_data and outputs show with secrets masked
 * (wf_secret.c); workflow_finished shows the run's outputs as they are.
 */
#include <string.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

int
wf_event_emit(struct wf_engine *e, const char *name, json_object *data)
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
void
wf_event_files(json_object *out, json_object *v, int depth)
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
			wf_event_files(out, json_object_array_get_idx(v, i),
			    depth + 1);
	} else if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, x) {
			(void)k;
			wf_event_files(out, x, depth + 1);
		}
	}
}

void
wf_event_workflow_started(struct wf_engine *e)
{
	struct wf_run	*r = e->r;
	json_object	*o = json_object_new_object();

	add_str(o, "id", r->run_id);
	add_str(o, "workflow_id", r->workflow_id);
	json_object_object_add(o, "inputs",
	    json_object_get(r->started_inputs));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(r->created_at));
	add_str(o, "reason", "initial");
	wf_event_emit(e, "workflow_started", o);
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

void
wf_event_node_started(struct wf_engine *e, struct wf_node *n)
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
	wf_event_emit(e, "node_started", o);
}

static json_object *
or_empty(json_object *o)
{
	return o != NULL ? json_object_get(o) : json_object_new_object();
}

json_object *
wf_event_node_finished(struct wf_engine *e, struct wf_node *n,
    struct wf_exec *x, const char *status, const char *error, double elapsed,
    int64_t finished)
{
	json_object	*o = node_head(n), *files, *v;

	v = wf_secret_mask(e, x->inputs, 0);
	json_object_object_add(o, "inputs", or_empty(v));
	json_object_put(v);
	json_object_object_add(o, "inputs_truncated",
	    json_object_new_boolean(0));
	v = wf_secret_mask(e, x->process_data, 0);
	json_object_object_add(o, "process_data", or_empty(v));
	json_object_put(v);
	json_object_object_add(o, "process_data_truncated",
	    json_object_new_boolean(0));
	v = wf_secret_mask(e, x->outputs, 0);
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
		wf_event_files(files, x->outputs, 0);
	else if (json_get(x->outputs, "files") != NULL)
		wf_event_files(files, json_get(x->outputs, "files"), 0);
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
	wf_event_files(files, r->outputs, 0);
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

json_object *
wf_event_container(struct wf_node *n)
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
void
wf_event_completed(struct wf_engine *e, struct wf_node *n, const char *name,
    struct wf_exec *x, const char *error, int tokens, json_object *map,
    const char *map_name, int steps)
{
	json_object	*o = wf_event_container(n), *md;

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
	wf_event_emit(e, name, o);
}
