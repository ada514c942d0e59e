/*
 * db_copy.c: move an install's rows from one database to another
 * (dify-admin db copy: an SQLite file into PostgreSQL).  Tables go in
 * the order their foreign keys need; a table this file does not know
 * stops the copy, so a new migration cannot be left behind silently.
 * Rows keep their rowid, so listings order the same afterwards, and the
 * identity sequences are moved past them.  Everything is one
 * transaction of the target, and every row is read back and compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* parents first */
static const char *const tables[] = {
	"apps", "api_keys", "end_users", "workflows", "conversations",
	"messages", "message_feedbacks", "conversation_variables",
	"workflow_runs", "workflow_node_executions", "upload_files",
	"file_chunks", "tasks", "datasets", "dataset_api_keys", NULL
};

/* A statement outside the cache, for SQL made here. */
static struct dbst *
prepare(struct db *db, const char *sql)
{
	struct dbst	*st = xcalloc(1, sizeof(*st));

	st->db = db;
	st->sql = xstrdup(sql);
	st->transient = 1;
	if (db->drv->prepare(db, st) == -1) {
		log_error("db copy: prepare %.60s: %s", sql,
		    db->drv->errmsg(db));
		free((char *)st->sql);
		free(st);
		return NULL;
	}
	return st;
}

static void
finalize(struct dbst *st)
{
	int	i;

	if (st == NULL)
		return;
	st->db->drv->reset(st->db, st);
	for (i = 0; i < st->np; i++)
		free(st->p[i].s);
	st->db->drv->finalize(st->db, st);
	free(st->blob);
	free((char *)st->sql);
	free(st);
}

/* The first column of the first row of "sql" as an integer, or -1. */
static long long
scalar(struct db *db, const char *sql)
{
	struct buf	 out;
	long long	 v = -1;

	buf_init(&out, 1 << 16);
	if (db_query_text(db, sql, &out) == 0 && out.len > 0)
		v = strtoll(out.p, NULL, 10);
	buf_free(&out);
	return v;
}

/* The tables of the SQLite source that this file does not know. */
static int
unknown_tables(struct db *from, char *which, size_t len)
{
	struct dbst	*st;
	int		 i, known, n = 0;

	st = prepare(from, "SELECT name FROM sqlite_master WHERE type = "
	    "'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
	if (st == NULL)
		return -1;
	which[0] = '\0';
	while (db_step(st) == DB_ROW) {
		const char	*name = db_col_text(st, 0);

		for (known = 0, i = 0; tables[i] != NULL; i++)
			known |= strcmp(tables[i], name) == 0;
		if (!known && n++ == 0)
			snprintf(which, len, "%s", name);
	}
	finalize(st);
	return n;
}

static int
has_table(struct db *db, const char *t)
{
	char	sql[256];

	if (db->kind == DB_SQLITE)
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master "
		    "WHERE type = 'table' AND name = '%s'", t);
	else
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
		    "information_schema.tables WHERE table_schema = "
		    "current_schema() AND table_name = '%s'", t);
	return scalar(db, sql) > 0;
}

static int
has_rowid(struct db *db, const char *t)
{
	char	sql[256];

	if (db->kind == DB_SQLITE)
		return 1;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM "
	    "information_schema.columns WHERE table_schema = current_schema() "
	    "AND table_name = '%s' AND column_name = 'rowid'", t);
	return scalar(db, sql) > 0;
}

/* Bind column i of "src" as parameter i + 1 of "dst", as it is typed. */
static int
bind_col(struct dbst *dst, struct dbst *src, int i)
{
	const void	*b;
	size_t		 len;

	switch (src->db->drv->col_type(src, i)) {
	case P_NULL:
		return db_bind_at(dst, i + 1, "s", NULL);
	case P_INT:
		return db_bind_at(dst, i + 1, "I", db_col_int64(src, i));
	case P_DOUBLE:
		return db_bind_at(dst, i + 1, "d", db_col_double(src, i));
	case P_BLOB:
		b = db_col_blob(src, i, &len);
		return db_bind_at(dst, i + 1, "b", b ? b : "", len);
	default:
		return db_bind_at(dst, i + 1, "s", db_col_text(src, i));
	}
}

