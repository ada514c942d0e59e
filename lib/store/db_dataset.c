/*
 * db_dataset.c: storage of datasets (Dify's knowledge bases) and of the
 * keys of the Knowledge API, hashed as app keys are (db_key_hash).  The
 * install is the workspace: names are unique in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define DS_COLS \
    "id, name, description, provider, permission, data_source_type, " \
    "indexing_technique, embedding_model, embedding_model_provider, " \
    "retrieval_model, created_by, updated_by, created_at, updated_at"

static const char SQL_DS_INSERT[] =
    "INSERT INTO datasets (" DS_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char SQL_DS_GET[] =
    "SELECT " DS_COLS " FROM datasets WHERE id = ?";
static const char SQL_DS_NAME_TAKEN[] =
    "SELECT count(*) FROM datasets WHERE name = ? AND id <> ?";
static const char SQL_DS_UPDATE[] =
    "UPDATE datasets SET name = ?, description = ?, provider = ?, "
    "permission = ?, data_source_type = ?, indexing_technique = ?, "
    "embedding_model = ?, embedding_model_provider = ?, "
    "retrieval_model = ?, updated_by = ?, updated_at = ? WHERE id = ?";
static const char SQL_DS_DELETE[] = "DELETE FROM datasets WHERE id = ?";
/* Dify: name ILIKE '%keyword%', the keyword's wildcards escaped */
static const char SQL_DS_COUNT[] =
    "SELECT count(*) FROM datasets WHERE CAST(? AS TEXT) IS NULL OR "
    "lower(name) LIKE lower(?) ESCAPE '\\'";
/* Dify: ORDER BY created_at DESC, id */
static const char SQL_DS_PAGE[] =
    "SELECT " DS_COLS " FROM datasets WHERE CAST(? AS TEXT) IS NULL OR "
    "lower(name) LIKE lower(?) ESCAPE '\\' "
    "ORDER BY created_at DESC, id LIMIT ? OFFSET ?";
static const char SQL_DKEY_INSERT[] =
    "INSERT INTO dataset_api_keys (id, hash, prefix, created_at) "
    "VALUES (?,?,?,?)";
static const char SQL_DKEY_LOOKUP[] =
    "SELECT id, hash FROM dataset_api_keys WHERE hash = ? "
    "AND revoked_at IS NULL";
static const char SQL_DKEY_MATCHES[] =
    "SELECT count(*) FROM dataset_api_keys WHERE (id = ? OR prefix = ?) "
    "AND revoked_at IS NULL";
static const char SQL_DKEY_REVOKE[] =
    "UPDATE dataset_api_keys SET revoked_at = ? WHERE (id = ? OR "
    "prefix = ?) AND revoked_at IS NULL";
static const char SQL_DKEY_LIST[] =
    "SELECT id, prefix, created_at, last_used_at, revoked_at "
    "FROM dataset_api_keys ORDER BY created_at, id";

void
dataset_release(struct dataset *d)
{
	json_object_put(d->retrieval_model);
	d->retrieval_model = NULL;
}

static void
ds_from_row(struct dbst *st, struct pool *p, struct dataset *d)
{
	memset(d, 0, sizeof(*d));
	d->id = db_col_str(st, 0, p);
	d->name = db_col_str(st, 1, p);
	d->description = db_col_null(st, 2) ? NULL : db_col_str(st, 2, p);
	d->provider = db_col_str(st, 3, p);
	d->permission = db_col_str(st, 4, p);
	d->data_source_type = db_col_null(st, 5) ? NULL :
	    db_col_str(st, 5, p);
	d->indexing_technique = db_col_null(st, 6) ? NULL :
	    db_col_str(st, 6, p);
	d->embedding_model = db_col_null(st, 7) ? NULL : db_col_str(st, 7, p);
	d->embedding_model_provider = db_col_null(st, 8) ? NULL :
	    db_col_str(st, 8, p);
	d->retrieval_model = db_col_null(st, 9) ? NULL : db_col_json(st, 9);
	d->created_by = db_col_str(st, 10, p);
	d->updated_by = db_col_null(st, 11) ? NULL : db_col_str(st, 11, p);
	d->created_at = db_col_int64(st, 12);
	d->updated_at = db_col_int64(st, 13);
}

