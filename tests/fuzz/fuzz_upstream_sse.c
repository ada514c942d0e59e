/*
 * fuzz_upstream_sse.c: fuzz target of the upstream stream parser
 * (lib/model/upstream_sse.c), the first parser of bytes a model provider sends.
 *
 * The first input byte picks the options (a 64-byte line cap or the
 * real one, a 100-byte answer cap or the real one, a stop requested at
 * the Nth delta or none) and seeds the split points; the rest is the
 * stream, fed once whole and once in pieces of 1 to 16 bytes.  Beyond
 * "no crash, no leak" it checks: the result codes mean what they say
 * (-1 with an error set, 1 with res->stopped, 0 with neither); the text
 * stays under its cap, is valid UTF-8 without NUL bytes and equals what
 * on_delta was given; error messages are valid UTF-8; tool calls form
 * an array of functions; and both runs agree, so no split point can
 * change the answer.  A broken invariant aborts.
 *
 * libFuzzer build: `make fuzz` (tools/fuzz.sh) links every target with
 * build-fuzz/libdify.a, the library built by clang with fuzzer
 * instrumentation (`make fuzz-lib`).
 *
 * Replay build (make builds it as $(BUILD)/fuzz/fuzz_upstream_sse, linked
 * with tests/fuzz/replay.c, and make test runs it over the corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define SMALL_LINE_MAX	64
#define SMALL_TEXT_MAX	100

struct seen {
	struct buf	deltas;
	int		n;
	int		stop_at;	/* on_delta returns -1 at this call */
};

struct run {
	int			 rc;
	struct llm_result	 res;
	struct seen		 seen;
	const char		*tools;	/* compact JSON, borrowed from res */
};

static int
on_delta(void *arg, const char *s, size_t n)
{
	struct seen	*sn = arg;

	sn->n++;
	if (buf_append(&sn->deltas, s, n) == -1)
		abort();
	return sn->stop_at > 0 && sn->n >= sn->stop_at ? -1 : 0;
}

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_upstream_sse: invariant broken: %s\n",
		    what);
		abort();
	}
}

static void
run(struct run *r, uint8_t opt, const char *in, size_t len, int split)
{
	struct llm_request	rq;
	struct upstream_sse	p;
	uint32_t		seed = opt * 2654435761u + 1;
	size_t			at = 0, n;

	memset(&rq, 0, sizeof(rq));
	memset(r, 0, sizeof(*r));
	buf_init(&r->seen.deltas, UPSTREAM_TEXT_MAX);
	r->seen.stop_at = (opt >> 2) & 7;	/* 0: never */
	rq.provider = "fuzz";
	rq.on_delta = on_delta;
	rq.arg = &r->seen;
	llm_result_init(&r->res);
	if (opt & 2)
		r->res.text.max = SMALL_TEXT_MAX;
	upstream_sse_init(&p, &rq, &r->res,
	    opt & 1 ? SMALL_LINE_MAX : UPSTREAM_LINE_MAX);
	r->rc = 0;
	while (at < len && r->rc == 0) {
		n = len - at;
		if (split) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 16;
			if (n > len - at)
				n = len - at;
		}
		r->rc = upstream_sse_feed(&p, in + at, n);
		check(r->rc >= -1 && r->rc <= 1, "feed returns -1, 0 or 1");
		at += n;
	}
	r->rc = upstream_sse_finish(&p);
	upstream_sse_free(&p);
	r->tools = r->res.tool_calls != NULL ?
	    json_compact(r->res.tool_calls) : "";
}

static void
check_run(struct run *r)
{
	json_object	*call;
	size_t		 i;

	check(r->rc >= -1 && r->rc <= 1, "finish returns -1, 0 or 1");
	check((r->rc == -1) == (r->res.err != ERR__MAX),
	    "an error is set exactly when -1 is returned");
	check(r->rc != -1 || r->res.errmsg[0] != '\0',
	    "an error has a message");
	check((r->rc == 1) == (r->res.stopped != 0),
	    "res->stopped is set exactly when 1 is returned");
	check(utf8_valid(r->res.errmsg, strlen(r->res.errmsg)),
	    "the message is UTF-8");
	check(r->res.text.len <= r->res.text.max, "the text stays capped");
	check(r->res.text.len == r->seen.deltas.len &&
	    memcmp(buf_cstr(&r->res.text), buf_cstr(&r->seen.deltas),
	    r->res.text.len) == 0, "on_delta saw exactly the text");
	check(memchr(buf_cstr(&r->res.text), '\0', r->res.text.len) == NULL,
	    "the text has no NUL");
	check(utf8_valid(buf_cstr(&r->res.text), r->res.text.len),
	    "the text is UTF-8");
	check(strlen(r->res.finish_reason) < sizeof(r->res.finish_reason),
	    "finish_reason is terminated");
	if (r->res.tool_calls == NULL)
		return;
	check(r->rc == 0, "tool calls only on success");
	check(json_object_is_type(r->res.tool_calls, json_type_array),
	    "tool calls are an array");
	for (i = 0; i < json_object_array_length(r->res.tool_calls); i++) {
		call = json_object_array_get_idx(r->res.tool_calls, i);
		check(json_str(json_get(call, "function"), "name") != NULL &&
		    json_str(json_get(call, "function"), "arguments") != NULL,
		    "each tool call has a function name and arguments");
	}
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	whole, split;
	uint8_t		opt;

	if (size == 0)
		return 0;
	opt = data[0];
	run(&whole, opt, (const char *)data + 1, size - 1, 0);
	run(&split, opt, (const char *)data + 1, size - 1, 1);
	check_run(&whole);
	check_run(&split);
	check(whole.rc == split.rc && whole.res.err == split.res.err &&
	    strcmp(whole.res.errmsg, split.res.errmsg) == 0,
	    "the split run ends as the whole run");
	check(whole.res.text.len == split.res.text.len &&
	    memcmp(buf_cstr(&whole.res.text), buf_cstr(&split.res.text),
	    whole.res.text.len) == 0, "the split run has the same text");
	check(strcmp(whole.res.finish_reason, split.res.finish_reason) == 0 &&
	    whole.res.usage_known == split.res.usage_known &&
	    whole.res.prompt_tokens == split.res.prompt_tokens &&
	    whole.res.completion_tokens == split.res.completion_tokens &&
	    strcmp(whole.tools, split.tools) == 0,
	    "the split run has the same finish, usage and tool calls");
	llm_result_free(&whole.res);
	llm_result_free(&split.res);
	buf_free(&whole.seen.deltas);
	buf_free(&split.seen.deltas);
	return 0;
}

