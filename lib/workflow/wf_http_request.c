/*
 * wf_http_request.c: building the request of an http-request node (spec
 * workflow.md 5.7), without any I/O, so that unit tests see it whole.
 * Mirrors Dify's core/workflow/nodes/http_request (entities.py and
 * executor.py: Executor.__init__, _init_url, _init_params,
 * _init_headers, _init_body, _assembling_headers): the method and URL,
 * the params added to the URL, the headers, every body type (none,
 * raw-text, json, binary, x-www-form-urlencoded, form-data) and the
 * api-key authorization, all rendered from the variable pool.  The
 * transfer is wf_http_send.c's; the response and the node's outputs are
 * wf_http_response.c's.
 *
 * Server limits, seconds, as Dify names them:
 *   DIFYCGI_HTTP_REQUEST_MAX_CONNECT_TIMEOUT    10
 *   DIFYCGI_HTTP_REQUEST_MAX_READ_TIMEOUT       600
 *   DIFYCGI_HTTP_REQUEST_MAX_WRITE_TIMEOUT      600
 * A node's own timeouts apply when they are set and below these.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

#define HTTP_BODY_MAX		(16 * 1024 * 1024)	/* request bodies */
#define FILE_READ_MAX		(16 * 1024 * 1024)

/* Dify's BODY_TYPE_TO_CONTENT_TYPE */
static const struct {
	const char	*type;
	const char	*ctype;
} body_ctypes[] = {
	{ "json", "application/json" },
	{ "x-www-form-urlencoded", "application/x-www-form-urlencoded" },
	{ "form-data", "multipart/form-data" },
	{ "raw-text", "text/plain" },
};

/*
 * The server limit "name" from the configuration: an integer in 1..max,
 * else "dflt".
 */
long long
wf_http_limit(const char *name, long long dflt, long long max)
{
	const char	*v = config_get(name);
	long long	 n;

	if (v == NULL || *v == '\0' || parse_int(v, 1, max, &n) == -1)
		return dflt;
	return n;
}

/* Release what wf_http_build() gave "hr" (not "hr" itself). */
void
wf_http_request_free(struct http_request *hr)
{
	buf_free(&hr->body);
}

/* ---- building the request ---- */

static const char *
render(struct wf_engine *e, const char *tpl)
{
	return wf_tmpl_render(e->r->p, e->pool, tpl != NULL ? tpl : "",
	    WF_TEXT, NULL);
}

static char *
trim(struct pool *p, const char *s, size_t n)
{
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return pool_strndup(p, s, n);
}

static int
token_char(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) !=
	    NULL);
}

