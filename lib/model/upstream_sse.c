/*
 * upstream_sse.c: what an OpenAI-compatible provider sends back, parsed
 * without trusting it.  The incremental parser of a streamed answer
 * (server-sent events carrying chat.completion.chunk objects), the parser
 * of a blocking chat.completion body, and the mapping of an HTTP error
 * reply to a Dify error.  No I/O: upstream.c feeds these, and so do the
 * unit tests and the fuzz target.
 *
 * Invariants: no line or event grows past the parser's line cap, the
 * answer never past res->text.max, tool calls never past the TOOL_*
 * caps; a breach is a malformed-stream error, never unbounded memory.
 * Once failed or stopped, the parser ignores further input.  Text handed
 * on is valid UTF-8 (the JSON parser checks it) without NUL bytes.
 * Mirrors Dify's model runtime (openai_api_compatible/llm/llm.py, the
 * _handle_generate_stream_response loop, and _invoke_error_mapping).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define TOOL_CALLS_MAX	64
#define TOOL_ID_MAX	256
#define TOOL_NAME_MAX	256
#define TOOL_ARGS_MAX	(1024 * 1024)
#define PROVIDER_TEXT_MAX 300	/* provider error text kept in a message */

enum { SSE_RUNNING, SSE_DONE, SSE_STOPPED, SSE_FAILED };

struct upstream_tool_call {
	struct buf	id;
	struct buf	name;
	struct buf	args;
};

void
llm_result_init(struct llm_result *res)
{
	memset(res, 0, sizeof(*res));
	buf_init(&res->text, UPSTREAM_TEXT_MAX);
	res->first_token_s = -1;
	res->err = ERR__MAX;
}

void
llm_result_free(struct llm_result *res)
{
	buf_free(&res->text);
	json_object_put(res->tool_calls);
	res->tool_calls = NULL;
}

int
upstream_estimate_tokens(const char *text)
{
	size_t	n;

	if (text == NULL)
		return 0;
	n = strlen(text);
	if (n / 4 >= INT_MAX)
		return INT_MAX;
	return (int)((n + 3) / 4);
}

