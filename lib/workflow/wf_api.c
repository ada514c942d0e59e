/*
 * wf_api.c: the workflow endpoints of workflow.fcgi (spec workflow.md 6).
 * Mirrors Dify's controllers/service_api/app/workflow.py: the end user
 * is resolved before the mode check, then the body, the workflow version
 * and the start inputs are checked (400s before any event), a task slot
 * is taken, and the run streams its events (SSE) or answers once it has
 * finished (blocking).  A failed run is still a 200 with status
 * "failed".  Stop sets the task's flag in the database, which the
 * running engine polls every 100 ms from any process.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workflow/workflow.h"

#define KEYWORD_CHARS	30

/* ---- sinks ---- */

struct wsink {
	struct req	*rq;
	struct wf_run	*run;
};

static json_object *
envelope(struct wsink *s, const char *name)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "workflow_run_id",
	    json_object_new_string(s->run->run_id));
	json_object_object_add(o, "task_id",
	    json_object_new_string(s->run->task_id));
	return o;
}

static int
wsink_event(void *arg, const char *name, json_object *data)
{
	struct wsink	*s = arg;
	json_object	*o = envelope(s, name);

	json_object_object_add(o, "data", data);
	return sse_send(s->rq, o);
}

static int
wsink_chunk(void *arg, const char *text, size_t len, json_object *sel)
{
	struct wsink	*s = arg;
	json_object	*o = envelope(s, "text_chunk"), *d;

	d = json_object_new_object();
	json_object_object_add(d, "text",
	    json_object_new_string_len(text, (int)len));
	json_object_object_add(d, "from_variable_selector",
	    json_object_get(sel));
	json_object_object_add(o, "data", d);
	return sse_send(s->rq, o);
}

static int
wsink_ping(void *arg)
{
	struct wsink	*s = arg;

	return sse_ping(s->rq);
}

/* ---- shared checks ---- */

json_object *
wf_request_files(struct req *rq, struct resp *rs, json_object **message_files)
{
	struct files_use	 fu;
	json_object		*out, *m, *o;
	const char		*name, *dot, *tm;
	size_t			 i, n;

	if (message_files != NULL)
		*message_files = NULL;
	/* the checks and messages of chat requests (files.c) */
	if (files_use_request(rq, rs, &fu) == -1) {
		files_use_free(&fu);
		return NULL;
	}
	out = json_object_new_array();
	n = fu.message_files != NULL ?
	    json_object_array_length(fu.message_files) : 0;
	for (i = 0; i < n; i++) {
		m = json_object_array_get_idx(fu.message_files, i);
		name = json_str(m, "filename");
		dot = name != NULL ? strrchr(name, '.') : NULL;
		tm = json_str(m, "transfer_method");
		o = json_object_new_object();
		json_object_object_add(o, "dify_model_identity",
		    json_object_new_string("__dify__file__"));
		json_object_object_add(o, "id", NULL);
		json_object_object_add(o, "tenant_id",
		    json_object_new_string(""));
		json_object_object_add(o, "type",
		    json_copy(json_get(m, "type")));
		json_object_object_add(o, "transfer_method",
		    json_copy(json_get(m, "transfer_method")));
		json_object_object_add(o, "remote_url", tm != NULL &&
		    strcmp(tm, "remote_url") == 0 ?
		    json_copy(json_get(m, "url")) : NULL);
		json_object_object_add(o, "related_id",
		    json_copy(json_get(m, "upload_file_id")));
		json_object_object_add(o, "filename",
		    json_copy(json_get(m, "filename")));
		json_object_object_add(o, "extension", dot != NULL ?
		    json_object_new_string(dot) : NULL);
		json_object_object_add(o, "mime_type",
		    json_copy(json_get(m, "mime_type")));
		json_object_object_add(o, "size",
		    json_copy(json_get(m, "size")));
		json_object_object_add(o, "url", json_copy(json_get(m, "url")));
		json_object_array_add(out, o);
	}
	if (message_files != NULL && fu.message_files != NULL)
		*message_files = json_object_get(fu.message_files);
	files_use_free(&fu);
	return out;
}