/* The index of header "name" (any case) in "hr", or -1. */
int
wf_http_find_hdr(const struct http_request *hr, const char *name)
{
	int	i;

	for (i = 0; i < hr->nhdrs; i++)
		if (strcasecmp(hr->hdrs[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Set a header as a Python dict does (a name set twice keeps the last
 * value); names differing only in case are one header on the wire, so
 * they are one here too.
 */
static int
set_hdr(struct http_request *hr, const char *name, const char *value,
    struct wf_exec *x)
{
	const char	*c;
	int		 i;

	for (c = name; *c != '\0'; c++)
		if (!token_char((unsigned char)*c))
			return wf_fail(x, "HttpRequestNodeError",
			    "Invalid header name: %s", name);
	if (*name == '\0')
		return 0;
	for (c = value; *c != '\0'; c++)
		if (*c == '\r' || *c == '\n')
			return wf_fail(x, "HttpRequestNodeError",
			    "Invalid header value for %s", name);
	/* lengths are ours to compute */
	if (strcasecmp(name, "content-length") == 0 ||
	    strcasecmp(name, "transfer-encoding") == 0)
		return 0;
	if ((i = wf_http_find_hdr(hr, name)) >= 0) {
		hr->hdrs[i].name = name;
		hr->hdrs[i].value = value;
		return 0;
	}
	if (hr->nhdrs == HTTP_HEADERS_MAX)
		return wf_fail(x, "HttpRequestNodeError", "More than %d headers",
		    HTTP_HEADERS_MAX);
	hr->hdrs[hr->nhdrs].name = name;
	hr->hdrs[hr->nhdrs++].value = value;
	return 0;
}

/* The next line of "s" (\n, \r\n or \r ends it); NULL at the end. */
static const char *
next_line(const char **s, size_t *len)
{
	const char	*start = *s;
	size_t		 n;

	if (*start == '\0')
		return NULL;
	n = strcspn(start, "\r\n");
	*len = n;
	*s = start + n;
	if (**s == '\r')
		(*s)++;
	if (**s == '\n')
		(*s)++;
	return start;
}

/*
 * key:value pairs from "spec": a string of lines (Dify's form) or a list
 * of {key, value} items.  Each pair goes to fn.  Headers render the whole
 * text first (Dify's _init_headers); params render key and value apart.
 */
static int
pairs(struct wf_engine *e, json_object *spec, int render_parts,
    int (*fn)(void *, const char *, const char *, struct wf_exec *),
    void *arg, struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	const char	*s, *line, *colon, *key, *val;
	size_t		 len, i, n;

	if (json_object_is_type(spec, json_type_array)) {
		n = json_object_array_length(spec);
		for (i = 0; i < n; i++) {
			json_object	*it, *en;

			it = json_object_array_get_idx(spec, i);
			en = json_get(it, "enabled");

			if (en != NULL && !json_object_get_boolean(en))
				continue;
			key = render(e, json_str(it, "key"));
			key = trim(p, key, strlen(key));
			if (*key == '\0')
				continue;
			val = render(e, json_str(it, "value"));
			val = trim(p, val, strlen(val));
			if (fn(arg, key, val, x) == WF_FAIL)
				return WF_FAIL;
		}
		return WF_OK;
	}
	if (!json_object_is_type(spec, json_type_string))
		return WF_OK;
	s = json_object_get_string(spec);
	if (!render_parts)
		s = render(e, s);
	while ((line = next_line(&s, &len)) != NULL) {
		colon = memchr(line, ':', len);
		key = trim(p, line, colon != NULL ? (size_t)(colon - line) :
		    len);
		val = colon != NULL ? trim(p, colon + 1, len - (size_t)(colon +
		    1 - line)) : "";
		if (*key == '\0')
			continue;
		if (render_parts) {
			key = render(e, key);
			val = render(e, val);
		}
		if (fn(arg, key, val, x) == WF_FAIL)
			return WF_FAIL;
	}
	return WF_OK;
}

static int
add_header(void *arg, const char *k, const char *v, struct wf_exec *x)
{
	return set_hdr(arg, k, v, x) == WF_FAIL ? WF_FAIL : WF_OK;
}

/* Python's urllib.parse.quote_plus */
static void
quote_plus(struct buf *b, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	const unsigned char	*c;

	for (c = (const unsigned char *)s; *c != '\0'; c++) {
		if (isalnum(*c) || *c == '_' || *c == '.' || *c == '-' ||
		    *c == '~')
			buf_append(b, c, 1);
		else if (*c == ' ')
			buf_puts(b, "+");
		else
			buf_printf(b, "%%%c%c", hex[*c >> 4], hex[*c & 15]);
	}
}

static int
add_param(void *arg, const char *k, const char *v, struct wf_exec *x)
{
	struct buf	*q = arg;

	(void)x;
	if (q->len > 0)
		buf_puts(q, "&");
	quote_plus(q, k);
	buf_puts(q, "=");
	quote_plus(q, v);
	return WF_OK;
}

/*
 * The URL as sent: bytes a URL cannot hold (spaces, controls, non-ASCII)
 * percent-encoded as httpx does, the fragment dropped, params appended.
 */
static char *
final_url(struct pool *p, const char *url, const char *params)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*c;
	struct buf		 b;
	char			*out;

	buf_init(&b, 64 * 1024);
	for (c = (const unsigned char *)url; *c != '\0' && *c != '#'; c++) {
		if (*c <= ' ' || *c >= 0x7f || *c == '"' || *c == '<' ||
		    *c == '>' || *c == '\\' || *c == '^' || *c == '`' ||
		    *c == '{' || *c == '|' || *c == '}')
			buf_printf(&b, "%%%c%c", hex[*c >> 4], hex[*c & 15]);
		else
			buf_append(&b, c, 1);
	}
	if (params != NULL && *params != '\0') {
		const char	*s = buf_cstr(&b), *q = strchr(s, '?');

		if (q == NULL)
			buf_puts(&b, "?");
		else if (s[b.len - 1] != '?' && s[b.len - 1] != '&')
			buf_puts(&b, "&");
		buf_puts(&b, params);
	}
	out = pool_strndup(p, b.p ? b.p : "", b.len);
	buf_free(&b);
	return out;
}

void
wf_http_encodings(struct pool *p, const char *s, const char *out[2])
{
	struct buf	b;

	buf_init(&b, 4 * strlen(s) + 1);
	quote_plus(&b, s);
	out[0] = pool_strndup(p, b.p ? b.p : "", b.len);
	buf_free(&b);
	out[1] = final_url(p, s, NULL);
}

/* The padded base64 of "s" (libcrypto's encoder), from "p". */
static char *
base64(struct pool *p, const char *s)
{
	const unsigned char	*in = (const unsigned char *)s;
	size_t			 n = strlen(s), i, take, o = 0;
	char			*out = pool_alloc(p, (n + 2) / 3 * 4 + 1);

	out[0] = '\0';
	/* whole groups of 3 per call, so that the pieces join up */
	for (i = 0; i < n; i += take) {
		take = n - i < 3 * 4096 ? n - i : 3 * 4096;
		o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, in + i,
		    (int)take);
	}
	return out;
}

/* Dify's _assembling_headers: the api-key authorization header. */
static int
add_auth(struct wf_engine *e, json_object *auth, struct http_request *hr,
    struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	json_object	*cf = json_get(auth, "config");
	const char	*type = json_str(auth, "type"), *kt, *header, *key;
	const char	*value;

	if (type == NULL || strcmp(type, "api-key") != 0)
		return WF_OK;
	if (!json_object_is_type(cf, json_type_object))
		return wf_fail(x, "AuthorizationConfigError", "authorization "
		    "config is required");
	if (json_str(cf, "api_key") == NULL)
		return wf_fail(x, "AuthorizationConfigError", "api_key is "
		    "required");
	key = render(e, json_str(cf, "api_key"));
	header = json_str(cf, "header");
	if (header == NULL || *header == '\0')
		header = "Authorization";
	kt = json_str(cf, "type");
	if (kt == NULL)
		return WF_OK;
	if (strcmp(kt, "bearer") == 0)
		value = pool_printf(p, "Bearer %s", key);
	else if (strcmp(kt, "basic") == 0)
		value = pool_printf(p, "Basic %s", strchr(key, ':') != NULL ?
		    base64(p, key) : key);
	else if (strcmp(kt, "custom") == 0)
		value = key;
	else
		return WF_OK;
	hr->auth_header = header;
	return set_hdr(hr, header, value, x);
}

/* Dify's BodyData items: a string is one text item; null none. */
static json_object *
body_items(json_object *body, json_object **tmp)
{
	json_object	*d = json_get(body, "data"), *it;

	*tmp = NULL;
	if (json_object_is_type(d, json_type_array))
		return d;
	*tmp = json_object_new_array();
	if (json_object_is_type(d, json_type_string) &&
	    *json_object_get_string(d) != '\0') {
		it = json_object_new_object();
		json_object_object_add(it, "type",
		    json_object_new_string("text"));
		json_object_object_add(it, "key", json_object_new_string(""));
		json_object_object_add(it, "value", json_object_get(d));
		json_object_array_add(*tmp, it);
	}
	return *tmp;
}

/*
 * Lenient JSON: the text as it is, else without a code fence and without
 * commas before a closing bracket (what models and hand-written templates
 * get wrong most).  A new object, or NULL; *ok says whether it parsed.
 */
static json_object *
lenient_json(const char *s, int *ok)
{
	struct json_tokener	*tok;
	json_object		*o;
	struct buf		 b;
	const char		*p, *end;
	size_t			 n;
	int			 pass, in_str = 0, esc = 0;

	for (pass = 0; pass < 2; pass++) {
		buf_init(&b, strlen(s) + 1);
		if (pass == 0)
			buf_puts(&b, s);
		else {
			p = s;
			while (isspace((unsigned char)*p))
				p++;
			if (strncmp(p, "```", 3) == 0) {
				p += strcspn(p, "\n");
				end = strstr(p, "```");
				n = end != NULL ? (size_t)(end - p) : strlen(p);
			} else
				n = strlen(p);
			for (end = p + n; p < end; p++) {
				if (!in_str && *p == ',') {
					const char	*q = p + 1;

					while (q < end &&
					    isspace((unsigned char)*q))
						q++;
					if (q < end && (*q == '}' || *q == ']'))
						continue;
				}
				if (in_str && esc)
					esc = 0;
				else if (in_str && *p == '\\')
					esc = 1;
				else if (*p == '"')
					in_str = !in_str;
				buf_append(&b, p, 1);
			}
		}
		tok = json_tokener_new_ex(JSON_MAX_DEPTH);
		o = json_tokener_parse_ex(tok, buf_cstr(&b), (int)b.len);
		*ok = json_tokener_get_error(tok) == json_tokener_success;
		if (*ok) {
			p = buf_cstr(&b) + json_tokener_get_parse_end(tok);
			while (isspace((unsigned char)*p))
				p++;
			if (*p != '\0')
				*ok = 0;
		}
		json_tokener_free(tok);
		buf_free(&b);
		if (*ok)
			return o;
		json_object_put(o);
	}
	return NULL;
}

/* A file value from the pool: a file, or the files of an array. */
static int
selector_files(struct wf_engine *e, json_object *sel, json_object **out)
{
	json_object	*v;

	*out = NULL;
	if (!wf_pool_get_sel(e->pool, sel, &v) || v == NULL)
		return 0;
	*out = v;
	return 1;
}

static void
multipart_text(struct buf *b, const char *boundary, const char *key,
    const char *value)
{
	buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\""
	    "\r\n\r\n%s\r\n", boundary, key, value);
}

static int
multipart_file(struct buf *b, const char *boundary, const char *key,
    const char *filename, const char *mime, const char *data, size_t len)
{
	buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
	    "filename=\"%s\"\r\nContent-Type: %s\r\n\r\n", boundary, key,
	    filename, mime);
	if (buf_append(b, data, len) == -1)
		return -1;
	return buf_puts(b, "\r\n");
}

