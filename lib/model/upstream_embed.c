/*
 * upstream_embed.c: text embeddings and reranking through a model
 * provider: POST {base}/embeddings as OpenAI serves it, POST {base}/rerank
 * as Jina, Cohere and vLLM serve it, and the offline demo embedding.
 * Providers, their keys and the mapping of their errors to Dify's are
 * upstream.c's (table in model.h); the key goes to curl and nowhere
 * else, and every message is scrubbed of it before it is logged or
 * returned.  Texts are never logged.
 *
 * Mirrors Dify's text_embedding and rerank model runtimes
 * (openai_api_compatible, jina): texts go in batches of max_chunks, the
 * vectors come back in order, their usage is summed.  Unlike Dify we
 * retry a rate limit or a server error: indexing a document makes many
 * calls, and one 429 among them should not fail the whole document.
 * Each call takes a curl handle of its own, reused for its batches.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "model/model.h"

#define BATCH_DEFAULT		32	/* Dify's OpenAI embeddings */
#define BATCH_MAX		2048	/* OpenAI's limit of inputs */
#define ANSWER_MAX		(64 * 1024 * 1024) /* a batch's reply */
#define ERROR_BODY_MAX		(64 * 1024)
#define URL_MAX			4096
#define FLOATS_MAX		(64 * 1024 * 1024) /* 256 MiB */
#define ATTEMPTS_MAX		4	/* one try and three retries */
#define BACKOFF_MS		250	/* then 500, 1000 */

struct call {
	const char		*provider;
	struct upstream_provider pv;
	CURL			*h;
	long			 status;
	struct buf		 body;	/* JSON answer or error reply */
	int			 too_big;
	int			 requests;
	double			 deadline;	/* now_mono() seconds */
	enum err		 err;
	char			 errmsg[512];
};

static void
fail(struct call *c, enum err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct call *c, enum err e, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	c->err = e;
	n = snprintf(c->errmsg, sizeof(c->errmsg), "[%s] ", c->provider);
	if (n < 0 || (size_t)n >= sizeof(c->errmsg))
		return;
	va_start(ap, fmt);
	vsnprintf(c->errmsg + n, sizeof(c->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
}

void
embed_result_init(struct embed_result *res)
{
	memset(res, 0, sizeof(*res));
	res->err = ERR__MAX;
}

void
embed_result_free(struct embed_result *res)
{
	free(res->vec);
	res->vec = NULL;
}

void
rerank_result_init(struct rerank_result *res)
{
	memset(res, 0, sizeof(*res));
	res->err = ERR__MAX;
}

void
rerank_result_free(struct rerank_result *res)
{
	free(res->hits);
	res->hits = NULL;
}

/* ---- the offline demo model ---- */

static uint64_t
fnv1a(const unsigned char *p, size_t n)
{
	uint64_t	h = 14695981039346656037ULL;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void
upstream_offline_embed(const char *text, float out[UPSTREAM_OFFLINE_DIM])
{
	unsigned char	*s, ch;
	size_t		 i, n = 0, len = text != NULL ? strlen(text) : 0;
	uint64_t	 h;
	double		 sum = 0;

	memset(out, 0, sizeof(float) * UPSTREAM_OFFLINE_DIM);
	s = xmalloc(len + 3);
	s[n++] = ' ';	/* a word's first and last letters make trigrams */
	for (i = 0; i < len; i++) {
		ch = (unsigned char)text[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		else if (ch < 0x80 && !(ch >= 'a' && ch <= 'z') &&
		    !(ch >= '0' && ch <= '9'))
			ch = ' ';	/* UTF-8 bytes stay as they are */
		if (ch == ' ' && s[n - 1] == ' ')
			continue;
		s[n++] = ch;
	}
	if (s[n - 1] != ' ')
		s[n++] = ' ';
	for (i = 0; i + 3 <= n; i++) {
		h = fnv1a(s + i, 3);
		out[h % UPSTREAM_OFFLINE_DIM] += (h >> 32) & 1 ? 1.0f : -1.0f;
	}
	free(s);
	for (i = 0; i < UPSTREAM_OFFLINE_DIM; i++)
		sum += (double)out[i] * out[i];
	if (sum == 0) {
		out[0] = 1.0f;	/* no text: still a unit vector */
		return;
	}
	sum = sqrt(sum);
	for (i = 0; i < UPSTREAM_OFFLINE_DIM; i++)
		out[i] = (float)(out[i] / sum);
}

static int
offline_embed(const char *const *texts, int n, struct embed_result *res)
{
	int	i;

	res->vec = xcalloc((size_t)(n > 0 ? n : 1),
	    sizeof(float) * UPSTREAM_OFFLINE_DIM);
	res->n = n;
	res->dim = UPSTREAM_OFFLINE_DIM;
	for (i = 0; i < n; i++) {
		upstream_offline_embed(texts[i],
		    res->vec + (size_t)i * UPSTREAM_OFFLINE_DIM);
		res->tokens += upstream_estimate_tokens(texts[i]);
	}
	return 0;
}

/* ---- HTTP ---- */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call	*c = arg;
	size_t		 len = size * n, room;

	if (c->status == 0)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status < 200 || c->status > 299) {
		room = c->body.max - c->body.len;
		(void)buf_append(&c->body, p, len < room ? len : room);
		return len;
	}
	if (buf_append(&c->body, p, len) == -1) {
		c->too_big = 1;
		return 0;
	}
	return len;
}

static int
setup(struct call *c, const char *url, const struct buf *req,
    struct curl_slist *hdrs, long timeout_ms)
{
	CURL	*h = c->h;
	int	 bad = 0;

	curl_easy_reset(h);
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->p) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->len) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	if (c->pv.api_key != NULL) {
		/* curl makes the Authorization header; we never hold it */
		bad |= curl_easy_setopt(h, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BEARER) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER,
		    c->pv.api_key) != CURLE_OK;
	}
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "difycgi/" DIFYCGI_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->upstream_connect_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK;
	return bad ? -1 : 0;
}

