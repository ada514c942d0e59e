/*
 * task.c: what every generation does before it runs, whatever runs it
 * (chat and completion in lib/app/, chatflow, workflow runs): read its
 * response_mode and take a task slot, within the app's share of this
 * process's threads and its limit of tasks in flight across processes,
 * or answer Dify's 429.  Mirrors Dify's RateLimit (api/core/app/features/
 * rate_limiting/rate_limit.py).
 */
#include <string.h>

#include "task/task.h"
#include "http/http.h"

/*
 * The body fields of a generation request besides query, user and
 * response_mode, as Dify's ChatRequestPayload declares them (completion
 * requests read the same table).
 */
const struct field task_request_fields[] = {
	{ "inputs", F_OBJECT, F_REQUIRED, 0 },
	/* Dify: blank or any false value is a new conversation */
	{ "conversation_id", F_STRING, F_FALSY, 64 },
	{ "files", F_ARRAY, 0, 0 },
	{ "auto_generate_name", F_BOOL, F_NOTNULL, 0 },
	{ "workflow_id", F_STRING, 0, 64 },
	{ "retriever_from", F_STRING, 0, 64 },
	{ "trace_id", F_STRING, 0, 128 },
	{ NULL, 0, 0, 0 }
};

int
task_response_mode(struct req *rq, struct resp *rs, int *streaming)
{
	json_object	*v = json_get(rq->body, "response_mode");
	const char	*s;

	*streaming = 0;
	if (v == NULL)
		return 0;
	s = json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : "";
	if (strcmp(s, "streaming") == 0)
		*streaming = 1;
	else if (strcmp(s, "blocking") != 0)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "response_mode must be 'blocking' or 'streaming'");
	return 0;
}

int
task_max_active(const struct app *a)
{
	json_object	*v = json_get(a->config, "max_active_requests");

	if (v != NULL && json_object_is_type(v, json_type_int))
		return json_object_get_int(v);
	if (a->max_active_requests > 0)
		return a->max_active_requests;
	return cfg->max_active_requests;
}

/* Dify's refusal of a request past an app's active-request limit. */
static int
too_many(struct req *rq, struct resp *rs, int n)
{
	return resp_error_msg(rs, ERR_TOO_MANY_REQUESTS, pool_printf(
	    &rq->pool, "Too many requests. Please try again later. The "
	    "current maximum concurrent requests allowed for %s is %d.",
	    rq->app.id, n));
}

int
task_start(struct req *rq, struct resp *rs, const struct scope *sc,
    const char *kind, char task_id[UUID_LEN + 1])
{
	int	n = task_max_active(&rq->app), rc, share;

	/* first this process's threads, known exactly without the database;
	 * the hold lasts until the request ends */
	switch (serve_hold(rq->app.id, &share)) {
	case SERVE_HOLD_APP:
		log_info("app %s: holds its share of %d threads here; "
		    "refused", rq->app.id, share);
		return too_many(rq, rs, share);
	case SERVE_HOLD_FULL:
		log_info("app %s: every thread for generations is busy; "
		    "refused", rq->app.id);
		return too_many(rq, rs, share);
	}
	uuid_new(task_id);
	rc = db_task_start(rq->db, task_id, sc, kind, NULL, n);
	if (rc == DB_CONFLICT)
		return too_many(rq, rs, n);
	if (rc != 0)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}

double
task_beat_interval(void)
{
	double	third = cfg->task_stale_s / 3.0;

	return third < 5.0 ? third : 5.0;
}
