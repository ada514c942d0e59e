/*
 * chatflow.c: POST /chat-messages for advanced-chat apps (spec
 * workflow.md 8), called by gen.c after the end-user and mode checks.
 * Mirrors Dify's core/app/apps/advanced_chat: the request is checked as
 * for chat apps, the conversation and a "running" message are stored,
 * the conversation's variables are loaded (a new conversation gets the
 * declared defaults), the workflow runs with sys.query, sys.
 * conversation_id and sys.dialogue_count, and its answer text goes out
 * as "message" events among the workflow events, then workflow_finished
 * and message_end: Dify's advanced-chat task pipeline publishes its
 * message end only once the workflow has finished, for a stopped run too
 * (the partial answer saved).  A failed run ends with workflow_finished
 * and an error event (blocking: 400 "Run failed: ...").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "chatflow/chatflow.h"
#include "app/app.h"
#include "workflow/workflow.h"

#define QUERY_MAX_BYTES		(256 * 1024)
#define DEFAULT_NAME		"New conversation"
#define SAVE_INTERVAL_S		0.5

struct chat {
	struct req	*rq;
	struct wf_run	*run;
	const char	*conversation_id;
	const char	*message_id;
	int64_t		 created_at;
	int		 streaming;
	double		 last_save;
	size_t		 saved_len;
};

static json_object *
envelope(struct chat *c, const char *name)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "conversation_id",
	    json_object_new_string(c->conversation_id));
	json_object_object_add(o, "message_id",
	    json_object_new_string(c->message_id));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(c->created_at));
	json_object_object_add(o, "task_id",
	    json_object_new_string(c->run->task_id));
	return o;
}

static int
chat_event(void *arg, const char *name, json_object *data)
{
	struct chat	*c = arg;
	json_object	*o = envelope(c, name);

	json_object_object_add(o, "workflow_run_id",
	    json_object_new_string(c->run->run_id));
	json_object_object_add(o, "data", data);
	return sse_send(c->rq, o);
}

/*
 * Answer text: a message event when streaming, and the answer so far
 * written to the message every half second, so that a killed process
 * loses little.
 */
static int
chat_chunk(void *arg, const char *text, size_t len, json_object *sel)
{
	struct chat	*c = arg;
	struct buf	*a = &c->run->answer;
	json_object	*o;
	double		 now = now_mono();

	if (now - c->last_save >= SAVE_INTERVAL_S && a->len != c->saved_len) {
		db_message_progress(c->rq->db, c->message_id, buf_cstr(a));
		c->saved_len = a->len;
		c->last_save = now;
	}
	if (!c->streaming)
		return 0;
	o = envelope(c, "message");

	json_object_object_add(o, "id", json_object_new_string(c->message_id));
	json_object_object_add(o, "answer",
	    json_object_new_string_len(text, (int)len));
	json_object_object_add(o, "from_variable_selector",
	    json_object_get(sel));
	return sse_send(c->rq, o);
}

static int
chat_ping(void *arg)
{
	struct chat	*c = arg;

	return sse_ping(c->rq);
}

static json_object *
metadata(json_object *usage)
{
	json_object	*m = json_object_new_object();

	json_object_object_add(m, "annotation_reply", NULL);
	json_object_object_add(m, "retriever_resources",
	    json_object_new_array());
	json_object_object_add(m, "usage", usage);
	return m;
}

static int
message_end(struct chat *c, json_object *usage)
{
	json_object	*o = envelope(c, "message_end");

	json_object_object_add(o, "id", json_object_new_string(c->message_id));
	json_object_object_add(o, "metadata", metadata(usage));
	json_object_object_add(o, "files", json_object_new_array());
	return sse_send(c->rq, o);
}

static int
error_event(struct chat *c, enum err e, const char *msg)
{
	json_object	*o = envelope(c, "error");

	json_object_object_add(o, "code",
	    json_object_new_string(err_table[e].code));
	json_object_object_add(o, "message", json_object_new_string(msg ?
	    msg : err_table[e].message));
	json_object_object_add(o, "status",
	    json_object_new_int(err_table[e].status));
	return sse_send(c->rq, o);
}

static json_object *
blocking_body(struct chat *c, struct wf_run *r, json_object *usage)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string("message"));
	json_object_object_add(o, "task_id",
	    json_object_new_string(r->task_id));
	json_object_object_add(o, "id", json_object_new_string(c->message_id));
	json_object_object_add(o, "message_id",
	    json_object_new_string(c->message_id));
	json_object_object_add(o, "conversation_id",
	    json_object_new_string(c->conversation_id));
	json_object_object_add(o, "mode",
	    json_object_new_string("advanced-chat"));
	json_object_object_add(o, "answer", json_object_new_string_len(
	    r->answer.p ? r->answer.p : "", (int)r->answer.len));
	json_object_object_add(o, "metadata", metadata(usage));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(c->created_at));
	return o;
}

