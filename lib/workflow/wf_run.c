/*
 * wf_run.c: the walk over a workflow graph (spec workflow.md 4).
 * Mirrors the semantics of Dify 1.9+'s graph engine
 * (core/workflow/graph_engine/), run sequentially:
 *
 *  - edges are unknown, taken or skipped; a node is ready when none of
 *    its incoming edges is unknown and one is taken; skips propagate, so
 *    a join runs once, after the untaken side is settled;
 *  - branch nodes (if-else, classifiers, fail-branch error strategy)
 *    take the edges of their selected handle and skip the others;
 *  - after each node, response templates that became certain start to
 *    stream (wf_stream.c);
 *  - failures go through retry_config and error_strategy (4.6), the run
 *    ends succeeded, partial-succeeded, failed or stopped (4.5);
 *  - the stop flag of the task is polled every 100 ms between nodes and
 *    inside LLM streaming (wf_engine_tick).
 * The graph comes from wf_graph.c, events from wf_event.c; iterations and
 * loops (wf_container.c) walk their inner graph with wf_run_round().
 * Node executions and the run are stored as they happen (db_workflow.c).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

#define STEPS_MAX		500
#define POLL_INTERVAL_S		0.1
#define STOPPED_MSG		"Stopped by user."
#define GONE_MSG		"The client disconnected before the run " \
				"finished."

/* ---- ticking: stop flag, time limit, pings ---- */

static void
abort_run(struct wf_engine *e, const char *status, const char *error)
{
	e = wf_engine_top(e);
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

	e = wf_engine_top(e);
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
		beat = now - e->last_beat >= task_beat_interval();
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
	row.inputs = wf_secret_mask(e, x->inputs, 0);
	row.process_data = wf_secret_mask(e, x->process_data, 0);
	row.outputs = wf_secret_mask(e, x->outputs, 0);
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

	e = wf_engine_top(e);
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
		wf_event_files(cur, json_get(outs, "files"), 0);
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
	struct wf_engine	*t = wf_engine_top(e);
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
		wf_event_node_started(e, n);
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
		wf_secret_mask_error(e, x.error, sizeof(x.error));
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
			json_object	*d = wf_event_node_finished(e, n, &x,
			    "retry", x.error, now_mono() - n->t0, now_s());

			json_object_object_add(d, "retry_index",
			    json_object_new_int(retries));
			wf_event_emit(e, "node_retry", d);
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
		wf_event_emit(e, "node_finished", wf_event_node_finished(e, n,
		    &x, status, error, elapsed, fin));
	if (status[0] == 'f') {
		e->fail_error = pool_strdup(r->p, x.error);
		exec_free(&x);
		wf_stream_pump(e);
		return -1;
	}
	exec_free(&x);
	take_edges(e, n, handle);
	wf_stream_activate(e);
	wf_stream_pump(e);
	return 0;
}

/* ---- the graph inside a container ---- */

/*
 * One round of the graph inside container "c", on the shared pool.
 * Returns 0, or -1 with the failing node's error in "err"; a stop or
 * time-out shows in wf_engine_top(e)->aborted.
 */
int
wf_run_round(struct wf_engine *e, struct wf_node *c, int round, int *loop_end,
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
	if (wf_graph_build(&sub, c->id, json_str(c->data, "start_node_id"), err,
	    errlen) == -1) {
		wf_engine_free(&sub);
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
	wf_stream_pump(&sub);
	if (rc == -1)
		snprintf(err, errlen, "%s", sub.fail_error ? sub.fail_error :
		    "The run was stopped.");
	*loop_end = sub.loop_end;
	wf_engine_free(&sub);
	return rc;
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
	if (wf_graph_build(&e, NULL, NULL, err, sizeof(err)) == -1) {
		r->error = pool_strdup(r->p, err);
		r->status = "failed";
		wf_engine_free(&e);
		r->e = NULL;
		return -1;
	}
	load_vars(&e);
	wf_secret_load(&e);
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
		wf_engine_free(&e);
		r->e = NULL;
		return -1;
	}
	e.last_poll = e.last_beat = now_mono();
	e.next_ping = r->started + cfg->ping_interval_s;
	wf_event_workflow_started(&e);
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
	wf_stream_pump(&e);
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
	wf_engine_free(&e);
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
