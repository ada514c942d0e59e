/*
 * test_upstream.c: unit tests of the upstream layer without a network:
 * the stream parser (every input fed whole, split at every byte offset,
 * and byte by byte, which must all agree), blocking answers, the mapping
 * of HTTP errors to Dify errors, provider names, token estimates and the
 * offline demo model.  tests/unit/test_upstream_live.c runs the real
 * client against tests/fake-upstream.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "unit.h"

#define ROLE	"data: {\"id\":\"chatcmpl-1\",\"object\":" \
	"\"chat.completion.chunk\",\"created\":1,\"model\":\"m\"," \
	"\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"," \
	"\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]," \
	"\"usage\":null}\n\n"
#define DELTA(s) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":" \
	"\"" s "\"},\"finish_reason\":null}],\"usage\":null}\n\n"
#define FINISH(r) "data: {\"choices\":[{\"index\":0,\"delta\":{}," \
	"\"finish_reason\":\"" r "\"}],\"usage\":null}\n\n"
#define USAGE	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9," \
	"\"completion_tokens\":2,\"total_tokens\":11}}\n\n"
#define DONE	"data: [DONE]\n\n"
#define TOOL0	"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":" \
	"\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0," \
	"\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":" \
	"\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}" \
	"\n\n"
#define ARGS(i, s) "data: {\"choices\":[{\"index\":0,\"delta\":{" \
	"\"tool_calls\":[{\"index\":" #i ",\"function\":{\"arguments\":" \
	"\"" s "\"}}]},\"finish_reason\":null}]}\n\n"
#define MIDERR	"data: {\"error\":{\"message\":\"The server had an error " \
	"while processing your request.\",\"type\":\"server_error\"," \
	"\"param\":null,\"code\":null}}\n\n"

#define NONE	ERR__MAX
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct collector {
	struct buf	b;
	int		n;
	int		stop_after;	/* on_delta returns -1 at this call */
};

static int
collect(void *arg, const char *s, size_t n)
{
	struct collector	*c = arg;

	c->n++;
	buf_append(&c->b, s, n);
	if (c->stop_after > 0 && c->n >= c->stop_after)
		return -1;
	return 0;
}

/* What one run of the parser produced. */
struct run {
	int			rc;
	struct llm_result	res;
	struct collector	c;
	char			tools[1024];
};

/*
 * Feed "in" cut at the offsets "cuts" (ascending, "ncuts" of them), then
 * finish.
 */
static void
run_stream(struct run *r, const char *in, size_t len, size_t line_max,
    size_t text_max, const size_t *cuts, size_t ncuts)
{
	struct llm_request	rq;
	struct upstream_sse	p;
	size_t			i, at = 0, next;

	memset(&rq, 0, sizeof(rq));
	memset(r, 0, sizeof(*r));
	buf_init(&r->c.b, 1 << 24);
	rq.provider = "openai";
	rq.on_delta = collect;
	rq.arg = &r->c;
	llm_result_init(&r->res);
	if (text_max > 0)
		r->res.text.max = text_max;
	upstream_sse_init(&p, &rq, &r->res, line_max ? line_max : 4096);
	r->rc = 0;
	for (i = 0; i <= ncuts && r->rc == 0; i++) {
		next = i < ncuts ? cuts[i] : len;
		r->rc = upstream_sse_feed(&p, in + at, next - at);
		at = next;
	}
	r->rc = upstream_sse_finish(&p);
	upstream_sse_free(&p);
	snprintf(r->tools, sizeof(r->tools), "%s", r->res.tool_calls ?
	    json_compact(r->res.tool_calls) : "");
}

static void
run_free(struct run *r)
{
	llm_result_free(&r->res);
	buf_free(&r->c.b);
}

static int
same_run(const struct run *a, const struct run *b)
{
	return a->rc == b->rc &&
	    a->res.text.len == b->res.text.len &&
	    memcmp(buf_cstr((struct buf *)&a->res.text),
	    buf_cstr((struct buf *)&b->res.text), a->res.text.len) == 0 &&
	    a->res.err == b->res.err &&
	    strcmp(a->res.errmsg, b->res.errmsg) == 0 &&
	    strcmp(a->res.finish_reason, b->res.finish_reason) == 0 &&
	    a->res.usage_known == b->res.usage_known &&
	    a->res.prompt_tokens == b->res.prompt_tokens &&
	    a->res.completion_tokens == b->res.completion_tokens &&
	    strcmp(a->tools, b->tools) == 0;
}

