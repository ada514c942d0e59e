/*
 * db_conversation.c: what conversation.fcgi reads and changes: the
 * conversation list with its cursor, rename and delete, conversation
 * variables, the message history page and feedback.  Every statement is
 * scoped by app and, where a client names a row, by end user: another
 * user's id looks exactly like a missing one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define STR_IS(a, b)	((a) != NULL && strcmp((a), (b)) == 0)

/* ---- conversation list ---- */

#define CONV_COLS \
    "id, name, inputs, introduction, status, dialogue_count, created_at, " \
    "updated_at"
#define CONV_SCOPE \
    "app_id = ?1 AND end_user_id = ?2 AND deleted = 0 AND from_source = 'api'"

/* [sort field][descending][with cursor] */
static const char *const SQL_CONV_LIST[2][2][2] = {
	{
		{ "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " ORDER BY created_at, rowid LIMIT ?3",
		  "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " AND (created_at, rowid) > (?4, ?5) ORDER BY created_at, rowid LIMIT ?3" },
		{ "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " ORDER BY created_at DESC, rowid DESC LIMIT ?3",
		  "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " AND (created_at, rowid) < (?4, ?5) ORDER BY created_at DESC, rowid DESC"
		  " LIMIT ?3" },
	},
	{
		{ "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " ORDER BY updated_at, rowid LIMIT ?3",
		  "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " AND (updated_at, rowid) > (?4, ?5) ORDER BY updated_at, rowid LIMIT ?3" },
		{ "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " ORDER BY updated_at DESC, rowid DESC LIMIT ?3",
		  "SELECT " CONV_COLS " FROM conversations WHERE " CONV_SCOPE
		  " AND (updated_at, rowid) < (?4, ?5) ORDER BY updated_at DESC, rowid DESC"
		  " LIMIT ?3" },
	},
};
static const char SQL_CONV_SORTVAL[] =
    "SELECT created_at, updated_at, rowid FROM conversations WHERE id = ?3 "
    "AND "
    CONV_SCOPE;
static const char SQL_CONV_DELETE[] =
    "UPDATE conversations SET deleted = 1, updated_at = ?3 WHERE id = ?4 "
    "AND " CONV_SCOPE;
static const char SQL_CONV_RENAME[] =
    "UPDATE conversations SET name = ?3, updated_at = ?4 WHERE id = ?5 AND "
    CONV_SCOPE;
static const char SQL_CONV_FIRST_QUERY[] =
    "SELECT query FROM messages WHERE conversation_id = ? AND app_id = ? "
    "ORDER BY created_at, seq LIMIT 1";

/* A conversation row as Dify's conversation object (conversation_json). */
static void
conv_row_write(struct buf *b, struct dbst *st)
{
	jw_key(b, 1, "id");
	db_jw_str(b, st, 0);
	jw_key(b, 0, "name");
	db_jw_str(b, st, 1);
	jw_key(b, 0, "inputs");
	db_jw_raw(b, st, 2, "{}");
	jw_key(b, 0, "status");
	db_jw_str(b, st, 4);
	jw_key(b, 0, "introduction");
	db_jw_str(b, st, 3);
	buf_printf(b, ",\"created_at\":%lld,\"updated_at\":%lld",
	    (long long)db_col_int64(st, 6),
	    (long long)db_col_int64(st, 7));
}

int
db_conversation_list(struct db *db, const struct scope *sc,
    const char *last_id, int by_updated, int desc, int limit,
    struct buf *out, int *has_more)
{
	struct dbst		*st;
	int64_t			 cursor = 0, cursor_row = 0;
	int			 n = 0, step, rc = -1;

	*has_more = 0;
	if (last_id != NULL) {
		st = db_stmt(db, SQL_CONV_SORTVAL);
		if (st == NULL || db_bind(st, "sss", sc->app_id,
		    sc->end_user_id, last_id) == -1) {
			db_stmt_release(st);
			return -1;
		}
		step = db_step(st);
		if (step == DB_ROW) {
			cursor = db_col_int64(st, by_updated ? 1 : 0);
			cursor_row = db_col_int64(st, 2);
		}
		db_stmt_release(st);
		if (step == DB_DONE)
			return DB_NOT_FOUND;
		if (step != DB_ROW)
			return -1;
	}
	st = db_stmt(db, SQL_CONV_LIST[by_updated][desc][last_id != NULL]);
	if (st == NULL || db_bind(st, "ssi", sc->app_id, sc->end_user_id,
	    limit + 1) == -1)
		goto out;
	/* (sort value, rowid) keeps rows of the same second apart */
	if (last_id != NULL && db_bind_at(st, 4, "II", (int64_t)cursor,
	    (int64_t)cursor_row) == -1)
		goto out;
	/* one row past the page says whether there is more */
	while ((step = db_step(st)) == DB_ROW) {
		if (n == limit) {
			*has_more = 1;
			break;
		}
		buf_puts(out, n ? ",{" : "{");
		conv_row_write(out, st);
		buf_append(out, "}", 1);
		n++;
	}
	if (step != DB_ROW && step != DB_DONE)
		db_log_error(db, "conversation list");
	else
		rc = DB_OK;
out:
	db_stmt_release(st);
	return rc;
}

int
db_conversation_delete(struct db *db, const struct scope *sc, const char *id)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_DELETE);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "ssIs", sc->app_id, sc->end_user_id,
	    (int64_t)now_s(), id) == 0 &&
	    db_exec_stmt(db, st, "conversation delete") == 0)
		rc = db_changes(db) ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	return rc;
}

