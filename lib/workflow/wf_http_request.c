/*
 * wf_nodes_http.c: the http-request node (spec workflow.md 5.7).  Mirrors
 * Dify's core/workflow/nodes/http_request (entities.py, executor.py,
 * node.py): the request is built from the node's data and the variable
 * pool without any I/O (http_build, unit tested), then sent with libcurl
 * under the rules files_fetch_url keeps for remote files: every hop's URL
 * passes files_url_check, every socket's address is checked again as it
 * opens (so DNS rebinding cannot reach a private address), redirects are
 * followed by hand, no proxy.  The engine's stop flag and time limit are
 * polled every 100 ms while the transfer runs.
 *
 * Server limits, seconds and bytes, as Dify names them:
 *   DIFYCGI_HTTP_REQUEST_MAX_CONNECT_TIMEOUT    10
 *   DIFYCGI_HTTP_REQUEST_MAX_READ_TIMEOUT       600
 *   DIFYCGI_HTTP_REQUEST_MAX_WRITE_TIMEOUT      600
 *   DIFYCGI_HTTP_REQUEST_NODE_MAX_TEXT_SIZE     1 MiB
 *   DIFYCGI_HTTP_REQUEST_NODE_MAX_BINARY_SIZE   10 MiB
 * A node's own timeouts apply when they are set and below these.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "workflow/workflow.h"

#define HTTP_REDIRECTS_MAX	10
#define HTTP_HEADERS_MAX	256
#define HTTP_BODY_MAX		(16 * 1024 * 1024)	/* request bodies */
#define HTTP_LOG_BODY_MAX	(1024 * 1024)
#define HTTP_RESP_HEADERS_MAX	(256 * 1024)
#define HTTP_TICK_MS		100
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

struct http_hdr {
	const char	*name;
	const char	*value;
};

/* A request as built from the node's data, strings from the run's pool. */
struct http_request {
	const char	*method;	/* upper case */
	const char	*url;		/* rendered, params added */
	const char	*body_type;
	struct http_hdr	 hdrs[HTTP_HEADERS_MAX];
	int		 nhdrs;
	struct buf	 body;		/* http_request_free */
	int		 has_body;
	const char	*auth_header;	/* its value is masked in the log */
	long		 connect_s, read_s, write_s;
	int		 ssl_verify;
};

static long long
limit_of(const char *name, long long dflt, long long max)
{
	const char	*v = config_get(name);
	long long	 n;

	if (v == NULL || *v == '\0' || parse_int(v, 1, max, &n) == -1)
		return dflt;
	return n;
}

static void
http_request_free(struct http_request *hr)
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

static int
find_hdr(const struct http_request *hr, const char *name)
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
	if ((i = find_hdr(hr, name)) >= 0) {
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
	if ((k = find_hdr(hr, "content-type")) >= 0)
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
	long	max = (long)limit_of(limit_name, dflt, 86400);
	long	v = (long)json_object_get_int64(json_get(t, key));

	return v <= 0 || v > max ? max : v;
}

/*
 * Build the request of an http-request node from its data and the pool
 * (Dify's Executor.__init__ and _assembling_headers).  "hr" is
 * initialised here; http_request_free() in every case.  WF_OK or WF_FAIL
 * with x->error set.
 */