/* Whether a dataset other than "id" has "name": 1, 0 or -1. */
static int
name_taken(struct db *db, const char *name, const char *id)
{
	struct dbst	*st = db_stmt(db, SQL_DS_NAME_TAKEN);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "ss", name, id) == 0) {
		if (db_step(st) == DB_ROW)
			rc = db_col_int(st, 0) > 0;
		else
			db_log_error(db, "dataset name");
	}
	db_stmt_release(st);
	return rc;
}

int
db_dataset_create(struct db *db, struct dataset *d, char idbuf[UUID_LEN + 1])
{
	struct dbst	*st;
	int		 rc = -1, taken;

	uuid_new(idbuf);
	d->id = idbuf;
	d->created_at = d->updated_at = now_s();
	if ((taken = name_taken(db, d->name, "")) != 0)
		return taken == 1 ? DB_CONFLICT : -1;
	st = db_stmt(db, SQL_DS_INSERT);
	if (st != NULL && db_bind(st, "sssssssssjssII", d->id, d->name,
	    d->description, d->provider, d->permission, d->data_source_type,
	    d->indexing_technique, d->embedding_model,
	    d->embedding_model_provider, d->retrieval_model, d->created_by,
	    d->updated_by, d->created_at, d->updated_at) == 0)
		rc = db_exec_stmt(db, st, "dataset insert");
	db_stmt_release(st);
	/* a request that raced us to the name: the unique index refused */
	if (rc == -1 && name_taken(db, d->name, "") == 1)
		rc = DB_CONFLICT;
	return rc;
}

int
db_dataset_get(struct db *db, struct pool *p, const char *id,
    struct dataset *d)
{
	struct dbst	*st = db_stmt(db, SQL_DS_GET);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "s", id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		ds_from_row(st, p, d);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "dataset get");
out:
	db_stmt_release(st);
	return rc;
}

int
db_dataset_update(struct db *db, struct dataset *d)
{
	struct dbst	*st;
	int		 rc = -1, taken;

	if ((taken = name_taken(db, d->name, d->id)) != 0)
		return taken == 1 ? DB_CONFLICT : -1;
	d->updated_at = now_s();
	st = db_stmt(db, SQL_DS_UPDATE);
	if (st != NULL && db_bind(st, "ssssssssjsIs", d->name,
	    d->description, d->provider, d->permission, d->data_source_type,
	    d->indexing_technique, d->embedding_model,
	    d->embedding_model_provider, d->retrieval_model, d->updated_by,
	    d->updated_at, d->id) == 0 &&
	    db_exec_stmt(db, st, "dataset update") == 0)
		rc = db_changes(db) > 0 ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	if (rc == -1 && name_taken(db, d->name, d->id) == 1)
		rc = DB_CONFLICT;
	return rc;
}

int
db_dataset_delete(struct db *db, const char *id)
{
	struct dbst	*st = db_stmt(db, SQL_DS_DELETE);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "s", id) == 0 &&
	    db_exec_stmt(db, st, "dataset delete") == 0)
		rc = db_changes(db) > 0 ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	return rc;
}

