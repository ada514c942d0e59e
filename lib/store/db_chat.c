/*
 * db_chat.c: conversations, messages and tasks as generation writes them.
 * Every statement is scoped by app (and end user where a client names a
 * row).  A running message is written as it streams (db_message_progress)
 * so that a killed process loses at most the last half second, and its
 * task's heartbeat lets db_sweep_stale() give it a final status later.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static const char SQL_CONV_INSERT[] =
    "INSERT INTO conversations (id, app_id, end_user_id, name, inputs, "
    "introduction, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)";
static const char SQL_CONV_GET[] =
    "SELECT id, name, inputs, introduction, status, dialogue_count, "
    "created_at, updated_at FROM conversations WHERE id = ? AND app_id = ? "
    "AND end_user_id = ? AND deleted = 0 AND from_source = 'api'";
static const char SQL_CONV_TOUCH[] =
    "UPDATE conversations SET updated_at = ?, "
    "dialogue_count = dialogue_count + 1 WHERE id = ?";
static const char SQL_CONV_NAME[] =
    "UPDATE conversations SET name = ? WHERE id = ? AND app_id = ? "
    "AND name = ?";
static const char SQL_MSG_INSERT[] =
    "INSERT INTO messages (id, app_id, conversation_id, end_user_id, "
    "task_id, mode, query, inputs, message_files, parent_message_id, "
    "created_at, seq, updated_at) VALUES (?,?,?,?,?,?,?,?,?,"
    "'00000000-0000-0000-0000-000000000000',?,"
    "(SELECT coalesce(max(seq), 0) + 1 FROM messages "
    "WHERE conversation_id IS ?),?)";
static const char SQL_MSG_INSERT_PG[] =
    "INSERT INTO messages (id, app_id, conversation_id, end_user_id, "
    "task_id, mode, query, inputs, message_files, parent_message_id, "
    "created_at, seq, updated_at) VALUES (?,?,?,?,?,?,?,?,?,"
    "'00000000-0000-0000-0000-000000000000',?,"
    "(SELECT coalesce(max(seq), 0) + 1 FROM messages "
    "WHERE conversation_id IS NOT DISTINCT FROM CAST(? AS TEXT)),?)";
static const char SQL_MSG_PROGRESS[] =
    "UPDATE messages SET answer = ?, updated_at = ? WHERE id = ? "
    "AND status = 'running'";
static const char SQL_MSG_FINISH[] =
    "UPDATE messages SET status = ?, answer = ?, error = ?, "
    "message_tokens = ?, answer_tokens = ?, total_price = ?, currency = ?, "
    "latency = ?, agent_thoughts = coalesce(?, agent_thoughts), "
    "updated_at = ? WHERE id = ?";
static const char SQL_HISTORY[] =
    "SELECT query, answer FROM (SELECT query, answer, created_at, seq "
    "FROM messages WHERE conversation_id = ? AND status != 'running' "
    "AND answer != '' ORDER BY created_at DESC, seq DESC LIMIT ?) AS t "
    "ORDER BY created_at, seq";
static const char SQL_TASK_ACTIVE[] =
    "SELECT count(*) FROM tasks WHERE app_id = ? AND finished_at IS NULL "
    "AND heartbeat_at >= ?";
static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (id, app_id, end_user_id, kind, message_id, pid, "
    "started_at, heartbeat_at, node) VALUES (?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (id) DO UPDATE SET app_id = excluded.app_id, "
    "end_user_id = excluded.end_user_id, kind = excluded.kind, "
    "message_id = excluded.message_id, pid = excluded.pid, "
    "started_at = excluded.started_at, "
    "heartbeat_at = excluded.heartbeat_at, node = excluded.node, "
    "stop_requested = 0, finished_at = NULL";
static const char SQL_TASK_POLL[] =
    "SELECT stop_requested FROM tasks WHERE id = ?";
static const char SQL_TASK_BEAT[] =
    "UPDATE tasks SET heartbeat_at = ? WHERE id = ?";
static const char SQL_TASK_STOP[] =
    "UPDATE tasks SET stop_requested = 1 WHERE id = ? AND app_id = ? "
    "AND end_user_id = ? AND finished_at IS NULL";
static const char SQL_TASK_FINISH[] =
    "UPDATE tasks SET finished_at = ? WHERE id = ?";
static const char SQL_SWEEP_MESSAGES[] =
    "UPDATE messages SET status = 'error', error = 'The generation was "
    "interrupted: its process ended before it finished.', updated_at = ? "
    "WHERE status = 'running' AND task_id IN (SELECT id FROM tasks "
    "WHERE finished_at IS NULL AND heartbeat_at < ?)";
static const char SQL_SWEEP_RUNS[] =
    "UPDATE workflow_runs SET status = 'failed', error = 'The run was "
    "interrupted: its process ended before it finished.', finished_at = ? "
    "WHERE status = 'running' AND task_id IN (SELECT id FROM tasks "
    "WHERE finished_at IS NULL AND heartbeat_at < ?)";
static const char SQL_OPEN_TASKS[] =
    "SELECT id, pid FROM tasks WHERE finished_at IS NULL "
    "AND (node = ? OR node IS NULL)";
static const char SQL_TASK_DEAD[] =
    "UPDATE tasks SET heartbeat_at = 0 WHERE id = ?";
static const char SQL_SWEEP_TASKS[] =
    "UPDATE tasks SET finished_at = ? WHERE finished_at IS NULL "
    "AND heartbeat_at < ?";


int
db_conversation_create(struct db *db, const struct scope *sc,
    const char *name, json_object *inputs, const char *introduction,
    char id[UUID_LEN + 1], int64_t *created_at)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_INSERT);
	int64_t		 now = now_s();
	int		 rc = -1;

	uuid_new(id);
	if (st != NULL && db_bind(st, "ssssjsII", id, sc->app_id,
	    sc->end_user_id, name, inputs, introduction, now, now) == 0)
		rc = db_exec_stmt(db, st, "conversation insert");
	db_stmt_release(st);
	*created_at = now;
	return rc;
}

int
db_conversation_get(struct db *db, struct pool *p, const struct scope *sc,
    const char *id, struct conversation *c)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_GET);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "sss", id, sc->app_id,
	    sc->end_user_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		c->id = db_col_str(st, 0, p);
		c->name = db_col_str(st, 1, p);
		c->inputs = db_col_json(st, 2);
		c->introduction = db_col_str(st, 3, p);
		c->status = db_col_str(st, 4, p);
		c->dialogue_count = db_col_int(st, 5);
		c->created_at = db_col_int64(st, 6);
		c->updated_at = db_col_int64(st, 7);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "conversation get");
out:
	db_stmt_release(st);
	return rc;
}

json_object *
conversation_json(const struct conversation *c)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(c->id));
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "inputs", c->inputs ?
	    json_object_get(c->inputs) : json_object_new_object());
	json_object_object_add(o, "status", json_object_new_string(c->status));
	json_object_object_add(o, "introduction", c->introduction ?
	    json_object_new_string(c->introduction) : NULL);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(c->created_at));
	json_object_object_add(o, "updated_at",
	    json_object_new_int64(c->updated_at));
	return o;
}

/* Prepare, bind by "fmt" (as db_bind), step and release. */
static int
exec_bound(struct db *db, const char *sql, const char *what,
    const char *fmt, ...)
{
	struct dbst	*st = db_stmt(db, sql);
	va_list		 ap;
	int		 rc = -1, i, bad = 0;

	if (st == NULL)
		return -1;
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0' && !bad; i++) {
		switch (fmt[i]) {
		case 's':
			bad = db_bind_at(st, i + 1, "s",
			    va_arg(ap, const char *)) == -1;
			break;
		case 'I':
			bad = db_bind_at(st, i + 1, "I",
			    va_arg(ap, int64_t)) == -1;
			break;
		default:
			bad = 1;
		}
	}
	va_end(ap);
	if (!bad)
		rc = db_exec_stmt(db, st, what);
	db_stmt_release(st);
	return rc;
}

