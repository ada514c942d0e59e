/*
 * db_sqlite.c: the SQLite driver.  WAL, a busy timeout, foreign keys,
 * persistent prepared statements; migrations run under BEGIN IMMEDIATE
 * and are tracked by PRAGMA user_version, so two processes starting at
 * once apply each migration exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db_int.h"

#define H(db)	((sqlite3 *)(db)->h)
#define ST(st)	((sqlite3_stmt *)(st)->drv)

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

int
db_sqlite_open(struct db *db, const char *path)
{
	sqlite3		*h = NULL;
	char		*err = NULL;
	double		 deadline;
	int		 rc;

	create_private(path);
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("db open %s: %s", path, h ? sqlite3_errmsg(h) :
		    "out of memory");
		sqlite3_close(h);
		return -1;
	}
	db->h = h;
	sqlite3_busy_timeout(h, cfg->db_timeout_ms);
	if (sqlite3_exec(h, "PRAGMA foreign_keys = ON;"
	    "PRAGMA synchronous = NORMAL;", NULL, NULL, &err) != SQLITE_OK) {
		log_error("db pragmas %s: %s", path, err);
		sqlite3_free(err);
		return -1;
	}
	/*
	 * WAL is persistent in the file: only ask when it is not set yet.
	 * Processes opening a new file at once each hold a shared lock
	 * while they ask for the exclusive one the switch needs; SQLite
	 * answers SQLITE_BUSY at once rather than wait into a deadlock, so
	 * the busy timeout does not apply: retry within it.
	 */
	deadline = now_mono() + cfg->db_timeout_ms / 1000.0;
	while ((rc = journal_wal(h, &err)) == SQLITE_BUSY &&
	    now_mono() < deadline) {
		sqlite3_free(err);
		err = NULL;
		nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
	}
	if (rc != SQLITE_OK) {
		log_error("db wal %s: %s", path, err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
sq_prepare(struct db *db, struct dbst *st)
{
	sqlite3_stmt	*s;

	if (sqlite3_prepare_v3(H(db), st->sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &s, NULL) != SQLITE_OK)
		return -1;
	st->drv = s;
	st->nparams = sqlite3_bind_parameter_count(s);
	return 0;
}

static void
sq_finalize(struct db *db, struct dbst *st)
{
	(void)db;
	sqlite3_finalize(ST(st));
	st->drv = NULL;
}

static int
bind_params(struct dbst *st)
{
	sqlite3_stmt	*s = ST(st);
	struct dbparam	*p;
	int		 i, rc = SQLITE_OK;

	for (i = 0; i < st->np && rc == SQLITE_OK; i++) {
		p = &st->p[i];
		switch (p->type) {
		case P_NULL:
			rc = sqlite3_bind_null(s, i + 1);
			break;
		case P_TEXT:
			rc = sqlite3_bind_text(s, i + 1, p->s, (int)p->len,
			    SQLITE_STATIC);
			break;
		case P_INT:
			rc = sqlite3_bind_int64(s, i + 1, p->i);
			break;
		case P_DOUBLE:
			rc = sqlite3_bind_double(s, i + 1, p->d);
			break;
		case P_BLOB:
			rc = sqlite3_bind_blob(s, i + 1, p->s, (int)p->len,
			    SQLITE_STATIC);
			break;
		}
	}
	return rc == SQLITE_OK ? 0 : -1;
}

static int
sq_step(struct db *db, struct dbst *st)
{
	int	rc;

	(void)db;
	if (!st->started) {
		st->started = 1;
		if (bind_params(st) == -1)
			return -1;
	}
	rc = sqlite3_step(ST(st));
	if (rc == SQLITE_ROW)
		return DB_ROW;
	if (rc == SQLITE_DONE)
		return DB_DONE;
	return -1;
}

static void
sq_reset(struct db *db, struct dbst *st)
{
	(void)db;
	if (ST(st) == NULL)
		return;
	sqlite3_reset(ST(st));
	sqlite3_clear_bindings(ST(st));
}

static int
sq_col_count(struct dbst *st)
{
	return sqlite3_column_count(ST(st));
}

static const char *
sq_col_name(struct dbst *st, int i)
{
	return sqlite3_column_name(ST(st), i);
}

static int
sq_col_type(struct dbst *st, int i)
{
	switch (sqlite3_column_type(ST(st), i)) {
	case SQLITE_INTEGER:
		return P_INT;
	case SQLITE_FLOAT:
		return P_DOUBLE;
	case SQLITE_BLOB:
		return P_BLOB;
	case SQLITE_NULL:
		return P_NULL;
	default:
		return P_TEXT;
	}
}

static int
sq_col_null(struct dbst *st, int i)
{
	return sqlite3_column_type(ST(st), i) == SQLITE_NULL;
}

static const char *
sq_col_text(struct dbst *st, int i)
{
	return (const char *)sqlite3_column_text(ST(st), i);
}

static int64_t
sq_col_int64(struct dbst *st, int i)
{
	return sqlite3_column_int64(ST(st), i);
}

static double
sq_col_double(struct dbst *st, int i)
{
	return sqlite3_column_double(ST(st), i);
}

static const void *
sq_col_blob(struct dbst *st, int i, size_t *len)
{
	const void	*b = sqlite3_column_blob(ST(st), i);

	*len = (size_t)sqlite3_column_bytes(ST(st), i);
	return b;
}

static int
sq_exec(struct db *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(H(db), sql, NULL, NULL, &err) != SQLITE_OK) {
		snprintf(db->err, sizeof(db->err), "%s", err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
sq_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(H(db));
}

static int
sq_changes(struct db *db)
{
	return sqlite3_changes(H(db));
}

static const char *
sq_errmsg(struct db *db)
{
	/* an exec's message is kept; a statement's is SQLite's own */
	if (db->err[0] != '\0') {
		static __thread char	 last[256];

		snprintf(last, sizeof(last), "%s", db->err);
		db->err[0] = '\0';
		return last;
	}
	return sqlite3_errmsg(H(db));
}

static void
sq_close(struct db *db)
{
	sqlite3_close(H(db));
	db->h = NULL;
}

static int
sq_schema_version(struct db *db)
{
	sqlite3_stmt	*st;
	int		 v = -1;

	if (sqlite3_prepare_v2(H(db), "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
sq_migrate_lock(struct db *db)
{
	return db_begin(db);
}

static int
sq_migrate_record(struct db *db, int version, const char *name)
{
	char	pragma[64];

	(void)name;
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version);
	return sq_exec(db, pragma);
}

const struct db_driver db_sqlite_driver = {
	.name = "sqlite",
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.step = sq_step,
	.reset = sq_reset,
	.col_count = sq_col_count,
	.col_name = sq_col_name,
	.col_type = sq_col_type,
	.col_null = sq_col_null,
	.col_text = sq_col_text,
	.col_int64 = sq_col_int64,
	.col_double = sq_col_double,
	.col_blob = sq_col_blob,
	.exec = sq_exec,
	.in_transaction = sq_in_transaction,
	.changes = sq_changes,
	.errmsg = sq_errmsg,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.migrate_lock = sq_migrate_lock,
	.migrate_record = sq_migrate_record,
};
