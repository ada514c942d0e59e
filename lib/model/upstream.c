/*
 * upstream.c: model providers.  Chat completions against any
 * OpenAI-compatible server over libcurl, blocking or streamed, and the
 * built-in offline demo model.  What the provider sends back is parsed
 * by upstream_sse.c; this file builds the request, runs the transfer and
 * turns transport faults into Dify errors (table in upstream.h).
 *
 * Provider settings come from config_get and never leave this file: the
 * key goes to curl and nowhere else, and every message is scrubbed of it
 * before it is logged or returned.  Prompts are never logged.
 *
 * Each thread keeps one curl multi handle and one easy handle, made on
 * first use and freed when the thread ends, so connections to a provider
 * stay open between requests.  The transfer runs on the multi interface
 * polled every TICK_MS: while no bytes arrive, libcurl calls its
 * progress (xferinfo) callback only about once a second (measured with
 * 7.88), too seldom to see a stop request within 100 ms, so the loop
 * itself calls on_tick and enforces the first-byte, idle and total
 * deadlines.
 * Mirrors Dify's model runtime (openai_api_compatible/llm/llm.py).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "model/model.h"

#define TICK_MS			50	/* poll period; on_tick every 50+ ms */
#define PROVIDER_NAME_MAX	64
#define URL_MAX			4096
#define BODY_MAX		(16 * 1024 * 1024)	/* blocking answer */
#define STREAM_MAX		(64 * 1024 * 1024)	/* a whole stream */
#define ERROR_BODY_MAX		(64 * 1024)	/* what we keep of an error */
#define STOP_WORDS_MAX		16
#define OFFLINE_ECHO_MAX	200	/* bytes of the user's message echoed */
#define OFFLINE_PAUSE_MS	15

struct provider {
	const char	*base_url;
	const char	*api_key;	/* NULL: none sent (local servers) */
	const char	*model;		/* NULL: the app's model */
};

/* What the transfer callbacks share. */
struct xfer {
	const struct llm_request	*rq;
	struct llm_result		*res;
	CURL				*h;
	struct upstream_sse		 sse;
	struct buf			 body;	/* JSON answer or error reply */
	enum { X_NONE, X_STREAM, X_BODY, X_ERROR } kind;
	enum { H_NONE, H_STOP, H_FAIL }	 halt;
	long				 status;
	size_t				 received;
	double				 t0;
	double				 t_last;	/* last byte */
	double				 t_tick;	/* last on_tick */
	int				 got_bytes;
};

struct curl_tls {
	CURLM	*multi;
	CURL	*easy;
};

static pthread_once_t		 once = PTHREAD_ONCE_INIT;
static pthread_key_t		 tls_key;
static int			 global_ok;
static __thread struct curl_tls	*tls;

