/*
 * db_workflow.c: what the workflow engine stores: workflow versions as
 * read for a run, runs (workflow_runs) and node executions
 * (workflow_node_executions) written as they happen, the /workflows/logs
 * query, and the conversation variables of chatflows (one row per
 * conversation and variable, value as JSON text).  Every statement is
 * scoped by app.  Mirrors what Dify keeps (spec workflow.md 10).
 */
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static const char SQL_WF_BY_ID[] =
    "SELECT id, version, graph, features, environment_variables, "
    "conversation_variables, created_at FROM workflows "
    "WHERE id = ? AND app_id = ?";
static const char SQL_WF_LATEST_ROW[] =
    "SELECT id, version, graph, features, environment_variables, "
    "conversation_variables, created_at FROM workflows WHERE app_id = ? "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1";
static const char SQL_RUN_INSERT[] =
    "INSERT INTO workflow_runs (id, app_id, workflow_id, sequence_number, "
    "triggered_from, version, status, inputs, created_by_end_user_id, "
    "conversation_id, message_id, task_id, created_at) VALUES (?1, ?2, ?3, "
    "(SELECT coalesce(max(sequence_number), 0) + 1 FROM workflow_runs "
    "WHERE app_id = ?2), 'app-run', ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_RUN_FINISH[] =
    "UPDATE workflow_runs SET status = ?, outputs = ?, error = ?, "
    "elapsed_time = ?, total_tokens = ?, total_steps = ?, "
    "exceptions_count = ?, finished_at = ? WHERE id = ? AND app_id = ?";
static const char SQL_RUN_GET[] =
    "SELECT id, workflow_id, status, inputs, outputs, error, total_steps, "
    "total_tokens, created_at, finished_at, elapsed_time, version, "
    "triggered_from, exceptions_count FROM workflow_runs "
    "WHERE id = ? AND app_id = ?";
#define LOG_WHERE \
    "FROM workflow_runs r LEFT JOIN end_users u " \
    "ON u.id = r.created_by_end_user_id " \
    "WHERE r.app_id = ?1 AND r.conversation_id IS NULL " \
    "AND (CAST(?2 AS TEXT) IS NULL OR r.status = ?2) " \
    "AND (CAST(?3 AS BIGINT) IS NULL OR r.created_at <= ?3) " \
    "AND (CAST(?4 AS BIGINT) IS NULL OR r.created_at >= ?4) " \
    "AND (CAST(?5 AS TEXT) IS NULL OR u.session_id = ?5) " \
    "AND (CAST(?6 AS TEXT) IS NULL OR instr(lower(r.inputs), lower(?6)) > 0 " \
    "OR instr(lower(coalesce(r.outputs, '')), lower(?6)) > 0 " \
    "OR instr(lower(coalesce(u.session_id, '')), lower(?6)) > 0 " \
    "OR r.id = ?6) "
static const char SQL_LOG_COUNT[] = "SELECT count(*) " LOG_WHERE;
static const char SQL_LOG_PAGE[] =
    "SELECT r.id, r.version, r.status, r.triggered_from, r.error, "
    "r.elapsed_time, r.total_tokens, r.total_steps, r.created_at, "
    "r.finished_at, r.exceptions_count, r.created_by_end_user_id, "
    "u.session_id, u.is_anonymous, r.workflow_id " LOG_WHERE
    "ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?7 OFFSET ?8";
static const char SQL_NODE_INSERT[] =
    "INSERT INTO workflow_node_executions (id, app_id, workflow_run_id, "
    "idx, node_id, node_type, title, predecessor_node_id, status, "
    "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)";
static const char SQL_NODE_FINISH[] =
    "UPDATE workflow_node_executions SET inputs = ?, process_data = ?, "
    "outputs = ?, status = ?, error = ?, elapsed_time = ?, "
    "execution_metadata = ?, finished_at = ? WHERE id = ?";
static const char SQL_NODES_ABANDON[] =
    "UPDATE workflow_node_executions SET status = 'failed', error = ?, "
    "finished_at = ? WHERE workflow_run_id = ? AND status = 'running'";
static const char SQL_CONV_VARS[] =
    "SELECT id, name, value FROM conversation_variables "
    "WHERE conversation_id = ? AND app_id = ? ORDER BY created_at, seq";
static const char SQL_CONV_VAR_INSERT[] =
    "INSERT INTO conversation_variables (id, conversation_id, "
    "app_id, name, value_type, value, description, created_at, seq, "
    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING";
static const char SQL_MSG_RUN[] =
    "UPDATE messages SET workflow_run_id = ? WHERE id = ?";

static json_object *
col_json_or(struct dbst *st, int i, json_type t)
{
	json_object	*o = db_col_json(st, i);

	if (o == NULL || !json_object_is_type(o, t)) {
		json_object_put(o);
		o = t == json_type_array ? json_object_new_array() :
		    json_object_new_object();
	}
	return o;
}