int
db_conversation_rename(struct db *db, struct pool *p, const struct scope *sc,
    const char *id, const char *name, struct conversation *out)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_RENAME);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sssIs", sc->app_id, sc->end_user_id,
	    name, (int64_t)now_s(), id) == 0 &&
	    db_exec_stmt(db, st, "conversation rename") == 0)
		rc = db_changes(db) ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	if (rc == DB_OK)
		rc = db_conversation_get(db, p, sc, id, out);
	return rc;
}

const char *
db_conversation_first_query(struct db *db, struct pool *p, const char *app_id,
    const char *id)
{
	struct dbst	*st = db_stmt(db, SQL_CONV_FIRST_QUERY);
	const char	*q = NULL;

	if (st != NULL && db_bind(st, "ss", id, app_id) == 0 &&
	    db_step(st) == DB_ROW)
		q = db_col_str(st, 0, p);
	db_stmt_release(st);
	return q;
}

/* ---- conversation variables ---- */

static const char SQL_VAR_LIST[] =
    "SELECT id, name, value_type, value, description, created_at, "
    "updated_at FROM conversation_variables WHERE conversation_id = ?1 "
    "AND app_id = ?2 AND (CAST(?3 AS TEXT) IS NULL "
    "OR instr(lower(name), lower(?3)) > 0) "
    "AND (CAST(?4 AS TEXT) IS NULL "
    "OR (created_at, seq) > (SELECT created_at, seq FROM "
    "conversation_variables WHERE id = ?4 AND conversation_id = ?1)) "
    "ORDER BY created_at, seq LIMIT ?5";
static const char SQL_VAR_EXISTS[] =
    "SELECT 1 FROM conversation_variables WHERE id = ? AND "
    "conversation_id = ? AND app_id = ?";
static const char SQL_VAR_GET[] =
    "SELECT id, name, value_type, value, description, created_at, "
    "updated_at FROM conversation_variables WHERE id = ? AND "
    "conversation_id = ? AND app_id = ?";
static const char SQL_VAR_SET[] =
    "UPDATE conversation_variables SET value = ?, updated_at = ? "
    "WHERE id = ? AND conversation_id = ? AND app_id = ?";

static void
var_from_row(struct dbst *st, struct pool *p, struct conv_var *v)
{
	v->id = db_col_str(st, 0, p);
	v->name = db_col_str(st, 1, p);
	v->value_type = db_col_str(st, 2, p);
	v->value = db_col_json(st, 3);
	v->description = db_col_str(st, 4, p);
	v->created_at = db_col_int64(st, 5);
	v->updated_at = db_col_int64(st, 6);
}