/* A provider's error reply, in upstream_chat's words. */
static void
http_error(struct call *c)
{
	struct llm_result	r;

	llm_result_init(&r);
	upstream_http_error(&r, c->provider, c->status, c->body.p,
	    c->body.len);
	c->err = r.err;
	memcpy(c->errmsg, r.errmsg, sizeof(c->errmsg));
	llm_result_free(&r);
}

/*
 * One request.  Returns 0 with the answer in c->body, 1 after a fault
 * worth retrying (a rate limit, a server error, a lost connection), or
 * -1; c->err and c->errmsg are set on 1 and -1.
 */
static int
post_once(struct call *c, const char *url, const struct buf *req,
    struct curl_slist *hdrs)
{
	CURLcode	cc;
	long		left_ms;

	left_ms = (long)((c->deadline - now_mono()) * 1000);
	if (left_ms < 1)
		left_ms = 1;
	c->status = 0;
	c->too_big = 0;
	c->err = ERR__MAX;
	buf_free(&c->body);
	buf_init(&c->body, ANSWER_MAX);
	if (setup(c, url, req, hdrs, left_ms) == -1) {
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: cannot set up the HTTP client");
		return -1;
	}
	c->requests++;
	cc = curl_easy_perform(c->h);
	if (c->status == 0)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status != 0 && (c->status < 200 || c->status > 299)) {
		http_error(c);
		if (c->status >= 500 || (c->status == 429 &&
		    c->err == ERR_COMPLETION_REQUEST))
			return 1;
		return -1;
	}
	if (c->too_big) {
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: the provider's answer is too large");
		return -1;
	}
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		fail(c, ERR_COMPLETION_REQUEST, "Connection Error, upstream "
		    "timed out after %d ms in total", cfg->upstream_total_ms);
		return -1;
	case CURLE_COULDNT_CONNECT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		fail(c, ERR_COMPLETION_REQUEST, "Connection Error, %s",
		    curl_easy_strerror(cc));
		return 1;
	default:
		fail(c, ERR_COMPLETION_REQUEST, "Connection Error, %s",
		    curl_easy_strerror(cc));
		return -1;
	}
}