struct stream_row {
	int		 line;
	const char	*in;
	size_t		 line_max;	/* 0: 4096 */
	size_t		 text_max;	/* 0: UPSTREAM_TEXT_MAX */
	int		 rc;
	const char	*text;
	const char	*finish;
	int		 prompt;	/* -1: usage not reported */
	enum err	 err;
	const char	*errmsg;	/* a part of it */
	const char	*tools;		/* compact JSON, "" none */
};

static const struct stream_row stream_rows[] = {
	{ __LINE__, ROLE DELTA("Hello") DELTA(" world") FINISH("stop")
	  USAGE DONE, 0, 0, 0, "Hello world", "stop", 9, NONE, NULL,
	  "" },
	/* CRLF, and CR alone, as line ends */
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"
	  "\r\n\r\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":"
	  "\"stop\"}]}\r\n\r\ndata: [DONE]\r\n\r\n", 0, 0, 0, "a",
	  "stop", -1, NONE, NULL, "" },
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"
	  "\r\rdata: [DONE]\r\r", 0, 0, 0, "a", "", -1, NONE, NULL,
	  "" },
	/* comments and the fields other than data are ignored */
	{ __LINE__, ": OPENROUTER PROCESSING\n\n: ping\nevent: message\n"
	  "id: 7\nretry: 1000\n" DELTA("x") ":\n" FINISH("stop") DONE,
	  0, 0, 0, "x", "stop", -1, NONE, NULL, "" },
	/* "data:" without a space, and data over several lines */
	{ __LINE__, "data:{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}"
	  "\n\ndata: {\"choices\":\ndata: [{\"delta\":{\"content\":"
	  "\"b\"}}]}\n\n" FINISH("length") DONE, 0, 0, 0, "ab",
	  "length", -1, NONE, NULL, "" },
	/* an empty data event is a keep-alive */
	{ __LINE__, "data:\n\ndata: \n\n" DELTA("a") FINISH("stop") DONE,
	  0, 0, 0, "a", "stop", -1, NONE, NULL, "" },
	/* anything after [DONE] is ignored, even garbage */
	{ __LINE__, DELTA("a") DONE "data: not json\n\n" DELTA("b"), 0, 0,
	  0, "a", "", -1, NONE, NULL, "" },
	/* the last event may lack its blank line, or its line end */
	{ __LINE__, DELTA("a") FINISH("stop") "data: [DONE]", 0, 0, 0,
	  "a", "stop", -1, NONE, NULL, "" },
	{ __LINE__, DELTA("a") "data: {\"choices\":[{\"delta\":{},"
	  "\"finish_reason\":\"stop\"}]}\n", 0, 0, 0, "a", "stop", -1,
	  NONE, NULL, "" },
	/* a finish_reason without [DONE] is a complete answer */
	{ __LINE__, ROLE DELTA("a") FINISH("stop") USAGE, 0, 0, 0, "a",
	  "stop", 9, NONE, NULL, "" },
	/* neither: the stream was cut short */
	{ __LINE__, ROLE DELTA("a") DELTA("b"), 0, 0, -1, "ab", "", -1,
	  ERR_COMPLETION_REQUEST,
	  "[openai] Connection Error, the stream ended before [DONE]",
	  "" },
	{ __LINE__, "", 0, 0, -1, "", "", -1, ERR_COMPLETION_REQUEST,
	  "ended before [DONE]", "" },
	/* usage: null chunks, then the usage-only chunk */
	{ __LINE__, DELTA("a") FINISH("stop") USAGE DONE, 0, 0, 0, "a",
	  "stop", 9, NONE, NULL, "" },
	/* UTF-8 survives any split; \u escapes too; NUL is dropped */
	{ __LINE__, DELTA("h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f"
	  "\x98\x80") DELTA("\\u00e9\\u0000!") FINISH("stop") DONE, 0,
	  0, 0, "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80"
	  "\xc3\xa9!", "stop", -1, NONE, NULL, "" },
	/* the error object of a provider, mid-stream */
	{ __LINE__, ROLE DELTA("Partial") MIDERR DELTA("more") DONE, 0, 0,
	  -1, "Partial", "", -1, ERR_COMPLETION_REQUEST,
	  "[openai] Error: The server had an error while processing "
	  "your request.", "" },
	{ __LINE__, DELTA("a") "data: {\"error\":{\"message\":\"no "
	  "money\",\"type\":\"insufficient_quota\",\"code\":"
	  "\"insufficient_quota\"}}\n\n", 0, 0, -1, "a", "", -1,
	  ERR_PROVIDER_QUOTA_EXCEEDED, "Your quota for Dify Hosted", "" },
	{ __LINE__, "data: {\"error\":\"overloaded\"}\n\n", 0, 0, -1, "",
	  "", -1, ERR_COMPLETION_REQUEST, "[openai] Error: overloaded",
	  "" },
	/* "error": null is no error */
	{ __LINE__, "data: {\"error\":null,\"choices\":[{\"delta\":"
	  "{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n" DONE,
	  0, 0, 0, "a", "stop", -1, NONE, NULL, "" },
	/* garbage */
	{ __LINE__, DELTA("a") "data: this is not json\n\n" DONE, 0, 0,
	  -1, "a", "", -1, ERR_COMPLETION_REQUEST,
	  "[openai] Error: malformed stream from the provider: an event "
	  "is not a JSON object", "" },
	{ __LINE__, "data: 42\n\n" DONE, 0, 0, -1, "", "", -1,
	  ERR_COMPLETION_REQUEST, "not a JSON object", "" },
	{ __LINE__, "data: {\"choices\": [\n\n" DONE, 0, 0, -1, "", "",
	  -1, ERR_COMPLETION_REQUEST, "not a JSON object", "" },
	{ __LINE__, "data: {\"choices\":[]} trailing\n\n" DONE, 0, 0, -1,
	  "", "", -1, ERR_COMPLETION_REQUEST, "not a JSON object", "" },
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"content\":\"\xff"
	  "\"}}]}\n\n" DONE, 0, 0, -1, "", "", -1,
	  ERR_COMPLETION_REQUEST, "not a JSON object", "" },
	/* overlong forms and surrogates, which json-c lets through */
	{ __LINE__, DELTA("a") DELTA("\xf0\x8f\x98\x80") DONE, 0, 0, -1,
	  "a", "", -1, ERR_COMPLETION_REQUEST,
	  "malformed stream from the provider: the text is not valid "
	  "UTF-8", "" },
	{ __LINE__, DELTA("\xed\xa0\x80") DONE, 0, 0, -1, "", "", -1,
	  ERR_COMPLETION_REQUEST, "the text is not valid UTF-8", "" },
	/* a lone surrogate escape becomes U+FFFD */
	{ __LINE__, DELTA("\\ud800") DONE, 0, 0, 0, "\xef\xbf\xbd", "",
	  -1, NONE, NULL, "" },
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
	  "\"index\":0,\"function\":{\"name\":\"\xc0\xaf\"}}]}}]}\n\n"
	  DONE, 0, 0, -1, "", "", -1, ERR_COMPLETION_REQUEST,
	  "a tool call is too large or not UTF-8", "" },
	{ __LINE__, "<html>\n<body>502</body>\n</html>\n", 0, 0, -1, "",
	  "", -1, ERR_COMPLETION_REQUEST, "ended before [DONE]", "" },
	/* lines and events past the cap (64 bytes here) */
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"content\":\""
	  "0123456789012345678901234567890\"}}]}\n\n" DONE, 64, 0, -1,
	  "", "", -1, ERR_COMPLETION_REQUEST,
	  "malformed stream from the provider: a line is too long", "" },
	{ __LINE__, ": 0123456789012345678901234567890123456789012345678"
	  "901234567890123456789\n\n" DONE, 64, 0, -1, "", "", -1,
	  ERR_COMPLETION_REQUEST, "a line is too long", "" },
	{ __LINE__, "data: 01234567890123456789\ndata: 0123456789012345"
	  "6789\ndata: 01234567890123456789\ndata: xyz\n\n", 64, 0, -1,
	  "", "", -1, ERR_COMPLETION_REQUEST, "an event is too long",
	  "" },
	/* the answer past res->text.max */
	{ __LINE__, DELTA("Hello") DELTA(" world") FINISH("stop") DONE, 0,
	  8, -1, "Hello", "", -1, ERR_COMPLETION_REQUEST,
	  "[openai] Error: the answer is longer than 8 bytes", "" },
	/* tool calls assembled by index */
	{ __LINE__, TOOL0 ARGS(0, "{\\\"city\\\"") ARGS(0, ":\\\"Paris\\\"}")
	  FINISH("tool_calls") DONE, 0, 0, 0, "", "tool_calls", -1,
	  NONE, NULL, "[{\"id\":\"call_1\",\"type\":\"function\","
	  "\"function\":{\"name\":\"get_weather\",\"arguments\":"
	  "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]" },
	{ __LINE__, TOOL0 "data: {\"choices\":[{\"delta\":{\"tool_calls\":"
	  "[{\"index\":1,\"id\":\"call_2\",\"function\":{\"name\":"
	  "\"get_time\",\"arguments\":\"\"}}]}}]}\n\n" ARGS(1, "{}")
	  ARGS(0, "{\\\"a\\\":1}") FINISH("tool_calls") DONE, 0, 0, 0, "",
	  "tool_calls", -1, NONE, NULL,
	  "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
	  "{\"name\":\"get_weather\",\"arguments\":\"{\\\"a\\\":1}\"}},"
	  "{\"id\":\"call_2\",\"type\":\"function\",\"function\":"
	  "{\"name\":\"get_time\",\"arguments\":\"{}\"}}]" },
	/* no index: continue the last call */
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
	  "\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}"
	  "}]}}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{"
	  "\"function\":{\"arguments\":\"}\"}}]}}]}\n\n" FINISH("stop")
	  DONE, 0, 0, 0, "", "stop", -1, NONE, NULL,
	  "[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":"
	  "\"f\",\"arguments\":\"{}\"}}]" },
	{ __LINE__, ARGS(64, "{}") DONE, 0, 0, -1, "", "", -1,
	  ERR_COMPLETION_REQUEST, "a tool call index is out of range",
	  "" },
	{ __LINE__, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[7]}}]}"
	  "\n\n" DONE, 0, 0, -1, "", "", -1, ERR_COMPLETION_REQUEST,
	  "a tool call is not an object", "" },
	/* text and a tool call in one answer */
	{ __LINE__, DELTA("Let me check.") TOOL0 ARGS(0, "{}")
	  FINISH("tool_calls") DONE, 0, 0, 0, "Let me check.",
	  "tool_calls", -1, NONE, NULL,
	  "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
	  "{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]" },
};

