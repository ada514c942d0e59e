/*
 * reqcost.c: the cost of one request inside a program, without the web
 * server: serve_one() N times over an in-memory transport, so that
 * `valgrind --tool=callgrind` counts the instructions of a request
 * exactly (repeatable, whatever else the machine does).
 *
 *   reqcost DB KEY URI [N]
 *
 * The routes are conversation.fcgi's (its source is included here), so
 * any of its GET URIs can be measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define main	conversation_main
#include "../../cgi-bin/conversation.c"
#undef main

static int
rd(void *ctx, char *p, int n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return 0;
}

static size_t	out_bytes;

static int
wr(void *ctx, const char *p, int n)
{
	(void)ctx;
	(void)p;
	out_bytes += (size_t)n;
	return n;
}

static int
fl(void *ctx)
{
	(void)ctx;
	return 0;
}

int
main(int argc, char *argv[])
{
	struct io	 io;
	struct db	*db;
	char		*env[8], auth[300], uri[1024], qs[1024];
	const char	*q;
	int		 i, n;

	if (argc < 5) {
		fprintf(stderr, "usage: reqcost DB KEY URI [N]\n");
		return 2;
	}
	setenv("DIFYCGI_DB", argv[1], 1);
	if (config_load() == -1 || (db = db_open(cfg->db_path)) == NULL)
		return 1;
	n = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 100;
	snprintf(auth, sizeof(auth), "HTTP_AUTHORIZATION=Bearer %s", argv[2]);
	snprintf(uri, sizeof(uri), "REQUEST_URI=%s", argv[3]);
	q = strchr(argv[3], '?');
	snprintf(qs, sizeof(qs), "QUERY_STRING=%s", q ? q + 1 : "");
	env[0] = "REQUEST_METHOD=GET";
	env[1] = uri;
	env[2] = qs;
	env[3] = auth;
	env[4] = NULL;
	memset(&io, 0, sizeof(io));
	io.read = rd;
	io.write = wr;
	io.flush = fl;
	io.envp = env;
	for (i = 0; i < n; i++)
		serve_one(&io, db, "reqcost", routes);
	printf("%d requests, %zu bytes out\n", n, out_bytes);
	db_close(db);
	return 0;
}
