/*
 * wf_http_response.c: the http-request node's executor (spec workflow.md
 * 5.7) and what it makes of the response.  Mirrors Dify's
 * core/workflow/nodes/http_request (node.py and entities.py's
 * Response): the request is built (wf_http_request.c) and logged with
 * its credentials masked, sent (wf_http_send.c), then the response is a
 * file (stored as a tool file) or text (decoded by its charset), and
 * becomes the outputs status_code, body, headers and files.
 *
 * Server limits, bytes, as Dify names them:
 *   DIFYCGI_HTTP_REQUEST_NODE_MAX_TEXT_SIZE     1 MiB
 *   DIFYCGI_HTTP_REQUEST_NODE_MAX_BINARY_SIZE   10 MiB
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

#define HTTP_LOG_BODY_MAX	(1024 * 1024)

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

/* Append "n" bytes of ISO-8859-1 as UTF-8. */
void
wf_http_latin1(struct buf *b, const char *s, size_t n)
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
		wf_http_latin1(out, s, n);
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

/*
 * Store a response that is a file as Dify stores tool files: among the
 * app's files, in the configured store (files_keep_bytes), recorded for
 * the end user, given as a file object with
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
	char			 hash[65];
	const char		*name, *mime, *slash, *ext;
	enum file_type		 ft;

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
	sha256_hex(rs->body.p ? rs->body.p : "", rs->body.len, hash);
	memset(&uf, 0, sizeof(uf));
	uf.app_id = r->app_id;
	uf.end_user_id = r->end_user_id;
	uf.name = name;
	uf.size = (long long)rs->body.len;
	uf.extension = files_extension(p, name);
	uf.mime_type = mime;
	uf.hash = hash;
	uf.created_at = now_s();
	if (files_keep_bytes(r->db, p, &uf, rs->body.p ? rs->body.p : "",
	    rs->body.len) == -1) {
		log_error("run %s: the response's file was not kept",
		    r->run_id);
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
	json_object_object_add(o, "related_id", json_object_new_string(uf.id));
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

	text_max = (size_t)wf_http_limit(
	    "DIFYCGI_HTTP_REQUEST_NODE_MAX_TEXT_SIZE", 1024 * 1024,
	    1024LL * 1024 * 1024);
	file_max = (size_t)wf_http_limit(
	    "DIFYCGI_HTTP_REQUEST_NODE_MAX_BINARY_SIZE", 10 * 1024 * 1024,
	    1024LL * 1024 * 1024);
	memset(&rs, 0, sizeof(rs));
	buf_init(&rs.body, text_max > file_max ? text_max : file_max);
	x->process_data = json_object_new_object();
	if (wf_http_build(e, n->data, &hr, x) == WF_FAIL) {
		wf_http_request_free(&hr);
		buf_free(&rs.body);
		return WF_FAIL;
	}
	json_object_object_add(x->process_data, "request",
	    json_object_new_string(http_log(r->p, &hr)));
	rc = wf_http_send(e, &hr, &rs, x);
	wf_http_request_free(&hr);
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