int
db_conv_var_list(struct db *db, struct pool *p, const char *app_id,
    const char *conversation_id, const char *last_id, const char *name,
    int limit, json_object *out, int *has_more)
{
	struct dbst	*st;
	struct conv_var	 v;
	int		 n = 0, step, rc = -1;

	*has_more = 0;
	if (last_id != NULL) {
		st = db_stmt(db, SQL_VAR_EXISTS);
		if (st == NULL || db_bind(st, "sss", last_id, conversation_id,
		    app_id) == -1) {
			db_stmt_release(st);
			return -1;
		}
		step = db_step(st);
		db_stmt_release(st);
		if (step == DB_DONE)
			return DB_NOT_FOUND;
		if (step != DB_ROW)
			return -1;
	}
	st = db_stmt(db, SQL_VAR_LIST);
	if (st == NULL || db_bind(st, "ssssi", conversation_id, app_id, name,
	    last_id, limit + 1) == -1)
		goto out;
	while ((step = db_step(st)) == DB_ROW) {
		if (n == limit) {
			*has_more = 1;
			break;
		}
		var_from_row(st, p, &v);
		json_object_array_add(out, conv_var_json(&v));
		json_object_put(v.value);
		n++;
	}
	if (step != DB_ROW && step != DB_DONE)
		db_log_error(db, "variable list");
	else
		rc = DB_OK;
out:
	db_stmt_release(st);
	return rc;
}

int
db_conv_var_get(struct db *db, struct pool *p, const char *app_id,
    const char *conversation_id, const char *id, struct conv_var *v)
{
	struct dbst	*st = db_stmt(db, SQL_VAR_GET);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "sss", id, conversation_id, app_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		var_from_row(st, p, v);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "variable get");
out:
	db_stmt_release(st);
	return rc;
}

int
db_conv_var_set(struct db *db, const char *app_id, const char *conversation_id,
    const char *id, json_object *value)
{
	struct dbst	*st = db_stmt(db, SQL_VAR_SET);
	json_object	*null_box = NULL;
	int		 rc = -1;

	/* the column holds JSON text: null is stored as "null" */
	if (st != NULL && (value != NULL ? db_bind(st, "jIsss", value,
	    (int64_t)now_s(), id, conversation_id, app_id) :
	    db_bind(st, "sIsss", "null", (int64_t)now_s(), id,
	    conversation_id, app_id)) == 0)
		rc = db_exec_stmt(db, st, "variable set");
	db_stmt_release(st);
	json_object_put(null_box);
	return rc;
}

/* ---- messages ---- */

#define MSG_COLS \
    "m.id, m.conversation_id, m.parent_message_id, m.inputs, m.query, " \
    "m.answer, f.rating, m.created_at, m.agent_thoughts, m.message_files, " \
    "m.message_tokens, m.answer_tokens, m.latency, m.total_price, " \
    "m.currency, m.status, m.error"
#define MSG_FROM \
    "FROM messages m LEFT JOIN message_feedbacks f ON f.message_id = m.id " \
    "AND f.from_end_user_id = ?2 "

static const char SQL_MSG_PAGE[] =
    "SELECT " MSG_COLS " " MSG_FROM "WHERE m.conversation_id = ?1 AND "
    "m.app_id = ?3 ORDER BY m.created_at DESC, m.seq DESC LIMIT ?4";
static const char SQL_MSG_PAGE_BEFORE[] =
    "SELECT " MSG_COLS " " MSG_FROM "WHERE m.conversation_id = ?1 AND "
    "m.app_id = ?3 AND (m.created_at, m.seq) < (?5, ?6) "
    "ORDER BY m.created_at DESC, m.seq DESC LIMIT ?4";
static const char SQL_MSG_CREATED[] =
    "SELECT created_at, seq FROM messages WHERE id = ? AND conversation_id = ? "
    "AND app_id = ?";

static json_object *
thoughts_json(json_object *stored, const char *message_id, int64_t created)
{
	json_object	*out = json_object_new_array(), *t, *o, *v;
	size_t		 i, n;

	n = stored && json_object_is_type(stored, json_type_array) ?
	    json_object_array_length(stored) : 0;
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(stored, i);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_copy(json_get(t, "id")));
		json_object_object_add(o, "chain_id", NULL);
		json_object_object_add(o, "message_id",
		    json_object_new_string(message_id));
		json_object_object_add(o, "position",
		    json_copy(json_get(t, "position")));
		json_object_object_add(o, "thought",
		    json_copy(json_get(t, "thought")));
		json_object_object_add(o, "tool", json_copy(json_get(t, "tool")));
		v = json_get(t, "tool_labels");
		json_object_object_add(o, "tool_labels", v ? json_copy(v) :
		    json_object_new_object());
		json_object_object_add(o, "tool_input",
		    json_copy(json_get(t, "tool_input")));
		json_object_object_add(o, "created_at",
		    json_object_new_int64(created));
		json_object_object_add(o, "observation",
		    json_copy(json_get(t, "observation")));
		v = json_get(t, "files");
		json_object_object_add(o, "files", v ? json_copy(v) :
		    json_object_new_array());
		json_object_array_add(out, o);
	}
	return out;
}

