/*
 * db_app.c: storage of apps, their API keys (as SHA-256 digests) and
 * their end users.  Strings handed out come from the caller's pool.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"

static const char SQL_APP_INSERT[] =
    "INSERT INTO apps (id, name, description, mode, icon_type, icon, "
    "icon_background, author_name, tags, config, site, created_at, "
    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char SQL_APP_GET[] =
    "SELECT id, name, description, mode, icon_type, icon, icon_background,"
    " author_name, tags, status, enable_api, max_active_requests, config,"
    " site, created_at, updated_at FROM apps WHERE id = ?";
static const char SQL_APP_ALL[] =
    "SELECT id, name, description, mode, icon_type, icon, icon_background,"
    " author_name, tags, status, enable_api, max_active_requests, config,"
    " site, created_at, updated_at FROM apps ORDER BY created_at, id";
static const char SQL_APP_DELETE[] = "DELETE FROM apps WHERE id = ?";
/* the app's files whose bytes the database keeps (db_blob.c) */
static const char SQL_APP_DB_FILES[] =
    "SELECT count(*), coalesce(sum(size), 0) FROM upload_files "
    "WHERE app_id = ? AND storage_key LIKE 'db:%'";
static const char SQL_APP_SET_CONFIG[] =
    "UPDATE apps SET config = ?, updated_at = ? WHERE id = ?";
static const char SQL_KEY_INSERT[] =
    "INSERT INTO api_keys (id, app_id, hash, prefix, created_at) "
    "VALUES (?,?,?,?,?)";
static const char SQL_KEY_LOOKUP[] =
    "SELECT app_id, hash FROM api_keys WHERE hash = ? AND revoked_at IS NULL";
static const char SQL_KEY_MATCHES[] =
    "SELECT count(*) FROM api_keys WHERE (id = ? OR prefix = ?) "
    "AND revoked_at IS NULL";
static const char SQL_KEY_REVOKE[] =
    "UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) "
    "AND revoked_at IS NULL";
static const char SQL_KEY_LIST[] =
    "SELECT id, app_id, prefix, created_at, last_used_at, revoked_at "
    "FROM api_keys WHERE CAST(? AS TEXT) IS NULL OR app_id = ? "
    "ORDER BY created_at, id";
static const char SQL_USER_GET[] =
    "SELECT id, session_id, is_anonymous, created_at, updated_at "
    "FROM end_users WHERE app_id = ? AND session_id = ?";
static const char SQL_USER_BY_ID[] =
    "SELECT id, session_id, is_anonymous, created_at, updated_at "
    "FROM end_users WHERE app_id = ? AND id = ?";
static const char SQL_USER_INSERT[] =
    "INSERT INTO end_users (id, app_id, session_id, is_anonymous, "
    "created_at, updated_at) VALUES (?,?,?,?,?,?) "
    "ON CONFLICT (app_id, session_id) DO NOTHING";

int
db_app_create(struct db *db, const struct app_new *a, char id[UUID_LEN + 1])
{
	struct dbst	*st;
	int64_t		 now = now_s();
	json_object	*empty_tags = NULL, *empty_cfg = NULL;
	int		 rc = -1;

	uuid_new(id);
	if (a->tags == NULL)
		empty_tags = json_object_new_array();
	if (a->config == NULL)
		empty_cfg = json_object_new_object();
	st = db_stmt(db, SQL_APP_INSERT);
	if (st != NULL && db_bind(st, "ssssssssjjjII", id, a->name,
	    a->description ? a->description : "", a->mode, a->icon_type,
	    a->icon, a->icon_background, a->author_name,
	    a->tags ? a->tags : empty_tags, a->config ? a->config : empty_cfg,
	    a->site, now, now) == 0)
		rc = db_exec_stmt(db, st, "app insert");
	db_stmt_release(st);
	json_object_put(empty_tags);
	json_object_put(empty_cfg);
	return rc;
}

/*
 * Every request reads its app, and parsing the stored JSON (config, tags,
 * site) costs more than the query: each thread keeps the parsed objects of
 * its last few apps, keyed by id and updated_at, and hands out references.
 * Handlers treat them as read-only.
 */
#define APP_CACHE	8

struct app_cached {
	char		 id[UUID_LEN + 1];
	int64_t		 updated_at;
	json_object	*tags, *config, *site;
	unsigned	 used;
};
static __thread struct app_cached	app_cache[APP_CACHE];
static __thread unsigned		app_clock;

/*
 * The cache is the thread's: a worker thread's parsed apps are dropped
 * when it exits (a key destructor), the main thread's stay reachable.
 */
static pthread_key_t	app_cache_key;
static pthread_once_t	app_cache_once = PTHREAD_ONCE_INIT;