/* The query without NUL characters; NULL with a 400 in "rs". */
static char *
query_of(struct req *rq, struct resp *rs)
{
	json_object	*qv = json_get(rq->body, "query");
	const char	*s;
	char		*q;
	int		 n, i, j;

	if (qv != NULL && !json_object_is_type(qv, json_type_string)) {
		resp_error_msg(rs, ERR_INVALID_PARAM, "query must be a string");
		return NULL;
	}
	n = qv ? json_object_get_string_len(qv) : 0;
	if (n > QUERY_MAX_BYTES) {
		resp_error_msg(rs, ERR_INVALID_PARAM, "query is too long");
		return NULL;
	}
	q = pool_alloc(&rq->pool, (size_t)n + 1);
	s = qv ? json_object_get_string(qv) : "";
	for (i = j = 0; i < n; i++)
		if (s[i] != '\0')
			q[j++] = s[i];
	q[j] = '\0';
	if (*q == '\0') {
		resp_error_msg(rs, ERR_INVALID_PARAM, "query is required");
		return NULL;
	}
	return q;
}

/*
 * The conversation named by the request, if any: 0 with *cid NULL for a
 * new one, 0 with it filled, or -1 with the error in "rs".
 */
static int
conversation_of(struct req *rq, struct resp *rs, const struct scope *sc,
    struct conversation *conv, const char **cid)
{
	const char	*s = input_str(rq, "conversation_id");
	int		 rc;

	*cid = NULL;
	while (s != NULL && isspace((unsigned char)*s))
		s++;
	if (s == NULL || *s == '\0')
		return 0;
	if (!uuid_valid(s))
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "conversation_id must be a valid UUID");
	rc = db_conversation_get(rq->db, &rq->pool, sc, s, conv);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	json_object_put(conv->inputs);
	conv->inputs = NULL;
	if (strcmp(conv->status, "normal") != 0)
		return resp_error(rs, ERR_CONVERSATION_COMPLETED);
	*cid = conv->id;
	return 0;
}

/* The published workflow to run: by "workflow_id", else the latest. */
static int
workflow_of(struct req *rq, struct resp *rs, struct wf_def *def)
{
	const char	*wid = input_str(rq, "workflow_id");
	char		 err[512];
	int		 rc;

	if (wid != NULL && *wid == '\0')
		wid = NULL;
	if (wid != NULL && !uuid_valid(wid))
		return resp_error_msg(rs, ERR_BAD_REQUEST, pool_printf(
		    &rq->pool, "Invalid workflow_id format: '%s'. ", wid));
	rc = db_wf_get(rq->db, &rq->pool, rq->app.id, wid, def);
	if (rc == DB_NOT_FOUND)
		return wid != NULL ? resp_error_msg(rs, ERR_NOT_FOUND,
		    pool_printf(&rq->pool, "Workflow not found with id: %s",
		    wid)) : resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Workflow not published");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	if (wf_graph_check(def->graph, err, sizeof(err)) == -1) {
		wf_def_free(def);
		return resp_error_msg(rs, ERR_INVALID_PARAM, err);
	}
	return 0;
}

/* Store the message's end: answer, usage, status. */
static void
finish_message(struct req *rq, struct chat *c, struct wf_run *r,
    double latency)
{
	struct message_end	 me;
	json_object		*u;
	char			 price[32];

	u = json_object_new_object();
	usage_json(u, r->provider ? r->provider : "", r->prompt_tokens,
	    r->completion_tokens, latency, price);
	json_object_put(u);
	memset(&me, 0, sizeof(me));
	me.status = "normal";
	me.answer = buf_cstr(&r->answer);
	me.message_tokens = r->prompt_tokens;
	me.answer_tokens = r->completion_tokens;
	me.total_price = price;
	me.latency = latency;
	if (strcmp(r->status, "failed") == 0 || r->client_gone) {
		me.status = "error";
		me.error = r->error ? r->error : "The run failed.";
	}
	if (db_message_finish(rq->db, c->message_id, &me) == -1)
		log_error("message %s: not finished in the database",
		    c->message_id);
	if (db_wf_message_run(rq->db, c->message_id, r->run_id) == -1)
		log_error("message %s: run not recorded", c->message_id);
}