/* A multipart name or filename: quotes and line breaks escaped. */
static const char *
form_name(struct pool *p, const char *s)
{
	struct buf	 b;
	const char	*out;

	buf_init(&b, 64 * 1024);
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"')
			buf_puts(&b, "%22");
		else if (*s == '\r')
			buf_puts(&b, "%0D");
		else if (*s == '\n')
			buf_puts(&b, "%0A");
		else
			buf_append(&b, s, 1);
	}
	out = pool_strndup(p, b.p ? b.p : "", b.len);
	buf_free(&b);
	return out;
}

static int
form_data(struct wf_engine *e, json_object *items, struct http_request *hr,
    struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	json_object	*fields = json_object_new_object(), *it, *v, *f;
	char		 boundary[64], rnd[16], err[512];
	size_t		 i, n = json_object_array_length(items), j, m;
	int		 nfiles = 0, rc = WF_FAIL, k;
	struct buf	 data;

	random_bytes(rnd, sizeof(rnd));
	j = (size_t)snprintf(boundary, sizeof(boundary),
	    "----DifyFormBoundary");
	for (i = 0; i < sizeof(rnd); i++)
		boundary[j + i] = "abcdefghijklmnopqrstuvwxyz012345"[
		    (unsigned char)rnd[i] & 31];
	boundary[j + sizeof(rnd)] = '\0';
	/* text fields first, as a dict: a key given twice keeps the last */
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if (json_str(it, "type") != NULL && strcmp(json_str(it,
		    "type"), "file") == 0)
			continue;
		json_object_object_add(fields, render(e, json_str(it, "key")),
		    json_object_new_string(render(e, json_str(it, "value"))));
	}
	json_object_object_foreach(fields, key, val)
		multipart_text(&hr->body, boundary, form_name(p, key),
		    json_object_get_string(val));
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if (json_str(it, "type") == NULL || strcmp(json_str(it,
		    "type"), "file") != 0)
			continue;
		if (!selector_files(e, json_get(it, "file"), &v))
			continue;
		m = json_object_is_type(v, json_type_array) ?
		    json_object_array_length(v) : 1;
		for (j = 0; j < m; j++) {
			f = json_object_is_type(v, json_type_array) ?
			    json_object_array_get_idx(v, j) : v;
			/* Dify sends the files it stores, not remote ones */
			if (!wf_is_file(f) || json_str(f, "related_id") ==
			    NULL)
				continue;
			buf_init(&data, FILE_READ_MAX);
			if (wf_file_bytes(e->r, f, FILE_READ_MAX, &data, err,
			    sizeof(err)) == -1) {
				buf_free(&data);
				wf_fail(x, "FileFetchError", "cannot fetch file "
				    "%s: %s", json_str(f, "filename") ?
				    json_str(f, "filename") : "", err);
				goto out;
			}
			if (multipart_file(&hr->body, boundary, form_name(p,
			    render(e, json_str(it, "key"))), form_name(p,
			    json_str(f, "filename")), json_str(f, "mime_type") ?
			    json_str(f, "mime_type") : "application/"
			    "octet-stream", data.p ? data.p : "", data.len) ==
			    -1) {
				buf_free(&data);
				wf_fail(x, "RequestBodyError", "The request body "
				    "is larger than %d bytes", HTTP_BODY_MAX);
				goto out;
			}
			buf_free(&data);
			nfiles++;
		}
	}
	/* httpx sends multipart only with a file: Dify adds a placeholder */
	if (nfiles == 0)
		multipart_file(&hr->body, boundary, "__multipart_placeholder__",
		    "", "application/octet-stream", "", 0);
	buf_printf(&hr->body, "--%s--\r\n", boundary);
	hr->has_body = 1;
	/* ours, with the boundary, whatever the headers said */
	if ((k = wf_http_find_hdr(hr, "content-type")) >= 0)
		hr->hdrs[k] = hr->hdrs[--hr->nhdrs];
	rc = set_hdr(hr, "Content-Type", pool_printf(p, "multipart/form-data; "
	    "boundary=%s", boundary), x);