static void
test_stream(void)
{
	const struct stream_row	*r;
	struct run		 whole, split, bytes;
	size_t			 i, k, len, *cuts;
	int			 ok;

	TEST("the stream parser gives each table row's text, finish, usage "
	    "and error") {
		for (i = 0; i < NELEM(stream_rows); i++) {
			r = &stream_rows[i];
			run_stream(&whole, r->in, strlen(r->in), r->line_max,
			    r->text_max, NULL, 0);
			CHECK_ROW(whole.rc == r->rc, r->line);
			CHECK_ROW(STREQ(buf_cstr(&whole.res.text), r->text),
			    r->line);
			CHECK_ROW(STREQ(whole.res.finish_reason, r->finish),
			    r->line);
			CHECK_ROW(whole.res.err == r->err, r->line);
			CHECK_ROW(r->errmsg == NULL ?
			    whole.res.errmsg[0] == '\0' :
			    strstr(whole.res.errmsg, r->errmsg) != NULL,
			    r->line);
			CHECK_ROW(r->prompt == -1 ? !whole.res.usage_known :
			    whole.res.usage_known &&
			    whole.res.prompt_tokens == r->prompt &&
			    whole.res.completion_tokens == 2, r->line);
			CHECK_ROW(STREQ(whole.tools, r->tools), r->line);
			/* what on_delta saw is the text, and nothing else */
			CHECK_ROW(STREQ(buf_cstr(&whole.c.b),
			    buf_cstr(&whole.res.text)), r->line);
			CHECK_ROW(whole.res.text.len == 0 ?
			    whole.res.first_token_s < 0 :
			    whole.res.first_token_s >= 0, r->line);
			run_free(&whole);
		}
	}

	TEST("the stream parser gives the same result however the input is "
	    "split across reads") {
		for (i = 0; i < NELEM(stream_rows); i++) {
			r = &stream_rows[i];
			len = strlen(r->in);
			run_stream(&whole, r->in, len, r->line_max,
			    r->text_max, NULL, 0);
			ok = 1;
			for (k = 0; k <= len && ok; k++) {
				run_stream(&split, r->in, len, r->line_max,
				    r->text_max, &k, 1);
				ok = same_run(&whole, &split);
				run_free(&split);
			}
			CHECK_ROW(ok, r->line);
			cuts = xcalloc(len + 1, sizeof(*cuts));
			for (k = 0; k < len; k++)
				cuts[k] = k + 1;
			run_stream(&bytes, r->in, len, r->line_max,
			    r->text_max, cuts, len > 0 ? len - 1 : 0);
			CHECK_ROW(same_run(&whole, &bytes), r->line);
			free(cuts);
			run_free(&bytes);
			run_free(&whole);
		}
	}
}