int
db_conversation_touch(struct db *db, const char *id)
{
	return exec_bound(db, SQL_CONV_TOUCH, "conversation touch", "Is",
	    (int64_t)now_s(), id);
}

int
db_conversation_name_auto(struct db *db, const char *app_id, const char *id,
    const char *from, const char *name)
{
	return exec_bound(db, SQL_CONV_NAME, "conversation name", "ssss",
	    name, id, app_id, from);
}

int
db_message_create(struct db *db, const struct scope *sc,
    const struct message_new *m, char id[UUID_LEN + 1], int64_t *created_at)
{
	struct dbst	*st = db_stmt2(db, SQL_MSG_INSERT, SQL_MSG_INSERT_PG);
	json_object	*empty = json_object_new_array();
	int64_t		 now = now_s();
	int		 rc = -1;

	uuid_new(id);
	if (st != NULL && db_bind(st, "ssssssssjIsI", id, sc->app_id,
	    m->conversation_id, sc->end_user_id, m->task_id, m->mode,
	    m->query ? m->query : "", json_compact(m->inputs),
	    m->message_files ? m->message_files : empty, now,
	    m->conversation_id, now) == 0)
		rc = db_exec_stmt(db, st, "message insert");
	db_stmt_release(st);
	json_object_put(empty);
	*created_at = now;
	return rc;
}

int
db_message_progress(struct db *db, const char *id, const char *answer)
{
	return exec_bound(db, SQL_MSG_PROGRESS, "message progress", "sIs",
	    answer, (int64_t)now_s(), id);
}

int
db_message_finish(struct db *db, const char *id, const struct message_end *e)
{
	struct dbst	*st = db_stmt(db, SQL_MSG_FINISH);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sssiissdjIs", e->status, e->answer,
	    e->error, e->message_tokens, e->answer_tokens,
	    e->total_price ? e->total_price : "0",
	    e->currency ? e->currency : "USD", e->latency, e->agent_thoughts,
	    (int64_t)now_s(), id) == 0)
		rc = db_exec_stmt(db, st, "message finish");
	db_stmt_release(st);
	return rc;
}