/* The same value in both rows, compared as the source typed it. */
static int
same_col(struct dbst *a, struct dbst *b, int i)
{
	const void	*x, *y;
	size_t		 lx, ly;
	int		 t = a->db->drv->col_type(a, i);

	if (t == P_NULL || db_col_null(b, i))
		return t == P_NULL && db_col_null(b, i);
	switch (t) {
	case P_INT:
		return db_col_int64(a, i) == db_col_int64(b, i);
	case P_DOUBLE:
		return db_col_double(a, i) == db_col_double(b, i);
	case P_BLOB:
		x = db_col_blob(a, i, &lx);
		y = db_col_blob(b, i, &ly);
		return lx == ly && (lx == 0 || memcmp(x, y, lx) == 0);
	default:
		return strcmp(db_col_text(a, i), db_col_text(b, i)) == 0;
	}
}

/* "rowid, a, b" or "a, b": the columns of table "t" in the source. */
static int
columns(struct db *from, const char *t, int rowid, struct buf *cols, int *n)
{
	struct dbst	*st;
	char		 sql[256];
	int		 i;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s LIMIT 0", t);
	if ((st = prepare(from, sql)) == NULL)
		return -1;
	db_step(st);
	*n = from->drv->col_count(st);
	if (rowid)
		buf_puts(cols, "rowid");
	for (i = 0; i < *n; i++) {
		if (rowid || i > 0)
			buf_puts(cols, ", ");
		buf_puts(cols, from->drv->col_name(st, i));
	}
	*n += rowid;
	finalize(st);
	return 0;
}

static long long
copy_rows(struct db *from, struct db *to, const char *t, const char *cols,
    int n, const char *order)
{
	struct dbst	*src, *dst;
	struct buf	 q;
	long long	 rows = 0;
	int		 i, rc = 0;

	buf_init(&q, 1 << 16);
	buf_printf(&q, "SELECT %s FROM %s ORDER BY %s", cols, t, order);
	src = prepare(from, buf_cstr(&q));
	buf_reset(&q);
	buf_printf(&q, "INSERT INTO %s (%s) VALUES (", t, cols);
	for (i = 0; i < n; i++)
		buf_puts(&q, i ? ", ?" : "?");
	buf_puts(&q, ")");
	dst = prepare(to, buf_cstr(&q));
	buf_free(&q);
	if (src == NULL || dst == NULL)
		rc = -1;
	while (rc == 0 && (rc = db_step(src)) == DB_ROW) {
		rc = 0;
		for (i = 0; i < n && rc == 0; i++)
			rc = bind_col(dst, src, i);
		if (rc == 0 && db_step(dst) != DB_DONE)
			rc = -1;
		db_stmt_release(dst);
		rows++;
	}
	finalize(src);
	finalize(dst);
	return rc == DB_DONE ? rows : -1;
}