static void
test_stream_stop(void)
{
	static const char	in[] = ROLE DELTA("one") DELTA(" two")
				    DELTA(" three") FINISH("stop") DONE;
	struct llm_request	rq;
	struct llm_result	res;
	struct upstream_sse	p;
	struct collector	c;

	memset(&rq, 0, sizeof(rq));
	memset(&c, 0, sizeof(c));
	buf_init(&c.b, 1024);
	c.stop_after = 2;
	rq.provider = "openai";
	rq.on_delta = collect;
	rq.arg = &c;
	TEST("a stream stops at the delta whose on_delta returns -1") {
		llm_result_init(&res);
		upstream_sse_init(&p, &rq, &res, 4096);
		CHECK(upstream_sse_feed(&p, in, sizeof(in) - 1) == 1);
		CHECK(res.stopped == 1);
		CHECK(STREQ(buf_cstr(&res.text), "one two"));
		CHECK(c.n == 2);
		CHECK(upstream_sse_feed(&p, in, sizeof(in) - 1) == 1);
		CHECK(c.n == 2);
		CHECK(upstream_sse_finish(&p) == 1);
		CHECK(res.err == ERR__MAX);
		upstream_sse_free(&p);
		llm_result_free(&res);
	}
	buf_free(&c.b);
}