static int
http_build(struct wf_engine *e, json_object *data, struct http_request *hr,
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
		    find_hdr(hr, "content-type") < 0 &&
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

/* ---- text ---- */

/* Append "n" bytes as UTF-8, each invalid byte as U+FFFD. */
static void
utf8_clean(struct buf *b, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, k, len;
	unsigned		 cp, min;

	while (i < n) {
		if (u[i] < 0x80) {
			for (k = i; k < n && u[k] < 0x80; k++)
				;
			buf_append(b, u + i, k - i);
			i = k;
			continue;
		}
		if ((u[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = u[i] & 0x1f;
			min = 0x80;
		} else if ((u[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = u[i] & 0x0f;
			min = 0x800;
		} else if ((u[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = u[i] & 0x07;
			min = 0x10000;
		} else
			len = 0;
		for (k = 1; len > 0 && k < len; k++) {
			if (i + k >= n || (u[i + k] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			cp = cp << 6 | (u[i + k] & 0x3f);
		}
		if (len == 0 || cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		buf_append(b, u + i, len);
		i += len;
	}
}

static void
latin1(struct buf *b, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i;
	char			 two[2];

	for (i = 0; i < n; i++) {
		if (u[i] < 0x80) {
			buf_append(b, u + i, 1);
			continue;
		}
		two[0] = (char)(0xc0 | u[i] >> 6);
		two[1] = (char)(0x80 | (u[i] & 0x3f));
		buf_append(b, two, 2);
	}
}

/* A parameter of a header value ("charset", "filename"), or NULL. */
static char *
header_param(struct pool *p, const char *value, const char *name)
{
	const char	*s = value, *v;
	size_t		 nl = strlen(name), n;

	while (s != NULL && (s = strchr(s, ';')) != NULL) {
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, name, nl) != 0 || s[nl] != '=')
			continue;
		v = s + nl + 1;
		if (*v == '"') {
			v++;
			n = strcspn(v, "\"");
		} else
			n = strcspn(v, "; \t");
		return pool_strndup(p, v, n);
	}
	return NULL;
}

/* The response body as text: its charset, else UTF-8 (httpx's default). */
static void
body_text(struct pool *p, const char *ctype, const char *s, size_t n,
    struct buf *out)
{
	const char	*cs;

	cs = ctype != NULL ? header_param(p, ctype, "charset") : NULL;

	if (cs != NULL && (strcasecmp(cs, "iso-8859-1") == 0 ||
	    strcasecmp(cs, "latin-1") == 0 || strcasecmp(cs, "latin1") == 0 ||
	    strcasecmp(cs, "windows-1252") == 0 ||
	    strcasecmp(cs, "cp1252") == 0))
		latin1(out, s, n);
	else
		utf8_clean(out, s, n);
}

/* %XX of RFC 5987's filename*=UTF-8''... */
static char *
pct_decode(struct pool *p, const char *s)
{
	char	*out = pool_strdup(p, s), *o = out;

	for (; *s != '\0'; s++) {
		if (*s == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char	h[3] = { s[1], s[2], '\0' };

			*o++ = (char)strtol(h, NULL, 16);
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* The filename of a Content-Disposition value, or NULL. */
static char *
disposition_filename(struct pool *p, const char *cd)
{
	char	*f;

	if (cd == NULL)
		return NULL;
	f = header_param(p, cd, "filename*");
	if (f != NULL && strncasecmp(f, "utf-8''", 7) == 0)
		return pct_decode(p, f + 7);
	return header_param(p, cd, "filename");
}

/*
 * Whether a response is a file (Dify's Response.is_file): an attachment
 * or a filename in Content-Disposition; else by the type: text never,
 * application unless JSON, XML, JavaScript, form, YAML or GraphQL, or
 * its first bytes are UTF-8 text with JSON, markup or script in them;
 * images, audio and video always.
 */
static int
is_file(struct pool *p, const char *ctype, const char *cd, const char *body,
    size_t len)
{
	static const char *const text_apps[] = { "json", "xml", "javascript",
	    "x-www-form-urlencoded", "yaml", "graphql", NULL };
	static const char *const markers[] = { "{", "[", "<", "function",
	    "var ", "const ", "let ", NULL };
	char		*ct;
	size_t		 i, n;
	int		 k;

	if (cd != NULL) {
		n = strcspn(cd, "; \t");
		if ((n == 10 && strncasecmp(cd, "attachment", 10) == 0) ||
		    disposition_filename(p, cd) != NULL)
			return 1;
	}
	ct = pool_strndup(p, ctype != NULL ? ctype : "", ctype != NULL ?
	    strcspn(ctype, "; \t") : 0);
	for (i = 0; ct[i] != '\0'; i++)
		ct[i] = (char)tolower((unsigned char)ct[i]);
	if (strncmp(ct, "text/", 5) == 0)
		return 0;
	if (strncmp(ct, "application/", 12) == 0) {
		for (k = 0; text_apps[k] != NULL; k++)
			if (strstr(ct, text_apps[k]) != NULL)
				return 0;
		n = len < 1024 ? len : 1024;
		/* a character cut at the end of the sample is still text */
		while (n > 0 && n < len && n > len - 3 &&
		    ((unsigned char)body[n] & 0xc0) == 0x80)
			n--;
		if (!utf8_valid(body, n))
			return 1;
		for (k = 0; markers[k] != NULL; k++)
			if (memmem(body, n, markers[k], strlen(markers[k])) !=
			    NULL)
				return 0;
		return 1;
	}
	return strncmp(ct, "image/", 6) == 0 || strncmp(ct, "audio/", 6) ==
	    0 || strncmp(ct, "video/", 6) == 0;
}

/* ---- the log of the request (process_data.request) ---- */

static char *
http_log(struct pool *p, const struct http_request *hr)
{
	const char	*u = hr->url, *s, *path;
	struct buf	 b;
	char		*out;
	size_t		 n;
	int		 i;

	buf_init(&b, HTTP_LOG_BODY_MAX * 2);
	s = strstr(u, "://");
	s = s != NULL ? s + 3 : u;
	n = strcspn(s, "/?");
	path = s + n;
	buf_printf(&b, "%s %s%s HTTP/1.1\r\nHost: %.*s\r\n", hr->method,
	    *path == '/' ? "" : "/", path, (int)n, s);
	for (i = 0; i < hr->nhdrs; i++) {
		if (hr->auth_header != NULL && strcasecmp(hr->hdrs[i].name,
		    hr->auth_header) == 0) {
			buf_printf(&b, "%s: ", hr->hdrs[i].name);
			for (n = strlen(hr->hdrs[i].value); n > 0; n--)
				buf_puts(&b, "*");
			buf_puts(&b, "\r\n");
			continue;
		}
		buf_printf(&b, "%s: %s\r\n", hr->hdrs[i].name,
		    hr->hdrs[i].value);
	}
	if (hr->body.len > 0)
		buf_printf(&b, "Content-Length: %zu\r\n", hr->body.len);
	buf_puts(&b, "\r\n");
	utf8_clean(&b, hr->body.p ? hr->body.p : "", hr->body.len <
	    HTTP_LOG_BODY_MAX ? hr->body.len : HTTP_LOG_BODY_MAX);
	out = pool_strndup(p, b.p ? b.p : "", b.len);
	buf_free(&b);
	return out;
}

/* ---- sending it ---- */

struct http_response {
	long		 status;
	json_object	*headers;	/* {lower-case name: value}, owned */
	struct buf	 body;
	const char	*url;		/* of the last hop */
};

struct xfer {
	struct http_response	*rs;
	size_t			 hdr_bytes;
	int			 too_big;
	int			 blocked;
	curl_off_t		 dl, ul;
};

/* Each connection's address must be one files_url_check allows. */
static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer		*xf = arg;
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	char			 addr[INET6_ADDRSTRLEN];
	char			 url[INET6_ADDRSTRLEN + 16], err[256];
	const char		*ok = NULL;

	(void)purpose;
	/* copied out: curl's storage is larger than its struct sockaddr */
	if (a->family == AF_INET && a->addrlen >= sizeof(s4)) {
		memcpy(&s4, &a->addr, sizeof(s4));
		ok = inet_ntop(AF_INET, &s4.sin_addr, addr, sizeof(addr));
	} else if (a->family == AF_INET6 && a->addrlen >= sizeof(s6)) {
		memcpy(&s6, &a->addr, sizeof(s6));
		ok = inet_ntop(AF_INET6, &s6.sin6_addr, addr, sizeof(addr));
	}
	if (ok == NULL) {
		xf->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	snprintf(url, sizeof(url), a->family == AF_INET6 ? "http://[%s]/" :
	    "http://%s/", addr);
	if (files_url_check(url, err, sizeof(err)) == -1) {
		xf->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*xf = arg;
	size_t		 len = size * n, k, vl;
	const char	*old;
	char		*name;
	struct buf	 v;

	xf->hdr_bytes += len;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): its headers only */
		json_object_put(xf->rs->headers);
		xf->rs->headers = json_object_new_object();
		return len;
	}
	if (xf->hdr_bytes > HTTP_RESP_HEADERS_MAX)
		return len;
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	for (k = 0; k < len && p[k] != ':'; k++)
		;
	if (k == 0 || k == len)
		return size * n;
	name = xmalloc(k + 1);
	for (vl = 0; vl < k; vl++)
		name[vl] = (char)tolower((unsigned char)p[vl]);
	name[k] = '\0';
	k++;
	while (k < len && (p[k] == ' ' || p[k] == '\t'))
		k++;
	vl = len - k;
	while (vl > 0 && (p[k + vl - 1] == ' ' || p[k + vl - 1] == '\t'))
		vl--;
	buf_init(&v, HTTP_RESP_HEADERS_MAX);
	old = json_str(xf->rs->headers, name);
	if (old != NULL) {
		buf_puts(&v, old);
		buf_puts(&v, ", ");
	}
	if (utf8_valid(p + k, vl))
		buf_append(&v, p + k, vl);
	else
		latin1(&v, p + k, vl);
	json_object_object_add(xf->rs->headers, name,
	    json_object_new_string_len(v.p ? v.p : "", (int)v.len));
	buf_free(&v);
	free(name);
	return size * n;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*xf = arg;

	if (buf_append(&xf->rs->body, p, size * n) == -1) {
		xf->too_big = 1;
		return 0;
	}
	return size * n;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer	*xf = arg;

	(void)dltotal;
	(void)ultotal;
	xf->dl = dlnow;
	xf->ul = ulnow;
	return 0;
}

enum { HOP_OK, HOP_FAIL, HOP_ABORT };

/* One request on its own handles, the engine polled meanwhile. */
static int
hop(struct wf_engine *e, const struct http_request *hr, const char *url,
    const char *method, int with_body, int with_auth,
    struct http_response *rs, struct wf_exec *x)
{
	struct curl_slist	*hl = NULL;
	struct xfer		 xf;
	CURLM			*m = NULL;
	CURL			*h = NULL;
	CURLMsg			*msg;
	CURLcode		 cc = CURLE_OK;
	curl_off_t		 dl = -1, ul = -1, connected;
	double			 t_last = now_mono(), now, limit;
	char			*line;
	int			 i, running = 1, left, bad = 0, rc = HOP_FAIL;

	memset(&xf, 0, sizeof(xf));
	xf.rs = rs;
	json_object_put(rs->headers);
	rs->headers = json_object_new_object();
	rs->body.len = 0;
	for (i = 0; i < hr->nhdrs; i++) {
		if (!with_auth && hr->auth_header != NULL &&
		    strcasecmp(hr->hdrs[i].name, hr->auth_header) == 0)
			continue;
		if (!with_body && strcasecmp(hr->hdrs[i].name,
		    "content-type") == 0)
			continue;
		line = *hr->hdrs[i].value == '\0' ? pool_printf(e->r->p,
		    "%s;", hr->hdrs[i].name) : pool_printf(e->r->p, "%s: %s",
		    hr->hdrs[i].name, hr->hdrs[i].value);
		hl = curl_slist_append(hl, line);
	}
	/* no Expect: 100-continue; no type curl would make up for a body */
	hl = curl_slist_append(hl, "Expect:");
	if (with_body && find_hdr(hr, "content-type") < 0)
		hl = curl_slist_append(hl, "Content-Type:");
	if (upstream_curl_init() == -1 || hl == NULL ||
	    (m = curl_multi_init()) == NULL || (h = curl_easy_init()) == NULL) {
		wf_fail(x, "HttpRequestNodeError", "cannot set up the HTTP "
		    "client");
		goto out;
	}
	bad |= curl_easy_setopt(h, CURLOPT_URL, url);
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	bad |= curl_easy_setopt(h, CURLOPT_PROXY, "");
	bad |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	bad |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &xf);
	bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, &xf);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &xf);
	bad |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	bad |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, &xf);
	bad |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)rs->body.max);
	bad |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "difycgi/" DIFYCGI_VERSION);
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    hr->connect_s * 1000);
	if (!hr->ssl_verify) {
		bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(method, "HEAD") == 0)
		bad |= curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") == 0 && !with_body)
		bad |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else {
		if (with_body || strcmp(method, "POST") == 0 ||
		    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") ==
		    0) {
			bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)(with_body ? hr->body.len : 0));
			bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS,
			    with_body && hr->body.p ? hr->body.p : "");
		}
		bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	if (bad || curl_multi_add_handle(m, h) != CURLM_OK) {
		wf_fail(x, "HttpRequestNodeError", "cannot set up the HTTP "
		    "client");
		goto out;
	}
	for (;;) {
		if (curl_multi_perform(m, &running) != CURLM_OK) {
			wf_fail(x, "HttpRequestNodeError", "the HTTP client "
			    "failed");
			goto out;
		}
		if (running == 0)
			break;
		if (wf_engine_tick(e) == -1) {
			rc = HOP_ABORT;
			goto out;
		}
		/* read and write timeouts: the longest wait for a byte */
		now = now_mono();
		connected = 0;
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		if (connected == 0 || xf.dl != dl || xf.ul != ul) {
			dl = xf.dl;
			ul = xf.ul;
			t_last = now;
		}
		limit = with_body && (size_t)xf.ul < hr->body.len ?
		    (double)hr->write_s : (double)hr->read_s;
		if (now - t_last >= limit) {
			wf_fail(x, "HttpRequestNodeError", "Request to %s timed "
			    "out: no data for %.0f s (%s timeout)", url, limit,
			    with_body && (size_t)xf.ul < hr->body.len ?
			    "write" : "read");
			goto out;
		}
		if (curl_multi_poll(m, NULL, 0, HTTP_TICK_MS, NULL) !=
		    CURLM_OK) {
			wf_fail(x, "HttpRequestNodeError", "the HTTP client "
			    "failed");
			goto out;
		}
	}
	while ((msg = curl_multi_info_read(m, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
			cc = msg->data.result;
	if (xf.blocked) {
		wf_fail(x, "HttpRequestNodeError", "Request to %s failed: it "
		    "connects to a loopback, private, link-local or reserved "
		    "address; such URLs are not fetched", url);
		goto out;
	}
	if (xf.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		wf_fail(x, "ResponseSizeError", "File size is too large, max "
		    "size is %.2f MB, but current size is larger.",
		    (double)rs->body.max / 1024 / 1024);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		wf_fail(x, "HttpRequestNodeError", "Request to %s timed out: "
		    "no connection within %ld s (connect timeout)", url,
		    hr->connect_s);
		goto out;
	}
	if (cc != CURLE_OK) {
		wf_fail(x, "HttpRequestNodeError", "Request to %s failed: %s",
		    url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
	rc = HOP_OK;
out:
	if (m != NULL && h != NULL)
		curl_multi_remove_handle(m, h);
	curl_easy_cleanup(h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hl);
	return rc;
}

/* scheme://host:port of a URL, to tell whether a redirect leaves it. */
static char *
origin(struct pool *p, const char *url)
{
	CURLU	*u = curl_url();
	char	*s = NULL, *h = NULL, *pt = NULL, *o;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return pool_strdup(p, url);
	}
	curl_url_get(u, CURLUPART_SCHEME, &s, 0);
	curl_url_get(u, CURLUPART_HOST, &h, 0);
	curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT);
	o = pool_printf(p, "%s://%s:%s", s ? s : "", h ? h : "", pt ? pt : "");
	curl_free(s);
	curl_free(h);
	curl_free(pt);
	curl_url_cleanup(u);
	return o;
}

/*
 * Send the request, following redirects as httpx does: 303 (and 301/302
 * after a POST) become a GET without body, credentials are not sent to
 * another origin.  HOP_OK with "rs" filled, HOP_FAIL or HOP_ABORT.
 */
static int
http_send(struct wf_engine *e, const struct http_request *hr,
    struct http_response *rs, struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	const char	*url = hr->url, *method = hr->method, *first;
	char		 err[512], *loc;
	int		 n, rc, with_body = hr->has_body, with_auth = 1;

	first = origin(p, hr->url);
	for (n = 0; ; n++) {
		if (n > HTTP_REDIRECTS_MAX) {
			wf_fail(x, "HttpRequestNodeError", "Exceeded maximum "
			    "allowed redirects.");
			return HOP_FAIL;
		}
		if (files_url_check(url, err, sizeof(err)) == -1) {
			wf_fail(x, "HttpRequestNodeError", "Request to %s "
			    "failed: %s", url, err);
			return HOP_FAIL;
		}
		rc = hop(e, hr, url, method, with_body, with_auth, rs, x);
		if (rc != HOP_OK)
			return rc;
		rs->url = url;
		if (rs->status != 301 && rs->status != 302 && rs->status !=
		    303 && rs->status != 307 && rs->status != 308)
			return HOP_OK;
		loc = (char *)json_str(rs->headers, "location");
		if (loc == NULL)
			return HOP_OK;
		/* resolve it against the URL it came from */
		{
			CURLU	*u = curl_url();
			char	*abs = NULL;

			if (u == NULL || curl_url_set(u, CURLUPART_URL, url,
			    0) != CURLUE_OK || curl_url_set(u, CURLUPART_URL,
			    loc, CURLU_URLENCODE) != CURLUE_OK ||
			    curl_url_get(u, CURLUPART_URL, &abs, 0) !=
			    CURLUE_OK) {
				curl_url_cleanup(u);
				wf_fail(x, "HttpRequestNodeError", "Invalid "
				    "redirect location: %s", loc);
				return HOP_FAIL;
			}
			url = pool_strdup(p, abs);
			curl_free(abs);
			curl_url_cleanup(u);
		}
		if ((rs->status == 303 && strcmp(method, "HEAD") != 0) ||
		    ((rs->status == 301 || rs->status == 302) &&
		    strcmp(method, "POST") == 0)) {
			method = "GET";
			with_body = 0;
		}
		if (strcmp(origin(p, url), first) != 0)
			with_auth = 0;
	}
}

/* ---- response files ---- */

static const char *
mime_of_name(const char *name)
{
	static const struct {
		const char	*ext;
		const char	*mime;
	} map[] = {
		{ "png", "image/png" }, { "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" }, { "gif", "image/gif" },
		{ "webp", "image/webp" }, { "svg", "image/svg+xml" },
		{ "pdf", "application/pdf" }, { "txt", "text/plain" },
		{ "csv", "text/csv" }, { "json", "application/json" },
		{ "mp3", "audio/mpeg" }, { "wav", "audio/x-wav" },
		{ "mp4", "video/mp4" }, { "zip", "application/zip" },
		{ "docx", "application/vnd.openxmlformats-officedocument."
		  "wordprocessingml.document" },
		{ "xlsx", "application/vnd.openxmlformats-officedocument."
		  "spreadsheetml.sheet" },
	};
	const char	*dot = name != NULL ? strrchr(name, '.') : NULL;
	size_t		 i;

	for (i = 0; dot != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(dot + 1, map[i].ext) == 0)
			return map[i].mime;
	return NULL;
}

static const char *
ext_of_mime(const char *mime)
{
	static const struct {
		const char	*mime;
		const char	*ext;
	} map[] = {
		{ "image/png", ".png" }, { "image/jpeg", ".jpg" },
		{ "image/gif", ".gif" }, { "image/webp", ".webp" },
		{ "image/svg+xml", ".svg" }, { "application/pdf", ".pdf" },
		{ "audio/mpeg", ".mp3" }, { "video/mp4", ".mp4" },
		{ "application/zip", ".zip" },
	};
	size_t	i;

	for (i = 0; mime != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strncasecmp(mime, map[i].mime, strlen(map[i].mime)) == 0)
			return map[i].ext;
	return ".bin";
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Store a response that is a file as Dify stores tool files: under the
 * app's files, recorded for the end user, given as a file object with
 * transfer_method tool_file.  NULL when there is no storage (unit tests)
 * or it fails (logged).
 */
static json_object *
store_file(struct wf_run *r, const struct http_response *rs,
    const char *ctype, const char *cd)
{
	struct upload_file	 uf;
	struct pool		*p = r->p;
	json_object		*o;
	char			 id[UUID_LEN + 1], rel[256], path[4096];
	char			 tmp[4200], hash[65];
	const char		*name, *mime, *slash, *ext;
	enum file_type		 ft;
	int			 fd;

	if (r->db == NULL || cfg == NULL || cfg->data_dir == NULL ||
	    !uuid_valid(r->app_id))
		return NULL;
	name = disposition_filename(p, cd);
	mime = name != NULL ? mime_of_name(name) : NULL;
	if (mime == NULL && ctype != NULL && *ctype != '\0')
		mime = pool_strndup(p, ctype, strcspn(ctype, "; \t"));
	if (name == NULL || *name == '\0' || strchr(name, '/') != NULL) {
		slash = strrchr(rs->url, '/');
		name = pool_strndup(p, slash != NULL ? slash + 1 : "",
		    slash != NULL ? strcspn(slash + 1, "?#") : 0);
		if (mime == NULL)
			mime = mime_of_name(name);
		if (strchr(name, '.') == NULL)
			name = pool_printf(p, "%s%s", *name ? name : "file",
			    ext_of_mime(mime));
	}
	if (mime == NULL)
		mime = "application/octet-stream";
	uuid_new(id);
	snprintf(path, sizeof(path), "%s/files", cfg->data_dir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/files/%s", cfg->data_dir, r->app_id);
	(void)mkdir(path, 0700);
	snprintf(rel, sizeof(rel), "files/%s/%s", r->app_id, id);
	if (snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, rel) >=
	    (int)sizeof(path))
		return NULL;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1 || write_all(fd, rs->body.p ? rs->body.p : "",
	    rs->body.len) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		log_error("run %s: response file %s: %s", r->run_id, tmp,
		    strerror(errno));
		if (fd != -1)
			unlink(tmp);
		return NULL;
	}
	sha256_hex(rs->body.p ? rs->body.p : "", rs->body.len, hash);
	memset(&uf, 0, sizeof(uf));
	uf.id = id;
	uf.app_id = r->app_id;
	uf.end_user_id = r->end_user_id;
	uf.name = name;
	uf.size = (long long)rs->body.len;
	uf.extension = files_extension(p, name);
	uf.mime_type = mime;
	uf.storage_key = rel;
	uf.hash = hash;
	uf.created_at = now_s();
	if (db_upload_file_create(r->db, &uf) == -1) {
		unlink(path);
		return NULL;
	}
	ext = strrchr(name, '.');
	ft = files_type_of_extension(uf.extension);
	if (ft == FT_CUSTOM)
		ft = files_type_of_mime(mime);
	o = json_object_new_object();
	json_object_object_add(o, "dify_model_identity",
	    json_object_new_string("__dify__file__"));
	json_object_object_add(o, "id", NULL);
	json_object_object_add(o, "tenant_id", json_object_new_string(""));
	json_object_object_add(o, "type",
	    json_object_new_string(files_type_names[ft]));
	json_object_object_add(o, "transfer_method",
	    json_object_new_string("tool_file"));
	json_object_object_add(o, "remote_url", NULL);
	json_object_object_add(o, "related_id", json_object_new_string(id));
	json_object_object_add(o, "filename", json_object_new_string(name));
	json_object_object_add(o, "extension", ext != NULL ?
	    json_object_new_string(ext) : NULL);
	json_object_object_add(o, "mime_type", json_object_new_string(mime));
	json_object_object_add(o, "size",
	    json_object_new_int64((int64_t)rs->body.len));
	json_object_object_add(o, "url", NULL);
	return o;
}

static const char *
readable_size(struct pool *p, size_t n)
{
	if (n < 1024)
		return pool_printf(p, "%zu bytes", n);
	if (n < 1024 * 1024)
		return pool_printf(p, "%.2f KB", (double)n / 1024);
	return pool_printf(p, "%.2f MB", (double)n / 1024 / 1024);
}

/* Whether the node fails on a non-2xx status (Dify: a strategy or retry). */
static int
strict_status(json_object *data)
{
	const char	*s = json_str(data, "error_strategy");

	return (s != NULL && (strcmp(s, "default-value") == 0 ||
	    strcmp(s, "fail-branch") == 0)) ||
	    json_object_get_boolean(json_get(json_get(data, "retry_config"),
	    "retry_enabled"));
}

int
wf_run_http(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run		*r = e->r;
	struct http_request	 hr;
	struct http_response	 rs;
	json_object		*files;
	const char		*ctype, *cd;
	size_t			 text_max, file_max;
	struct buf		 text;
	int			 rc, file;

	text_max = (size_t)limit_of("DIFYCGI_HTTP_REQUEST_NODE_MAX_TEXT_SIZE",
	    1024 * 1024, 1024LL * 1024 * 1024);
	file_max = (size_t)limit_of(
	    "DIFYCGI_HTTP_REQUEST_NODE_MAX_BINARY_SIZE", 10 * 1024 * 1024,
	    1024LL * 1024 * 1024);
	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body, text_max > file_max ? text_max : file_max);
	x->process_data = json_object_new_object();
	if (http_build(e, n->data, &hr, x) == WF_FAIL) {
		http_request_free(&hr);
		buf_free(&rs.body);
		return WF_FAIL;
	}
	json_object_object_add(x->process_data, "request",
	    json_object_new_string(http_log(r->p, &hr)));
	rc = http_send(e, &hr, &rs, x);
	http_request_free(&hr);
	if (rc != HOP_OK) {
		json_object_put(rs.headers);
		buf_free(&rs.body);
		return rc == HOP_ABORT ? WF_ABORT : WF_FAIL;
	}
	ctype = json_str(rs.headers, "content-type");
	cd = json_str(rs.headers, "content-disposition");
	file = is_file(r->p, ctype, cd, rs.body.p ? rs.body.p : "",
	    rs.body.len);
	if (rs.body.len > (file ? file_max : text_max)) {
		wf_fail(x, "ResponseSizeError", "%s size is too large, max size "
		    "is %.2f MB, but current size is %s.", file ? "File" :
		    "Text", (double)(file ? file_max : text_max) / 1024 / 1024,
		    readable_size(r->p, rs.body.len));
		json_object_put(rs.headers);
		buf_free(&rs.body);
		return WF_FAIL;
	}
	files = json_object_new_array();
	if (file) {
		json_object	*f = store_file(r, &rs, ctype, cd);

		if (f != NULL)
			json_object_array_add(files, f);
	}
	buf_init(&text, text_max * 3 + 16);
	if (json_object_array_length(files) == 0)
		body_text(r->p, ctype, rs.body.p ? rs.body.p : "", rs.body.len,
		    &text);
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "status_code",
	    json_object_new_int((int)rs.status));
	json_object_object_add(x->outputs, "body",
	    json_object_new_string_len(text.p ? text.p : "", (int)text.len));
	json_object_object_add(x->outputs, "headers", rs.headers);
	json_object_object_add(x->outputs, "files", files);
	buf_free(&text);
	buf_free(&rs.body);
	if ((rs.status < 200 || rs.status > 299) && strict_status(n->data))
		return wf_fail(x, "HTTPResponseCodeError", "Request failed with "
		    "status code %ld", rs.status);
	return WF_OK;
}

/* ---- file bytes, shared with the document extractor ---- */

int
wf_file_bytes(struct wf_run *r, json_object *f, size_t max, struct buf *out,
    char *err, size_t errlen)
{
	struct upload_file	 uf;
	const char		*id = json_str(f, "related_id");
	const char		*url = json_str(f, "remote_url"), *tm;
	char			 path[4096], chunk[65536];
	struct stat		 st;
	ssize_t			 got;
	int			 fd, rc;

	tm = json_str(f, "transfer_method");
	if (id != NULL && *id != '\0' && (tm == NULL ||
	    strcmp(tm, "remote_url") != 0)) {
		if (r->db == NULL || cfg == NULL || cfg->data_dir == NULL) {
			snprintf(err, errlen, "no file storage here");
			return -1;
		}
		rc = db_upload_file_get(r->db, r->p, r->app_id,
		    r->end_user_id, id, &uf);
		if (rc != DB_OK) {
			snprintf(err, errlen, rc == DB_NOT_FOUND ? "the file "
			    "%s was not found" : "the file %s cannot be read",
			    id);
			return -1;
		}
		if ((long long)max < uf.size) {
			snprintf(err, errlen, "the file is larger than %zu "
			    "bytes", max);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->data_dir,
		    uf.storage_key);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1 || fstat(fd, &st) == -1 ||
		    (long long)st.st_size > (long long)max) {
			if (fd != -1)
				close(fd);
			snprintf(err, errlen, "the file %s cannot be read", id);
			return -1;
		}
		while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 || buf_append(out, chunk, (size_t)got) ==
			    -1) {
				close(fd);
				snprintf(err, errlen, "the file %s cannot be "
				    "read", id);
				return -1;
			}
		}
		close(fd);
		return 0;
	}
	if (url == NULL || *url == '\0')
		url = json_str(f, "url");
	if (url == NULL || *url == '\0') {
		snprintf(err, errlen, "the file has neither an upload id nor a "
		    "URL");
		return -1;
	}
	return files_fetch_url(url, max, out, err, errlen);
}