/*
 * Stored message_files with the URLs of uploaded files signed anew: the
 * signed URL written when the message was made has expired by now.
 */
static void
files_write(struct buf *b, struct dbst *st, int col,
    const struct url_signer *sg)
{
	const char	*s = (const char *)db_col_text(st, col);
	json_object	*files, *f;
	const char	*id, *url;
	size_t		 i, n;

	if (s == NULL || strcmp(s, "[]") == 0 || sg == NULL ||
	    (files = json_tokener_parse(s)) == NULL) {
		buf_puts(b, s != NULL ? s : "[]");
		return;
	}
	n = json_object_is_type(files, json_type_array) ?
	    json_object_array_length(files) : 0;
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(files, i);
		id = json_str(f, "upload_file_id");
		if (id == NULL || !STR_IS(json_str(f, "transfer_method"),
		    "local_file"))
			continue;
		url = sg->sign(sg->ctx, id);
		json_object_object_add(f, "url", url ?
		    json_object_new_string(url) : NULL);
	}
	buf_puts(b, json_compact(files));
	json_object_put(files);
}

/* A message row as an item of GET /messages (spec 6.1). */
static void
message_row_write(struct buf *b, struct dbst *st,
    const struct url_signer *sg)
{
	const char	*id = (const char *)db_col_text(st, 0);
	const char	*s;
	int64_t		 created = db_col_int64(st, 7);
	int		 mt = db_col_int(st, 10);
	int		 at = db_col_int(st, 11);
	json_object	*j;

	jw_key(b, 1, "id");
	jw_str(b, id);
	jw_key(b, 0, "conversation_id");
	db_jw_str(b, st, 1);
	jw_key(b, 0, "parent_message_id");
	db_jw_str(b, st, 2);
	jw_key(b, 0, "inputs");
	db_jw_raw(b, st, 3, "{}");
	jw_key(b, 0, "query");
	db_jw_str(b, st, 4);
	jw_key(b, 0, "answer");
	db_jw_str(b, st, 5);
	jw_key(b, 0, "feedback");
	if (db_col_null(st, 6))
		buf_puts(b, "null");
	else {
		buf_puts(b, "{\"rating\":");
		db_jw_str(b, st, 6);
		buf_puts(b, "}");
	}
	buf_printf(b, ",\"retriever_resources\":[],\"created_at\":%lld",
	    (long long)created);
	jw_key(b, 0, "agent_thoughts");
	s = (const char *)db_col_text(st, 8);
	if (s == NULL || strcmp(s, "[]") == 0)
		buf_puts(b, "[]");	/* the common case: no parse */
	else {
		j = db_col_json(st, 8);
		json_object *t = thoughts_json(j, id, created);
		buf_puts(b, json_compact(t));
		json_object_put(t);
		json_object_put(j);
	}
	jw_key(b, 0, "message_files");
	files_write(b, st, 9, sg);
	buf_printf(b, ",\"message_tokens\":%d,\"answer_tokens\":%d,"
	    "\"total_tokens\":%d,\"provider_response_latency\":", mt, at,
	    mt + at);
	jw_double(b, db_col_double(st, 12));
	jw_key(b, 0, "total_price");
	db_jw_str(b, st, 13);
	jw_key(b, 0, "currency");
	db_jw_str(b, st, 14);
	/* a message still being generated reads as Dify's: normal */
	s = (const char *)db_col_text(st, 15);
	buf_puts(b, s != NULL && strcmp(s, "error") == 0 ?
	    ",\"status\":\"error\"" : ",\"status\":\"normal\"");
	jw_key(b, 0, "error");
	db_jw_str(b, st, 16);
	buf_puts(b, ",\"extra_contents\":[]");
}