struct answer_row {
	int		 line;
	const char	*body;
	int		 rc;
	const char	*text;
	const char	*finish;
	int		 usage_known;
	enum err	 err;
	const char	*errmsg;
	const char	*tools;
};

static const struct answer_row answer_rows[] = {
	{ __LINE__, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
	  "\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,"
	  "\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\","
	  "\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
	  "\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
	  "\"completion_tokens\":2,\"total_tokens\":11}}\n", 0,
	  "Hi there", "stop", 1, NONE, NULL, "" },
	{ __LINE__, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
	  "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":"
	  "\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
	  "\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}", 0, "",
	  "tool_calls", 0, NONE, NULL,
	  "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":"
	  "{\"name\":\"f\",\"arguments\":\"{}\"}}]" },
	{ __LINE__, "{\"error\":{\"message\":\"Boom\",\"type\":"
	  "\"server_error\"}}", -1, "", "", 0, ERR_COMPLETION_REQUEST,
	  "[openai] Error: Boom", "" },
	{ __LINE__, "this is not json {", -1, "", "", 0,
	  ERR_COMPLETION_REQUEST,
	  "[openai] Error: the provider's answer is not a JSON object",
	  "" },
	{ __LINE__, "", -1, "", "", 0, ERR_COMPLETION_REQUEST,
	  "not a JSON object", "" },
	{ __LINE__, "{\"choices\":[]} x", -1, "", "", 0,
	  ERR_COMPLETION_REQUEST, "not a JSON object", "" },
	{ __LINE__, "{\"choices\":[]}", -1, "", "", 0,
	  ERR_COMPLETION_REQUEST,
	  "[openai] Error: the provider's answer has no message", "" },
	{ __LINE__, "{\"choices\":[{\"message\":{\"content\":"
	  "\"\xf0\x8f\x98\x80\"}}]}", -1, "", "", 0,
	  ERR_COMPLETION_REQUEST,
	  "[openai] Error: the provider's answer is not valid UTF-8",
	  "" },
	{ __LINE__, "{\"choices\":[{\"message\":\"hi\"}]}", -1, "", "", 0,
	  ERR_COMPLETION_REQUEST, "has no message", "" },
	{ __LINE__, "{\"choices\":[{\"message\":{\"content\":"
	  "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	  "abcdef!\"}}]}", -1, "", "", 0, ERR_COMPLETION_REQUEST,
	  "[openai] Error: the answer is longer than 64 bytes", "" },
};

static void
test_answer(void)
{
	const struct answer_row	*r;
	struct llm_result	 res;
	size_t			 i;
	int			 rc;

	TEST("blocking answers give their text, tool calls, finish and "
	    "usage, or an error") {
		for (i = 0; i < NELEM(answer_rows); i++) {
			r = &answer_rows[i];
			llm_result_init(&res);
			res.text.max = 64;
			rc = upstream_parse_answer(&res, "openai", r->body,
			    strlen(r->body));
			CHECK_ROW(rc == r->rc, r->line);
			CHECK_ROW(STREQ(buf_cstr(&res.text), r->text), r->line);
			CHECK_ROW(STREQ(res.finish_reason, r->finish), r->line);
			CHECK_ROW(res.usage_known == r->usage_known, r->line);
			CHECK_ROW(res.err == r->err, r->line);
			CHECK_ROW(r->errmsg == NULL ? res.errmsg[0] == '\0' :
			    strstr(res.errmsg, r->errmsg) != NULL, r->line);
			CHECK_ROW(STREQ(res.tool_calls != NULL ?
			    json_compact(res.tool_calls) : "", r->tools),
			    r->line);
			llm_result_free(&res);
		}
	}
}