static void
pause_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * POST "o" to {base}{path}, retried with backoff while the deadline
 * allows.  Returns the parsed JSON answer (the caller's), or NULL with
 * c->err set.
 */
static json_object *
post(struct call *c, const char *path, json_object *o)
{
	struct curl_slist	*hdrs = NULL, *h;
	struct buf		 url, req;
	json_tokener		*tok;
	json_object		*ans = NULL;
	const char		*s;
	size_t			 n = strlen(c->pv.base_url);
	long			 delay = BACKOFF_MS;
	int			 i, rc = -1;

	while (n > 0 && c->pv.base_url[n - 1] == '/')
		n--;
	buf_init(&url, URL_MAX);
	buf_init(&req, SIZE_MAX);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (buf_printf(&url, "%.*s%s", (int)n, c->pv.base_url, path) == -1) {
		fail(c, ERR_PROVIDER_NOT_INITIALIZE,
		    "Error: the provider's base URL is too long");
		goto out;
	}
	h = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h == NULL || buf_puts(&req, s) == -1) {
		curl_slist_free_all(h);
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	hdrs = h;
	for (i = 0; i < ATTEMPTS_MAX; i++) {
		rc = post_once(c, buf_cstr(&url), &req, hdrs);
		if (rc != 1 || i + 1 == ATTEMPTS_MAX ||
		    now_mono() + delay / 1000.0 >= c->deadline)
			break;
		upstream_scrub(c->errmsg, c->pv.api_key);
		log_info("upstream %s: retrying in %ld ms: %s", c->provider,
		    delay, c->errmsg);
		pause_ms(delay);
		delay *= 2;
	}
	if (rc != 0)
		goto out;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	if (c->body.len > 0)
		ans = json_tokener_parse_ex(tok, c->body.p, (int)c->body.len);
	if (ans != NULL &&
	    json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(ans);
		ans = NULL;
	}
	json_tokener_free(tok);
	if (ans == NULL || !json_object_is_type(ans, json_type_object)) {
		json_object_put(ans);
		ans = NULL;
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: the provider's answer is not a JSON object");
	}
out:
	curl_slist_free_all(hdrs);
	buf_free(&url);
	buf_free(&req);
	return ans;
}

/* Find the provider and a curl handle: 0, or -1 with c->err set. */
static int
call_open(struct call *c, const char *provider, const char *model)
{
	memset(c, 0, sizeof(*c));
	c->provider = provider != NULL ? provider : "";
	c->err = ERR__MAX;
	c->deadline = now_mono() + cfg->upstream_total_ms / 1000.0;
	buf_init(&c->body, ANSWER_MAX);
	if (upstream_provider_get(provider, &c->pv) == -1) {
		log_warn("upstream: provider \"%s\" is not configured (no "
		    "DIFYCGI_PROVIDER_<NAME>_BASE_URL)", c->provider);
		c->err = ERR_PROVIDER_NOT_INITIALIZE;
		snprintf(c->errmsg, sizeof(c->errmsg), "%s",
		    err_table[ERR_PROVIDER_NOT_INITIALIZE].message);
		return -1;
	}
	if (model == NULL || *model == '\0') {
		fail(c, ERR_MODEL_NOT_SUPPORT, "Error: no model is configured");
		return -1;
	}
	if (upstream_curl_init() == -1 || (c->h = curl_easy_init()) == NULL) {
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: cannot set up the HTTP client");
		return -1;
	}
	return 0;
}

/* Log and hand back a failure; the key never leaves. */
static void
call_close(struct call *c, const char *what, enum err *err, char *msg,
    size_t msglen)
{
	if (c->err != ERR__MAX) {
		upstream_scrub(c->errmsg, c->pv.api_key);
		log_warn("upstream %s %s: %s", c->provider, what, c->errmsg);
		*err = c->err;
		snprintf(msg, msglen, "%s", c->errmsg);
	}
	curl_easy_cleanup(c->h);
	buf_free(&c->body);
}

/* A positive integer setting of the provider, or "dflt". */
static int
provider_int(const char *provider, const char *what, int dflt, int max)
{
	const char	*v = upstream_provider_var(provider, what);
	char		*end;
	long		 l;

	if (v == NULL)
		return dflt;
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || l < 1 || l > max) {
		log_warn("upstream %s: ignoring DIFYCGI_PROVIDER_..._%s=%s",
		    provider, what, v);
		return dflt;
	}
	return (int)l;
}

static int
usage_tokens(json_object *ans)
{
	json_object	*u = json_get(ans, "usage"), *t;
	int64_t		 v;

	t = json_get(u, "total_tokens");
	if (t == NULL)
		t = json_get(u, "prompt_tokens");
	if (t == NULL || !json_object_is_type(t, json_type_int))
		return -1;
	v = json_object_get_int64(t);
	return v < 0 || v > 1000000000 ? -1 : (int)v;
}

