/*
 * test_serve.c: the fair share of a process's worker threads
 * (serve_hold): an app's share of the threads, the reserve kept from
 * generations, and requests outside the pool.
 */
#include <stdlib.h>

#include "../../lib/http/serve.c"
#include "unit.h"

#define APP_A	"aaaaaaaa-0000-4000-8000-000000000000"
#define APP_B	"bbbbbbbb-0000-4000-8000-000000000000"

static const struct {
	int		 line;
	const char	*threads, *percent, *reserved;
	const char	*others;	/* what the other workers hold: A, B, c.. */
	const char	*app;
	int		 rc, limit;
} rows[] = {
	{ __LINE__, "8", "50", "1", "AAA", APP_A, SERVE_HOLD_OK, 4 },
	{ __LINE__, "8", "50", "1", "AAAA", APP_A, SERVE_HOLD_APP, 4 },
	{ __LINE__, "8", "50", "1", "AAAA", APP_B, SERVE_HOLD_OK, 4 },
	{ __LINE__, "8", "50", "1", "AAABBBB", APP_A, SERVE_HOLD_FULL, 3 },
	{ __LINE__, "8", "50", "1", "AAABBBB", APP_B, SERVE_HOLD_APP, 4 },
	{ __LINE__, "8", "50", "1", "cdefgh", APP_A, SERVE_HOLD_OK, 4 },
	{ __LINE__, "8", "50", "1", "cdefghi", APP_A, SERVE_HOLD_FULL, 0 },
	{ __LINE__, "8", "50", "0", "cdefghi", APP_A, SERVE_HOLD_OK, 4 },
	{ __LINE__, "8", "25", "1", "AA", APP_A, SERVE_HOLD_APP, 2 },
	{ __LINE__, "4", "100", "0", "AAA", APP_A, SERVE_HOLD_OK, 4 },
	/* one thread: no share is possible, the reserve cannot take it */
	{ __LINE__, "1", "50", "1", "", APP_A, SERVE_HOLD_OK, 1 },
	/* a share rounds down, but is never less than one thread */
	{ __LINE__, "3", "10", "0", "", APP_A, SERVE_HOLD_OK, 1 },
	{ __LINE__, "3", "10", "0", "A", APP_A, SERVE_HOLD_APP, 1 },
	/* two threads: the reserve leaves one for generations */
	{ __LINE__, "2", "50", "1", "A", APP_B, SERVE_HOLD_FULL, 0 },
};

int
main(void)
{
	struct worker	 ws[16];
	size_t		 r;
	int		 i, rc, limit;
	char		 id[UUID_LEN + 1];

	setenv("DIFYCGI_DB", "/nonexistent/dify.db", 1);	/* never opened */
	TEST("an app holds at most its share, generations leave the reserve") {
		for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			setenv("DIFYCGI_THREADS", rows[r].threads, 1);
			setenv("DIFYCGI_APP_SHARE_PERCENT", rows[r].percent, 1);
			setenv("DIFYCGI_RESERVED_THREADS", rows[r].reserved, 1);
			CHECK_ROW(config_load() == 0, rows[r].line);
			memset(ws, 0, sizeof(ws));
			workers = ws;
			nworkers = cfg->threads;
			/* worker 0 asks; the others hold what the row says */
			for (i = 0; rows[r].others[i] != '\0'; i++) {
				char	c = rows[r].others[i];

				snprintf(id, sizeof(id), "%s", c == 'A' ? APP_A :
				    c == 'B' ? APP_B : APP_A);
				if (c != 'A' && c != 'B')
					memset(id, c, 8);
				snprintf(ws[i + 1].holds, sizeof(ws[i + 1].holds),
				    "%s", id);
			}
			self = &ws[0];
			rc = serve_hold(rows[r].app, &limit);
			CHECK_ROW(rc == rows[r].rc, rows[r].line);
			CHECK_ROW(limit == rows[r].limit, rows[r].line);
			CHECK_ROW((rc == SERVE_HOLD_OK) ==
			    STREQ(ws[0].holds, rows[r].app), rows[r].line);
			release_hold(&ws[0]);
			CHECK_ROW(ws[0].holds[0] == '\0', rows[r].line);
		}
	}
	TEST("a request outside the pool (CGI) is never refused") {
		memset(ws, 0, sizeof(ws));
		for (i = 1; i < 8; i++)
			snprintf(ws[i].holds, sizeof(ws[i].holds), "%s", APP_A);
		self = NULL;
		CHECK(serve_hold(APP_A, &limit) == SERVE_HOLD_OK);
	}
	UNIT_DONE();
}
