/*
 * db_pg.c: the PostgreSQL driver, through libpq.  SQL texts written with
 * ? and ?N placeholders become $N; statements are prepared on first use
 * on each connection, and again after a reconnect.  Values go as text
 * (bytes as binary) and rows come back as text (or as bytes, for the
 * statements that ask: db_stmt_binary), read by the same column calls as
 * SQLite's.  A connection that breaks (a restart, a fail-over) is opened
 * again and, outside a transaction, the statement sent again, within
 * DIFYCGI_DB_TIMEOUT_MS; past it the statement fails, so a request during
 * a longer outage gets an error and the program recovers by itself.  The
 * session's statement and lock timeouts come from the configuration; the
 * connect timeout and TCP keepalives bound every wait on a server that
 * does not answer.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "db_int.h"

#define C(db)	((PGconn *)(db)->h)

struct pgst {
	char		*text;		/* the statement in PostgreSQL's form */
	char		 name[24];
	unsigned	 gen;		/* connection it was prepared on, 0: none */
};

struct pgdb {
	unsigned	gen;		/* 1 up, one more at each reconnect:
					 * statements of an older one are gone */
	unsigned	nstmt;
	int		down_logged;
};

/*
 * ?N stays N, a bare ? is one more than the highest seen so far (SQLite's
 * rule); quoted strings and identifiers are copied as they are.
 */