/* ---- embeddings ---- */

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/*
 * Decode base64 (padded or not) into "out" (room for len * 3 / 4
 * bytes).  Returns the bytes, or -1 when it is not base64.
 */
static long
b64_decode(const char *s, size_t len, unsigned char *out)
{
	uint32_t	acc = 0;
	size_t		i;
	long		n = 0;
	int		bits = 0, v;

	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		v = b64_value((unsigned char)s[i]);
		if (v == -1)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return n;
}

/*
 * One vector of the answer: a JSON array of numbers, or base64 of
 * little-endian float32s.  Into "row" (dim floats) when dim is known,
 * else into a new row whose length sets it.  Returns the floats, or -1.
 */
static long
vector_parse(json_object *e, float **row, int dim)
{
	unsigned char	*raw, *p;
	const char	*s;
	size_t		 len, i, n;
	uint32_t	 u;
	long		 got;
	float		*out;
	json_object	*x;

	if (json_object_is_type(e, json_type_array)) {
		n = json_object_array_length(e);
		if (n == 0 || n > UPSTREAM_EMBED_DIM_MAX ||
		    (dim > 0 && n != (size_t)dim))
			return n == 0 ? -1 : (long)n;
		out = *row != NULL ? *row : xcalloc(n, sizeof(float));
		for (i = 0; i < n; i++) {
			x = json_object_array_get_idx(e, i);
			if (!json_object_is_type(x, json_type_double) &&
			    !json_object_is_type(x, json_type_int))
				break;
			out[i] = (float)json_object_get_double(x);
		}
		*row = out;
		return i == n ? (long)n : -1;
	}
	if (!json_object_is_type(e, json_type_string))
		return -1;
	s = json_object_get_string(e);
	len = (size_t)json_object_get_string_len(e);
	if (len == 0 || len / 4 * 3 > UPSTREAM_EMBED_DIM_MAX * 4 + 3)
		return -1;
	raw = xmalloc(len / 4 * 3 + 3);
	got = b64_decode(s, len, raw);
	if (got <= 0 || got % 4 != 0 || (dim > 0 && got / 4 != dim)) {
		free(raw);
		return got > 0 && got % 4 == 0 ? got / 4 : -1;
	}
	n = (size_t)got / 4;
	out = *row != NULL ? *row : xcalloc(n, sizeof(float));
	for (i = 0, p = raw; i < n; i++, p += 4) {
		u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		memcpy(&out[i], &u, sizeof(u));
	}
	free(raw);
	*row = out;
	return (long)n;
}

/* The first vector of a call sets the dimension and makes res->vec. */
static int
first_vector(struct call *c, json_object *e, struct embed_result *res,
    size_t row)
{
	float	*v = NULL;
	long	 dim = vector_parse(e, &v, 0);

	if (dim < 1 || v == NULL) {
		free(v);
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: the provider's embedding is not a vector");
		return -1;
	}
	if ((size_t)res->n * (size_t)dim > FLOATS_MAX) {
		free(v);
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: %d embeddings of %ld dimensions are too many",
		    res->n, dim);
		return -1;
	}
	res->dim = (int)dim;
	res->vec = xcalloc((size_t)res->n, sizeof(float) * (size_t)dim);
	memcpy(res->vec + row * (size_t)dim, v, sizeof(float) * (size_t)dim);
	free(v);
	return 0;
}

