/*
 * req.c: the request side of one exchange: CGI/FastCGI parameters, the
 * API path derived in one place for every web server, the query string,
 * and the body read under a size limit and parsed as JSON.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

const char *
req_env(struct req *rq, const char *name)
{
	size_t	 n = strlen(name);
	char	**e;

	for (e = rq->io.envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

const char *
req_param(struct req *rq, const char *name)
{
	int	i;

	for (i = 0; i < rq->nparams; i++)
		if (strcmp(rq->params[i].key, name) == 0)
			return rq->params[i].val;
	return NULL;
}


/*
 * Decode %XX and '+' of a query component into the pool; "*nul" is set
 * when a %00 made the result shorter than it is.
 */
static char *
urldecode(struct pool *p, const char *s, size_t n, int *nul)
{
	char	*d = pool_alloc(p, n + 1), *o = d;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%' && i + 2 < n &&
		    hex_digit((unsigned char)s[i + 1]) >= 0 &&
		    hex_digit((unsigned char)s[i + 2]) >= 0) {
			*o = (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
			    hex_digit((unsigned char)s[i + 2]));
			if (*o++ == '\0')
				*nul = 1;
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return d;
}

static void
parse_query(struct req *rq)
{
	const char	*s = rq->query, *amp, *eq;
	int		 nul;

	rq->qs_parsed = 1;
	while (s != NULL && *s != '\0' && rq->nqs < QUERY_MAX_PAIRS) {
		amp = strchr(s, '&');
		if (amp == NULL)
			amp = s + strlen(s);
		eq = memchr(s, '=', (size_t)(amp - s));
		if (amp > s) {
			struct kv	*kv = &rq->qs[rq->nqs];

			nul = 0;
			if (eq == NULL) {
				kv->key = urldecode(&rq->pool, s,
				    (size_t)(amp - s), &nul);
				kv->val = "";
			} else {
				kv->key = urldecode(&rq->pool, s,
				    (size_t)(eq - s), &nul);
				kv->val = urldecode(&rq->pool, eq + 1,
				    (size_t)(amp - eq - 1), &nul);
			}
			if (nul)
				rq->qs_nul |= (uint32_t)1 << rq->nqs;
			rq->nqs++;
		}
		s = *amp ? amp + 1 : amp;
	}
}

/* The index of the first pair named "name", or -1. */
static int
query_index(struct req *rq, const char *name)
{
	int	i;

	if (!rq->qs_parsed)
		parse_query(rq);
	for (i = 0; i < rq->nqs; i++)
		if (strcmp(rq->qs[i].key, name) == 0)
			return i;
	return -1;
}

/* The first value of a query parameter; empty counts as absent. */
const char *
req_query(struct req *rq, const char *name)
{
	int	i = query_index(rq, name);

	return i >= 0 && rq->qs[i].val[0] ? rq->qs[i].val : NULL;
}

int
req_query_exact(struct req *rq, const char *name, const char **out)
{
	int	i = query_index(rq, name);

	*out = NULL;
	if (i < 0)
		return 0;
	/* a key cut short by its %00 matched as another: refuse it too */
	if (rq->qs_nul & (uint32_t)1 << i)
		return -1;
	*out = rq->qs[i].val[0] ? rq->qs[i].val : NULL;
	return 0;
}

/*
 * Web servers disagree on SCRIPT_NAME and PATH_INFO: lighttpd and
 * mod_fcgid split at the mapped prefix, mod_proxy_fcgi omits PATH_INFO,
 * nginx passes what its config says.  REQUEST_URI is the one all of them
 * give unchanged, so it wins; SCRIPT_NAME + PATH_INFO is the fallback.
 * The API path starts at the "/v1" segment, whatever prefix a deployment
 * mounts it under.
 */
const char *
req_derive_path(struct pool *p, const char *script_name,
    const char *path_info, const char *request_uri)
{
	const char	*path, *v;
	size_t		 n;

	if (request_uri != NULL && *request_uri == '/') {
		n = strcspn(request_uri, "?#");
		path = pool_strndup(p, request_uri, n);
	} else
		path = pool_printf(p, "%s%s", script_name ? script_name : "",
		    path_info ? path_info : "");
	if (*path == '\0')
		return "/";
	for (v = strstr(path, "/v1"); v != NULL; v = strstr(v + 1, "/v1"))
		if (v[3] == '\0' || v[3] == '/')
			return v;
	return path;
}