/* "%keyword%" with LIKE's wildcards and the escape escaped, from "p". */
static char *
like_pattern(struct pool *p, const char *kw)
{
	char	*out = pool_alloc(p, 2 * strlen(kw) + 3), *o = out;

	*o++ = '%';
	for (; *kw != '\0'; kw++) {
		if (*kw == '%' || *kw == '_' || *kw == '\\')
			*o++ = '\\';
		*o++ = *kw;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

int
db_dataset_list(struct db *db, struct pool *p, const char *keyword,
    int64_t offset, int64_t limit, int64_t *total,
    int (*fn)(const struct dataset *, void *), void *arg)
{
	struct dbst	*st;
	struct dataset	 d;
	const char	*pat = keyword != NULL ? like_pattern(p, keyword) : NULL;
	int		 step, rc = -1;

	st = db_stmt(db, SQL_DS_COUNT);
	if (st != NULL && db_bind(st, "ss", pat, pat) == 0) {
		if (db_step(st) == DB_ROW) {
			*total = db_col_int64(st, 0);
			rc = 0;
		} else
			db_log_error(db, "dataset count");
	}
	db_stmt_release(st);
	if (rc == -1)
		return -1;
	st = db_stmt(db, SQL_DS_PAGE);
	if (st == NULL || db_bind(st, "ssII", pat, pat, limit, offset) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while ((step = db_step(st)) == DB_ROW) {
		ds_from_row(st, p, &d);
		rc = fn(&d, arg);
		dataset_release(&d);
		if (rc != 0)
			break;
	}
	if (step != DB_ROW && step != DB_DONE) {
		db_log_error(db, "dataset list");
		rc = -1;
	}
	db_stmt_release(st);
	return rc;
}

int
db_dataset_key_create(struct db *db, const char *key, char id[UUID_LEN + 1])
{
	struct dbst	*st;
	uint8_t		 hash[32];
	char		 prefix[24];
	int		 rc = -1;

	uuid_new(id);
	db_key_hash(key, hash);
	/* "dataset-" and 8 of the 24 random characters, as app keys */
	snprintf(prefix, sizeof(prefix), "%.16s", key);
	st = db_stmt(db, SQL_DKEY_INSERT);
	if (st != NULL && db_bind(st, "sbsI", id, hash, sizeof(hash), prefix,
	    (int64_t)now_s()) == 0)
		rc = db_exec_stmt(db, st, "dataset key insert");
	db_stmt_release(st);
	return rc;
}

int
db_dataset_key_lookup(struct db *db, struct pool *p, const uint8_t hash[32],
    const char **id)
{
	struct dbst	*st = db_stmt(db, SQL_DKEY_LOOKUP);
	const void	*stored;
	size_t		 len;
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "b", hash, (size_t)32) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		rc = DB_NOT_FOUND;
		stored = db_col_blob(st, 1, &len);
		if (stored != NULL && len == 32 && ct_equal(stored, hash, 32)) {
			*id = db_col_str(st, 0, p);
			rc = DB_OK;
		}
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "dataset key lookup");
out:
	db_stmt_release(st);
	return rc;
}

/* Counted and revoked in one transaction, as db_key_revoke. */
int
db_dataset_key_revoke(struct db *db, const char *id_or_prefix)
{
	struct dbst	*st = NULL;
	int		 rc = -1, n;

	if (db_begin(db) == -1)
		return -1;
	st = db_stmt(db, SQL_DKEY_MATCHES);
	if (st == NULL ||
	    db_bind(st, "ss", id_or_prefix, id_or_prefix) == -1)
		goto out;
	if (db_step(st) != DB_ROW) {
		db_log_error(db, "dataset key revoke");
		goto out;
	}
	n = db_col_int(st, 0);
	db_stmt_release(st);
	st = NULL;
	if (n != 1) {
		rc = n == 0 ? DB_NOT_FOUND : DB_CONFLICT;
		goto out;
	}
	st = db_stmt(db, SQL_DKEY_REVOKE);
	if (st != NULL && db_bind(st, "Iss", now_s(), id_or_prefix,
	    id_or_prefix) == 0 &&
	    db_exec_stmt(db, st, "dataset key revoke") == 0 &&
	    db_changes(db) == 1)
		rc = DB_OK;
out:
	db_stmt_release(st);
	if (rc == DB_OK && db_commit(db) == -1)
		rc = -1;
	if (rc != DB_OK)
		db_rollback(db);
	return rc;
}

int
db_dataset_key_each(struct db *db, struct pool *p,
    int (*fn)(const struct api_key *, void *), void *arg)
{
	struct dbst	*st = db_stmt(db, SQL_DKEY_LIST);
	struct api_key	 k;
	int		 step, rc = 0;

	if (st == NULL)
		return -1;
	while ((step = db_step(st)) == DB_ROW) {
		k.id = db_col_str(st, 0, p);
		k.app_id = NULL;
		k.prefix = db_col_str(st, 1, p);
		k.created_at = db_col_int64(st, 2);
		k.last_used_at = db_col_int64(st, 3);
		k.revoked = !db_col_null(st, 4);
		if ((rc = fn(&k, arg)) != 0)
			break;
	}
	if (step != DB_ROW && step != DB_DONE) {
		db_log_error(db, "dataset key list");
		rc = -1;
	}
	db_stmt_release(st);
	return rc;
}