/* Put one batch's answer at rows start..start+count. */
static int
embed_answer(struct call *c, json_object *ans, int start, int count,
    const char *const *texts, struct embed_result *res)
{
	json_object	*data = json_get(ans, "data"), *d, *e, *ix;
	char		*seen;
	float		*row;
	size_t		 i, n;
	int64_t		 k;
	long		 got;
	int		 tok, rc = -1;

	if (data == NULL || !json_object_is_type(data, json_type_array)) {
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: the provider's answer holds no embeddings");
		return -1;
	}
	n = json_object_array_length(data);
	if (n != (size_t)count) {
		fail(c, ERR_COMPLETION_REQUEST, "Error: the provider answered "
		    "%zu embeddings for %d texts", n, count);
		return -1;
	}
	seen = xcalloc((size_t)count, 1);
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(data, i);
		ix = json_get(d, "index");
		k = ix != NULL && json_object_is_type(ix, json_type_int) ?
		    json_object_get_int64(ix) : (int64_t)i;
		e = json_get(d, "embedding");
		if (k < 0 || k >= count || seen[k]) {
			fail(c, ERR_COMPLETION_REQUEST, "Error: the provider's "
			    "embeddings have a wrong or repeated index");
			goto out;
		}
		seen[k] = 1;
		if (res->vec == NULL) {
			if (first_vector(c, e, res, (size_t)(start + k)) == -1)
				goto out;
			continue;
		}
		row = res->vec + (size_t)(start + k) * (size_t)res->dim;
		got = vector_parse(e, &row, res->dim);
		if (got == res->dim)
			continue;
		if (got > 0)
			fail(c, ERR_COMPLETION_REQUEST, "Error: the provider's "
			    "embeddings differ in length (%d, then %ld "
			    "dimensions)", res->dim, got);
		else
			fail(c, ERR_COMPLETION_REQUEST,
			    "Error: the provider's embedding is not a vector");
		goto out;
	}
	tok = usage_tokens(ans);
	if (tok < 0)
		for (tok = 0, k = 0; k < count; k++)
			tok += upstream_estimate_tokens(texts[start + k]);
	res->tokens = res->tokens > INT32_MAX - tok ? INT32_MAX :
	    res->tokens + tok;
	rc = 0;
out:
	free(seen);
	return rc;
}

static json_object *
embed_request(const char *provider, const char *model,
    const char *const *texts, int count)
{
	json_object	*o = json_object_new_object(), *in;
	const char	*enc;
	int		 i, dims;

	json_object_object_add(o, "model", json_object_new_string(model));
	in = json_object_new_array();
	for (i = 0; i < count; i++)
		json_object_array_add(in, json_object_new_string(
		    texts[i] != NULL ? texts[i] : ""));
	json_object_object_add(o, "input", in);
	enc = upstream_provider_var(provider, "EMBED_ENCODING");
	json_object_object_add(o, "encoding_format", json_object_new_string(
	    enc != NULL && strcmp(enc, "base64") == 0 ? "base64" : "float"));
	dims = provider_int(provider, "EMBED_DIMENSIONS", 0,
	    UPSTREAM_EMBED_DIM_MAX);
	if (dims > 0)
		json_object_object_add(o, "dimensions",
		    json_object_new_int(dims));
	return o;
}

int
upstream_embed(const char *provider, const char *model,
    const char *const *texts, int n, struct embed_result *res)
{
	struct call	 c;
	json_object	*o, *ans;
	int		 batch, start, count, rc = -1;

	res->n = n = n > 0 ? n : 0;
	if (provider != NULL && strcmp(provider, "offline") == 0)
		return offline_embed(texts, n, res);
	if (call_open(&c, provider, model) == -1)
		goto out;
	if (n > UPSTREAM_EMBED_TEXTS_MAX) {
		fail(&c, ERR_COMPLETION_REQUEST, "Error: %d texts are too many "
		    "for one call", n);
		goto out;
	}
	batch = provider_int(provider, "EMBED_BATCH", BATCH_DEFAULT,
	    BATCH_MAX);
	for (start = 0; start < n; start += count) {
		count = n - start < batch ? n - start : batch;
		o = embed_request(provider, model, texts + start, count);
		ans = post(&c, "/embeddings", o);
		json_object_put(o);
		if (ans == NULL)
			goto out;
		rc = embed_answer(&c, ans, start, count, texts, res);
		json_object_put(ans);
		if (rc == -1)
			goto out;
	}
	rc = 0;
out:
	res->requests = c.requests;
	call_close(&c, "embeddings", &res->err, res->errmsg,
	    sizeof(res->errmsg));
	if (rc == -1) {
		free(res->vec);
		res->vec = NULL;
		res->dim = 0;
	}
	return rc;
}

/* ---- rerank ---- */