static char *
translate(const char *sql, int *nparams)
{
	struct buf	 b;
	const char	*s;
	char		 q, num[16], *out;
	int		 max = 0, n;

	buf_init(&b, SIZE_MAX);
	for (s = sql; *s != '\0'; s++) {
		if (*s == '\'' || *s == '"') {
			q = *s;
			buf_append(&b, s, 1);
			for (s++; *s != '\0'; s++) {
				buf_append(&b, s, 1);
				if (*s == q)
					break;
			}
			if (*s == '\0')
				break;
			continue;
		}
		if (*s != '?') {
			buf_append(&b, s, 1);
			continue;
		}
		if (isdigit((unsigned char)s[1])) {
			n = (int)strtol(s + 1, (char **)&s, 10);
			s--;
		} else
			n = max + 1;
		if (n > max)
			max = n;
		snprintf(num, sizeof(num), "$%d", n);
		buf_puts(&b, num);
	}
	*nparams = max;
	out = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

/* The session settings every new connection gets. */
static int
session_setup(struct db *db)
{
	char		 sql[256];
	PGresult	*r;
	int		 ok;

	snprintf(sql, sizeof(sql), "SET statement_timeout = %d; "
	    "SET lock_timeout = %d; SET idle_in_transaction_session_timeout "
	    "= %d; SET client_encoding = 'UTF8'",
	    cfg->db_statement_timeout_ms, cfg->db_timeout_ms,
	    cfg->db_statement_timeout_ms > 0 ?
	    cfg->db_statement_timeout_ms * 2 : 0);
	r = PQexec(C(db), sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(db->err, sizeof(db->err), "%s",
		    PQerrorMessage(C(db)));
	PQclear(r);
	return ok ? 0 : -1;
}

static PGconn *
connect_url(const char *url)
{
	char		 timeout[16], user_timeout[16];
	const char	*keys[] = { "connect_timeout", "application_name",
	    "keepalives", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "tcp_user_timeout", "dbname", NULL };
	const char	*vals[9];
	int		 t = cfg->db_timeout_ms / 1000;

	/* libpq's connect_timeout is whole seconds, at least 2 */
	snprintf(timeout, sizeof(timeout), "%d", t < 2 ? 2 : t);
	snprintf(user_timeout, sizeof(user_timeout), "%d",
	    cfg->db_timeout_ms < 1000 ? 1000 : cfg->db_timeout_ms);
	vals[0] = timeout;
	vals[1] = "difycgi";
	vals[2] = "1";
	vals[3] = "5";
	vals[4] = "2";
	vals[5] = "3";
	vals[6] = user_timeout;
	/* the URL last: what it says wins over these defaults */
	vals[7] = url;
	vals[8] = NULL;
	return PQconnectdbParams(keys, vals, 1);
}

/* The URL without its password, for logs. */
static void
log_connect_error(struct db *db, PGconn *c)
{
	const char	*m = c != NULL ? PQerrorMessage(c) : "out of memory";
	size_t		 n = strlen(m);

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	snprintf(db->err, sizeof(db->err), "%.*s", (int)n, m);
	log_error("db connect %s: %s", c != NULL && PQdb(c) != NULL ?
	    PQdb(c) : "postgresql", db->err);
}

int
db_pg_open(struct db *db, const char *url)
{
	PGconn		*c;
	struct pgdb	*pd;
	double		 deadline = now_mono() + cfg->db_timeout_ms / 1000.0;

	db->url = xstrdup(url);
	/* a server restarting is waited for, within the database timeout */
	for (;;) {
		c = connect_url(url);
		if (c != NULL && PQstatus(c) == CONNECTION_OK)
			break;
		if (now_mono() >= deadline) {
			log_connect_error(db, c);
			PQfinish(c);
			return -1;
		}
		PQfinish(c);
		nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
	}
	db->h = c;
	pd = xcalloc(1, sizeof(*pd));
	pd->gen = 1;
	db->drvdata = pd;
	if (session_setup(db) == -1) {
		log_error("db session: %s", db->err);
		return -1;
	}
	return 0;
}

int
db_pg_revive(struct db *db)
{
	struct pgdb	*pd = db->drvdata;

	if (db->kind != DB_PG)
		return 0;
	PQreset(C(db));
	if (PQstatus(C(db)) != CONNECTION_OK) {
		/* once an outage: the attempts come every 100 ms */
		if (!pd->down_logged)
			log_connect_error(db, C(db));
		pd->down_logged = 1;
		return -1;
	}
	pd->gen++;	/* every statement is prepared anew */
	if (session_setup(db) == -1) {
		log_error("db session: %s", db->err);
		return -1;
	}
	db->broken = 0;
	pd->down_logged = 0;
	log_info("db: connected to PostgreSQL again");
	return 0;
}

static int
pg_prepare(struct db *db, struct dbst *st)
{
	struct pgst	*ps = xcalloc(1, sizeof(*ps));
	struct pgdb	*pd = db->drvdata;

	ps->text = translate(st->sql, &st->nparams);
	if (st->nparams > DB_MAX_PARAMS) {
		snprintf(db->err, sizeof(db->err), "%d parameters: at most %d",
		    st->nparams, DB_MAX_PARAMS);
		free(ps->text);
		free(ps);
		return -1;
	}
	snprintf(ps->name, sizeof(ps->name), "d%u", ++pd->nstmt);
	st->drv = ps;
	return 0;
}

static void
pg_finalize(struct db *db, struct dbst *st)
{
	struct pgst	*ps = st->drv;

	if (ps == NULL)
		return;
	/* cached statements go with the connection; a one-off goes now */
	if (st->transient && ps->gen == ((struct pgdb *)db->drvdata)->gen &&
	    PQstatus(C(db)) == CONNECTION_OK) {
		char	 sql[48];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", ps->name);
		PQclear(PQexec(C(db), sql));
	}
	free(ps->text);
	free(ps);
	st->drv = NULL;
}

/* The SQLSTATE of a failed result, "" when none. */
static const char *
sqlstate(const PGresult *r)
{
	const char	*s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

static void
failed(struct db *db, PGresult *r)
{
	const char	*m = r ? PQresultErrorMessage(r) : "";
	size_t		 n;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(C(db));
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	snprintf(db->err, sizeof(db->err), "%.*s%s%s%s", (int)n, m,
	    *sqlstate(r) ? " (SQLSTATE " : "", sqlstate(r),
	    *sqlstate(r) ? ")" : "");
	/*
	 * The connection is gone when libpq says so, or when the error is
	 * its own (no SQLSTATE: it found the socket closed, and may still
	 * report CONNECTION_OK), a connection exception (class 08), or the
	 * server shutting down or starting (57P01-57P03).
	 */
	if (PQstatus(C(db)) != CONNECTION_OK || PQsocket(C(db)) < 0 ||
	    *sqlstate(r) == '\0' || strncmp(sqlstate(r), "08", 2) == 0 ||
	    strncmp(sqlstate(r), "57P0", 4) == 0)
		db->broken = 1;
}

static int
ensure_prepared(struct db *db, struct dbst *st)
{
	struct pgst	*ps = st->drv;
	struct pgdb	*pd = db->drvdata;
	PGresult	*r;

	if (ps->gen == pd->gen)
		return 0;
	r = PQprepare(C(db), ps->name, ps->text, st->nparams, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		failed(db, r);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	ps->gen = pd->gen;
	return 0;
}

/* The length of the valid UTF-8 sequence at u[i], 0 when it is not. */
static size_t
utf8_len(const unsigned char *u, size_t i, size_t len)
{
	size_t	n, k;

	n = u[i] < 0x80 ? 1 : (u[i] & 0xe0) == 0xc0 ? 2 :
	    (u[i] & 0xf0) == 0xe0 ? 3 : (u[i] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || i + n > len)
		return 0;
	for (k = 1; k < n; k++)
		if ((u[i + k] & 0xc0) != 0x80)
			return 0;
	if (n == 2 && u[i] < 0xc2)
		return 0;	/* overlong */
	if (n == 3 && ((u[i] == 0xe0 && u[i + 1] < 0xa0) ||
	    (u[i] == 0xed && u[i + 1] >= 0xa0)))
		return 0;	/* overlong, or a surrogate */
	if (n == 4 && ((u[i] == 0xf0 && u[i + 1] < 0x90) || u[i] > 0xf4 ||
	    (u[i] == 0xf4 && u[i + 1] >= 0x90)))
		return 0;	/* overlong, or past U+10FFFF */
	return n;
}

/*
 * PostgreSQL refuses text that is not UTF-8, where SQLite stores any
 * bytes: invalid sequences become U+FFFD rather than failing the write.
 * NULL when "s" is valid as it is.
 */
static char *
utf8_fixed(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	struct buf		 b;
	size_t			 i, n;
	char			*out;

	for (i = 0; i < len && (n = utf8_len(u, i, len)) > 0; i += n)
		;
	if (i >= len)
		return NULL;
	buf_init(&b, SIZE_MAX);
	buf_append(&b, s, i);
	while (i < len) {
		if ((n = utf8_len(u, i, len)) == 0) {
			buf_puts(&b, "\xef\xbf\xbd");
			n = 1;
		} else
			buf_append(&b, s + i, n);
		i += n;
	}
	out = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return out;
}

static int
execute_once(struct db *db, struct dbst *st)
{
	struct pgst	*ps = st->drv;
	const char	*vals[DB_MAX_PARAMS];
	int		 lens[DB_MAX_PARAMS], fmts[DB_MAX_PARAMS];
	char		 nums[DB_MAX_PARAMS][32], *fixed[DB_MAX_PARAMS];
	struct dbparam	*p;
	PGresult	*r;
	int		 i, rc;

	db->err[0] = '\0';
	if (db->broken && db_pg_revive(db) == -1)
		return -1;
	if (ensure_prepared(db, st) == -1)
		return -1;
	for (i = 0; i < st->nparams; i++) {
		p = &st->p[i];
		vals[i] = NULL;
		lens[i] = 0;
		fmts[i] = 0;
		fixed[i] = NULL;
		if (i >= st->np)
			continue;
		switch (p->type) {
		case P_NULL:
			break;
		case P_TEXT:
			fixed[i] = utf8_fixed(p->s, p->len);
			vals[i] = fixed[i] ? fixed[i] : p->s;
			break;
		case P_INT:
			snprintf(nums[i], sizeof(nums[i]), "%lld",
			    (long long)p->i);
			vals[i] = nums[i];
			break;
		case P_DOUBLE:
			snprintf(nums[i], sizeof(nums[i]), "%.17g", p->d);
			vals[i] = nums[i];
			break;
		case P_BLOB:
			vals[i] = p->s;
			lens[i] = (int)p->len;
			fmts[i] = 1;
			break;
		}
	}
	r = PQexecPrepared(C(db), ps->name, st->nparams, vals, lens, fmts,
	    st->binary);
	for (i = 0; i < st->nparams; i++)
		free(fixed[i]);
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		db->changes = (int)strtol(PQcmdTuples(r), NULL, 10);
		st->res = r;
		st->nrows = PQntuples(r);
		st->row = -1;
		rc = 0;
		break;
	default:
		failed(db, r);
		PQclear(r);
		rc = -1;
	}
	return rc;
}

/*
 * Wait for a server that went away (a restart, a fail-over) to answer
 * again, within the database timeout.  0 when connected again.
 */
static int
await_server(struct db *db, double deadline)
{
	while (now_mono() < deadline) {
		nanosleep(&(struct timespec){ 0, 100 * 1000000L }, NULL);
		if (db_pg_revive(db) == 0)
			return 0;
	}
	return -1;
}

/*
 * Outside a transaction, a statement that found its connection gone is
 * sent again on a new one: the server that failed never ran it (it died
 * before it could answer the statement before), so a restart of a few
 * seconds costs requests a wait, not an error.  Inside a transaction the
 * transaction is lost: the caller gets the error and rolls back.
 */
static int
pg_execute(struct db *db, struct dbst *st)
{
	double	deadline = now_mono() + cfg->db_timeout_ms / 1000.0;
	int	in_txn, rc;

	for (;;) {
		in_txn = !db->broken && PQtransactionStatus(C(db)) !=
		    PQTRANS_IDLE;
		if ((rc = execute_once(db, st)) == 0 || !db->broken || in_txn)
			return rc;
		if (await_server(db, deadline) == -1)
			return -1;
	}
}

static int
pg_step(struct db *db, struct dbst *st)
{
	if (!st->started) {
		st->started = 1;
		if (pg_execute(db, st) == -1)
			return -1;
	}
	if (st->res == NULL)
		return -1;
	if (st->row + 1 < st->nrows) {
		st->row++;
		return DB_ROW;
	}
	st->row = st->nrows;
	return DB_DONE;
}

static void
pg_reset(struct db *db, struct dbst *st)
{
	(void)db;
	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = 0;
}

static int
pg_col_count(struct dbst *st)
{
	return st->res ? PQnfields(st->res) : 0;
}

static int
in_row(struct dbst *st, int i)
{
	return st->res != NULL && st->row >= 0 && st->row < st->nrows &&
	    i >= 0 && i < PQnfields(st->res);
}

static int	pg_col_null(struct dbst *, int);

static const char *
pg_col_name(struct dbst *st, int i)
{
	return st->res ? PQfname(st->res, i) : NULL;
}

/* the built-in type oids of pg_type.dat */
static int
pg_col_type(struct dbst *st, int i)
{
	if (pg_col_null(st, i))
		return P_NULL;
	switch (PQftype(st->res, i)) {
	case 16: case 20: case 21: case 23:	/* bool, int8, int2, int4 */
		return P_INT;
	case 700: case 701: case 1700:		/* float4, float8, numeric */
		return P_DOUBLE;
	case 17:				/* bytea */
		return P_BLOB;
	default:
		return P_TEXT;
	}
}

static int
pg_col_null(struct dbst *st, int i)
{
	return !in_row(st, i) || PQgetisnull(st->res, st->row, i);
}

static const char *
pg_col_text(struct dbst *st, int i)
{
	if (pg_col_null(st, i))
		return NULL;
	return PQgetvalue(st->res, st->row, i);
}

static int64_t
pg_col_int64(struct dbst *st, int i)
{
	const char	*s = pg_col_text(st, i);

	if (s == NULL)
		return 0;
	if (s[0] == 't' && s[1] == '\0')
		return 1;	/* a boolean */
	if (strchr(s, '.') != NULL || strchr(s, 'e') != NULL)
		return (int64_t)strtod(s, NULL);
	return strtoll(s, NULL, 10);
}

static double
pg_col_double(struct dbst *st, int i)
{
	const char	*s = pg_col_text(st, i);

	return s ? strtod(s, NULL) : 0;
}


/* bytea in text form: "\x" and two hex digits a byte */
static const void *
pg_col_blob(struct dbst *st, int i, size_t *len)
{
	const char	*s = pg_col_text(st, i);
	size_t		 n, k;
	int		 hi, lo;

	*len = 0;
	if (s == NULL)
		return NULL;
	if (st->binary) {	/* the bytes themselves */
		*len = (size_t)PQgetlength(st->res, st->row, i);
		return s;
	}
	if (s[0] != '\\' || s[1] != 'x') {
		*len = strlen(s);	/* a text column read as bytes */
		return s;
	}
	s += 2;
	n = strlen(s) / 2;
	free(st->blob);
	st->blob = xmalloc(n + 1);
	for (k = 0; k < n; k++) {
		hi = hex_digit((unsigned char)s[2 * k]);
		lo = hex_digit((unsigned char)s[2 * k + 1]);
		if (hi < 0 || lo < 0)
			return NULL;
		st->blob[k] = (char)(hi << 4 | lo);
	}
	*len = n;
	return st->blob;
}

static int
pg_exec(struct db *db, const char *sql)
{
	PGresult	*r;
	double		 deadline = now_mono() + cfg->db_timeout_ms / 1000.0;
	int		 ok, in_txn;

again:
	db->err[0] = '\0';
	in_txn = !db->broken && PQtransactionStatus(C(db)) != PQTRANS_IDLE;
	r = PQexec(C(db), sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		failed(db, r);
	PQclear(r);
	/* a BEGIN (or a statement outside one) waits for a restart too */
	if (!ok && db->broken && !in_txn && strncmp(sql, "COMMIT", 6) != 0 &&
	    strncmp(sql, "ROLLBACK", 8) != 0 && await_server(db, deadline) == 0)
		goto again;
	return ok ? 0 : -1;
}

static int
pg_in_transaction(struct db *db)
{
	return PQtransactionStatus(C(db)) != PQTRANS_IDLE;
}

static int
pg_changes(struct db *db)
{
	return db->changes;
}

static const char *
pg_errmsg(struct db *db)
{
	return db->err[0] ? db->err : PQerrorMessage(C(db));
}

static void
pg_close(struct db *db)
{
	PQfinish(C(db));
	db->h = NULL;
	free(db->drvdata);
	db->drvdata = NULL;
}

static int
pg_schema_version(struct db *db)
{
	PGresult	*r;
	int		 v = -1;

	if (db->broken && db_pg_revive(db) == -1)
		return -1;
	r = PQexec(C(db), "SELECT CASE WHEN to_regclass('schema_migrations') "
	    "IS NULL THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM "
	    "schema_migrations) END");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		failed(db, r);
	PQclear(r);
	return v;
}

static int
pg_migrate_lock(struct db *db)
{
	if (db_begin_key(db, "difycgi migrations") == -1)
		return -1;
	if (pg_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
	    "applied_at BIGINT NOT NULL)") == -1) {
		db_rollback(db);
		return -1;
	}
	return 0;
}

static int
pg_migrate_record(struct db *db, int version, const char *name)
{
	const char	*vals[3];
	char		 v[16], t[24];
	PGresult	*r;
	int		 ok;

	snprintf(v, sizeof(v), "%d", version);
	snprintf(t, sizeof(t), "%lld", (long long)now_s());
	vals[0] = v;
	vals[1] = name;
	vals[2] = t;
	r = PQexecParams(C(db), "INSERT INTO schema_migrations (version, "
	    "name, applied_at) VALUES ($1, $2, $3)", 3, NULL, vals, NULL,
	    NULL, 0);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		failed(db, r);
	PQclear(r);
	return ok ? 0 : -1;
}

void
db_pg_describe(const char *url, char *out, size_t len)
{
	PQconninfoOption	*o, *opts = PQconninfoParse(url, NULL);
	const char		*dbname = NULL, *host = NULL, *port = NULL;

	for (o = opts; o != NULL && o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	snprintf(out, len, "PostgreSQL database %s on %s%s%s",
	    dbname ? dbname : "(default)", host ? host : "(default host)",
	    port ? " port " : "", port ? port : "");
	PQconninfoFree(opts);
}

int
db_pg_explain(struct db *db, const char *sql, struct buf *out)
{
	PGresult	*r;
	struct buf	 q;
	char		*text;
	int		 n, i, rc = -1;

	if (db->broken && db_pg_revive(db) == -1)
		return -1;
	text = translate(sql, &n);
	r = PQprepare(C(db), "explain", text, n, NULL);
	free(text);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		failed(db, r);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	buf_init(&q, SIZE_MAX);
	buf_puts(&q, "SET plan_cache_mode = force_generic_plan; "
	    "EXPLAIN EXECUTE explain");
	for (i = 0; i < n; i++)
		buf_puts(&q, i == 0 ? "(NULL" : ", NULL");
	buf_puts(&q, n > 0 ? ")" : "");
	r = PQexec(C(db), buf_cstr(&q));
	buf_free(&q);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (i = 0; i < PQntuples(r); i++) {
			buf_puts(out, PQgetvalue(r, i, 0));
			buf_puts(out, "\n");
		}
		rc = 0;
	} else
		failed(db, r);
	PQclear(r);
	PQclear(PQexec(C(db), "DEALLOCATE explain; "
	    "RESET plan_cache_mode"));
	return rc;
}

const struct db_driver db_pg_driver = {
	.name = "postgresql",
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.step = pg_step,
	.reset = pg_reset,
	.col_count = pg_col_count,
	.col_name = pg_col_name,
	.col_type = pg_col_type,
	.col_null = pg_col_null,
	.col_text = pg_col_text,
	.col_int64 = pg_col_int64,
	.col_double = pg_col_double,
	.col_blob = pg_col_blob,
	.exec = pg_exec,
	.in_transaction = pg_in_transaction,
	.changes = pg_changes,
	.errmsg = pg_errmsg,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.migrate_lock = pg_migrate_lock,
	.migrate_record = pg_migrate_record,
};