/* Every row of "to" equal to its source, in the same order: the count. */
static long long
check_rows(struct db *from, struct db *to, const char *t, const char *cols,
    int n, const char *order, char *why, size_t whylen)
{
	struct dbst	*a, *b;
	struct buf	 q;
	long long	 rows = 0;
	int		 i, ra, rb;

	buf_init(&q, 1 << 16);
	buf_printf(&q, "SELECT %s FROM %s ORDER BY %s", cols, t, order);
	a = prepare(from, buf_cstr(&q));
	b = prepare(to, buf_cstr(&q));
	buf_free(&q);
	if (a == NULL || b == NULL) {
		finalize(a);
		finalize(b);
		return -1;
	}
	for (;;) {
		ra = db_step(a);
		rb = db_step(b);
		if (ra != rb) {
			snprintf(why, whylen, "%s: %s after %lld rows", t,
			    ra == DB_ROW ? "rows missing" : "extra rows",
			    rows);
			rows = -1;
			break;
		}
		if (ra != DB_ROW) {
			if (ra != DB_DONE)
				rows = -1;
			break;
		}
		for (i = 0; i < n; i++)
			if (!same_col(a, b, i)) {
				snprintf(why, whylen, "%s: row %lld, column "
				    "%d (%s) differs", t, rows + 1, i + 1,
				    from->drv->col_name(a, i));
				rows = -1;
				break;
			}
		if (rows < 0)
			break;
		rows++;
	}
	finalize(a);
	finalize(b);
	return rows;
}

static int
copy_table(struct db *from, struct db *to, const char *t,
    void (*say)(void *, const char *), void *arg)
{
	struct buf	 cols;
	char		 line[512], why[256] = "", sql[256];
	const char	*order;
	long long	 copied, checked;
	int		 n, rowid;

	if (!has_table(from, t))
		return 0;	/* an older schema: nothing to move */
	rowid = has_rowid(to, t);
	/* a table without a rowid in the target orders by its key */
	order = rowid ? "rowid" : "1, 2";
	buf_init(&cols, 1 << 16);
	if (columns(from, t, rowid, &cols, &n) == -1) {
		buf_free(&cols);
		return -1;
	}
	copied = copy_rows(from, to, t, buf_cstr(&cols), n, order);
	checked = copied < 0 ? -1 : check_rows(from, to, t, buf_cstr(&cols),
	    n, order, why, sizeof(why));
	buf_free(&cols);
	if (copied < 0 || checked != copied) {
		log_error("db copy: %s", why[0] ? why : t);
		return -1;
	}
	if (rowid && copied > 0 && to->kind == DB_PG) {
		snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_"
		    "sequence('%s', 'rowid'), (SELECT max(rowid) FROM %s))",
		    t, t);
		if (scalar(to, sql) < 0)
			return -1;
	}
	snprintf(line, sizeof(line), "%-26s %8lld rows copied, %lld checked",
	    t, copied, checked);
	say(arg, line);
	return 0;
}

int
db_copy(struct db *from, struct db *to, void (*say)(void *, const char *),
    void *arg)
{
	struct buf	o;
	char		which[128];
	int		i, n;

	if (from->kind != DB_SQLITE || to->kind != DB_PG) {
		log_error("db copy: from an SQLite file to PostgreSQL only");
		return -1;
	}
	if (db_migrate(from) == -1 || db_migrate(to) == -1)
		return -1;
	if (db_schema_version(from) != db_schema_version(to)) {
		log_error("db copy: schema versions differ (%d, %d)",
		    db_schema_version(from), db_schema_version(to));
		return -1;
	}
	if ((n = unknown_tables(from, which, sizeof(which))) != 0) {
		if (n > 0)
			log_error("db copy: table %s is not known to the copy",
			    which);
		return -1;
	}
	if (scalar(to, "SELECT count(*) FROM apps") != 0)
		return DB_CONFLICT;
	if (db_begin(to) == -1)
		return -1;
	for (i = 0; tables[i] != NULL; i++)
		if (copy_table(from, to, tables[i], say, arg) == -1) {
			db_rollback(to);
			return -1;
		}
	if (db_commit(to) == -1) {
		db_rollback(to);
		return -1;
	}
	/*
	 * Statistics for the planner now, not when autovacuum comes by:
	 * a connection that plans a listing against the empty tables'
	 * statistics keeps a plan that sorts every row of a user.
	 */
	buf_init(&o, 1024);
	if (db_query_text(to, "ANALYZE", &o) == -1)
		log_warn("db copy: ANALYZE failed; autovacuum will do it");
	buf_free(&o);
	return 0;
}