/* Set res->err and a message "[provider] ..." (provider text cleaned). */
static void
fail(struct llm_result *res, enum err e, const char *provider,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	res->err = e;
	n = snprintf(res->errmsg, sizeof(res->errmsg), "[%s] ",
	    provider != NULL ? provider : "upstream");
	if (n < 0 || (size_t)n >= sizeof(res->errmsg))
		return;
	va_start(ap, fmt);
	vsnprintf(res->errmsg + n, sizeof(res->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * Copy untrusted text for a message: at most PROVIDER_TEXT_MAX bytes,
 * control bytes as spaces, invalid UTF-8 as '?', never a cut character.
 */
static void
clean_text(char *dst, size_t dstsz, const char *src, size_t len)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 i = 0, n = 0, k;

	if (dstsz > PROVIDER_TEXT_MAX + 1)
		dstsz = PROVIDER_TEXT_MAX + 1;
	while (i < len && n + 1 < dstsz) {
		if (s[i] < 0x80) {
			dst[n++] = s[i] < 0x20 || s[i] == 0x7f ? ' ' :
			    (char)s[i];
			i++;
			continue;
		}
		k = s[i] >= 0xf0 ? 4 : s[i] >= 0xe0 ? 3 : s[i] >= 0xc0 ? 2 : 1;
		if (k == 1 || k > len - i ||
		    !utf8_valid((const char *)s + i, k)) {
			dst[n++] = '?';
			i++;
			continue;
		}
		if (n + k + 1 > dstsz)
			break;
		memcpy(dst + n, s + i, k);
		n += k;
		i += k;
	}
	dst[n] = '\0';
}

/*
 * Parse a JSON text as req.c does: strict, UTF-8 checked, depth capped,
 * nothing but whitespace after it.  NULL when it is not that.
 */
static json_object *
parse_json(const char *s, size_t len)
{
	json_tokener	*tok;
	json_object	*o;
	size_t		 end;

	if (len == 0 || len > INT_MAX)
		return NULL;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		end = json_tokener_get_parse_end(tok);
		while (end < len && (s[end] == ' ' || s[end] == '\t' ||
		    s[end] == '\r' || s[end] == '\n'))
			end++;
		if (end != len) {
			json_object_put(o);
			o = NULL;
		}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The text of an OpenAI error object (or string), or NULL. */
static const char *
error_message(json_object *err)
{
	if (err == NULL)
		return NULL;
	if (json_object_is_type(err, json_type_string))
		return json_object_get_string(err);
	return json_str(err, "message");
}

static int
is_quota(json_object *err)
{
	const char	*code = json_str(err, "code");
	const char	*type = json_str(err, "type");

	return (code != NULL && strcmp(code, "insufficient_quota") == 0) ||
	    (type != NULL && strcmp(type, "insufficient_quota") == 0);
}

/* An error object inside a 200 answer or a stream. */
static void
error_object(struct llm_result *res, const char *provider, json_object *err)
{
	const char	*msg = error_message(err);
	char		 text[PROVIDER_TEXT_MAX + 1];

	if (is_quota(err)) {
		res->err = ERR_PROVIDER_QUOTA_EXCEEDED;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
		    err_table[ERR_PROVIDER_QUOTA_EXCEEDED].message);
		return;
	}
	if (msg == NULL || *msg == '\0')
		msg = "the provider reported an error";
	clean_text(text, sizeof(text), msg, strlen(msg));
	fail(res, ERR_COMPLETION_REQUEST, provider, "Error: %s", text);
}

/*
 * Append answer text, without NUL bytes (the text ends up in C strings
 * and in SQLite).  0, or -1 when over res->text.max.
 */
static int
append_text(struct llm_result *res, const char *s, size_t len)
{
	const char	*z;

	while ((z = memchr(s, '\0', len)) != NULL) {
		if (buf_append(&res->text, s, (size_t)(z - s)) == -1)
			return -1;
		len -= (size_t)(z - s) + 1;
		s = z + 1;
	}
	return buf_append(&res->text, s, len);
}

static void
take_usage(struct llm_result *res, json_object *usage)
{
	json_object	*pt, *ct;
	int64_t		 p, c;

	if (usage == NULL || !json_object_is_type(usage, json_type_object))
		return;
	pt = json_get(usage, "prompt_tokens");
	ct = json_get(usage, "completion_tokens");
	if (pt == NULL || ct == NULL ||
	    !json_object_is_type(pt, json_type_int) ||
	    !json_object_is_type(ct, json_type_int))
		return;
	p = json_object_get_int64(pt);
	c = json_object_get_int64(ct);
	if (p < 0 || p > INT_MAX || c < 0 || c > INT_MAX)
		return;
	res->prompt_tokens = (int)p;
	res->completion_tokens = (int)c;
	res->usage_known = 1;
}

static void
take_finish(struct llm_result *res, json_object *choice)
{
	const char	*fr = json_str(choice, "finish_reason");

	if (fr != NULL && *fr != '\0')
		clean_text(res->finish_reason, sizeof(res->finish_reason), fr,
		    strlen(fr));
}

/* ---- the stream parser ---- */

void
upstream_sse_init(struct upstream_sse *p, const struct llm_request *rq,
    struct llm_result *res, size_t line_max)
{
	memset(p, 0, sizeof(*p));
	p->rq = rq;
	p->res = res;
	p->t0 = now_mono();
	buf_init(&p->line, line_max);
	buf_init(&p->data, line_max);
	p->state = SSE_RUNNING;
}

void
upstream_sse_free(struct upstream_sse *p)
{
	int	i;

	buf_free(&p->line);
	buf_free(&p->data);
	for (i = 0; i < p->ncalls; i++) {
		buf_free(&p->calls[i].id);
		buf_free(&p->calls[i].name);
		buf_free(&p->calls[i].args);
	}
	free(p->calls);
	p->calls = NULL;
	p->ncalls = 0;
}

static int
malformed(struct upstream_sse *p, const char *why)
{
	fail(p->res, ERR_COMPLETION_REQUEST, p->rq->provider,
	    "Error: malformed stream from the provider: %s", why);
	p->state = SSE_FAILED;
	return -1;
}

static int
tool_append(struct buf *b, json_object *v, int set)
{
	if (v == NULL || !json_object_is_type(v, json_type_string))
		return 0;
	if (!utf8_valid(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v)))
		return -1;
	if (set && json_object_get_string_len(v) > 0)
		buf_reset(b);
	return buf_append(b, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
}

/*
 * One element of delta.tool_calls: the first delta of a call brings its
 * index, id and function name, later ones pieces of the arguments.  A
 * delta without an index continues the last call (or, with an id,
 * starts the next), as some servers send.
 */
static int
tool_delta(struct upstream_sse *p, json_object *tc)
{
	struct upstream_tool_call	*c;
	json_object			*ix, *fn;
	int64_t				 i;

	if (!json_object_is_type(tc, json_type_object))
		return malformed(p, "a tool call is not an object");
	ix = json_get(tc, "index");
	if (ix != NULL && json_object_is_type(ix, json_type_int))
		i = json_object_get_int64(ix);
	else if (json_get(tc, "id") != NULL || p->ncalls == 0)
		i = p->ncalls;
	else
		i = p->ncalls - 1;
	if (i < 0 || i >= TOOL_CALLS_MAX)
		return malformed(p, "a tool call index is out of range");
	if (p->calls == NULL)
		p->calls = xcalloc(TOOL_CALLS_MAX, sizeof(*p->calls));
	while (p->ncalls <= i) {
		c = &p->calls[p->ncalls++];
		buf_init(&c->id, TOOL_ID_MAX);
		buf_init(&c->name, TOOL_NAME_MAX);
		buf_init(&c->args, TOOL_ARGS_MAX);
	}
	c = &p->calls[i];
	fn = json_get(tc, "function");
	if (tool_append(&c->id, json_get(tc, "id"), 1) == -1 ||
	    tool_append(&c->name, json_get(fn, "name"), 0) == -1 ||
	    tool_append(&c->args, json_get(fn, "arguments"), 0) == -1)
		return malformed(p, "a tool call is too large or not UTF-8");
	return 0;
}

static void
tools_to_result(struct upstream_sse *p)
{
	struct upstream_tool_call	*c;
	json_object			*arr, *call, *fn;
	int				 i;

	if (p->ncalls == 0 || p->res->tool_calls != NULL)
		return;
	arr = json_object_new_array();
	for (i = 0; i < p->ncalls; i++) {
		c = &p->calls[i];
		if (c->id.len == 0 && c->name.len == 0 && c->args.len == 0)
			continue;	/* a gap in the indexes */
		fn = json_object_new_object();
		json_object_object_add(fn, "name", json_object_new_string_len(
		    buf_cstr(&c->name), (int)c->name.len));
		json_object_object_add(fn, "arguments",
		    json_object_new_string_len(buf_cstr(&c->args),
		    (int)c->args.len));
		call = json_object_new_object();
		json_object_object_add(call, "id", json_object_new_string_len(
		    buf_cstr(&c->id), (int)c->id.len));
		json_object_object_add(call, "type",
		    json_object_new_string("function"));
		json_object_object_add(call, "function", fn);
		json_object_array_add(arr, call);
	}
	p->res->tool_calls = arr;
}

static int
text_delta(struct upstream_sse *p, json_object *content)
{
	const char	*s = json_object_get_string(content);
	size_t		 len = (size_t)json_object_get_string_len(content);
	size_t		 before = p->res->text.len;

	if (len == 0)
		return 0;
	/* json-c lets overlong forms and surrogates through */
	if (!utf8_valid(s, len))
		return malformed(p, "the text is not valid UTF-8");
	if (append_text(p->res, s, len) == -1) {
		fail(p->res, ERR_COMPLETION_REQUEST, p->rq->provider,
		    "Error: the answer is longer than %zu bytes",
		    p->res->text.max);
		p->state = SSE_FAILED;
		return -1;
	}
	if (p->res->text.len == before)
		return 0;	/* it was all NUL bytes */
	if (p->res->first_token_s < 0)
		p->res->first_token_s = now_mono() - p->t0;
	if (p->rq->on_delta != NULL && p->rq->on_delta(p->rq->arg,
	    p->res->text.p + before, p->res->text.len - before) == -1) {
		p->res->stopped = 1;
		p->state = SSE_STOPPED;
		return 1;
	}
	return 0;
}

/* One complete event: its data lines are in p->data. */
static int
event(struct upstream_sse *p)
{
	json_object	*o, *err, *choices, *choice, *delta, *v;
	size_t		 i, n;
	int		 rc = 0;

	if (p->data.len == 0)
		return 0;	/* "data:" alone: a keep-alive at most */
	if (p->data.len == 6 && memcmp(p->data.p, "[DONE]", 6) == 0) {
		p->state = SSE_DONE;
		return 0;
	}
	o = parse_json(p->data.p, p->data.len);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return malformed(p, "an event is not a JSON object");
	}
	err = json_get(o, "error");
	if (err != NULL && !json_object_is_type(err, json_type_null)) {
		error_object(p->res, p->rq->provider, err);
		p->state = SSE_FAILED;
		rc = -1;
		goto out;
	}
	take_usage(p->res, json_get(o, "usage"));
	choices = json_get(o, "choices");
	if (choices == NULL || !json_object_is_type(choices, json_type_array) ||
	    json_object_array_length(choices) == 0)
		goto out;	/* the usage chunk, or a keep-alive */
	choice = json_object_array_get_idx(choices, 0);
	delta = json_get(choice, "delta");
	v = json_get(delta, "tool_calls");
	if (v != NULL && json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n && rc == 0; i++)
			rc = tool_delta(p,
			    json_object_array_get_idx(v, i));
		if (rc != 0)
			goto out;
	}
	take_finish(p->res, choice);
	v = json_get(delta, "content");
	if (v != NULL && json_object_is_type(v, json_type_string))
		rc = text_delta(p, v);
out:
	json_object_put(o);
	return rc;
}