int
db_conversation_history(struct db *db, struct pool *p,
    const char *conversation_id, int max, struct turn *out)
{
	struct dbst	*st = db_stmt(db, SQL_HISTORY);
	int		 n = 0, step;

	if (st == NULL || db_bind(st, "si", conversation_id, max) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while (n < max && (step = db_step(st)) == DB_ROW) {
		out[n].query = db_col_str(st, 0, p);
		out[n].answer = db_col_str(st, 1, p);
		n++;
	}
	db_stmt_release(st);
	return n;
}

int
db_task_start(struct db *db, const char *task_id, const struct scope *sc,
    const char *kind, const char *message_id, int max_active)
{
	struct dbst	*st;
	int64_t		 now = now_s();
	int		 active = 0, rc = -1;

	/* tasks of killed processes give up their slots and messages first */
	if (db_sweep_stale(db, cfg->task_stale_s) == -1)
		return -1;
	/* the count and the insert are one decision, on every node */
	if (db_begin_key(db, sc->app_id) == -1)
		return -1;
	if (max_active > 0) {
		st = db_stmt(db, SQL_TASK_ACTIVE);
		if (st == NULL || db_bind(st, "sI", sc->app_id,
		    now - cfg->task_stale_s) == -1) {
			db_stmt_release(st);
			goto out;
		}
		if (db_step(st) == DB_ROW)
			active = db_col_int(st, 0);
		db_stmt_release(st);
		if (active >= max_active) {
			rc = DB_CONFLICT;
			goto out;
		}
	}
	st = db_stmt(db, SQL_TASK_INSERT);
	if (st != NULL && db_bind(st, "sssssiIIs", task_id, sc->app_id,
	    sc->end_user_id, kind, message_id, (int)getpid(), now, now,
	    cfg->node_id) == 0)
		rc = db_exec_stmt(db, st, "task insert");
	db_stmt_release(st);
out:
	if (rc == 0 && db_commit(db) == 0)
		return 0;
	db_rollback(db);
	return rc == DB_CONFLICT ? DB_CONFLICT : -1;
}

int
db_task_poll(struct db *db, const char *task_id, int heartbeat)
{
	struct dbst	*st;
	int		 rc = -1;

	if (heartbeat && exec_bound(db, SQL_TASK_BEAT, "task heartbeat", "Is",
	    (int64_t)now_s(), task_id) == -1)
		return -1;
	st = db_stmt(db, SQL_TASK_POLL);
	if (st == NULL || db_bind(st, "s", task_id) == -1)
		goto out;
	if (db_step(st) == DB_ROW)
		rc = db_col_int(st, 0) != 0;
	else
		rc = 0;
out:
	db_stmt_release(st);
	return rc;
}

int
db_task_request_stop(struct db *db, const char *task_id,
    const struct scope *sc)
{
	return exec_bound(db, SQL_TASK_STOP, "task stop", "sss", task_id,
	    sc->app_id, sc->end_user_id);
}

int
db_task_finish(struct db *db, const char *task_id)
{
	return exec_bound(db, SQL_TASK_FINISH, "task finish", "Is",
	    (int64_t)now_s(), task_id);
}

/*
 * Tasks of this node whose process is gone are stale at once, without
 * waiting for their heartbeat to age; another node's are judged by their
 * heartbeat alone (a pid means nothing here).
 */
static int
mark_dead(struct db *db)
{
	struct dbst	*st = db_stmt(db, SQL_OPEN_TASKS);
	struct pool	 p = { NULL };
	const char	*dead[64];
	int		 n = 0, i, rc = 0;
	pid_t		 pid;

	if (st == NULL || db_bind(st, "s", cfg->node_id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while (n < 64 && db_step(st) == DB_ROW) {
		pid = (pid_t)db_col_int(st, 1);
		if (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH)
			dead[n++] = db_col_str(st, 0, &p);
	}
	db_stmt_release(st);
	for (i = 0; i < n && rc == 0; i++)
		rc = exec_bound(db, SQL_TASK_DEAD, "task dead", "s", dead[i]);
	pool_free_all(&p);
	return rc;
}

int
db_sweep_stale(struct db *db, int stale_s)
{
	int64_t	now = now_s(), before = now - stale_s;
	int	n = 0;

	if (db_begin(db) == -1)
		return -1;
	if (mark_dead(db) == -1)
		goto fail;
	if (exec_bound(db, SQL_SWEEP_MESSAGES, "sweep messages", "II", now,
	    before) == -1)
		goto fail;
	n += db_changes(db);
	if (exec_bound(db, SQL_SWEEP_RUNS, "sweep runs", "II", now,
	    before) == -1)
		goto fail;
	n += db_changes(db);
	if (exec_bound(db, SQL_SWEEP_TASKS, "sweep tasks", "II", now,
	    before) == -1)
		goto fail;
	if (db_commit(db) == -1)
		goto fail;
	return n;
fail:
	db_rollback(db);
	return -1;
}