int
db_wf_get(struct db *db, struct pool *p, const char *app_id, const char *id,
    struct wf_def *w)
{
	struct dbst	*st;
	int		 rc = -1, step;

	memset(w, 0, sizeof(*w));
	st = db_stmt(db, id != NULL ? SQL_WF_BY_ID : SQL_WF_LATEST_ROW);
	if (st == NULL || (id != NULL ? db_bind(st, "ss", id, app_id) :
	    db_bind(st, "s", app_id)) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		w->id = db_col_str(st, 0, p);
		w->version = db_col_str(st, 1, p);
		w->graph = col_json_or(st, 2, json_type_object);
		w->features = col_json_or(st, 3, json_type_object);
		w->env = col_json_or(st, 4, json_type_array);
		w->conv = col_json_or(st, 5, json_type_array);
		w->created_at = db_col_int64(st, 6);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "workflow get");
out:
	db_stmt_release(st);
	return rc;
}

void
wf_def_free(struct wf_def *w)
{
	json_object_put(w->graph);
	json_object_put(w->features);
	json_object_put(w->env);
	json_object_put(w->conv);
	w->graph = w->features = w->env = w->conv = NULL;
}

int
db_wf_run_create(struct db *db, const struct wf_run_rec *r,
    json_object *inputs)
{
	struct dbst	*st = db_stmt(db, SQL_RUN_INSERT);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "ssssjssssI", r->run_id, r->app_id,
	    r->workflow_id, r->version ? r->version : "", inputs,
	    r->end_user_id, r->conversation_id, r->message_id, r->task_id,
	    r->created_at) == 0)
		rc = db_exec_stmt(db, st, "run insert");
	db_stmt_release(st);
	return rc;
}

int
db_wf_run_finish(struct db *db, const struct wf_run_rec *r)
{
	struct dbst	*st = db_stmt(db, SQL_RUN_FINISH);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sjsdiiiIss", r->status, r->outputs,
	    r->error, r->elapsed, r->total_tokens, r->total_steps,
	    r->exceptions_count, r->finished_at, r->run_id, r->app_id) == 0)
		rc = db_exec_stmt(db, st, "run finish");
	db_stmt_release(st);
	return rc;
}

int
db_wf_run_get(struct db *db, struct pool *p, const char *app_id,
    const char *id, struct wf_run_row *w)
{
	struct dbst	*st = db_stmt(db, SQL_RUN_GET);
	int		 rc = -1, step;

	memset(w, 0, sizeof(*w));
	if (st == NULL || db_bind(st, "ss", id, app_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		w->id = db_col_str(st, 0, p);
		w->workflow_id = db_col_str(st, 1, p);
		w->status = db_col_str(st, 2, p);
		w->inputs = db_col_str(st, 3, p);
		w->outputs = db_col_json(st, 4);
		w->error = db_col_str(st, 5, p);
		w->total_steps = db_col_int(st, 6);
		w->total_tokens = db_col_int(st, 7);
		w->created_at = db_col_int64(st, 8);
		w->finished_at = db_col_int64(st, 9);
		w->elapsed_time = db_col_double(st, 10);
		w->version = db_col_str(st, 11, p);
		w->triggered_from = db_col_str(st, 12, p);
		w->exceptions_count = db_col_int(st, 13);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "run get");
out:
	db_stmt_release(st);
	return rc;
}

/* Bind the filters of a log query (parameters 1-6). */
static int
bind_filter(struct dbst *st, const char *app_id, const struct wf_log_filter *f)
{
	int	rc;

	rc = db_bind(st, "ss", app_id, f->status);
	rc |= f->before ? db_bind_at(st, 3, "I", f->before) :
	    db_bind_at(st, 3, "s", NULL);
	rc |= f->after ? db_bind_at(st, 4, "I", f->after) :
	    db_bind_at(st, 4, "s", NULL);
	rc |= db_bind_at(st, 5, "ss", f->session_id, f->keyword);
	return rc == 0 ? 0 : -1;
}

int
db_wf_logs(struct db *db, struct pool *p, const char *app_id,
    const struct wf_log_filter *f, long long *total,
    int (*fn)(const struct wf_run_row *, void *), void *arg)
{
	struct dbst		*st;
	struct wf_run_row	 w;
	int			 rc = -1, step;

	*total = 0;
	st = db_stmt(db, SQL_LOG_COUNT);
	if (st == NULL || bind_filter(st, app_id, f) == -1) {
		db_stmt_release(st);
		return -1;
	}
	if (db_step(st) == DB_ROW)
		*total = db_col_int64(st, 0);
	db_stmt_release(st);
	st = db_stmt(db, SQL_LOG_PAGE);
	if (st == NULL || bind_filter(st, app_id, f) == -1 ||
	    db_bind_at(st, 7, "II", (int64_t)f->limit,
	    (int64_t)((f->page - 1) * f->limit)) == -1)
		goto out;
	while ((step = db_step(st)) == DB_ROW) {
		memset(&w, 0, sizeof(w));
		w.id = db_col_str(st, 0, p);
		w.version = db_col_str(st, 1, p);
		w.status = db_col_str(st, 2, p);
		w.triggered_from = db_col_str(st, 3, p);
		w.error = db_col_str(st, 4, p);
		w.elapsed_time = db_col_double(st, 5);
		w.total_tokens = db_col_int(st, 6);
		w.total_steps = db_col_int(st, 7);
		w.created_at = db_col_int64(st, 8);
		w.finished_at = db_col_int64(st, 9);
		w.exceptions_count = db_col_int(st, 10);
		w.end_user_id = db_col_str(st, 11, p);
		w.session_id = db_col_str(st, 12, p);
		w.is_anonymous = db_col_int(st, 13);
		w.workflow_id = db_col_str(st, 14, p);
		if (fn(&w, arg) == -1)
			break;
	}
	if (step != DB_ROW && step != DB_DONE)
		db_log_error(db, "run logs");
	else
		rc = 0;
out:
	db_stmt_release(st);
	return rc;
}

int
db_wf_node_start(struct db *db, const char *app_id,
    const struct wf_node_row *n)
{
	struct dbst	*st = db_stmt(db, SQL_NODE_INSERT);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sssisssssI", n->id, app_id, n->run_id,
	    n->index, n->node_id, n->node_type, n->title, n->predecessor,
	    n->status, n->created_at) == 0)
		rc = db_exec_stmt(db, st, "node insert");
	db_stmt_release(st);
	return rc;
}