static void
fail(struct llm_result *res, enum err e, const char *provider,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct llm_result *res, enum err e, const char *provider,
    const char *fmt, ...)
{
	va_list	ap;
	int	n;

	res->err = e;
	n = snprintf(res->errmsg, sizeof(res->errmsg), "[%s] ", provider);
	if (n < 0 || (size_t)n >= sizeof(res->errmsg))
		return;
	va_start(ap, fmt);
	vsnprintf(res->errmsg + n, sizeof(res->errmsg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Replace every copy of "key" in "s" by "***". */
static void
scrub(char *s, const char *key)
{
	size_t	 klen, rest;
	char	*at;

	if (key == NULL)
		return;
	klen = strlen(key);
	if (klen < 3)
		return;	/* too short to be a secret, too likely to be text */
	while ((at = strstr(s, key)) != NULL) {
		rest = strlen(at + klen);
		memcpy(at, "***", 3);
		memmove(at + 3, at + klen, rest + 1);
	}
}

/* ---- provider configuration ---- */

/* config_get("DIFYCGI_PROVIDER_<NAME>_<what>"), "" counting as unset. */
static const char *
provider_var(const char *name, size_t len, const char *what)
{
	char		 var[128];
	const char	*v;
	size_t		 i, n;

	n = (size_t)snprintf(var, sizeof(var), "DIFYCGI_PROVIDER_");
	for (i = 0; i < len && n + 1 < sizeof(var); i++) {
		if (name[i] >= 'a' && name[i] <= 'z')
			var[n++] = (char)(name[i] - 'a' + 'A');
		else if ((name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9'))
			var[n++] = name[i];
		else
			var[n++] = '_';
	}
	if (snprintf(var + n, sizeof(var) - n, "_%s", what) < 0)
		return NULL;
	v = config_get(var);
	return v != NULL && *v != '\0' ? v : NULL;
}

static int
provider_lookup(const char *name, size_t len, struct provider *pv)
{
	pv->base_url = provider_var(name, len, "BASE_URL");
	if (pv->base_url == NULL)
		return -1;
	pv->api_key = provider_var(name, len, "API_KEY");
	pv->model = provider_var(name, len, "MODEL");
	return 0;
}

/* Find a provider by name, or "org/plugin/provider" by its last part. */
static int
provider_find(const char *name, struct provider *pv)
{
	const char	*last;
	size_t		 len;

	if (name == NULL)
		return -1;
	len = strlen(name);
	if (len == 0 || len > PROVIDER_NAME_MAX)
		return -1;
	if (provider_lookup(name, len, pv) == 0)
		return 0;
	last = strrchr(name, '/');
	if (last != NULL && last[1] != '\0')
		return provider_lookup(last + 1, strlen(last + 1), pv);
	return -1;
}

int
upstream_provider_get(const char *name, struct upstream_provider *out)
{
	struct provider	pv;

	if (provider_find(name, &pv) == -1)
		return -1;
	out->base_url = pv.base_url;
	out->api_key = pv.api_key;
	return 0;
}

const char *
upstream_provider_var(const char *name, const char *what)
{
	struct provider	 pv;
	const char	*last;

	if (name == NULL || strlen(name) == 0 ||
	    strlen(name) > PROVIDER_NAME_MAX)
		return NULL;
	if (provider_lookup(name, strlen(name), &pv) == 0)
		return provider_var(name, strlen(name), what);
	last = strrchr(name, '/');
	if (last != NULL && last[1] != '\0' &&
	    provider_lookup(last + 1, strlen(last + 1), &pv) == 0)
		return provider_var(last + 1, strlen(last + 1), what);
	return NULL;
}

void
upstream_scrub(char *s, const char *key)
{
	scrub(s, key);
}

/*
 * A model config that names no provider (Dify's own test DSLs leave it
 * empty) uses DIFYCGI_DEFAULT_PROVIDER, when set.
 */
static const char *
provider_name(const char *name)
{
	if (name == NULL || *name == '\0')
		return config_get("DIFYCGI_DEFAULT_PROVIDER");
	return name;
}

int
upstream_known(const char *provider)
{
	struct provider	pv;

	provider = provider_name(provider);
	if (provider != NULL && strcmp(provider, "offline") == 0)
		return 1;
	return provider_find(provider, &pv) == 0;
}

/* ---- the request body ---- */

static void
add_number(json_object *o, json_object *params, const char *key)
{
	json_object	*v = json_get(params, key);

	if (v != NULL && (json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		json_object_object_add(o, key, json_object_get(v));
}

static void
add_max_tokens(json_object *o, json_object *params)
{
	json_object	*v = json_get(params, "max_tokens");
	double		 d;

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) > 0)
		json_object_object_add(o, "max_tokens", json_object_get(v));
	else if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (d >= 1 && d <= 1e9 && d == (double)(int64_t)d)
			json_object_object_add(o, "max_tokens",
			    json_object_new_int64((int64_t)d));
	}
}

static void
add_stop(json_object *o, json_object *params)
{
	json_object	*v = json_get(params, "stop"), *arr, *s;
	size_t		 i, n;

	if (v == NULL)
		return;
	if (json_object_is_type(v, json_type_string)) {
		if (json_object_get_string_len(v) > 0)
			json_object_object_add(o, "stop", json_object_get(v));
		return;
	}
	if (!json_object_is_type(v, json_type_array))
		return;
	arr = json_object_new_array();
	n = json_object_array_length(v);
	for (i = 0; i < n && json_object_array_length(arr) < STOP_WORDS_MAX;
	    i++) {
		s = json_object_array_get_idx(v, i);
		if (json_object_is_type(s, json_type_string) &&
		    json_object_get_string_len(s) > 0)
			json_object_array_add(arr, json_object_get(s));
	}
	if (json_object_array_length(arr) > 0)
		json_object_object_add(o, "stop", arr);
	else
		json_object_put(arr);
}

static json_object *
message_json(const struct llm_msg *m)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "role",
	    json_object_new_string(m->role != NULL ? m->role : "user"));
	if (m->parts != NULL)
		json_object_object_add(o, "content", json_object_get(m->parts));
	else if (m->content != NULL)
		json_object_object_add(o, "content",
		    json_object_new_string(m->content));
	else
		json_object_object_add(o, "content", NULL);
	if (m->tool_calls != NULL)
		json_object_object_add(o, "tool_calls",
		    json_object_get(m->tool_calls));
	if (m->tool_call_id != NULL)
		json_object_object_add(o, "tool_call_id",
		    json_object_new_string(m->tool_call_id));
	return o;
}

/*
 * The chat.completions body.  Borrowed objects (content parts, tool
 * calls, tools, parameter values) are shared by reference count: they
 * belong to this request's thread.
 */
static json_object *
request_json(const struct llm_request *rq, const char *model)
{
	json_object	*o = json_object_new_object(), *msgs, *so;
	int		 i;

	json_object_object_add(o, "model", json_object_new_string(model));
	msgs = json_object_new_array();
	for (i = 0; i < rq->nmsgs; i++)
		json_object_array_add(msgs, message_json(&rq->msgs[i]));
	json_object_object_add(o, "messages", msgs);
	add_number(o, rq->params, "temperature");
	add_number(o, rq->params, "top_p");
	add_number(o, rq->params, "presence_penalty");
	add_number(o, rq->params, "frequency_penalty");
	add_max_tokens(o, rq->params);
	add_stop(o, rq->params);
	if (rq->tools != NULL && json_object_is_type(rq->tools,
	    json_type_array) && json_object_array_length(rq->tools) > 0)
		json_object_object_add(o, "tools", json_object_get(rq->tools));
	json_object_object_add(o, "stream",
	    json_object_new_boolean(rq->stream != 0));
	if (rq->stream) {
		so = json_object_new_object();
		json_object_object_add(so, "include_usage",
		    json_object_new_boolean(1));
		json_object_object_add(o, "stream_options", so);
	}
	return o;
}

/* ---- curl, one set of handles per thread ---- */

static void
tls_free(void *arg)
{
	struct curl_tls	*t = arg;

	curl_easy_cleanup(t->easy);
	curl_multi_cleanup(t->multi);
	free(t);
}

static void
global_init(void)
{
	global_ok = curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK &&
	    pthread_key_create(&tls_key, tls_free) == 0;
}

int
upstream_curl_init(void)
{
	pthread_once(&once, global_init);
	return global_ok ? 0 : -1;
}

static struct curl_tls *
handles(void)
{
	struct curl_tls	*t;

	pthread_once(&once, global_init);
	if (!global_ok)
		return NULL;
	if (tls != NULL)
		return tls;
	t = xcalloc(1, sizeof(*t));
	t->multi = curl_multi_init();
	t->easy = curl_easy_init();
	if (t->multi == NULL || t->easy == NULL ||
	    pthread_setspecific(tls_key, t) != 0) {
		tls_free(t);
		return NULL;
	}
	tls = t;
	return t;
}

/* The first bytes of the body tell what kind of answer this is. */
static void
classify(struct xfer *x)
{
	const char	*ctype = NULL;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	curl_easy_getinfo(x->h, CURLINFO_CONTENT_TYPE, &ctype);
	if (x->status < 200 || x->status > 299) {
		x->kind = X_ERROR;
		buf_init(&x->body, ERROR_BODY_MAX);
	} else if (x->rq->stream && (ctype == NULL ||
	    strncasecmp(ctype, "application/json", 16) != 0))
		x->kind = X_STREAM;
	else {
		/* also a server that answers a stream request in one piece */
		x->kind = X_BODY;
		buf_init(&x->body, BODY_MAX);
	}
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;

	(void)p;
	x->got_bytes = 1;
	x->t_last = now_mono();
	return size * n;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, room;
	int		 rc;

	x->got_bytes = 1;
	x->t_last = now_mono();
	if (x->kind == X_NONE)
		classify(x);
	x->received += len;
	if (x->received > (x->kind == X_STREAM ? STREAM_MAX : BODY_MAX)) {
		fail(x->res, ERR_COMPLETION_REQUEST, x->rq->provider,
		    "Error: the provider's answer is larger than %d bytes",
		    x->kind == X_STREAM ? STREAM_MAX : BODY_MAX);
		x->halt = H_FAIL;
		return 0;
	}
	switch (x->kind) {
	case X_STREAM:
		rc = upstream_sse_feed(&x->sse, p, len);
		if (rc == 0)
			return len;
		x->halt = rc == 1 ? H_STOP : H_FAIL;
		return 0;
	case X_ERROR:
		/* the start of an error reply says enough */
		room = x->body.max - x->body.len;
		(void)buf_append(&x->body, p, len < room ? len : room);
		return len;
	default:
		if (buf_append(&x->body, p, len) == -1) {
			x->halt = H_FAIL;
			fail(x->res, ERR_COMPLETION_REQUEST, x->rq->provider,
			    "Error: the provider's answer is larger than %d "
			    "bytes", BODY_MAX);
			return 0;
		}
		return len;
	}
}

/* Called between polls: the stop callback and the deadlines. */
static int
watch(struct xfer *x)
{
	double	now = now_mono();

	if (x->rq->on_tick != NULL && (now - x->t_tick) * 1000 >= TICK_MS) {
		x->t_tick = now;
		if (x->rq->on_tick(x->rq->arg) == -1) {
			x->res->stopped = 1;
			x->halt = H_STOP;
			return -1;
		}
	}
	if (!x->got_bytes &&
	    (now - x->t0) * 1000 >= cfg->upstream_first_byte_ms)
		fail(x->res, ERR_COMPLETION_REQUEST, x->rq->provider,
		    "Connection Error, upstream timed out before the first "
		    "byte after %d ms", cfg->upstream_first_byte_ms);
	else if (x->got_bytes &&
	    (now - x->t_last) * 1000 >= cfg->upstream_idle_ms)
		fail(x->res, ERR_COMPLETION_REQUEST, x->rq->provider,
		    "Connection Error, upstream stalled: no data for %d ms",
		    cfg->upstream_idle_ms);
	else if ((now - x->t0) * 1000 >= cfg->upstream_total_ms)
		fail(x->res, ERR_COMPLETION_REQUEST, x->rq->provider,
		    "Connection Error, upstream timed out after %d ms in total",
		    cfg->upstream_total_ms);
	else
		return 0;
	x->halt = H_FAIL;
	return -1;
}

/*
 * Run the transfer on the thread's multi handle until it ends or is
 * halted.  Returns curl's result (CURLE_OK when halted by us first).
 */
static CURLcode
transfer(struct curl_tls *t, struct xfer *x)
{
	CURLMsg		*msg;
	CURLMcode	 mc;
	CURLcode	 cc = CURLE_OK;
	int		 running = 1, left;

	if (curl_multi_add_handle(t->multi, x->h) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (x->halt == H_NONE) {
		mc = curl_multi_perform(t->multi, &running);
		if (mc != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
		if (x->halt != H_NONE || running == 0)
			break;
		if (watch(x) == -1)
			break;
		mc = curl_multi_poll(t->multi, NULL, 0, TICK_MS, NULL);
		if (mc != CURLM_OK) {
			cc = CURLE_FAILED_INIT;
			break;
		}
	}
	while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == x->h)
			cc = msg->data.result;
	curl_multi_remove_handle(t->multi, x->h);
	return cc;
}

/* A transport failure, in Dify's words (InvokeConnectionError). */
static void
curl_fail(struct xfer *x, CURLcode cc)
{
	const char	*p = x->rq->provider;
	long		 oserr = 0;
	curl_off_t	 connected = 0;

	curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(x->h, CURLINFO_CONNECT_TIME_T, &connected);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, connection refused");
		else
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, could not connect to the "
			    "provider");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		fail(x->res, ERR_COMPLETION_REQUEST, p,
		    "Connection Error, could not resolve the provider's host");
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (connected == 0 && !x->got_bytes)
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, could not connect within %d ms",
			    cfg->upstream_connect_ms);
		else
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, upstream timed out after %d ms "
			    "in total", cfg->upstream_total_ms);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		fail(x->res, ERR_COMPLETION_REQUEST, p,
		    "Connection Error, TLS failure: %s",
		    curl_easy_strerror(cc));
		break;
	default:
		if (x->got_bytes)
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, the connection to the provider "
			    "was lost mid-answer: %s", curl_easy_strerror(cc));
		else
			fail(x->res, ERR_COMPLETION_REQUEST, p,
			    "Connection Error, the provider did not answer: %s",
			    curl_easy_strerror(cc));
		break;
	}
}

