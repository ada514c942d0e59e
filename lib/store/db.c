/*
 * db.c: the storage interface both drivers serve (db_int.h).  One
 * connection per worker thread, a per-connection cache of prepared
 * statements keyed by the address of their static SQL text, typed binds
 * collected here and handed to the driver as values, and the migration
 * run: sql/ for SQLite, sql/pg/ for PostgreSQL, the same versions in
 * both, each applied exactly once however many processes start at once.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

int
db_where_is_pg(const char *where)
{
	return where != NULL && (strncmp(where, "postgresql:", 11) == 0 ||
	    strncmp(where, "postgres:", 9) == 0);
}

struct db *
db_open(const char *where)
{
	struct db	*db = xcalloc(1, sizeof(*db));
	int		 rc;

	if (db_where_is_pg(where)) {
		db->kind = DB_PG;
		db->drv = &db_pg_driver;
		rc = db_pg_open(db, where);
	} else {
		db->kind = DB_SQLITE;
		db->drv = &db_sqlite_driver;
		rc = db_sqlite_open(db, where);
	}
	if (rc == -1) {
		db_close(db);
		return NULL;
	}
	return db;
}

struct db *
db_open_default(void)
{
	return db_open(cfg->database_url != NULL ? cfg->database_url :
	    cfg->db_path);
}

const char *
db_config_where(void)
{
	static char	where[512];

	if (cfg->database_url == NULL)
		return cfg->db_path;
	db_pg_describe(cfg->database_url, where, sizeof(where));
	return where;
}

static void
params_clear(struct dbst *st)
{
	int	i;

	for (i = 0; i < st->np; i++) {
		free(st->p[i].s);
		st->p[i].s = NULL;
		st->p[i].type = P_NULL;
	}
	st->np = 0;
}

static void
stmt_free(struct db *db, struct dbst *st)
{
	db->drv->reset(db, st);
	params_clear(st);
	db->drv->finalize(db, st);
	free(st->blob);
	free(st);
}

void
db_close(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	for (i = 0; i < db->ncache; i++)
		stmt_free(db, db->cache[i]);
	if (db->drv != NULL)
		db->drv->close(db);
	free(db->url);
	free(db);
}

const char *
db_backend(struct db *db)
{
	return db->drv->name;
}

int
db_is_pg(struct db *db)
{
	return db->kind == DB_PG;
}

void
db_log_error(struct db *db, const char *what)
{
	log_error("db %s: %s", what, db->drv->errmsg(db));
}

struct dbst *
db_stmt2(struct db *db, const char *sql, const char *pg_sql)
{
	struct dbst	*st;
	int		 i;

	if (db->kind == DB_PG && pg_sql != NULL)
		sql = pg_sql;
	for (i = 0; i < db->ncache; i++)
		if (db->cache[i]->sql == sql)
			return db->cache[i];
	if (db->ncache == STMT_CACHE) {
		/* the SQL texts are a fixed static set: this is a bug */
		log_error("db statement cache full");
		return NULL;
	}
	st = xcalloc(1, sizeof(*st));
	st->db = db;
	st->sql = sql;
	if (db->drv->prepare(db, st) == -1) {
		db_log_error(db, "prepare");
		free(st);
		return NULL;
	}
	db->cache[db->ncache++] = st;
	return st;
}

struct dbst *
db_stmt(struct db *db, const char *sql)
{
	return db_stmt2(db, sql, NULL);
}

void
db_stmt_binary(struct dbst *st)
{
	if (st != NULL)
		st->binary = 1;
}

void
db_stmt_release(struct dbst *st)
{
	if (st == NULL)
		return;
	st->db->drv->reset(st->db, st);
	params_clear(st);
	st->started = 0;
}