struct http_error_row {
	int		 line;
	long		 status;
	const char	*body;
	enum err	 err;
	const char	*errmsg;	/* exact */
};

static const struct http_error_row http_error_rows[] = {
	{ __LINE__, 401, "{\"error\":{\"message\":\"Incorrect API key "
	  "provided: sk-abc***1234.\",\"type\":\"invalid_request_error\","
	  "\"code\":\"invalid_api_key\"}}", ERR_PROVIDER_NOT_INITIALIZE,
	  "[openai] Incorrect model credentials provided, please check "
	  "and try again. HTTP 401" },
	{ __LINE__, 403, "{\"error\":{\"message\":\"Country, region, or "
	  "territory not supported\"}}", ERR_PROVIDER_NOT_INITIALIZE,
	  "[openai] Incorrect model credentials provided, please check "
	  "and try again. HTTP 403" },
	{ __LINE__, 404, "{\"error\":{\"message\":\"The model `gpt-9` "
	  "does not exist or you do not have access to it.\",\"type\":"
	  "\"invalid_request_error\",\"code\":\"model_not_found\"}}",
	  ERR_MODEL_NOT_SUPPORT, "[openai] Model Not Found Error, HTTP "
	  "404: The model `gpt-9` does not exist or you do not have "
	  "access to it." },
	{ __LINE__, 429, "{\"error\":{\"message\":\"Rate limit reached\","
	  "\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}",
	  ERR_COMPLETION_REQUEST, "[openai] Rate Limit Error, HTTP 429: "
	  "Rate limit reached" },
	{ __LINE__, 429, "{\"error\":{\"message\":\"You exceeded your "
	  "current quota\",\"type\":\"insufficient_quota\",\"code\":"
	  "\"insufficient_quota\"}}", ERR_PROVIDER_QUOTA_EXCEEDED,
	  "Your quota for Dify Hosted Model Provider has been exhausted. "
	  "Please go to Settings -> Model Provider to complete your own "
	  "provider credentials." },
	{ __LINE__, 429, "", ERR_COMPLETION_REQUEST,
	  "[openai] Rate Limit Error, HTTP 429" },
	{ __LINE__, 500, "{\"error\":{\"message\":\"The server had an "
	  "error\",\"type\":\"server_error\",\"code\":null}}",
	  ERR_COMPLETION_REQUEST, "[openai] Server Unavailable Error, "
	  "HTTP 500: The server had an error" },
	{ __LINE__, 503, "", ERR_COMPLETION_REQUEST,
	  "[openai] Server Unavailable Error, HTTP 503" },
	{ __LINE__, 502, "<html><body>Bad gateway</body></html>",
	  ERR_COMPLETION_REQUEST,
	  "[openai] Server Unavailable Error, HTTP 502" },
	{ __LINE__, 500, "oops\nline two\x01", ERR_COMPLETION_REQUEST,
	  "[openai] Server Unavailable Error, HTTP 500: oops line two " },
	{ __LINE__, 400, "bad \xff\xfe byte \xe4\xb8", ERR_COMPLETION_REQUEST,
	  "[openai] Bad Request Error, HTTP 400: bad ?? byte ??" },
	{ __LINE__, 400, "{\"error\":\"just a string\"}",
	  ERR_COMPLETION_REQUEST,
	  "[openai] Bad Request Error, HTTP 400: just a string" },
	{ __LINE__, 422, "{\"detail\":\"max_tokens must be positive\"}",
	  ERR_COMPLETION_REQUEST, "[openai] Bad Request Error, HTTP 422: "
	  "max_tokens must be positive" },
	{ __LINE__, 400, "{\"object\":\"error\",\"message\":\"context "
	  "too long\"}", ERR_COMPLETION_REQUEST,
	  "[openai] Bad Request Error, HTTP 400: context too long" },
	{ __LINE__, 400, "{\"detail\":[{\"loc\":[\"body\"]}]}",
	  ERR_COMPLETION_REQUEST, "[openai] Bad Request Error, HTTP 400" },
	{ __LINE__, 302, "", ERR_COMPLETION_REQUEST,
	  "[openai] Error: unexpected HTTP 302 from the provider" },
};