int
db_message_page(struct db *db, const struct scope *sc,
    const char *conversation_id, const char *first_id, int limit,
    const struct url_signer *sg, struct buf *out, int *has_more)
{
	struct dbst	*st;
	struct buf	 row[MESSAGE_PAGE_MAX + 1];
	int64_t		 before = 0, before_seq = 0;
	int		 n = 0, i, step, rc = -1;

	*has_more = 0;
	if (limit > MESSAGE_PAGE_MAX)
		return -1;
	if (first_id != NULL) {
		st = db_stmt(db, SQL_MSG_CREATED);
		if (st == NULL || db_bind(st, "sss", first_id,
		    conversation_id, sc->app_id) == -1) {
			db_stmt_release(st);
			goto out_rows;
		}
		step = db_step(st);
		if (step == DB_ROW) {
			before = db_col_int64(st, 0);
			before_seq = db_col_int64(st, 1);
		}
		db_stmt_release(st);
		if (step == DB_DONE) {
			rc = DB_NOT_FOUND;
			goto out_rows;
		}
		if (step != DB_ROW)
			goto out_rows;
	}
	st = db_stmt(db, first_id ? SQL_MSG_PAGE_BEFORE : SQL_MSG_PAGE);
	if (st == NULL || db_bind(st, "sssi", conversation_id,
	    sc->end_user_id, sc->app_id, limit + 1) == -1 ||
	    (first_id && db_bind_at(st, 5, "II", (int64_t)before,
	    (int64_t)before_seq) == -1)) {
		db_stmt_release(st);
		goto out_rows;
	}
	while (n <= limit && (step = db_step(st)) == DB_ROW) {
		buf_init(&row[n], out->max);
		message_row_write(&row[n], st, sg);
		n++;
	}
	db_stmt_release(st);
	if (n <= limit && step != DB_DONE) {
		db_log_error(db, "message page");
		goto out_rows;
	}
	if (n > limit)
		*has_more = 1;
	/* newest first from the database; the page is returned oldest first */
	for (i = (n > limit ? limit : n) - 1; i >= 0; i--) {
		buf_puts(out, i == (n > limit ? limit : n) - 1 ? "{" : ",{");
		buf_append(out, row[i].p, row[i].len);
		buf_append(out, "}", 1);
	}
	rc = DB_OK;
out_rows:
	for (i = 0; i < n; i++)
		buf_free(&row[i]);
	return rc;
}

/* ---- feedback ---- */

static const char SQL_MSG_OWNED[] =
    "SELECT conversation_id FROM messages WHERE id = ? AND app_id = ? "
    "AND end_user_id = ?";
static const char SQL_FB_GET[] =
    "SELECT id FROM message_feedbacks WHERE message_id = ? AND "
    "from_end_user_id = ?";
static const char SQL_FB_INSERT[] =
    "INSERT INTO message_feedbacks (id, app_id, conversation_id, "
    "message_id, rating, content, from_source, from_end_user_id, "
    "created_at, updated_at) VALUES (?,?,?,?,?,?,'user',?,?,?)";
static const char SQL_FB_UPDATE[] =
    "UPDATE message_feedbacks SET rating = ?, content = ?, updated_at = ? "
    "WHERE id = ?";
static const char SQL_FB_DELETE[] =
    "DELETE FROM message_feedbacks WHERE id = ?";
static const char SQL_FB_LIST[] =
    "SELECT id, app_id, conversation_id, message_id, rating, content, "
    "from_source, from_end_user_id, from_account_id, created_at, "
    "updated_at FROM message_feedbacks WHERE app_id = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?";

int
db_message_owned(struct db *db, struct pool *p, const struct scope *sc,
    const char *message_id, const char **conversation_id)
{
	struct dbst	*st = db_stmt(db, SQL_MSG_OWNED);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "sss", message_id, sc->app_id,
	    sc->end_user_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		if (conversation_id != NULL)
			*conversation_id = db_col_str(st, 0, p);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
out:
	db_stmt_release(st);
	return rc;
}