static int
setup(struct xfer *x, const struct provider *pv, const char *url,
    const struct buf *body, struct curl_slist *hdrs, char *errbuf)
{
	CURL	*h = x->h;
	int	 bad = 0;

	curl_easy_reset(h);
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
#else
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
	bad |= curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->p) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)body->len) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
	if (pv->api_key != NULL) {
		/* curl makes the Authorization header; we never hold it */
		bad |= curl_easy_setopt(h, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BEARER) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER,
		    pv->api_key) != CURLE_OK;
	}
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "difycgi/" DIFYCGI_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->upstream_connect_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)cfg->upstream_total_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) !=
	    CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
	return bad ? -1 : 0;
}

/* After the transfer: what it means. */
static int
outcome(struct xfer *x, CURLcode cc)
{
	const struct llm_request	*rq = x->rq;
	struct llm_result		*res = x->res;

	if (x->halt == H_STOP)
		return 1;
	if (x->halt == H_FAIL)
		return -1;
	if (x->kind == X_NONE) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status != 0 && (x->status < 200 || x->status > 299))
			x->kind = X_ERROR;
	}
	if (x->kind == X_ERROR) {
		upstream_http_error(res, rq->provider, x->status, x->body.p,
		    x->body.len);
		return -1;
	}
	if (cc != CURLE_OK) {
		curl_fail(x, cc);
		return -1;
	}
	if (x->kind == X_BODY || (x->kind == X_NONE && !rq->stream)) {
		if (upstream_parse_answer(res, rq->provider, x->body.p,
		    x->body.len) == -1)
			return -1;
		if (!rq->stream || res->text.len == 0)
			return 0;
		res->first_token_s = now_mono() - x->t0;
		if (rq->on_delta != NULL &&
		    rq->on_delta(rq->arg, res->text.p, res->text.len) == -1) {
			res->stopped = 1;
			return 1;
		}
		return 0;
	}
	return upstream_sse_finish(&x->sse);
}