static void
test_http_error(void)
{
	const struct http_error_row	*r;
	struct llm_result		 res;
	struct buf			 long_msg;
	size_t				 i;
	int				 k;

	TEST("HTTP errors of the provider map to Dify errors and messages") {
		for (i = 0; i < NELEM(http_error_rows); i++) {
			r = &http_error_rows[i];
			llm_result_init(&res);
			upstream_http_error(&res, "openai", r->status, r->body,
			    strlen(r->body));
			CHECK_ROW(res.err == r->err, r->line);
			CHECK_ROW(STREQ(res.errmsg, r->errmsg), r->line);
			if (!STREQ(res.errmsg, r->errmsg))
				printf("#   got \"%s\"\n", res.errmsg);
			llm_result_free(&res);
		}
	}

	TEST("a long provider message is cut short, never inside a UTF-8 "
	    "character") {
		buf_init(&long_msg, 1 << 16);
		buf_puts(&long_msg, "{\"error\":{\"message\":\"");
		for (k = 0; k < 500; k++)
			buf_puts(&long_msg, "\xe4\xb8\x96");
		buf_puts(&long_msg, "\"}}");
		llm_result_init(&res);
		upstream_http_error(&res, "openai", 500, long_msg.p,
		    long_msg.len);
		CHECK(strlen(res.errmsg) < sizeof(res.errmsg) - 1);
		CHECK(strlen(res.errmsg) > 300);
		CHECK(utf8_valid(res.errmsg, strlen(res.errmsg)));
		llm_result_free(&res);
		buf_free(&long_msg);
	}
}

static void
test_misc(void)
{
	static const struct {
		int		 line;
		const char	*text;
		int		 tokens;
	} est[] = {
		{ __LINE__, NULL, 0 },
		{ __LINE__, "", 0 },
		{ __LINE__, "a", 1 },
		{ __LINE__, "abcd", 1 },
		{ __LINE__, "abcde", 2 },
		{ __LINE__, "Hello from the fake upstream.", 8 },
	};
	static const struct {
		int		 line;
		const char	*name;
		int		 known;
	} names[] = {
		{ __LINE__, "offline", 1 },
		{ __LINE__, "unit-prov", 1 },		/* UNIT_PROV */
		{ __LINE__, "UNIT_PROV", 1 },
		{ __LINE__, "unit.prov", 1 },
		{ __LINE__, "langgenius/unit_prov/unit-prov", 1 },
		{ __LINE__, "langgenius/other/other", 0 },
		{ __LINE__, "unit-prov/", 0 },
		{ __LINE__, "unitprov", 0 },
		{ __LINE__, "empty", 0 },		/* BASE_URL "" */
		{ __LINE__, "", 0 },
		{ __LINE__, NULL, 0 },
		{ __LINE__, "unit-prov-0123456789012345678901234567890123456789"
		  "012345678901234567890", 0 },
	};
	struct llm_result	res;
	size_t			i;

	TEST("token estimates are about a quarter of the bytes, at least 1") {
		for (i = 0; i < NELEM(est); i++)
			CHECK_ROW(upstream_estimate_tokens(est[i].text) ==
			    est[i].tokens, est[i].line);
	}

	TEST("a fresh result has no error, no text and no first token") {
		llm_result_init(&res);
		CHECK(res.err == ERR__MAX);
		CHECK(res.text.len == 0 && res.text.max == UPSTREAM_TEXT_MAX);
		CHECK(res.first_token_s < 0);
		CHECK(res.tool_calls == NULL && !res.stopped);
		llm_result_free(&res);
		llm_result_free(&res);	/* twice is harmless */
	}

	setenv("DIFYCGI_PROVIDER_UNIT_PROV_BASE_URL", "http://127.0.0.1:9/v1",
	    1);
	setenv("DIFYCGI_PROVIDER_EMPTY_BASE_URL", "", 1);
	TEST("provider names map to DIFYCGI_PROVIDER_<NAME>_* variables") {
		for (i = 0; i < NELEM(names); i++)
			CHECK_ROW(upstream_known(names[i].name) ==
			    names[i].known, names[i].line);
	}
}

struct offline_state {
	struct buf	text;
	int		deltas;
	int		ticks;
	int		stop_at_tick;
};

static int
offline_delta(void *arg, const char *s, size_t n)
{
	struct offline_state	*st = arg;

	st->deltas++;
	buf_append(&st->text, s, n);
	return 0;
}

static int
offline_tick(void *arg)
{
	struct offline_state	*st = arg;

	st->ticks++;
	return st->stop_at_tick > 0 && st->ticks >= st->stop_at_tick ? -1 : 0;
}