static void
app_cache_clear(void)
{
	int	i;

	for (i = 0; i < APP_CACHE; i++) {
		json_object_put(app_cache[i].tags);
		json_object_put(app_cache[i].config);
		json_object_put(app_cache[i].site);
		memset(&app_cache[i], 0, sizeof(app_cache[i]));
	}
}

static void
app_cache_exit(void *unused)
{
	(void)unused;
	app_cache_clear();
}

static void
app_cache_key_make(void)
{
	if (pthread_key_create(&app_cache_key, app_cache_exit) != 0)
		log_error("app cache: no thread key");
}

static void
app_json_cols(struct dbst *st, struct app *a)
{
	const char		*id = (const char *)db_col_text(st, 0);
	int64_t			 updated = db_col_int64(st, 15);
	struct app_cached	*c, *victim = &app_cache[0];
	int			 i;

	for (i = 0; i < APP_CACHE; i++) {
		c = &app_cache[i];
		if (c->config != NULL && c->updated_at == updated &&
		    strcmp(c->id, id) == 0) {
			c->used = ++app_clock;
			a->tags = json_object_get(c->tags);
			a->config = json_object_get(c->config);
			a->site = json_object_get(c->site);
			return;
		}
		if (c->used < victim->used)
			victim = c;
	}
	a->tags = db_col_json(st, 8);
	a->config = db_col_json(st, 12);
	a->site = db_col_json(st, 13);
	if (a->config == NULL || strlen(id) > UUID_LEN)
		return;
	pthread_once(&app_cache_once, app_cache_key_make);
	pthread_setspecific(app_cache_key, app_cache);
	json_object_put(victim->tags);
	json_object_put(victim->config);
	json_object_put(victim->site);
	snprintf(victim->id, sizeof(victim->id), "%s", id);
	victim->updated_at = updated;
	victim->tags = json_object_get(a->tags);
	victim->config = json_object_get(a->config);
	victim->site = json_object_get(a->site);
	victim->used = ++app_clock;
}

static void
app_from_row(struct dbst *st, struct pool *p, struct app *a)
{
	memset(a, 0, sizeof(*a));
	a->id = db_col_str(st, 0, p);
	a->name = db_col_str(st, 1, p);
	a->description = db_col_str(st, 2, p);
	a->mode = db_col_str(st, 3, p);
	a->icon_type = db_col_str(st, 4, p);
	a->icon = db_col_str(st, 5, p);
	a->icon_background = db_col_str(st, 6, p);
	a->author_name = db_col_str(st, 7, p);
	app_json_cols(st, a);
	a->status = db_col_str(st, 9, p);
	a->enable_api = db_col_int(st, 10);
	a->max_active_requests = db_col_int(st, 11);
	a->created_at = db_col_int64(st, 14);
}

void
app_release(struct app *a)
{
	json_object_put(a->tags);
	json_object_put(a->config);
	json_object_put(a->site);
	a->tags = a->config = a->site = NULL;
}

int
db_app_get(struct db *db, struct pool *p, const char *id, struct app *a)
{
	struct dbst	*st;
	int		 rc = -1, step;

	st = db_stmt(db, SQL_APP_GET);
	if (st == NULL || db_bind(st, "s", id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		app_from_row(st, p, a);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "app get");
out:
	db_stmt_release(st);
	return rc;
}

int
db_app_each(struct db *db, struct pool *p,
    int (*fn)(const struct app *, void *), void *arg)
{
	struct dbst	*st;
	struct app	 a;
	int		 step, rc = 0;

	if ((st = db_stmt(db, SQL_APP_ALL)) == NULL)
		return -1;
	while ((step = db_step(st)) == DB_ROW) {
		app_from_row(st, p, &a);
		rc = fn(&a, arg);
		app_release(&a);
		if (rc != 0)
			break;
	}
	if (step != DB_ROW && step != DB_DONE) {
		db_log_error(db, "app list");
		rc = -1;
	}
	db_stmt_release(st);
	return rc;
}

static int
app_db_files(struct db *db, const char *id, long long *nfiles,
    long long *bytes)
{
	struct dbst	*st = db_stmt(db, SQL_APP_DB_FILES);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "s", id) == 0) {
		if (db_step(st) == DB_ROW) {
			*nfiles = db_col_int64(st, 0);
			*bytes = db_col_int64(st, 1);
			rc = 0;
		} else
			db_log_error(db, "app files");
	}
	db_stmt_release(st);
	return rc;
}

