/*
 * test_plans.c: the list queries stay flat as data grows: SQLite's plan
 * for each uses an index for both the filter and the order, never a full
 * scan of a table or a temporary b-tree to sort (see README, Performance,
 * for the latencies at 10,000 messages and 100,000 conversations).
 */
#include <stdlib.h>
#include <unistd.h>

#include "../../lib/store/db_conversation.c"
#include "unit.h"

/* 1 when the plan of "sql" reads through indexes only. */
static int
indexed(struct db *db, const char *sql, char *why, size_t whylen)
{
	sqlite3_stmt	*st;
	char		 q[4096];
	int		 ok = 1;

	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_prepare_v2(db_handle(db), q, -1, &st, NULL) != SQLITE_OK) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(db_handle(db)));
		return 0;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		if ((strncmp(d, "SCAN ", 5) == 0 && strstr(d, " USING ") ==
		    NULL) || strstr(d, "TEMP B-TREE") != NULL) {
			snprintf(why, whylen, "%s", d);
			ok = 0;
		}
	}
	sqlite3_finalize(st);
	return ok;
}

int
main(void)
{
	char		 path[] = "/tmp/difycgi-plans-XXXXXX", dbp[64], why[256];
	struct db	*db;
	int		 i, j, k, fd;
	/* (SQL_RECENT_TURNS sorts the 3 rows its inner LIMIT keeps: fine) */
	const char	*named[] = { SQL_MSG_PAGE, SQL_MSG_PAGE_BEFORE, SQL_FB_LIST,
	    SQL_VAR_LIST, SQL_CONV_SORTVAL };

	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	if (config_load() == -1)
		return 1;
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	snprintf(dbp, sizeof(dbp), "%s.db", path);
	db = db_open(dbp);
	if (db == NULL || db_migrate(db) == -1)
		return 1;
	/* statistics as a grown database has them */
	sqlite3_exec(db_handle(db), "ANALYZE", NULL, NULL, NULL);
	TEST("every conversation list query reads through an index") {
		for (i = 0; i < 2; i++)
			for (j = 0; j < 2; j++)
				for (k = 0; k < 2; k++) {
					why[0] = '\0';
					CHECK_ROW(indexed(db, SQL_CONV_LIST[i][j][k],
					    why, sizeof(why)), i * 4 + j * 2 + k);
					if (why[0])
						printf("#   %s\n", why);
				}
	}
	TEST("message pages, feedback, variables and history read through indexes") {
		for (i = 0; i < (int)(sizeof(named) / sizeof(named[0])); i++) {
			why[0] = '\0';
			CHECK_ROW(indexed(db, named[i], why, sizeof(why)), i);
			if (why[0])
				printf("#   %s\n", why);
		}
	}
	db_close(db);
	unlink(dbp);
	snprintf(dbp, sizeof(dbp), "%s.db-wal", path);
	unlink(dbp);
	snprintf(dbp, sizeof(dbp), "%s.db-shm", path);
	unlink(dbp);
	UNIT_DONE();
}