/*
 * One line, without its end.  Fields other than data (event, id, retry,
 * unknown ones) are ignored as the SSE rules say, comments too.
 */
static int
line(struct upstream_sse *p)
{
	const char	*s = buf_cstr(&p->line), *v;
	size_t		 len = p->line.len, flen;
	int		 rc = 0;

	if (len == 0) {
		if (p->have_data)
			rc = event(p);
		buf_reset(&p->data);
		p->have_data = 0;
		return rc;
	}
	if (s[0] == ':')
		return 0;
	v = memchr(s, ':', len);
	flen = v != NULL ? (size_t)(v - s) : len;
	if (flen != 4 || memcmp(s, "data", 4) != 0)
		return 0;
	if (v == NULL)
		v = s + len;
	else {
		v++;
		if (v < s + len && *v == ' ')
			v++;
	}
	if ((p->have_data && buf_append(&p->data, "\n", 1) == -1) ||
	    buf_append(&p->data, v, (size_t)(s + len - v)) == -1)
		return malformed(p, "an event is too long");
	p->have_data = 1;
	return 0;
}

static int
state_rc(const struct upstream_sse *p)
{
	if (p->state == SSE_STOPPED)
		return 1;
	if (p->state == SSE_FAILED)
		return -1;
	return 0;
}