static int
hit_cmp(const void *a, const void *b)
{
	const struct rerank_hit	*x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Sort res->hits and keep the best top_n. */
static void
hits_finish(struct rerank_result *res, int top_n)
{
	qsort(res->hits, (size_t)res->nhits, sizeof(res->hits[0]), hit_cmp);
	if (top_n > 0 && res->nhits > top_n)
		res->nhits = top_n;
}

static int
offline_rerank(const char *query, const char *const *docs, int n,
    int top_n, struct rerank_result *res)
{
	float	q[UPSTREAM_OFFLINE_DIM], d[UPSTREAM_OFFLINE_DIM];
	double	dot;
	int	i, j;

	upstream_offline_embed(query, q);
	res->tokens = upstream_estimate_tokens(query);
	res->hits = xcalloc((size_t)(n > 0 ? n : 1), sizeof(res->hits[0]));
	for (i = 0; i < n; i++) {
		upstream_offline_embed(docs[i], d);
		for (dot = 0, j = 0; j < UPSTREAM_OFFLINE_DIM; j++)
			dot += (double)q[j] * d[j];
		res->hits[i].index = i;
		res->hits[i].score = dot;
		res->tokens += upstream_estimate_tokens(docs[i]);
	}
	res->nhits = n;
	hits_finish(res, top_n);
	return 0;
}

static int
rerank_answer(struct call *c, json_object *ans, int n,
    struct rerank_result *res)
{
	json_object	*results = json_get(ans, "results"), *r, *ix, *s;
	char		*seen;
	size_t		 i, m;
	int64_t		 k;

	if (results == NULL || !json_object_is_type(results,
	    json_type_array)) {
		fail(c, ERR_COMPLETION_REQUEST,
		    "Error: the provider's answer holds no results");
		return -1;
	}
	m = json_object_array_length(results);
	if (m > (size_t)n) {
		fail(c, ERR_COMPLETION_REQUEST, "Error: the provider answered "
		    "%zu results for %d documents", m, n);
		return -1;
	}
	res->hits = xcalloc(m > 0 ? m : 1, sizeof(res->hits[0]));
	seen = xcalloc((size_t)(n > 0 ? n : 1), 1);
	for (i = 0; i < m; i++) {
		r = json_object_array_get_idx(results, i);
		ix = json_get(r, "index");
		s = json_get(r, "relevance_score");
		if (s == NULL)
			s = json_get(r, "score");	/* TEI */
		k = ix != NULL && json_object_is_type(ix, json_type_int) ?
		    json_object_get_int64(ix) : -1;
		if (k < 0 || k >= n || seen[k] || s == NULL ||
		    (!json_object_is_type(s, json_type_double) &&
		    !json_object_is_type(s, json_type_int))) {
			free(seen);
			fail(c, ERR_COMPLETION_REQUEST, "Error: the provider's "
			    "result %zu has no valid index and score", i);
			return -1;
		}
		seen[k] = 1;
		res->hits[i].index = (int)k;
		res->hits[i].score = json_object_get_double(s);
	}
	free(seen);
	res->nhits = (int)m;
	return 0;
}

int
upstream_rerank(const char *provider, const char *model,
    const char *query, const char *const *docs, int n, int top_n,
    struct rerank_result *res)
{
	struct call	 c;
	json_object	*o, *arr, *ans;
	int		 i, tok, rc = -1;

	n = n > 0 ? n : 0;
	if (provider != NULL && strcmp(provider, "offline") == 0)
		return offline_rerank(query, docs, n, top_n, res);
	if (call_open(&c, provider, model) == -1)
		goto out;
	if (n > UPSTREAM_EMBED_TEXTS_MAX) {
		fail(&c, ERR_COMPLETION_REQUEST, "Error: %d documents are too "
		    "many for one call", n);
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "model", json_object_new_string(model));
	json_object_object_add(o, "query",
	    json_object_new_string(query != NULL ? query : ""));
	arr = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(
		    docs[i] != NULL ? docs[i] : ""));
	json_object_object_add(o, "documents", arr);
	if (top_n > 0 && n > 0)
		json_object_object_add(o, "top_n", json_object_new_int(
		    top_n < n ? top_n : n));
	json_object_object_add(o, "return_documents",
	    json_object_new_boolean(0));
	ans = post(&c, "/rerank", o);
	json_object_put(o);
	if (ans == NULL)
		goto out;
	rc = rerank_answer(&c, ans, n, res);
	tok = usage_tokens(ans);
	if (tok < 0)
		for (tok = upstream_estimate_tokens(query), i = 0; i < n; i++)
			tok += upstream_estimate_tokens(docs[i]);
	res->tokens = tok;
	json_object_put(ans);
	if (rc == 0)
		hits_finish(res, top_n);
out:
	res->requests = c.requests;
	call_close(&c, "rerank", &res->err, res->errmsg,
	    sizeof(res->errmsg));
	if (rc == -1) {
		free(res->hits);
		res->hits = NULL;
		res->nhits = 0;
	}
	return rc;
}