/* ---- POST /workflows/run, /workflows/{workflow_id}/run ---- */

static json_object *
blocking_body(struct wf_run *r)
{
	json_object	*o = json_object_new_object(), *d;

	json_object_object_add(o, "task_id",
	    json_object_new_string(r->task_id));
	json_object_object_add(o, "workflow_run_id",
	    json_object_new_string(r->run_id));
	d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(r->run_id));
	json_object_object_add(d, "workflow_id",
	    json_object_new_string(r->workflow_id));
	json_object_object_add(d, "status", json_object_new_string(r->status));
	json_object_object_add(d, "outputs", r->outputs ?
	    json_object_get(r->outputs) : json_object_new_object());
	json_object_object_add(d, "error", r->error ?
	    json_object_new_string(r->error) : NULL);
	json_object_object_add(d, "elapsed_time",
	    json_object_new_double(r->elapsed));
	json_object_object_add(d, "total_tokens",
	    json_object_new_int(r->total_tokens));
	json_object_object_add(d, "total_steps",
	    json_object_new_int(r->total_steps));
	json_object_object_add(d, "created_at",
	    json_object_new_int64(r->created_at));
	json_object_object_add(d, "finished_at",
	    json_object_new_int64(r->finished_at));
	json_object_object_add(o, "data", d);
	return o;
}

int
wf_api_run(struct req *rq, struct resp *rs)
{
	static const struct field fields[] = {
		{ "inputs", F_OBJECT, F_REQUIRED, 0 },
		{ "files", F_ARRAY, 0, 0 },
		{ "trace_id", F_STRING, 0, 128 },
		{ NULL, 0, 0, 0 }
	};
	const char	*wid = req_param(rq, "workflow_id");
	struct wf_def	 def;
	struct wf_run	 r;
	struct wsink	 sink;
	struct scope	 sc;
	json_object	*form, *inputs = NULL, *files = NULL;
	char		 task_id[UUID_LEN + 1], err[512];
	int		 streaming, rc;

	if (auth_end_user(rq, rs, 'j', 1) == -1)
		return -1;
	if (strcmp(rq->app.mode, "workflow") != 0)
		return resp_error(rs, ERR_NOT_WORKFLOW_APP);
	if (input_check(rq, rs, fields) == -1 ||
	    task_response_mode(rq, rs, &streaming) == -1)
		return -1;
	if (wid != NULL && !uuid_valid(wid))
		return resp_error_msg(rs, ERR_BAD_REQUEST, pool_printf(
		    &rq->pool, "Invalid workflow_id format: '%s'. ", wid));
	rc = db_wf_get(rq->db, &rq->pool, rq->app.id, wid, &def);
	if (rc == DB_NOT_FOUND)
		return wid != NULL ? resp_error_msg(rs, ERR_NOT_FOUND,
		    pool_printf(&rq->pool, "Workflow not found with id: %s",
		    wid)) : resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Workflow not published");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	if (wf_graph_check(def.graph, err, sizeof(err)) == -1) {
		wf_def_free(&def);
		return resp_error_msg(rs, ERR_INVALID_PARAM, err);
	}
	form = wf_start_form(def.graph);
	inputs = prompt_inputs(form, json_get(rq->body, "inputs"), rs);
	json_object_put(form);
	if (inputs == NULL ||
	    (files = wf_request_files(rq, rs, NULL)) == NULL) {
		json_object_put(inputs);
		wf_def_free(&def);
		return -1;
	}

	sc.app_id = rq->app.id;
	sc.end_user_id = rq->user.id;
	if (task_start(rq, rs, &sc, "workflow", task_id) == -1) {
		json_object_put(inputs);
		json_object_put(files);
		wf_def_free(&def);
		return -1;
	}

	memset(&r, 0, sizeof(r));
	r.db = rq->db;
	r.p = &rq->pool;
	r.app_id = rq->app.id;
	r.workflow_id = def.id;
	r.version = def.version;
	r.task_id = task_id;
	r.end_user_id = rq->user.id;
	r.user = rq->user.session_id;
	r.graph = def.graph;
	r.inputs = inputs;
	r.files = files;
	r.env_decls = def.env;
	r.conv_decls = def.conv;
	r.streaming = streaming;
	r.started = rq->started;
	sink.rq = rq;
	sink.run = &r;
	if (streaming) {
		r.sink.arg = &sink;
		r.sink.event = wsink_event;
		r.sink.chunk = wsink_chunk;
		r.sink.ping = wsink_ping;
		if (sse_begin(rq, rs) == -1)
			r.client_gone = 1;
	}
	rc = wf_run_graph(&r);
	db_task_finish(rq->db, task_id);
	if (r.stopped)
		log_info("task %s stopped after %.3f s", task_id, r.elapsed);
	if (!streaming) {
		if (rc == -1)
			resp_error(rs, ERR_INTERNAL);
		else
			resp_json(rs, 200, blocking_body(&r));
	} else if (!rq->client_gone) {
		if (rc == -1) {
			json_object	*o = envelope(&sink, "error");

			json_object_object_add(o, "code",
			    json_object_new_string(
			    err_table[ERR_INTERNAL_STREAM].code));
			json_object_object_add(o, "message",
			    json_object_new_string(
			    err_table[ERR_INTERNAL_STREAM].message));
			json_object_object_add(o, "status", json_object_new_int(
			    err_table[ERR_INTERNAL_STREAM].status));
			sse_send(sink.rq, o);
		} else
			wsink_event(&sink, "workflow_finished",
			    wf_finished_data(&r));
	}
	wf_run_free(&r);
	json_object_put(inputs);
	json_object_put(files);
	wf_def_free(&def);
	return 0;
}