int
upstream_sse_feed(struct upstream_sse *p, const char *s, size_t len)
{
	const char	*e, *end = s + len;
	int		 rc;

	while (s < end && p->state == SSE_RUNNING) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (*s == '\n') {
				s++;
				continue;
			}
		}
		for (e = s; e < end && *e != '\n' && *e != '\r'; e++)
			;
		if (buf_append(&p->line, s, (size_t)(e - s)) == -1)
			return malformed(p, "a line is too long");
		if (e == end)
			break;
		p->after_cr = *e == '\r';
		s = e + 1;
		rc = line(p);
		buf_reset(&p->line);
		if (rc != 0)
			return rc;
	}
	return state_rc(p);
}

int
upstream_sse_finish(struct upstream_sse *p)
{
	int	rc;

	if (p->state == SSE_RUNNING && p->line.len > 0) {
		rc = line(p);
		buf_reset(&p->line);
		if (rc != 0)
			return rc;
	}
	if (p->state == SSE_RUNNING && p->have_data) {
		rc = event(p);
		buf_reset(&p->data);
		p->have_data = 0;
		if (rc != 0)
			return rc;
	}
	if (p->state == SSE_RUNNING && p->res->finish_reason[0] == '\0') {
		fail(p->res, ERR_COMPLETION_REQUEST, p->rq->provider,
		    "Connection Error, the stream ended before [DONE]");
		p->state = SSE_FAILED;
	}
	if (p->state == SSE_RUNNING || p->state == SSE_DONE)
		tools_to_result(p);
	return state_rc(p);
}