out:
	json_object_put(fields);
	return rc;
}

static int
init_body(struct wf_engine *e, json_object *body, struct http_request *hr,
    struct wf_exec *x)
{
	json_object	*tmp, *items, *it, *o, *v;
	const char	*type = json_str(body, "type"), *text;
	char		 err[512];
	size_t		 i, n;
	int		 ok, rc = WF_OK;

	hr->body_type = type != NULL ? type : "none";
	if (body == NULL || type == NULL || strcmp(type, "none") == 0)
		return WF_OK;
	items = body_items(body, &tmp);
	n = json_object_array_length(items);
	if (strcmp(type, "raw-text") == 0 || strcmp(type, "json") == 0 ||
	    strcmp(type, "binary") == 0) {
		if (n != 1) {
			rc = wf_fail(x, "RequestBodyError", "%s body type should "
			    "have exactly one item", type);
			goto out;
		}
		it = json_object_array_get_idx(items, 0);
	} else
		it = NULL;
	if (strcmp(type, "raw-text") == 0) {
		buf_puts(&hr->body, render(e, json_str(it, "value")));
		hr->has_body = 1;
	} else if (strcmp(type, "json") == 0) {
		text = render(e, json_str(it, "value"));
		/* an empty template sends no body */
		for (i = 0; isspace((unsigned char)text[i]); i++)
			;
		if (text[i] == '\0')
			goto out;
		o = lenient_json(text, &ok);
		if (!ok) {
			rc = wf_fail(x, "RequestBodyError", "Failed to parse "
			    "JSON: %s", text);
			goto out;
		}
		buf_puts(&hr->body, o == NULL ? "null" :
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		hr->has_body = 1;
	} else if (strcmp(type, "binary") == 0) {
		if (!selector_files(e, json_get(it, "file"), &v) ||
		    !wf_is_file(v)) {
			rc = wf_fail(x, "FileFetchError", "cannot fetch file "
			    "with selector %s", json_compact(json_get(it,
			    "file")));
			goto out;
		}
		if (wf_file_bytes(e->r, v, HTTP_BODY_MAX, &hr->body, err,
		    sizeof(err)) == -1) {
			rc = wf_fail(x, "FileFetchError", "cannot fetch file "
			    "%s: %s", json_str(v, "filename") ?
			    json_str(v, "filename") : "", err);
			goto out;
		}
		hr->has_body = 1;
	} else if (strcmp(type, "x-www-form-urlencoded") == 0) {
		json_object	*form = json_object_new_object();

		for (i = 0; i < n; i++) {
			it = json_object_array_get_idx(items, i);
			json_object_object_add(form, render(e, json_str(it,
			    "key")), json_object_new_string(render(e,
			    json_str(it, "value"))));
		}
		json_object_object_foreach(form, k, val)
			add_param(&hr->body, k, json_object_get_string(val), x);
		json_object_put(form);
		hr->has_body = 1;
	} else if (strcmp(type, "form-data") == 0)
		rc = form_data(e, items, hr, x);
	else
		rc = wf_fail(x, "RequestBodyError", "Unsupported body type: %s",
		    type);
out:
	json_object_put(tmp);
	return rc;
}

/* Node timeouts: 0 or absent take the server's, which also cap them. */
static long
timeout_of(json_object *t, const char *key, const char *limit_name,
    long dflt)
{
	long	max = (long)wf_http_limit(limit_name, dflt, 86400);
	long	v = (long)json_object_get_int64(json_get(t, key));

	return v <= 0 || v > max ? max : v;
}

/*
 * Build the request of an http-request node from its data and the pool
 * (Dify's Executor.__init__ and _assembling_headers).  "hr" is
 * initialised here; wf_http_request_free() in every case.  WF_OK or WF_FAIL
 * with x->error set.
 */
int
wf_http_build(struct wf_engine *e, json_object *data, struct http_request *hr,
    struct wf_exec *x)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	    "DELETE", "PATCH", "OPTIONS", NULL };
	struct pool	*p = e->r->p;
	json_object	*tm = json_get(data, "timeout");
	const char	*m = json_str(data, "method"), *url;
	struct buf	 q;
	char		*um;
	size_t		 i;
	int		 k;

	memset(hr, 0, sizeof(*hr));
	buf_init(&hr->body, HTTP_BODY_MAX);
	um = pool_strdup(p, m != NULL ? m : "");
	for (i = 0; um[i] != '\0'; i++)
		um[i] = (char)toupper((unsigned char)um[i]);
	for (k = 0; methods[k] != NULL && strcmp(methods[k], um) != 0; k++)
		;
	if (methods[k] == NULL)
		return wf_fail(x, "InvalidHttpMethodError", "Invalid http method "
		    "%s", m != NULL ? m : "None");
	hr->method = methods[k];
	url = render(e, json_str(data, "url"));
	if (*url == '\0')
		return wf_fail(x, "InvalidURLError", "url is required");
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) !=
	    0)
		return wf_fail(x, "InvalidURLError", "url should start with "
		    "http:// or https://");
	buf_init(&q, 64 * 1024);
	k = pairs(e, json_get(data, "params"), 1, add_param, &q, x);
	hr->url = final_url(p, url, buf_cstr(&q));
	buf_free(&q);
	if (k == WF_FAIL ||
	    pairs(e, json_get(data, "headers"), 0, add_header, hr, x) ==
	    WF_FAIL ||
	    init_body(e, json_get(data, "body"), hr, x) == WF_FAIL ||
	    add_auth(e, json_get(data, "authorization"), hr, x) == WF_FAIL)
		return WF_FAIL;
	/* the default Content-Type of the body type, unless one is set */
	for (i = 0; i < sizeof(body_ctypes) / sizeof(body_ctypes[0]); i++)
		if (strcmp(body_ctypes[i].type, hr->body_type) == 0 &&
		    wf_http_find_hdr(hr, "content-type") < 0 &&
		    set_hdr(hr, "Content-Type", body_ctypes[i].ctype, x) ==
		    WF_FAIL)
			return WF_FAIL;
	hr->connect_s = timeout_of(tm, "connect",
	    "DIFYCGI_HTTP_REQUEST_MAX_CONNECT_TIMEOUT", 10);
	hr->read_s = timeout_of(tm, "read",
	    "DIFYCGI_HTTP_REQUEST_MAX_READ_TIMEOUT", 600);
	hr->write_s = timeout_of(tm, "write",
	    "DIFYCGI_HTTP_REQUEST_MAX_WRITE_TIMEOUT", 600);
	hr->ssl_verify = json_get(data, "ssl_verify") == NULL ||
	    json_object_get_boolean(json_get(data, "ssl_verify"));
	return WF_OK;
}