int
db_feedback_set(struct db *db, struct pool *p, const struct scope *sc,
    const char *message_id, const char *rating, const char *content)
{
	struct dbst	*st;
	const char	*conv = NULL, *fid = NULL;
	char		 id[UUID_LEN + 1];
	int64_t		 now = now_s();
	int		 rc;

	if (db_begin(db) == -1)
		return -1;
	rc = db_message_owned(db, p, sc, message_id, &conv);
	if (rc != DB_OK)
		goto out;
	rc = -1;
	st = db_stmt(db, SQL_FB_GET);
	if (st == NULL || db_bind(st, "ss", message_id, sc->end_user_id) == -1) {
		db_stmt_release(st);
		goto out;
	}
	if (db_step(st) == DB_ROW)
		fid = db_col_str(st, 0, p);
	db_stmt_release(st);
	if (rating == NULL && fid == NULL) {
		rc = DB_CONFLICT;	/* nothing to revoke */
		goto out;
	}
	if (rating == NULL) {
		st = db_stmt(db, SQL_FB_DELETE);
		if (st != NULL && db_bind(st, "s", fid) == 0)
			rc = db_exec_stmt(db, st, "feedback delete");
	} else if (fid != NULL) {
		st = db_stmt(db, SQL_FB_UPDATE);
		if (st != NULL && db_bind(st, "ssIs", rating, content, now,
		    fid) == 0)
			rc = db_exec_stmt(db, st, "feedback update");
	} else {
		uuid_new(id);
		st = db_stmt(db, SQL_FB_INSERT);
		if (st != NULL && db_bind(st, "sssssssII", id, sc->app_id,
		    conv, message_id, rating, content, sc->end_user_id, now,
		    now) == 0)
			rc = db_exec_stmt(db, st, "feedback insert");
	}
	db_stmt_release(st);
out:
	if (rc == DB_OK && db_commit(db) == 0)
		return DB_OK;
	db_rollback(db);
	return rc == DB_OK ? -1 : rc;
}

int
db_feedback_list(struct db *db, const char *app_id, int page, int limit,
    json_object *out)
{
	struct dbst	*st = db_stmt(db, SQL_FB_LIST);
	json_object	*o;
	char		 iso[32];
	int		 step, i, rc = -1;
	static const char *const keys[] = { "id", "app_id", "conversation_id",
	    "message_id", "rating", "content", "from_source",
	    "from_end_user_id", "from_account_id" };

	if (st == NULL || db_bind(st, "siI", app_id, limit,
	    (int64_t)(page - 1) * limit) == -1)
		goto out;
	while ((step = db_step(st)) == DB_ROW) {
		o = json_object_new_object();
		for (i = 0; i < 9; i++)
			json_object_object_add(o, keys[i],
			    db_col_null(st, i) ? NULL :
			    json_object_new_string((const char *)
			    db_col_text(st, i)));
		iso_time(db_col_int64(st, 9), iso);
		json_object_object_add(o, "created_at",
		    json_object_new_string(iso));
		iso_time(db_col_int64(st, 10), iso);
		json_object_object_add(o, "updated_at",
		    json_object_new_string(iso));
		json_object_array_add(out, o);
	}
	if (step == DB_DONE)
		rc = DB_OK;
	else
		db_log_error(db, "feedback list");
out:
	db_stmt_release(st);
	return rc;
}

/* The newest turns before and including a message, for suggestions. */
static const char SQL_RECENT_TURNS[] =
    "SELECT query, answer FROM (SELECT query, answer, created_at, seq FROM "
    "messages WHERE conversation_id = ?1 AND created_at <= (SELECT "
    "created_at FROM messages WHERE id = ?2) ORDER BY created_at DESC, "
    "seq DESC LIMIT ?3) AS t ORDER BY created_at, seq";

int
db_recent_turns(struct db *db, struct pool *p, const char *conversation_id,
    const char *message_id, int max, struct turn *out)
{
	struct dbst	*st = db_stmt(db, SQL_RECENT_TURNS);
	int		 n = 0;

	if (st == NULL || db_bind(st, "ssi", conversation_id, message_id,
	    max) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while (n < max && db_step(st) == DB_ROW) {
		out[n].query = db_col_str(st, 0, p);
		out[n].answer = db_col_str(st, 1, p);
		n++;
	}
	db_stmt_release(st);
	return n;
}

json_object *
conv_var_json(const struct conv_var *v)
{
	json_object	*o = json_object_new_object();
	struct buf	 b;

	json_object_object_add(o, "id", json_object_new_string(v->id));
	json_object_object_add(o, "name", json_object_new_string(v->name));
	json_object_object_add(o, "value_type",
	    json_object_new_string(v->value_type));
	if (v->value == NULL)
		json_object_object_add(o, "value", NULL);
	else {
		buf_init(&b, (size_t)16 << 20);
		py_str(&b, v->value);	/* Python's str(), as Dify */
		json_object_object_add(o, "value",
		    json_object_new_string(buf_cstr(&b)));
		buf_free(&b);
	}
	json_object_object_add(o, "description", v->description ?
	    json_object_new_string(v->description) : NULL);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(v->created_at));
	json_object_object_add(o, "updated_at",
	    json_object_new_int64(v->updated_at));
	return o;
}