static int
bind_one(struct dbst *st, int idx, char f, va_list *ap)
{
	struct dbparam	*p;
	const char	*s;
	json_object	*j;
	const void	*b;

	if (idx < 1 || idx > DB_MAX_PARAMS || idx > st->nparams) {
		log_error("db bind %d: out of range (%d parameters)", idx,
		    st->nparams);
		return -1;
	}
	p = &st->p[idx - 1];
	free(p->s);
	p->s = NULL;
	p->type = P_NULL;
	switch (f) {
	case 's':
		if ((s = va_arg(*ap, const char *)) != NULL) {
			p->type = P_TEXT;
			p->len = strlen(s);
			p->s = xstrdup(s);
		}
		break;
	case 'i':
		p->type = P_INT;
		p->i = va_arg(*ap, int);
		break;
	case 'I':
		p->type = P_INT;
		p->i = va_arg(*ap, int64_t);
		break;
	case 'd':
		p->type = P_DOUBLE;
		p->d = va_arg(*ap, double);
		break;
	case 'j':
		if ((j = va_arg(*ap, json_object *)) != NULL) {
			p->type = P_TEXT;
			p->s = xstrdup(json_compact(j));
			p->len = strlen(p->s);
		}
		break;
	case 'b':
		b = va_arg(*ap, const void *);
		p->len = va_arg(*ap, size_t);
		p->type = P_BLOB;
		p->s = xmalloc(p->len + 1);
		memcpy(p->s, b, p->len);
		break;
	default:
		log_error("db bind %d: unknown format '%c'", idx, f);
		return -1;
	}
	if (idx > st->np)
		st->np = idx;
	return 0;
}

static int
bind_va(struct dbst *st, int first, const char *fmt, va_list ap)
{
	va_list	aq;
	int	i, rc = 0;

	va_copy(aq, ap);
	for (i = 0; fmt[i] != '\0' && rc == 0; i++)
		rc = bind_one(st, first + i, fmt[i], &aq);
	va_end(aq);
	return rc;
}

int
db_bind(struct dbst *st, const char *fmt, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = bind_va(st, 1, fmt, ap);
	va_end(ap);
	return rc;
}

int
db_bind_at(struct dbst *st, int first, const char *fmt, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = bind_va(st, first, fmt, ap);
	va_end(ap);
	return rc;
}

/* A failed step is logged here, with the start of its statement. */
int
db_step(struct dbst *st)
{
	int	rc = st->db->drv->step(st->db, st);

	if (rc != DB_ROW && rc != DB_DONE)
		log_error("db step \"%.48s...\": %s", st->sql,
		    st->db->drv->errmsg(st->db));
	return rc;
}

int
db_exec_stmt(struct db *db, struct dbst *st, const char *what)
{
	int	rc = db_step(st);

	(void)db;
	if (rc != DB_DONE && rc != DB_ROW) {
		log_error("db %s failed", what);
		return -1;
	}
	return 0;
}

int
db_changes(struct db *db)
{
	return db->drv->changes(db);
}

int
db_col_null(struct dbst *st, int i)
{
	return st->db->drv->col_null(st, i);
}

int
db_col_int(struct dbst *st, int i)
{
	return (int)st->db->drv->col_int64(st, i);
}

int64_t
db_col_int64(struct dbst *st, int i)
{
	return st->db->drv->col_int64(st, i);
}

double
db_col_double(struct dbst *st, int i)
{
	return st->db->drv->col_double(st, i);
}

const char *
db_col_text(struct dbst *st, int i)
{
	return st->db->drv->col_text(st, i);
}

const void *
db_col_blob(struct dbst *st, int i, size_t *len)
{
	return st->db->drv->col_blob(st, i, len);
}

const char *
db_col_str(struct dbst *st, int i, struct pool *p)
{
	const char	*s = db_col_text(st, i);

	return s == NULL ? NULL : pool_strdup(p, s);
}

json_object *
db_col_json(struct dbst *st, int i)
{
	const char	*s = db_col_text(st, i);

	return s == NULL ? NULL : json_tokener_parse(s);
}