/* ---- GET /workflows/run/{workflow_run_id} ---- */

int
wf_api_run_detail(struct req *rq, struct resp *rs)
{
	struct wf_run_row	 w;
	json_object		*o;
	int			 rc;

	if (!app_mode_is_workflow(rq->app.mode))
		return resp_error(rs, ERR_NOT_WORKFLOW_APP);
	rc = db_wf_run_get(rq->db, &rq->pool, rq->app.id,
	    req_param(rq, "run_id"), &w);
	if (rc == DB_NOT_FOUND)
		return resp_error_msg(rs, ERR_NOT_FOUND,
		    "Workflow run not found.");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(w.id));
	json_object_object_add(o, "workflow_id",
	    json_object_new_string(w.workflow_id));
	json_object_object_add(o, "status", json_object_new_string(w.status));
	json_object_object_add(o, "inputs", json_object_new_string(w.inputs ?
	    w.inputs : "{}"));
	json_object_object_add(o, "outputs", w.outputs != NULL ? w.outputs :
	    json_object_new_object());
	json_object_object_add(o, "error", w.error ?
	    json_object_new_string(w.error) : NULL);
	json_object_object_add(o, "total_steps",
	    json_object_new_int(w.total_steps));
	json_object_object_add(o, "total_tokens",
	    json_object_new_int(w.total_tokens));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(w.created_at));
	json_object_object_add(o, "finished_at", w.finished_at ?
	    json_object_new_int64(w.finished_at) : NULL);
	json_object_object_add(o, "elapsed_time",
	    json_object_new_double(w.elapsed_time));
	return resp_json(rs, 200, o);
}

/* ---- POST /workflows/tasks/{task_id}/stop ---- */

