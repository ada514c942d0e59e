/*
 * db.c: one SQLite connection per worker thread.  WAL, a busy timeout,
 * foreign keys, a per-connection cache of prepared statements keyed by
 * the address of their static SQL text, and the migrations of sql/
 * (compiled in by the Makefile) applied under BEGIN IMMEDIATE and
 * tracked by PRAGMA user_version, so two processes starting at once
 * apply each migration exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define STMT_CACHE	256

struct migration {
	const char	*name;
	const char	*sql;
};
extern const struct migration	migrations[];
extern const int		migrations_n;

struct db {
	sqlite3		*h;
	struct {
		const char	*sql;
		sqlite3_stmt	*st;
	}		 cache[STMT_CACHE];
	int		 ncache;
};

/*
 * SQLite would create the file 0644 less the umask; it holds every
 * conversation, so it is made 0600 first.  SQLite gives the -wal and -shm
 * files the database file's mode.  An existing file keeps its mode (an
 * operator may have chosen 0640 on purpose).
 */
static void
create_private(const char *path)
{
	int	fd;

	if (*path == '\0' || strcmp(path, ":memory:") == 0)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST)
		log_warn("db create %s: %s", path, strerror(errno));
}

/* Put the file in WAL mode unless it is already: an SQLite result code. */
static int
journal_wal(sqlite3 *h, char **err)
{
	sqlite3_stmt	*st;
	int		 wal = 0, rc;

	rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		wal = strcmp((const char *)sqlite3_column_text(st, 0),
		    "wal") == 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_BUSY ? SQLITE_BUSY : rc;
	if (wal)
		return SQLITE_OK;
	rc = sqlite3_exec(h, "PRAGMA journal_mode = WAL", NULL, NULL, err);
	return rc == SQLITE_LOCKED ? SQLITE_BUSY : rc;
}

struct db *
db_open(const char *path)
{
	struct db	*db = xcalloc(1, sizeof(*db));
	char		*err = NULL;

	create_private(path);
	if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("db open %s: %s", path, db->h ?
		    sqlite3_errmsg(db->h) : "out of memory");
		db_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db->h, cfg->db_timeout_ms);
	if (sqlite3_exec(db->h, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = NORMAL;", NULL, NULL, &err) != SQLITE_OK) {
		log_error("db pragmas %s: %s", path, err);
		sqlite3_free(err);
		db_close(db);
		return NULL;
	}
	/*
	 * WAL is persistent in the file: only ask when it is not set yet.
	 * Processes opening a new file at once each hold a shared lock
	 * while they ask for the exclusive one the switch needs; SQLite
	 * answers SQLITE_BUSY at once rather than wait into a deadlock, so
	 * the busy timeout does not apply: retry within it.
	 */
	{
		double	 deadline = now_mono() + cfg->db_timeout_ms / 1000.0;
		int	 rc;

		while ((rc = journal_wal(db->h, &err)) == SQLITE_BUSY &&
		    now_mono() < deadline) {
			sqlite3_free(err);
			err = NULL;
			nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
		}
		if (rc != SQLITE_OK) {
			log_error("db wal %s: %s", path, err ? err :
			    sqlite3_errstr(rc));
			sqlite3_free(err);
			db_close(db);
			return NULL;
		}
	}
	return db;
}

void
db_close(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	for (i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].st);
	sqlite3_close(db->h);
	free(db);
}

sqlite3 *
db_handle(struct db *db)
{
	return db->h;
}

void
db_log_error(struct db *db, const char *what)
{
	log_error("db %s: %s", what, sqlite3_errmsg(db->h));
}

sqlite3_stmt *
db_stmt(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;
	int		 i;

	for (i = 0; i < db->ncache; i++)
		if (db->cache[i].sql == sql)
			return db->cache[i].st;
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st, NULL) != SQLITE_OK) {
		db_log_error(db, "prepare");
		return NULL;
	}
	if (db->ncache == STMT_CACHE) {
		/* the SQL texts are a fixed static set: this is a bug */
		log_error("db statement cache full");
		sqlite3_finalize(st);
		return NULL;
	}
	db->cache[db->ncache].sql = sql;
	db->cache[db->ncache].st = st;
	db->ncache++;
	return st;
}

void
db_stmt_release(sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
db_bind(sqlite3_stmt *st, const char *fmt, ...)
{
	va_list		 ap;
	int		 i, rc = SQLITE_OK;
	const char	*s;
	json_object	*j;

	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (fmt[i]) {
		case 's':
			s = va_arg(ap, const char *);
			rc = s == NULL ? sqlite3_bind_null(st, i + 1) :
			    sqlite3_bind_text(st, i + 1, s, -1,
			    SQLITE_TRANSIENT);
			break;
		case 'i':
			rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
			break;
		case 'I':
			rc = sqlite3_bind_int64(st, i + 1,
			    va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_double(st, i + 1,
			    va_arg(ap, double));
			break;
		case 'j':
			j = va_arg(ap, json_object *);
			rc = j == NULL ? sqlite3_bind_null(st, i + 1) :
			    sqlite3_bind_text(st, i + 1, json_compact(j), -1,
			    SQLITE_TRANSIENT);
			break;
		default:
			rc = SQLITE_MISUSE;
		}
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		log_error("db bind %d: %s", i, sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

int
db_exec_stmt(struct db *db, sqlite3_stmt *st, const char *what)
{
	int	rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		db_log_error(db, what);
		return -1;
	}
	return 0;
}

static int
exec(struct db *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("db %s: %s", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

int
db_begin(struct db *db)
{
	return exec(db, "BEGIN IMMEDIATE");
}

int
db_commit(struct db *db)
{
	return exec(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	if (!sqlite3_get_autocommit(db->h))
		exec(db, "ROLLBACK");
}

const char *
db_col_str(sqlite3_stmt *st, int i, struct pool *p)
{
	const unsigned char	*s = sqlite3_column_text(st, i);

	return s == NULL ? NULL : pool_strdup(p, (const char *)s);
}

json_object *
db_col_json(sqlite3_stmt *st, int i)
{
	const char	*s = (const char *)sqlite3_column_text(st, i);

	if (s == NULL)
		return NULL;
	return json_tokener_parse(s);
}

json_object *
db_col_json_raw(sqlite3_stmt *st, int i)
{
	const char	*s = (const char *)sqlite3_column_text(st, i);

	if (s == NULL)
		return NULL;
	return json_raw(s);
}

int
db_schema_version(struct db *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int
db_migration_count(void)
{
	return migrations_n;
}

int
db_migrate(struct db *db)
{
	char	pragma[64];
	int	v, i;

	v = db_schema_version(db);
	if (v >= migrations_n)
		return v < 0 ? -1 : 0;	/* the cheap path CGI takes */
	if (db_begin(db) == -1)
		return -1;
	v = db_schema_version(db);	/* another process may have won */
	for (i = v; i >= 0 && i < migrations_n; i++) {
		if (exec(db, migrations[i].sql) == -1) {
			log_error("migration %s failed", migrations[i].name);
			db_rollback(db);
			return -1;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    i + 1);
		if (exec(db, pragma) == -1) {
			db_rollback(db);
			return -1;
		}
		log_info("applied migration %s", migrations[i].name);
	}
	if (v < 0 || db_commit(db) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}