static void
test_offline(void)
{
	static const char	 expect[] = "[offline demo model] No model "
	    "provider is configured, so this is a canned reply. You said: "
	    "What is the capital of France?";
	struct llm_msg		 msgs[3];
	struct llm_request	 rq;
	struct llm_result	 res;
	struct offline_state	 st;
	char			 longq[600];
	double			 t0;
	size_t			 i;
	int			 rc, words = 1;

	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = "You are helpful.";
	msgs[1].role = "user";
	msgs[1].content = "What is the capital of France?";
	msgs[2].role = "assistant";
	msgs[2].content = "Paris.";
	memset(&rq, 0, sizeof(rq));
	rq.provider = "offline";
	rq.model = "whatever";
	rq.msgs = msgs;
	rq.nmsgs = 3;
	rq.on_delta = offline_delta;
	rq.on_tick = offline_tick;
	rq.arg = &st;
	for (i = 0; expect[i] != '\0'; i++)
		words += expect[i] == ' ';

	TEST("the offline model answers a blocking request with a canned "
	    "reply quoting the last user message") {
		memset(&st, 0, sizeof(st));
		buf_init(&st.text, 4096);
		llm_result_init(&res);
		rc = upstream_chat(&rq, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text), expect));
		CHECK(STREQ(res.finish_reason, "stop"));
		CHECK(st.deltas == 0);
		CHECK(!res.usage_known);
		CHECK(res.prompt_tokens == upstream_estimate_tokens(
		    "You are helpful.") + upstream_estimate_tokens(
		    "What is the capital of France?") +
		    upstream_estimate_tokens("Paris."));
		CHECK(res.completion_tokens ==
		    upstream_estimate_tokens(expect));
		CHECK(res.err == ERR__MAX);
		llm_result_free(&res);
		buf_free(&st.text);
	}

	TEST("the offline model streams its reply word by word, pausing "
	    "between words") {
		memset(&st, 0, sizeof(st));
		buf_init(&st.text, 4096);
		llm_result_init(&res);
		rq.stream = 1;
		t0 = now_mono();
		rc = upstream_chat(&rq, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&st.text), expect));
		CHECK(STREQ(buf_cstr(&res.text), expect));
		CHECK(st.deltas == words);
		CHECK(st.ticks >= st.deltas);
		CHECK(now_mono() - t0 >= 0.015 * 20);
		CHECK(res.first_token_s >= 0 && res.first_token_s < 0.1);
		CHECK(res.latency_s >= 0.3);
		llm_result_free(&res);
		buf_free(&st.text);
	}

	TEST("the offline model stops when on_tick returns -1") {
		memset(&st, 0, sizeof(st));
		buf_init(&st.text, 4096);
		st.stop_at_tick = 4;
		llm_result_init(&res);
		rc = upstream_chat(&rq, &res);
		CHECK(rc == 1);
		CHECK(res.stopped);
		CHECK(st.deltas == 3);
		CHECK(STREQ(buf_cstr(&res.text), "[offline demo model] "));
		CHECK(res.completion_tokens == upstream_estimate_tokens(
		    "[offline demo model] "));
		llm_result_free(&res);
		buf_free(&st.text);
	}

	TEST("the offline model quotes at most 200 bytes of the user, "
	    "never half a character") {
		/* "x\xc3\xa9" repeated: byte 200 is inside a character */
		memset(longq, 0, sizeof(longq));
		for (i = 0; i + 3 < sizeof(longq); i += 3)
			memcpy(longq + i, "x\xc3\xa9", 3);
		msgs[1].content = longq;
		rq.stream = 0;
		memset(&st, 0, sizeof(st));
		buf_init(&st.text, 4096);
		llm_result_init(&res);
		CHECK(upstream_chat(&rq, &res) == 0);
		CHECK(utf8_valid(res.text.p, res.text.len));
		CHECK(res.text.len <= sizeof(expect) - 1 -
		    strlen("What is the capital of France?") + 200 + 3);
		CHECK(res.text.len >= sizeof(expect) - 1 -
		    strlen("What is the capital of France?") + 198);
		CHECK(strcmp(res.text.p + res.text.len - 3, "...") == 0);
		llm_result_free(&res);
		buf_free(&st.text);
	}

	TEST("an unknown provider is provider_not_initialize") {
		rq.provider = "nosuchprovider";
		llm_result_init(&res);
		CHECK(upstream_chat(&rq, &res) == -1);
		CHECK(res.err == ERR_PROVIDER_NOT_INITIALIZE);
		CHECK(STREQ(res.errmsg,
		    err_table[ERR_PROVIDER_NOT_INITIALIZE].message));
		llm_result_free(&res);
	}
}

int
main(void)
{
	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	setenv("DIFYCGI_DB", "/tmp/unused.db", 1);
	if (config_load() == -1)
		return 1;
	log_init("test_upstream");
	test_stream();
	test_stream_stop();
	test_answer();
	test_http_error();
	test_misc();
	test_offline();
	UNIT_DONE();
}