int
db_app_delete(struct db *db, const char *id, long long *nfiles,
    long long *bytes)
{
	struct dbst	*st;
	long long	 n = 0, b = 0;
	int		 rc = -1;

	/* one transaction: what is counted is what the cascade deletes */
	if (db_begin(db) == -1)
		return -1;
	if (app_db_files(db, id, &n, &b) == -1)
		goto out;
	st = db_stmt(db, SQL_APP_DELETE);
	if (st != NULL && db_bind(st, "s", id) == 0 &&
	    db_exec_stmt(db, st, "app delete") == 0)
		rc = db_changes(db) > 0 ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	if (rc == DB_OK && db_commit(db) == -1)
		rc = -1;
out:
	if (rc != DB_OK) {
		db_rollback(db);
		return rc;
	}
	*nfiles += n;
	*bytes += b;
	return rc;
}

int
db_app_set_config(struct db *db, const char *id, json_object *config)
{
	struct dbst	*st = db_stmt(db, SQL_APP_SET_CONFIG);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "jIs", config, now_s(), id) == 0 &&
	    db_exec_stmt(db, st, "app config") == 0)
		rc = db_changes(db) > 0 ? DB_OK : DB_NOT_FOUND;
	db_stmt_release(st);
	return rc;
}

/* A key as stored: its SHA-256, never the key itself. */
void
db_key_hash(const char *key, uint8_t out[32])
{
	struct sha256	s;

	sha256_init(&s);
	sha256_update(&s, key, strlen(key));
	sha256_final(&s, out);
}

int
db_key_create(struct db *db, const char *app_id, const char *key,
    char id[UUID_LEN + 1])
{
	struct dbst	*st;
	uint8_t		 hash[32];
	char		 prefix[16];
	int		 rc = -1;

	uuid_new(id);
	db_key_hash(key, hash);
	/*
	 * "app-" and 8 of the 24 random characters: 62^8 prefixes, so two
	 * keys share one only among millions, and 16 characters (95 bits)
	 * stay unknown to whoever reads a listing
	 */
	snprintf(prefix, sizeof(prefix), "%.12s", key);
	st = db_stmt(db, SQL_KEY_INSERT);
	if (st != NULL && db_bind(st, "ssbsI", id, app_id, hash, sizeof(hash),
	    prefix, (int64_t)now_s()) == 0)
		rc = db_exec_stmt(db, st, "key insert");
	db_stmt_release(st);
	return rc;
}

int
db_key_lookup(struct db *db, struct pool *p, const uint8_t hash[32],
    const char **app_id)
{
	struct dbst	*st;
	int		 rc = -1, step;

	st = db_stmt(db, SQL_KEY_LOOKUP);
	if (st == NULL || db_bind(st, "b", hash, (size_t)32) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		const void	*stored;
		size_t		 len;

		rc = DB_NOT_FOUND;
		stored = db_col_blob(st, 1, &len);
		if (stored != NULL && len == 32 && ct_equal(stored, hash, 32)) {
			*app_id = db_col_str(st, 0, p);
			rc = DB_OK;
		}
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "key lookup");
out:
	db_stmt_release(st);
	return rc;
}

/*
 * Revoke the one active key whose id or listed prefix is "id_or_prefix".
 * Counted and revoked in one transaction, so that a prefix several keys
 * share revokes none of them.  Returns DB_OK, DB_NOT_FOUND, DB_CONFLICT
 * (several keys: nothing changed) or -1.
 */
int
db_key_revoke(struct db *db, const char *id_or_prefix)
{
	struct dbst	*st = NULL;
	int		 rc = -1, n;

	if (db_begin(db) == -1)
		return -1;
	st = db_stmt(db, SQL_KEY_MATCHES);
	if (st == NULL ||
	    db_bind(st, "ss", id_or_prefix, id_or_prefix) == -1)
		goto out;
	if (db_step(st) != DB_ROW) {
		db_log_error(db, "key revoke");
		goto out;
	}
	n = db_col_int(st, 0);
	db_stmt_release(st);
	st = NULL;
	if (n != 1) {
		rc = n == 0 ? DB_NOT_FOUND : DB_CONFLICT;
		goto out;
	}
	st = db_stmt(db, SQL_KEY_REVOKE);
	if (st != NULL && db_bind(st, "Iss", now_s(), id_or_prefix,
	    id_or_prefix) == 0 && db_exec_stmt(db, st, "key revoke") == 0 &&
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
db_key_each(struct db *db, struct pool *p, const char *app_id,
    int (*fn)(const struct api_key *, void *), void *arg)
{
	struct dbst	*st = db_stmt(db, SQL_KEY_LIST);
	struct api_key	 k;
	int		 step, rc = 0;

	if (st == NULL || db_bind(st, "ss", app_id, app_id) == -1) {
		db_stmt_release(st);
		return -1;
	}
	while ((step = db_step(st)) == DB_ROW) {
		k.id = db_col_str(st, 0, p);
		k.app_id = db_col_str(st, 1, p);
		k.prefix = db_col_str(st, 2, p);
		k.created_at = db_col_int64(st, 3);
		k.last_used_at = db_col_int64(st, 4);
		k.revoked = !db_col_null(st, 5);
		if ((rc = fn(&k, arg)) != 0)
			break;
	}
	if (step != DB_ROW && step != DB_DONE) {
		db_log_error(db, "key list");
		rc = -1;
	}
	db_stmt_release(st);
	return rc;
}

/* One end user of "app_id" by "sql" (SQL_USER_GET or SQL_USER_BY_ID). */
static int
user_get(struct db *db, struct pool *p, const char *sql, const char *app_id,
    const char *key, struct end_user *u)
{
	struct dbst	*st = db_stmt(db, sql);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "ss", app_id, key) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		u->id = db_col_str(st, 0, p);
		u->session_id = db_col_str(st, 1, p);
		u->is_anonymous = db_col_int(st, 2);
		u->created_at = db_col_int64(st, 3);
		u->updated_at = db_col_int64(st, 4);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "end user get");
out:
	db_stmt_release(st);
	return rc;
}