int
wf_api_stop(struct req *rq, struct resp *rs)
{
	struct scope	 sc;
	json_object	*o;

	if (auth_end_user(rq, rs, 'j', 1) == -1)
		return -1;
	if (strcmp(rq->app.mode, "workflow") != 0)
		return resp_error(rs, ERR_NOT_WORKFLOW_APP);
	sc.app_id = rq->app.id;
	sc.end_user_id = rq->user.id;
	/* only the task's own end user sets the flag; always "success" */
	if (db_task_request_stop(rq->db, req_param(rq, "task_id"), &sc) == -1)
		return resp_error(rs, ERR_INTERNAL);
	o = json_object_new_object();
	json_object_object_add(o, "result", json_object_new_string("success"));
	return resp_json(rs, 200, o);
}

/* ---- GET /workflows/logs ---- */

static int
digits(const char **s, int n, int *out)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		v = v * 10 + (*s)[i] - '0';
	}
	*s += n;
	*out = v;
	return 0;
}

/*
 * ISO 8601 as dateutil's isoparse reads it: a date, then optionally
 * "T" or " ", hours, minutes, seconds, fraction, and "Z" or an offset.
 * No offset means UTC.  0, or -1 when malformed.
 */
static int
parse_iso(const char *s, int64_t *out)
{
	struct tm	 tm;
	int		 y, mo, d, h = 0, mi = 0, sec = 0, oh, om, sign;
	int64_t		 t;

	memset(&tm, 0, sizeof(tm));
	if (digits(&s, 4, &y) == -1 || *s++ != '-' ||
	    digits(&s, 2, &mo) == -1 || *s++ != '-' ||
	    digits(&s, 2, &d) == -1)
		return -1;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (digits(&s, 2, &h) == -1)
			return -1;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &mi) == -1)
				return -1;
			if (*s == ':') {
				s++;
				if (digits(&s, 2, &sec) == -1)
					return -1;
				if (*s == '.' || *s == ',') {
					s++;
					if (!isdigit((unsigned char)*s))
						return -1;
					while (isdigit((unsigned char)*s))
						s++;
				}
			}
		}
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 ||
	    sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		om = 0;
		if (digits(&s, 2, &oh) == -1)
			return -1;
		if (*s == ':')
			s++;
		if (*s != '\0' && digits(&s, 2, &om) == -1)
			return -1;
		t -= sign * (oh * 3600 + om * 60);
	}
	if (*s != '\0')
		return -1;
	*out = t;
	return 0;
}

/* A stable id for a run's log entry (there is no log table). */
static void
log_id(const char *run_id, char out[UUID_LEN + 1])
{
	uint8_t		 h[32];
	struct sha256	 c;

	sha256_init(&c);
	sha256_update(&c, "workflow-app-log:", 17);
	sha256_update(&c, run_id, strlen(run_id));
	sha256_final(&c, h);
	h[6] = (uint8_t)((h[6] & 0x0f) | 0x40);
	h[8] = (uint8_t)((h[8] & 0x3f) | 0x80);
	snprintf(out, UUID_LEN + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3],
	    h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
	    h[14], h[15]);
}

