/*
 * db_files.c: the upload_files table, and what files.c and audio.fcgi
 * ask of messages: which app's messages reference a file (the preview
 * rule of spec 8.2) and a message's answer (text-to-audio).  Every
 * statement names the app but two: the lookup behind a signed URL, whose
 * signature is the capability, and the check that tells a file another
 * app's message references (403) from one nobody's does (404), as Dify
 * tells them apart.
 */
#include <string.h>

#include "store/store.h"

static const char SQL_FILE_INSERT[] =
    "INSERT INTO upload_files (id, app_id, end_user_id, name, size, "
    "extension, mime_type, storage_key, hash, created_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?)";
static const char SQL_FILE_GET[] =
    "SELECT id, app_id, end_user_id, name, size, extension, mime_type, "
    "storage_key, hash, created_at FROM upload_files "
    "WHERE id = ? AND app_id = ?";
static const char SQL_FILE_GET_USER[] =
    "SELECT id, app_id, end_user_id, name, size, extension, mime_type, "
    "storage_key, hash, created_at FROM upload_files "
    "WHERE id = ? AND app_id = ? AND end_user_id = ?";
static const char SQL_FILE_BY_ID[] =
    "SELECT id, app_id, end_user_id, name, size, extension, mime_type, "
    "storage_key, hash, created_at FROM upload_files WHERE id = ?";
/* this app's messages first: the index on app_id keeps it short */
static const char SQL_FILE_REF_APP[] =
    "SELECT 1 FROM messages m, json_each(m.message_files) j "
    "WHERE m.app_id = ? AND m.message_files != '[]' "
    "AND json_extract(j.value, '$.upload_file_id') = ? LIMIT 1";
static const char SQL_FILE_REF_ANY[] =
    "SELECT 1 FROM messages m, json_each(m.message_files) j "
    "WHERE m.message_files != '[]' "
    "AND json_extract(j.value, '$.upload_file_id') = ? LIMIT 1";
/* PostgreSQL's: message_files is JSON text, an array of objects */
static const char PG_FILE_REF_APP[] =
    "SELECT 1 FROM messages m, json_array_elements(m.message_files::json) j "
    "WHERE m.app_id = ? AND m.message_files != '[]' "
    "AND j.value->>'upload_file_id' = ? LIMIT 1";
static const char PG_FILE_REF_ANY[] =
    "SELECT 1 FROM messages m, json_array_elements(m.message_files::json) j "
    "WHERE m.message_files != '[]' "
    "AND j.value->>'upload_file_id' = ? LIMIT 1";
static const char SQL_MESSAGE_ANSWER[] =
    "SELECT answer FROM messages WHERE id = ? AND app_id = ? "
    "AND end_user_id = ?";

int
db_upload_file_create(struct db *db, const struct upload_file *f)
{
	struct dbst	*st = db_stmt(db, SQL_FILE_INSERT);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "ssssIssssI", f->id, f->app_id,
	    f->end_user_id, f->name, (int64_t)f->size, f->extension,
	    f->mime_type, f->storage_key, f->hash, f->created_at) == 0)
		rc = db_exec_stmt(db, st, "upload file insert");
	db_stmt_release(st);
	return rc;
}

static void
from_row(struct dbst *st, struct pool *p, struct upload_file *f)
{
	f->id = db_col_str(st, 0, p);
	f->app_id = db_col_str(st, 1, p);
	f->end_user_id = db_col_str(st, 2, p);
	f->name = db_col_str(st, 3, p);
	f->size = db_col_int64(st, 4);
	f->extension = db_col_str(st, 5, p);
	f->mime_type = db_col_str(st, 6, p);
	f->storage_key = db_col_str(st, 7, p);
	f->hash = db_col_str(st, 8, p);
	f->created_at = db_col_int64(st, 9);
}

static int
get_one(struct db *db, struct dbst *st, struct pool *p,
    struct upload_file *f)
{
	int	step = db_step(st), rc = -1;

	if (step == DB_ROW) {
		from_row(st, p, f);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "upload file get");
	db_stmt_release(st);
	return rc;
}

int
db_upload_file_get(struct db *db, struct pool *p, const char *app_id,
    const char *end_user_id, const char *id, struct upload_file *f)
{
	struct dbst	*st;
	int		 bad;

	if (end_user_id != NULL) {
		st = db_stmt(db, SQL_FILE_GET_USER);
		bad = st == NULL || db_bind(st, "sss", id, app_id,
		    end_user_id) == -1;
	} else {
		st = db_stmt(db, SQL_FILE_GET);
		bad = st == NULL || db_bind(st, "ss", id, app_id) == -1;
	}
	if (bad) {
		db_stmt_release(st);
		return -1;
	}
	return get_one(db, st, p, f);
}

int
db_upload_file_by_id(struct db *db, struct pool *p, const char *id,
    struct upload_file *f)
{
	struct dbst	*st = db_stmt(db, SQL_FILE_BY_ID);

	if (st == NULL || db_bind(st, "s", id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	return get_one(db, st, p, f);
}

/* 1 when the statement gives a row, 0 when none, -1 on error. */
static int
any_row(struct db *db, struct dbst *st)
{
	int	step = db_step(st);

	db_stmt_release(st);
	if (step == DB_ROW)
		return 1;
	if (step == DB_DONE)
		return 0;
	db_log_error(db, "file reference");
	return -1;
}

int
db_upload_file_referenced(struct db *db, const char *app_id,
    const char *file_id)
{
	struct dbst	*st;
	int		 rc;

	st = db_stmt2(db, SQL_FILE_REF_APP, PG_FILE_REF_APP);
	if (st == NULL || db_bind(st, "ss", app_id, file_id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	rc = any_row(db, st);
	if (rc != 0)
		return rc == 1 ? DB_OK : -1;
	st = db_stmt2(db, SQL_FILE_REF_ANY, PG_FILE_REF_ANY);
	if (st == NULL || db_bind(st, "s", file_id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	rc = any_row(db, st);
	if (rc == -1)
		return -1;
	return rc == 1 ? DB_CONFLICT : DB_NOT_FOUND;
}

int
db_message_answer(struct db *db, struct pool *p, const char *app_id,
    const char *end_user_id, const char *message_id, const char **answer)
{
	struct dbst	*st = db_stmt(db, SQL_MESSAGE_ANSWER);
	int		 step, rc = -1;

	if (st == NULL || db_bind(st, "sss", message_id, app_id,
	    end_user_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		*answer = db_col_str(st, 0, p);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "message answer");
out:
	db_stmt_release(st);
	return rc;
}