json_object *
db_col_json_raw(struct dbst *st, int i)
{
	const char	*s = db_col_text(st, i);

	return s == NULL ? NULL : json_raw(s);
}

void
db_jw_str(struct buf *b, struct dbst *st, int i)
{
	jw_str(b, db_col_text(st, i));
}

void
db_jw_raw(struct buf *b, struct dbst *st, int i, const char *dflt)
{
	const char	*s = db_col_text(st, i);

	buf_puts(b, s != NULL ? s : dflt);
}

static int
exec(struct db *db, const char *sql)
{
	if (db->drv->exec(db, sql) == -1) {
		log_error("db %.60s: %s", sql, db->drv->errmsg(db));
		return -1;
	}
	return 0;
}

/* FNV-1a, folded to the signed 64 bits pg_advisory_xact_lock takes. */
static int64_t
lock_key(const char *key)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (int64_t)(h >> 1);
}

int
db_begin_key(struct db *db, const char *key)
{
	char	sql[96];

	if (db->kind == DB_SQLITE)
		return exec(db, "BEGIN IMMEDIATE");
	if (exec(db, "BEGIN") == -1)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)",
	    (long long)lock_key(key));
	if (exec(db, sql) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

int
db_begin(struct db *db)
{
	return db_begin_key(db, "difycgi");
}

int
db_commit(struct db *db)
{
	return exec(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	if (!db->broken && db->drv->in_transaction(db))
		exec(db, "ROLLBACK");
}

int
db_query_text(struct db *db, const char *sql, struct buf *out)
{
	struct dbst	 st = { 0 };
	int		 rc, i, n;

	st.db = db;
	st.sql = sql;
	st.transient = 1;
	if (db->drv->prepare(db, &st) == -1) {
		db_log_error(db, "query");
		return -1;
	}
	while ((rc = db_step(&st)) == DB_ROW) {
		n = db->drv->col_count(&st);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(out, "|");
			if (!db_col_null(&st, i))
				buf_puts(out, db_col_text(&st, i));
		}
		buf_puts(out, "\n");
	}
	if (rc != DB_DONE)
		db_log_error(db, "query");
	db->drv->reset(db, &st);
	db->drv->finalize(db, &st);
	free(st.blob);
	return rc == DB_DONE ? 0 : -1;
}

int
db_explain(struct db *db, const char *sql, struct buf *out)
{
	struct buf	 q;
	int		 rc;

	if (db->kind == DB_PG)
		return db_pg_explain(db, sql, out);
	buf_init(&q, SIZE_MAX);
	buf_printf(&q, "EXPLAIN QUERY PLAN %s", sql);
	rc = db_query_text(db, buf_cstr(&q), out);
	buf_free(&q);
	return rc;
}

int
db_schema_version(struct db *db)
{
	return db->drv->schema_version(db);
}

int
db_migration_count(void)
{
	return migrations_n;
}

int
db_migrate(struct db *db)
{
	const struct migration	*m = db->kind == DB_PG ? pg_migrations :
	    migrations;
	int			 n = db->kind == DB_PG ? pg_migrations_n :
	    migrations_n;
	int			 v, i;

	v = db_schema_version(db);
	if (v >= n)
		return 0;	/* the cheap path CGI takes */
	/* one transaction: the file's write lock, or an advisory lock
	 * that every process on every node waits for */
	if (db->drv->migrate_lock(db) == -1)
		return -1;
	v = db_schema_version(db);	/* another process may have won */
	for (i = v; i >= 0 && i < n; i++) {
		if (exec(db, m[i].sql) == -1 ||
		    db->drv->migrate_record(db, i + 1, m[i].name) == -1) {
			log_error("migration %s failed", m[i].name);
			db_rollback(db);
			return -1;
		}
		log_info("applied migration %s", m[i].name);
	}
	if (v < 0 || db_commit(db) == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}