int
chatflow_messages(struct req *rq, struct resp *rs)
{
	struct conversation	 conv;
	struct message_new	 mn;
	struct wf_def		 def;
	struct wf_run		 r;
	struct chat		 c;
	struct scope		 sc;
	json_object		*form, *inputs = NULL, *files = NULL, *usage;
	json_object		*values = NULL, *ids = NULL, *mfiles = NULL;
	const char		*cid, *intro;
	char			*query, task_id[UUID_LEN + 1];
	char			 conv_id[UUID_LEN + 1], msg_id[UUID_LEN + 1];
	int			 streaming, rc, new_conv;
	double			 latency;

	if (input_check(rq, rs, task_request_fields) == -1 ||
	    task_response_mode(rq, rs, &streaming) == -1 ||
	    (query = query_of(rq, rs)) == NULL)
		return -1;
	sc.app_id = rq->app.id;
	sc.end_user_id = rq->user.id;
	memset(&conv, 0, sizeof(conv));
	if (conversation_of(rq, rs, &sc, &conv, &cid) == -1 ||
	    workflow_of(rq, rs, &def) == -1)
		return -1;
	new_conv = cid == NULL;
	form = wf_start_form(def.graph);
	inputs = prompt_inputs(form, json_get(rq->body, "inputs"), rs);
	json_object_put(form);
	if (inputs == NULL ||
	    (files = wf_request_files(rq, rs, &mfiles)) == NULL) {
		json_object_put(inputs);
		wf_def_free(&def);
		return -1;
	}

	if (task_start(rq, rs, &sc, "chat", task_id) == -1) {
		json_object_put(inputs);
		json_object_put(files);
		json_object_put(mfiles);
		wf_def_free(&def);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	if (new_conv) {
		intro = json_str(def.features, "opening_statement");
		if (db_conversation_create(rq->db, &sc, DEFAULT_NAME, inputs,
		    intro ? intro : "", conv_id, &c.created_at) == -1)
			goto internal;
	} else
		snprintf(conv_id, sizeof(conv_id), "%s", cid);
	memset(&mn, 0, sizeof(mn));
	mn.conversation_id = conv_id;
	mn.task_id = task_id;
	mn.mode = "advanced-chat";
	mn.query = query;
	mn.inputs = inputs;
	mn.message_files = mfiles;
	if (db_message_create(rq->db, &sc, &mn, msg_id, &c.created_at) == -1)
		goto internal;
	values = json_object_new_object();
	ids = json_object_new_object();
	if (db_wf_conv_load(rq->db, rq->app.id, conv_id, def.conv, values,
	    ids) == -1)
		goto internal;

	r.db = rq->db;
	r.p = &rq->pool;
	r.app_id = rq->app.id;
	r.workflow_id = def.id;
	r.version = def.version;
	r.task_id = task_id;
	r.end_user_id = rq->user.id;
	r.user = rq->user.session_id;
	r.chat = 1;
	r.conversation_id = conv_id;
	r.message_id = msg_id;
	r.query = query;
	r.dialogue_count = new_conv ? 1 : conv.dialogue_count + 1;
	r.graph = def.graph;
	r.inputs = inputs;
	r.files = files;
	r.env_decls = def.env;
	r.conv_decls = def.conv;
	r.conv = values;
	r.conv_ids = ids;
	r.streaming = streaming;
	r.started = rq->started;
	c.rq = rq;
	c.run = &r;
	c.conversation_id = conv_id;
	c.message_id = msg_id;
	c.streaming = streaming;
	c.last_save = now_mono();
	r.sink.arg = &c;
	r.sink.chunk = chat_chunk;
	if (streaming) {
		r.sink.event = chat_event;
		r.sink.ping = chat_ping;
		if (sse_begin(rq, rs) == -1)
			r.client_gone = 1;
	}
	uuid_new(r.run_id);
	rc = wf_run_graph(&r);
	latency = now_mono() - rq->started;
	if (rc == -1 && r.status == NULL)
		r.status = "failed";
	finish_message(rq, &c, &r, latency);
	db_conversation_touch(rq->db, conv_id);
	db_task_finish(rq->db, task_id);
	if (r.stopped)
		log_info("task %s stopped after %.3f s", task_id, latency);
	usage = wf_run_usage(&r, latency);
	if (streaming) {
		if (rq->client_gone)
			json_object_put(usage);
		else if (rc == -1) {
			json_object_put(usage);
			error_event(&c, ERR_INTERNAL_STREAM, NULL);
		} else if (strcmp(r.status, "failed") == 0) {
			json_object_put(usage);
			chat_event(&c, "workflow_finished",
			    wf_finished_data(&r));
			error_event(&c, ERR_INVALID_PARAM,
			    pool_printf(&rq->pool, "Run failed: %s",
			    r.error ? r.error : ""));
		} else {
			/* succeeded, partial-succeeded or stopped */
			chat_event(&c, "workflow_finished",
			    wf_finished_data(&r));
			message_end(&c, usage);
		}
	} else if (rc == -1) {
		json_object_put(usage);
		resp_error(rs, ERR_INTERNAL);
	} else if (strcmp(r.status, "failed") == 0) {
		json_object_put(usage);
		resp_error_msg(rs, ERR_INVALID_PARAM, pool_printf(&rq->pool,
		    "Run failed: %s", r.error ? r.error : ""));
	} else
		resp_json(rs, 200, blocking_body(&c, &r, usage));
	if (new_conv && input_bool(rq, "auto_generate_name", 1))
		gen_name_later(rq, conv_id, query);
	wf_run_free(&r);
	json_object_put(values);
	json_object_put(ids);
	json_object_put(inputs);
	json_object_put(files);
	json_object_put(mfiles);
	wf_def_free(&def);
	return 0;
internal:
	json_object_put(values);
	json_object_put(ids);
	json_object_put(inputs);
	json_object_put(files);
	json_object_put(mfiles);
	wf_def_free(&def);
	db_task_finish(rq->db, task_id);
	return resp_error(rs, ERR_INTERNAL);
}