static int
http_chat(const struct llm_request *rq, const struct provider *pv,
    const char *model, struct llm_result *res)
{
	struct curl_tls		*t;
	struct curl_slist	*hdrs = NULL, *h;
	struct xfer		 x;
	struct buf		 url, body;
	json_object		*o = NULL;
	char			 errbuf[CURL_ERROR_SIZE] = "";
	size_t			 n;
	int			 rc = -1;
	CURLcode		 cc;

	memset(&x, 0, sizeof(x));
	x.rq = rq;
	x.res = res;
	x.t0 = x.t_tick = now_mono();
	upstream_sse_init(&x.sse, rq, res, UPSTREAM_LINE_MAX);
	buf_init(&x.body, BODY_MAX);
	buf_init(&url, URL_MAX);
	buf_init(&body, BODY_MAX);

	n = strlen(pv->base_url);
	while (n > 0 && pv->base_url[n - 1] == '/')
		n--;
	if (buf_printf(&url, "%.*s/chat/completions", (int)n,
	    pv->base_url) == -1) {
		fail(res, ERR_PROVIDER_NOT_INITIALIZE, rq->provider,
		    "Error: the provider's base URL is too long");
		goto out;
	}
	o = request_json(rq, model);
	if (buf_puts(&body, json_compact(o)) == -1) {
		fail(res, ERR_COMPLETION_REQUEST, rq->provider,
		    "Error: the prompt is larger than %d bytes", BODY_MAX);
		goto out;
	}
	t = handles();
	if (t == NULL) {
		log_error("upstream: cannot set up libcurl");
		fail(res, ERR_COMPLETION_REQUEST, rq->provider,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	x.h = t->easy;
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	h = hdrs == NULL ? NULL : curl_slist_append(hdrs, rq->stream ?
	    "Accept: text/event-stream" : "Accept: application/json");
	if (h != NULL)
		h = curl_slist_append(hdrs, "Expect:");
	if (h == NULL || setup(&x, pv, buf_cstr(&url), &body, hdrs,
	    errbuf) == -1) {
		fail(res, ERR_COMPLETION_REQUEST, rq->provider,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	cc = transfer(t, &x);
	rc = outcome(&x, cc);
	if (rc == -1) {
		scrub(res->errmsg, pv->api_key);
		scrub(errbuf, pv->api_key);
		log_warn("upstream %s: %s after %.0f ms%s%s", rq->provider,
		    res->errmsg, (now_mono() - x.t0) * 1000,
		    errbuf[0] != '\0' ? "; curl: " : "", errbuf);
	}
out:
	if (x.h != NULL) {
		/* no pointers into this frame may outlive it */
		curl_easy_setopt(x.h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, NULL);
	}
	curl_slist_free_all(hdrs);
	json_object_put(o);
	upstream_sse_free(&x.sse);
	buf_free(&x.body);
	buf_free(&url);
	buf_free(&body);
	return rc;
}

/* ---- the offline demo model ---- */

/* The text of the last user message (content, or its first text part). */
static const char *
last_user_text(const struct llm_request *rq)
{
	const struct llm_msg	*m;
	json_object		*part;
	const char		*s;
	size_t			 i, n;
	int			 k;

	for (k = rq->nmsgs - 1; k >= 0; k--) {
		m = &rq->msgs[k];
		if (m->role == NULL || strcmp(m->role, "user") != 0)
			continue;
		if (m->content != NULL)
			return m->content;
		if (m->parts == NULL ||
		    !json_object_is_type(m->parts, json_type_array))
			continue;
		n = json_object_array_length(m->parts);
		for (i = 0; i < n; i++) {
			part = json_object_array_get_idx(m->parts, i);
			s = json_str(part, "type");
			if (s != NULL && strcmp(s, "text") == 0 &&
			    json_str(part, "text") != NULL)
				return json_str(part, "text");
		}
	}
	return "";
}

static void
offline_answer(const struct llm_request *rq, struct buf *b)
{
	const char	*said = last_user_text(rq);
	size_t		 n = strlen(said);
	int		 cut = 0;

	if (n > OFFLINE_ECHO_MAX) {
		n = OFFLINE_ECHO_MAX;
		while (n > 0 && ((unsigned char)said[n] & 0xc0) == 0x80)
			n--;	/* not inside a UTF-8 character */
		cut = 1;
	}
	buf_printf(b, "[offline demo model] No model provider is configured, "
	    "so this is a canned reply. You said: %.*s%s", (int)n, said,
	    cut ? "..." : "");
}

static void
pause_ms(int ms)
{
	struct timespec	ts = { 0, (long)ms * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Answer without a network, word by word when streaming, with the
 * callbacks honoured as on the real path.
 */
static int
offline_chat(const struct llm_request *rq, struct llm_result *res, double t0)
{
	struct buf	 ans;
	const char	*s, *e, *end;
	int		 rc = 0;

	buf_init(&ans, 4096);
	offline_answer(rq, &ans);
	s = buf_cstr(&ans);
	end = s + ans.len;
	while (s < end) {
		if (!rq->stream)
			e = end;
		else {
			e = memchr(s, ' ', (size_t)(end - s));
			e = e == NULL ? end : e + 1;
		}
		if (s != buf_cstr(&ans))
			pause_ms(OFFLINE_PAUSE_MS);
		if (rq->on_tick != NULL && rq->on_tick(rq->arg) == -1) {
			rc = 1;
			break;
		}
		buf_append(&res->text, s, (size_t)(e - s));	/* fits */
		if (rq->stream && res->first_token_s < 0)
			res->first_token_s = now_mono() - t0;
		if (rq->stream && rq->on_delta != NULL &&
		    rq->on_delta(rq->arg, s, (size_t)(e - s)) == -1) {
			rc = 1;
			break;
		}
		s = e;
	}
	if (rc == 1)
		res->stopped = 1;
	else
		snprintf(res->finish_reason, sizeof(res->finish_reason),
		    "stop");
	buf_free(&ans);
	return rc;
}

/* ---- the entry point ---- */

static void
estimate_usage(const struct llm_request *rq, struct llm_result *res)
{
	long long	 prompt = 0;
	int		 i;

	if (res->usage_known)
		return;
	for (i = 0; i < rq->nmsgs; i++)
		prompt += upstream_estimate_tokens(rq->msgs[i].content);
	res->prompt_tokens = prompt > 1000000000 ? 1000000000 : (int)prompt;
	res->completion_tokens = upstream_estimate_tokens(buf_cstr(&res->text));
}

int
upstream_chat(const struct llm_request *rq, struct llm_result *res)
{
	struct provider	 pv;
	const char	*model, *name = provider_name(rq->provider);
	double		 t0 = now_mono();
	int		 rc;

	if (name != NULL && strcmp(name, "offline") == 0)
		rc = offline_chat(rq, res, t0);
	else if (provider_find(name, &pv) == -1) {
		log_warn("upstream: provider \"%s\" is not configured (no "
		    "DIFYCGI_PROVIDER_<NAME>_BASE_URL)",
		    rq->provider != NULL ? rq->provider : "");
		res->err = ERR_PROVIDER_NOT_INITIALIZE;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
		    err_table[ERR_PROVIDER_NOT_INITIALIZE].message);
		rc = -1;
	} else {
		model = pv.model != NULL ? pv.model : rq->model;
		if (model == NULL || *model == '\0') {
			fail(res, ERR_MODEL_NOT_SUPPORT, rq->provider,
			    "Error: no model is configured");
			rc = -1;
		} else
			rc = http_chat(rq, &pv, model, res);
	}
	estimate_usage(rq, res);
	res->latency_s = now_mono() - t0;
	return rc;
}