int
db_wf_node_finish(struct db *db, const struct wf_node_row *n)
{
	struct dbst	*st = db_stmt(db, SQL_NODE_FINISH);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "jjjssdjIs", n->inputs, n->process_data,
	    n->outputs, n->status, n->error, n->elapsed_time, n->metadata,
	    n->finished_at, n->id) == 0)
		rc = db_exec_stmt(db, st, "node finish");
	db_stmt_release(st);
	return rc;
}

int
db_wf_nodes_abandon(struct db *db, const char *run_id, const char *error)
{
	struct dbst	*st = db_stmt(db, SQL_NODES_ABANDON);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sIs", error, (int64_t)now_s(),
	    run_id) == 0)
		rc = db_exec_stmt(db, st, "nodes abandon");
	db_stmt_release(st);
	return rc;
}

static int
conv_var_insert(struct db *db, const char *app_id, const char *conv_id,
    json_object *d, int seq, const char *id, int64_t now)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_VAR_INSERT);
	json_object	*v = json_get(d, "value");
	const char	*type = json_str(d, "value_type");
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sssssssIiI", id, conv_id, app_id,
	    json_str(d, "name"), type ? type : "string",
	    v != NULL ? json_compact(v) : "null", json_str(d, "description"),
	    now, seq, now) == 0)
		rc = db_exec_stmt(db, st, "conversation variable insert");
	db_stmt_release(st);
	return rc;
}

int
db_wf_conv_load(struct db *db, const char *app_id, const char *conv_id,
    json_object *decls, json_object *values, json_object *ids)
{
	struct dbst	*st;
	json_object	*d, *v;
	const char	*name, *id;
	char		 nid[UUID_LEN + 1];
	size_t		 i, n;
	int		 step, rc = -1;
	int64_t		 now = now_s();

	st = db_stmt(db, SQL_CONV_VARS);
	if (st == NULL || db_bind(st, "ss", conv_id, app_id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while ((step = db_step(st)) == DB_ROW) {
		name = (const char *)db_col_text(st, 1);
		id = (const char *)db_col_text(st, 0);
		if (name == NULL || id == NULL)
			continue;
		v = db_col_json(st, 2);
		json_object_object_add(values, name, v);
		json_object_object_add(ids, name, json_object_new_string(id));
	}
	db_stmt_release(st);
	if (step != DB_DONE) {
		db_log_error(db, "conversation variables");
		return -1;
	}
	/* declared variables the conversation lacks get their defaults */
	n = decls && json_object_is_type(decls, json_type_array) ?
	    json_object_array_length(decls) : 0;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(decls, i);
		name = json_str(d, "name");
		if (name == NULL || json_get(ids, name) != NULL)
			continue;
		id = json_str(d, "id");
		if (id == NULL || *id == '\0') {
			uuid_new(nid);
			id = nid;
		}
		if (conv_var_insert(db, app_id, conv_id, d, (int)i, id,
		    now) == -1)
			goto out;
		json_object_object_add(values, name,
		    json_copy(json_get(d, "value")));
		json_object_object_add(ids, name, json_object_new_string(id));
	}
	rc = 0;
out:
	return rc;
}

int
db_wf_message_run(struct db *db, const char *message_id, const char *run_id)
{
	struct dbst	*st = db_stmt(db, SQL_MSG_RUN);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "ss", run_id, message_id) == 0)
		rc = db_exec_stmt(db, st, "message run");
	db_stmt_release(st);
	return rc;
}