int
db_end_user_get(struct db *db, struct pool *p, const char *app_id,
    const char *id, struct end_user *u)
{
	return user_get(db, p, SQL_USER_BY_ID, app_id, id, u);
}

/* Race-safe: the insert does nothing when another request won. */
int
db_end_user_get_or_create(struct db *db, struct pool *p, const char *app_id,
    const char *session, struct end_user *u)
{
	struct dbst	*st;
	char		 id[UUID_LEN + 1];
	int64_t		 now = now_s();
	int		 rc;

	rc = user_get(db, p, SQL_USER_GET, app_id, session, u);
	if (rc != DB_NOT_FOUND)
		return rc;
	uuid_new(id);
	st = db_stmt(db, SQL_USER_INSERT);
	rc = -1;
	if (st != NULL && db_bind(st, "sssiII", id, app_id, session,
	    strcmp(session, "DEFAULT-USER") == 0, now, now) == 0)
		rc = db_exec_stmt(db, st, "end user insert");
	db_stmt_release(st);
	if (rc == -1)
		return -1;
	rc = user_get(db, p, SQL_USER_GET, app_id, session, u);
	return rc == DB_NOT_FOUND ? -1 : rc;
}

static const char SQL_WF_INSERT[] =
    "INSERT INTO workflows (id, app_id, version, graph, features, "
    "environment_variables, conversation_variables, created_at) "
    "VALUES (?,?,?,?,?,?,?,?)";
static const char SQL_WF_LATEST[] =
    "SELECT id FROM workflows WHERE app_id = ? "
    "ORDER BY created_at DESC, rowid DESC LIMIT 1";

int
db_workflow_create(struct db *db, const char *app_id, json_object *graph,
    json_object *features, json_object *env, json_object *conv,
    char id[UUID_LEN + 1])
{
	struct dbst	*st = db_stmt(db, SQL_WF_INSERT);
	json_object	*obj = json_object_new_object(),
			*arr = json_object_new_array();
	char		 version[32];
	int64_t		 now = now_s();
	int		 rc = -1;

	uuid_new(id);
	snprintf(version, sizeof(version), "%lld", (long long)now);
	if (st != NULL && db_bind(st, "sssjjjjI", id, app_id, version, graph,
	    features ? features : obj, env ? env : arr, conv ? conv : arr,
	    now) == 0)
		rc = db_exec_stmt(db, st, "workflow insert");
	db_stmt_release(st);
	json_object_put(obj);
	json_object_put(arr);
	return rc;
}

int
db_workflow_latest_id(struct db *db, struct pool *p, const char *app_id,
    const char **id)
{
	struct dbst	*st = db_stmt(db, SQL_WF_LATEST);
	int		 rc = -1, step;

	if (st == NULL || db_bind(st, "s", app_id) == -1)
		goto out;
	step = db_step(st);
	if (step == DB_ROW) {
		*id = db_col_str(st, 0, p);
		rc = DB_OK;
	} else if (step == DB_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "workflow latest");
out:
	db_stmt_release(st);
	return rc;
}

int
app_mode_is_chat(const char *mode)
{
	return strcmp(mode, "chat") == 0 || strcmp(mode, "agent-chat") == 0 ||
	    strcmp(mode, "advanced-chat") == 0;
}

int
app_mode_is_workflow(const char *mode)
{
	return strcmp(mode, "workflow") == 0 ||
	    strcmp(mode, "advanced-chat") == 0;
}