/* ---- blocking answers and HTTP errors ---- */

int
upstream_parse_answer(struct llm_result *res, const char *provider,
    const char *body, size_t len)
{
	json_object	*o, *err, *choices, *choice, *msg, *v;
	int		 rc = -1;

	o = parse_json(body, len);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the provider's answer is not a JSON object");
		goto out;
	}
	err = json_get(o, "error");
	if (err != NULL && !json_object_is_type(err, json_type_null)) {
		error_object(res, provider, err);
		goto out;
	}
	choices = json_get(o, "choices");
	choice = NULL;
	if (choices != NULL && json_object_is_type(choices, json_type_array) &&
	    json_object_array_length(choices) > 0)
		choice = json_object_array_get_idx(choices, 0);
	msg = json_get(choice, "message");
	if (msg == NULL || !json_object_is_type(msg, json_type_object)) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the provider's answer has no message");
		goto out;
	}
	v = json_get(msg, "content");
	if (v != NULL && json_object_is_type(v, json_type_string) &&
	    !utf8_valid(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v))) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the provider's answer is not valid UTF-8");
		goto out;
	}
	if (v != NULL && json_object_is_type(v, json_type_string) &&
	    append_text(res, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v)) == -1) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the answer is longer than %zu bytes",
		    res->text.max);
		goto out;
	}
	v = json_get(msg, "tool_calls");
	if (v != NULL && json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0 && res->tool_calls == NULL)
		res->tool_calls = json_copy(v);
	take_finish(res, choice);
	take_usage(res, json_get(o, "usage"));
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

/*
 * Which Dify error an HTTP status means, after Dify's model runtime:
 * openai.AuthenticationError and PermissionDeniedError are credentials
 * (provider_not_initialize), NotFoundError a model the provider does not
 * have (model_currently_not_support).  A 429 is InvokeRateLimitError,
 * which Dify's controllers turn into completion_request_error "[openai]
 * Rate Limit Error, ..." (spec 4.6; rate_limit_error is Dify's own app
 * rate limiter, not the provider's), except OpenAI's insufficient_quota,
 * an exhausted account, which we report as provider_quota_exceeded.
 * Credential errors never quote the provider, whose text can echo a
 * masked key.
 */
void
upstream_http_error(struct llm_result *res, const char *provider,
    long status, const char *body, size_t len)
{
	json_object	*o, *err = NULL;
	const char	*msg = NULL;
	char		 text[PROVIDER_TEXT_MAX + 1], sep[3] = ": ";

	o = parse_json(body, len);
	if (o != NULL && json_object_is_type(o, json_type_object)) {
		err = json_get(o, "error");
		msg = error_message(err);
		if (msg == NULL)
			msg = json_str(o, "message");
		if (msg == NULL)
			msg = json_str(o, "detail");	/* FastAPI servers */
	}
	if (msg != NULL)
		clean_text(text, sizeof(text), msg, strlen(msg));
	else if (o == NULL && len > 0 && body[0] != '<')	/* not HTML */
		clean_text(text, sizeof(text), body, len);
	else
		text[0] = '\0';
	if (text[0] == '\0')
		sep[0] = '\0';

	if (status == 401 || status == 403)
		fail(res, ERR_PROVIDER_NOT_INITIALIZE, provider,
		    "Incorrect model credentials provided, please check and "
		    "try again. HTTP %ld", status);
	else if (status == 404)
		fail(res, ERR_MODEL_NOT_SUPPORT, provider,
		    "Model Not Found Error, HTTP 404%s%s", sep, text);
	else if (status == 429 && is_quota(err)) {
		res->err = ERR_PROVIDER_QUOTA_EXCEEDED;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
		    err_table[ERR_PROVIDER_QUOTA_EXCEEDED].message);
	} else if (status == 429)
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Rate Limit Error, HTTP 429%s%s", sep, text);
	else if (status >= 500 && status <= 599)
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Server Unavailable Error, HTTP %ld%s%s", status, sep,
		    text);
	else if (status >= 400 && status <= 499)
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Bad Request Error, HTTP %ld%s%s", status, sep, text);
	else
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: unexpected HTTP %ld from the provider", status);
	json_object_put(o);
}
