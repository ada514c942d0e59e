/*
 * db_int.h: private to lib/store/.  The two storage drivers behind
 * struct db: SQLite (db_sqlite.c) and PostgreSQL through libpq
 * (db_pg.c).  db.c holds what they share: the statement cache, typed
 * binds, transactions and the migration run.  A driver sees statements
 * whose binds are already collected as text or bytes, so each has one
 * small job: prepare, execute, step through rows, read columns.
 */
#ifndef DB_INT_H
#define DB_INT_H

#include "store.h"

#define DB_MAX_PARAMS	32

enum db_kind { DB_SQLITE, DB_PG };

/* One bound parameter, owned by the statement until its release. */
struct dbparam {
	enum { P_NULL, P_TEXT, P_INT, P_DOUBLE, P_BLOB } type;
	int64_t		 i;
	double		 d;
	char		*s;		/* P_TEXT, P_BLOB (xmalloc'd) */
	size_t		 len;
};

struct dbst {
	struct db	*db;
	const char	*sql;		/* the cache key: static text */
	void		*drv;		/* the driver's prepared statement */
	struct dbparam	 p[DB_MAX_PARAMS];
	int		 np;		/* highest bound index */
	int		 nparams;	/* the statement's own count */
	int		 started;	/* executed since the last release */
	int		 transient;	/* not cached: finalized after use */
	int		 binary;	/* PostgreSQL: rows as bytes (db_stmt_binary) */
	/* results a driver holds between steps (PostgreSQL) */
	void		*res;
	int		 row, nrows;
	char		*blob;		/* the last decoded bytea column */
};

struct db_driver {
	const char	*name;
	/* prepare "sql": driver statement into st->drv, nparams; 0 or -1 */
	int	(*prepare)(struct db *, struct dbst *);
	void	(*finalize)(struct db *, struct dbst *);
	/* execute on the first step, then one row a step: DB_ROW, DB_DONE,
	 * or -1 (the error logged under "what" is kept for db_errmsg) */
	int	(*step)(struct db *, struct dbst *);
	void	(*reset)(struct db *, struct dbst *);
	int		(*col_count)(struct dbst *);
	const char	*(*col_name)(struct dbst *, int);
	/* P_NULL, P_TEXT, P_INT, P_DOUBLE or P_BLOB (PostgreSQL: by type) */
	int		(*col_type)(struct dbst *, int);
	int		(*col_null)(struct dbst *, int);
	const char	*(*col_text)(struct dbst *, int);
	int64_t		(*col_int64)(struct dbst *, int);
	double		(*col_double)(struct dbst *, int);
	const void	*(*col_blob)(struct dbst *, int, size_t *);
	/* a statement text without binds (transactions, DDL): 0 or -1 */
	int	(*exec)(struct db *, const char *sql);
	int	(*in_transaction)(struct db *);
	int	(*changes)(struct db *);
	const char *(*errmsg)(struct db *);
	void	(*close)(struct db *);
	/* migrations: the applied count, and one applied as "version" */
	int	(*schema_version)(struct db *);
	int	(*migrate_lock)(struct db *);
	int	(*migrate_record)(struct db *, int version, const char *name);
};

#define STMT_CACHE	256

struct db {
	enum db_kind		 kind;
	const struct db_driver	*drv;
	void			*h;	/* sqlite3 * or PGconn * */
	void			*drvdata;
	struct dbst		*cache[STMT_CACHE];
	int			 ncache;
	int			 changes;	/* PostgreSQL: of the last step */
	int			 broken;	/* PostgreSQL: reconnect first */
	char			*url;
	char			 err[256];
};

extern const struct db_driver	db_sqlite_driver;
extern const struct db_driver	db_pg_driver;

int	 db_sqlite_open(struct db *, const char *path);
int	 db_pg_open(struct db *, const char *url);
void	 db_pg_describe(const char *url, char *out, size_t len);
int	 db_pg_explain(struct db *, const char *sql, struct buf *out);
/* PostgreSQL: reconnect a broken connection; 0 or -1. */
int	 db_pg_revive(struct db *);

struct migration {
	const char	*name;
	const char	*sql;
};
extern const struct migration	migrations[];
extern const int		migrations_n;
extern const struct migration	pg_migrations[];
extern const int		pg_migrations_n;

#endif
