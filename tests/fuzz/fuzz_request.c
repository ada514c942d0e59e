/*
 * fuzz_request.c: fuzz target of what lib/ reads from a client before any
 * handler: the JSON body (strict tokener, depth and UTF-8 checks) and the
 * field tables over it, the query string, the path derivation and the
 * router.  The first byte picks how the rest is used.  Invariants beyond
 * "no crash, no leak": a refused body always leaves a Dify error body of
 * exactly code, message and status; a body accepted is a JSON object; a
 * decoded query pair is never longer than the raw query; a route match
 * captures no empty segment and no '/'.
 *
 * libFuzzer (make fuzz builds it):
 *   clang -fsanitize=fuzzer,address,undefined ... tests/fuzz/fuzz_request.c
 *       build-fuzz/libdify.a ...
 * Replay (make test): the same file with tests/fuzz/replay.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int
h(struct req *rq, struct resp *rs)
{
	(void)rq;
	(void)rs;
	return 0;
}

static const struct route routes[] = {
	{ "GET", "/v1/conversations", h, 0 },
	{ "DELETE", "/v1/conversations/{id:uuid}", h, 0 },
	{ "PUT", "/v1/conversations/{id:uuid}/variables/{vid:uuid}", h, 0 },
	{ "POST", "/v1/chat-messages/{task_id}/stop", h, 0 },
	{ "GET", "/v1/files/{file_id:uuid}/preview", h, 0 },
	{ NULL, NULL, NULL, 0 }
};

static const struct field fields[] = {
	{ "query", F_STRING, F_REQUIRED, 64 },
	{ "inputs", F_OBJECT, F_REQUIRED, 0 },
	{ "flag", F_BOOL, 0, 0 },
	{ "n", F_INT, 0, 0 },
	{ "user", F_SCALAR, 0, 255 },
	{ NULL, 0, 0, 0 }
};

static int
feed(void *ctx, char *p, int n)
{
	struct buf	*b = ctx;
	int		 take = (int)b->len < n ? (int)b->len : n;

	memcpy(p, b->p, (size_t)take);
	b->p += take;
	b->len -= (size_t)take;
	return take;
}

static void
check_error(struct resp *rs)
{
	if (rs->body == NULL || json_object_object_length(rs->body) != 3 ||
	    json_str(rs->body, "code") == NULL ||
	    json_str(rs->body, "message") == NULL ||
	    json_object_get_int(json_get(rs->body, "status")) != rs->status)
		abort();
}

static void
body(const uint8_t *data, size_t size)
{
	struct req	rq;
	struct resp	rs;
	struct buf	src = { (char *)data, size, size, size };

	memset(&rq, 0, sizeof(rq));
	resp_init(&rs);
	rq.io.ctx = &src;
	rq.io.read = feed;
	rq.content_type = "application/json";
	rq.content_length = (long long)size;
	if (req_json(&rq, &rs) == -1)
		check_error(&rs);
	else {
		if (!json_object_is_type(rq.body, json_type_object))
			abort();
		if (input_check(&rq, &rs, fields) == -1)
			check_error(&rs);
	}
	json_object_put(rq.body);
	buf_free(&rq.raw);
	resp_free(&rs);
	pool_free_all(&rq.pool);
}

static void
query(const uint8_t *data, size_t size)
{
	struct req	 rq;
	char		*q = xmalloc(size + 1);
	int		 i;

	memcpy(q, data, size);
	q[size] = '\0';
	memset(&rq, 0, sizeof(rq));
	rq.query = q;
	(void)req_query(&rq, "user");
	/* decoding only shrinks: no pair is longer than the raw text */
	for (i = 0; i < rq.nqs; i++)
		if (strlen(rq.qs[i].key) + strlen(rq.qs[i].val) > size)
			abort();
	if (rq.nqs > QUERY_MAX_PAIRS)
		abort();
	pool_free_all(&rq.pool);
	free(q);
}

static void
path(const uint8_t *data, size_t size)
{
	static const char	*methods[] = { "GET", "POST", "PUT", "PATCH",
	    "DELETE" };
	const struct route	*r;
	struct req		 rq;
	const char		*p;
	char			*s = xmalloc(size + 1);
	int			 i;

	memcpy(s, data, size);
	s[size] = '\0';
	memset(&rq, 0, sizeof(rq));
	p = req_derive_path(&rq.pool, NULL, NULL, s);
	for (i = 0; i < 5; i++) {
		rq.nparams = 0;
		if (route_match(routes, &rq, methods[i], p, &r) != ROUTE_OK)
			continue;
		for (int k = 0; k < rq.nparams; k++)
			if (rq.params[k].val[0] == '\0' ||
			    strchr(rq.params[k].val, '/') != NULL)
				abort();
	}
	pool_free_all(&rq.pool);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	ready;

	if (!ready) {
		setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
		config_load();
		ready = 1;
	}
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		body(data + 1, size - 1);
		break;
	case 1:
		query(data + 1, size - 1);
		break;
	default:
		path(data + 1, size - 1);
	}
	return 0;
}