int
req_read_body(struct req *rq, struct resp *rs, size_t max)
{
	char	chunk[8192];
	int	n;

	if (rq->body_read)
		return 0;
	if (max == 0)
		max = cfg->max_body;
	if (rq->content_length > 0 && (size_t)rq->content_length > max)
		return resp_error(rs, ERR_TOO_LARGE);
	buf_init(&rq->raw, max);
	for (;;) {
		n = rq->io.read(rq->io.ctx, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (buf_append(&rq->raw, chunk, (size_t)n) == -1)
			return resp_error(rs, ERR_TOO_LARGE);
		if (rq->content_length >= 0 &&
		    rq->raw.len >= (size_t)rq->content_length)
			break;
	}
	rq->body_read = 1;
	return 0;
}

/* Four hex digits at p (n bytes there), or -1. */
static int
hex4(const char *p, size_t n)
{
	int	v = 0, h;
	size_t	i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = hex_digit((unsigned char)p[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static int
is_json_type(const char *ct)
{
	size_t	n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; ");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	/* application/<anything>+json counts, as Flask's is_json does */
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/*
 * json-c's UTF-8 check lets overlong forms and \uD800-style surrogate
 * escapes through: every key and string is checked strictly here.
 */
static int
strings_valid(json_object *o, int depth)
{
	size_t	i, n;

	if (depth > JSON_MAX_DEPTH)
		return 0;
	switch (json_object_get_type(o)) {
	case json_type_string:
		return utf8_valid(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!strings_valid(json_object_array_get_idx(o, i),
			    depth + 1))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			if (!utf8_valid(k, strlen(k)) ||
			    !strings_valid(v, depth + 1))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/*
 * What json-c does not tell: whether the text escaped a NUL (\u0000,
 * which C strings cut, so "alice\u0000x" would read as "alice") or a lone
 * surrogate (\ud800 with no low half, or a low half alone), which json-c
 * replaces by U+FFFD, so that different texts would read the same.  Runs
 * on text json-c accepted, where a backslash only appears in a string.
 * Returns 0, or -1 for a lone surrogate; sets *nul for a NUL.
 */
static int
escapes_exact(const char *p, size_t n, int *nul)
{
	size_t	i = 0;
	int	c, d;

	*nul = 0;
	while (i < n) {
		if (p[i] != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= n || p[i + 1] != 'u') {
			i += 2;		/* \" \\ \/ \n ...: one character */
			continue;
		}
		c = hex4(p + i + 2, n - i - 2);
		if (c == -1)
			return -1;
		i += 6;
		if (c == 0)
			*nul = 1;
		else if (c >= 0xdc00 && c <= 0xdfff)
			return -1;
		else if (c >= 0xd800 && c <= 0xdbff) {
			/* the low half must follow at once */
			d = i + 1 < n && p[i] == '\\' && p[i + 1] == 'u' ?
			    hex4(p + i + 2, n - i - 2) : -1;
			if (d < 0xdc00 || d > 0xdfff)
				return -1;
			i += 6;
		}
	}
	return 0;
}

/* Whether a string below "o" holds a NUL. */
static int
has_nul(json_object *o, int depth)
{
	size_t	i, n;

	if (depth > JSON_MAX_DEPTH)
		return 0;
	switch (json_object_get_type(o)) {
	case json_type_string:
		return memchr(json_object_get_string(o), '\0',
		    (size_t)json_object_get_string_len(o)) != NULL;
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (has_nul(json_object_array_get_idx(o, i),
			    depth + 1))
				return 1;
		return 0;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (has_nul(v, depth + 1))
				return 1;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/*
 * A body with a NUL in it is refused whole, naming the field it is in,
 * as input_check does: nothing we store (users, names, inputs, queries)
 * can hold a NUL, Dify's PostgreSQL cannot either, and a field name cut
 * at one ("user\u0000x") would even be read as another field.
 */
static int
nul_error(struct resp *rs, json_object *o)
{
	char	msg[300];

	json_object_object_foreach(o, k, v) {
		if (has_nul(v, 1)) {
			snprintf(msg, sizeof(msg), "%.255s must not contain "
			    "NUL characters", k);
			return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
		}
	}
	return resp_error_msg(rs, ERR_INVALID_PARAM,
	    "field names must not contain NUL characters");
}

int
req_json(struct req *rq, struct resp *rs)
{
	json_tokener	*tok;
	json_object	*o;
	size_t		 end;
	int		 nul;

	if (rq->body != NULL)
		return 0;
	if (!is_json_type(rq->content_type))
		return resp_error(rs, ERR_UNSUPPORTED_MEDIA);
	if (req_read_body(rq, rs, 0) == -1)
		return -1;
	if (rq->raw.len == 0)
		return resp_error(rs, ERR_BAD_JSON);
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, rq->raw.p, (int)rq->raw.len);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success) {
		/* trailing whitespace is fine, anything else is not */
		while (end < rq->raw.len && isspace((unsigned char)rq->raw.p[end]))
			end++;
	}
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    end != rq->raw.len) {
		json_object_put(o);
		json_tokener_free(tok);
		return resp_error(rs, ERR_BAD_JSON);
	}
	json_tokener_free(tok);
	if (!json_object_is_type(o, json_type_object) || !strings_valid(o, 0) ||
	    escapes_exact(rq->raw.p, rq->raw.len, &nul) == -1) {
		json_object_put(o);
		return resp_error(rs, ERR_BAD_JSON);
	}
	if (nul) {
		nul_error(rs, o);
		json_object_put(o);
		return -1;
	}
	rq->body = o;
	return 0;
}
