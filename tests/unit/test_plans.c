/*
 * test_plans.c: the list queries stay flat as data grows: the plan for
 * each uses an index for both the filter and the order, never a full
 * scan of a table or a sort (see README, Performance, for the latencies
 * at 10,000 messages and 100,000 conversations).  On SQLite by default,
 * on PostgreSQL when DIFYCGI_DATABASE_URL names one (tests/run.sh's
 * PostgreSQL pass).
 */
#include <stdlib.h>
#include <unistd.h>

#include "../../lib/store/db_conversation.c"
#include "unit.h"

/*
 * 1 when the plan of "sql" reads through indexes only.  SQLite: no SCAN
 * of a table without an index, no temporary b-tree to sort.  PostgreSQL:
 * with sequential scans and sorts priced out of the planner's choice
 * (a small table would otherwise be scanned, rightly), no Seq Scan and
 * no Sort remain: an index serves both the filter and the order.
 */
static int
indexed(struct db *db, const char *sql, char *why, size_t whylen)
{
	struct buf	 out;
	char		*line, *save = NULL;
	int		 ok = 1, pg = db_is_pg(db);

	buf_init(&out, 1 << 20);
	if (db_explain(db, sql, &out) == -1) {
		snprintf(why, whylen, "EXPLAIN failed");
		buf_free(&out);
		return 0;
	}
	for (line = strtok_r(out.p, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* SQLite's rows: id|parent|notused|detail */
		const char *d = pg ? line : strrchr(line, '|');

		d = d == NULL ? line : d + (pg ? 0 : 1);
		if ((!pg && ((strncmp(d, "SCAN ", 5) == 0 &&
		    strstr(d, " USING ") == NULL) ||
		    strstr(d, "TEMP B-TREE") != NULL)) ||
		    (pg && (strstr(d, "Seq Scan") != NULL ||
		    strstr(d, "Sort  ") != NULL ||
		    strstr(d, "Sort (") != NULL))) {
			snprintf(why, whylen, "%s", d);
			ok = 0;
		}
	}
	buf_free(&out);
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
	/* DIFYCGI_DATABASE_URL: the same checks on PostgreSQL */
	db = db_open(cfg->database_url ? cfg->database_url : dbp);
	if (db == NULL || db_migrate(db) == -1)
		return 1;
	{
		struct buf	 o;

		buf_init(&o, 1 << 16);
		/* statistics as a grown database has them */
		db_query_text(db, "ANALYZE", &o);
		if (db_is_pg(db)) {
			db_query_text(db, "SET enable_seqscan = off", &o);
			db_query_text(db, "SET enable_sort = off", &o);
		}
		buf_free(&o);
	}
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