static int
log_row(const struct wf_run_row *w, void *arg)
{
	json_object	*data = arg, *o, *r, *u;
	char		 id[UUID_LEN + 1];

	log_id(w->id, id);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(id));
	r = json_object_new_object();
	json_object_object_add(r, "id", json_object_new_string(w->id));
	json_object_object_add(r, "version", json_object_new_string(
	    w->version ? w->version : ""));
	json_object_object_add(r, "status", json_object_new_string(w->status));
	json_object_object_add(r, "triggered_from", json_object_new_string(
	    w->triggered_from ? w->triggered_from : "app-run"));
	json_object_object_add(r, "error", w->error ?
	    json_object_new_string(w->error) : NULL);
	json_object_object_add(r, "elapsed_time",
	    json_object_new_double(w->elapsed_time));
	json_object_object_add(r, "total_tokens",
	    json_object_new_int(w->total_tokens));
	json_object_object_add(r, "total_steps",
	    json_object_new_int(w->total_steps));
	json_object_object_add(r, "created_at",
	    json_object_new_int64(w->created_at));
	json_object_object_add(r, "finished_at", w->finished_at ?
	    json_object_new_int64(w->finished_at) : NULL);
	json_object_object_add(r, "exceptions_count",
	    json_object_new_int(w->exceptions_count));
	json_object_object_add(o, "workflow_run", r);
	json_object_object_add(o, "details", NULL);
	json_object_object_add(o, "created_from",
	    json_object_new_string("service-api"));
	json_object_object_add(o, "created_by_role",
	    json_object_new_string("end_user"));
	json_object_object_add(o, "created_by_account", NULL);
	if (w->end_user_id != NULL && w->session_id != NULL) {
		u = json_object_new_object();
		json_object_object_add(u, "id",
		    json_object_new_string(w->end_user_id));
		json_object_object_add(u, "type",
		    json_object_new_string("service-api"));
		json_object_object_add(u, "is_anonymous",
		    json_object_new_boolean(w->is_anonymous));
		json_object_object_add(u, "session_id",
		    json_object_new_string(w->session_id));
	} else
		u = NULL;
	json_object_object_add(o, "created_by_end_user", u);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(w->created_at));
	json_object_array_add(data, o);
	return 0;
}

int
wf_api_logs(struct req *rq, struct resp *rs)
{
	struct wf_log_filter	 f;
	json_object		*o, *data;
	const char		*s, *b, *a;
	long long		 total;
	size_t			 n, chars;

	if (strcmp(rq->app.mode, "workflow") != 0)
		return resp_error(rs, ERR_NOT_WORKFLOW_APP);
	memset(&f, 0, sizeof(f));
	if (input_query_int(rq, rs, "page", 1, 1, 99999, &f.page) == -1 ||
	    input_query_int(rq, rs, "limit", 20, 1, 100, &f.limit) == -1)
		return -1;
	f.status = req_query(rq, "status");
	if (f.status != NULL && strcmp(f.status, "succeeded") &&
	    strcmp(f.status, "failed") && strcmp(f.status, "stopped"))
		return resp_error_msg(rs, ERR_INVALID_PARAM, pool_printf(
		    &rq->pool, "status must be one of succeeded, failed, "
		    "stopped: %s", f.status));
	b = req_query(rq, "created_at__before");
	a = req_query(rq, "created_at__after");
	if (b != NULL && parse_iso(b, &f.before) == -1)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "created_at__before must be an ISO 8601 date-time");
	if (a != NULL && parse_iso(a, &f.after) == -1)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "created_at__after must be an ISO 8601 date-time");
	f.session_id = req_query(rq, "created_by_end_user_session_id");
	if ((s = req_query(rq, "created_by_account")) != NULL)
		return resp_error_msg(rs, ERR_INVALID_PARAM, pool_printf(
		    &rq->pool, "Account not found: %s", s));
	if ((s = req_query(rq, "keyword")) != NULL) {
		/* only the first 30 characters count, as in Dify */
		for (n = 0, chars = 0; s[n] != '\0'; n++) {
			if (((unsigned char)s[n] & 0xc0) != 0x80 &&
			    chars++ == KEYWORD_CHARS)
				break;
		}
		f.keyword = pool_strndup(&rq->pool, s, n);
	}
	data = json_object_new_array();
	if (db_wf_logs(rq->db, &rq->pool, rq->app.id, &f, &total, log_row,
	    data) == -1) {
		json_object_put(data);
		return resp_error(rs, ERR_INTERNAL);
	}
	o = json_object_new_object();
	json_object_object_add(o, "page", json_object_new_int64(f.page));
	json_object_object_add(o, "limit", json_object_new_int64(f.limit));
	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "has_more",
	    json_object_new_boolean(total > f.page * f.limit));
	json_object_object_add(o, "data", data);
	return resp_json(rs, 200, o);
}
