/*
 * resp.c: the reply side: status, headers, a JSON body or a Dify error
 * body, written once by resp_finish().  Every reply carries X-Version,
 * X-Env and the CORS header Dify sends on /v1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

void
resp_init(struct resp *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->status = 200;
	buf_init(&rs->headers, 16384);
}

void
resp_free(struct resp *rs)
{
	json_object_put(rs->body);
	rs->body = NULL;
	free(rs->owned_raw);
	rs->owned_raw = NULL;
	buf_free(&rs->headers);
}

int
resp_json(struct resp *rs, int status, json_object *body)
{
	json_object_put(rs->body);
	rs->status = status;
	rs->body = body;
	rs->content_type = "application/json";
	return 0;
}

int
resp_error_msg(struct resp *rs, enum err e, const char *msg)
{
	resp_json(rs, err_table[e].status, err_json(e, msg));
	if (err_table[e].status == 401)
		resp_header(rs, "WWW-Authenticate", "Bearer realm=\"api\"");
	return -1;
}

int
resp_error(struct resp *rs, enum err e)
{
	return resp_error_msg(rs, e, NULL);
}

/* Header values never carry CR or LF: a value with one is dropped. */
int
resp_header(struct resp *rs, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
		log_warn("header %s dropped: control characters", name);
		return -1;
	}
	return buf_printf(&rs->headers, "%s: %s\r\n", name, value);
}

int
resp_empty(struct resp *rs, int status)
{
	json_object_put(rs->body);
	rs->body = NULL;
	rs->status = status;
	rs->content_type = NULL;
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Write the status line and the headers every reply carries. */
int
resp_write_head(struct req *rq, struct resp *rs, const char *ctype,
    long long length)
{
	struct buf	h;
	int		rc;

	buf_init(&h, 32768);
	buf_printf(&h, "Status: %d %s\r\n", rs->status, reason(rs->status));
	if (ctype != NULL)
		buf_printf(&h, "Content-Type: %s\r\n", ctype);
	if (length >= 0)
		buf_printf(&h, "Content-Length: %lld\r\n", length);
	buf_printf(&h, "X-Version: %s\r\nX-Env: %s\r\n"
	    "Access-Control-Allow-Origin: *\r\n", DIFY_SERVER_VERSION,
	    cfg->env_name);
	buf_append(&h, rs->headers.p, rs->headers.len);
	buf_puts(&h, "\r\n");
	rc = rq->io.write(rq->io.ctx, h.p, (int)h.len);
	buf_free(&h);
	rs->committed = 1;
	return rc < 0 ? -1 : 0;
}

void
resp_finish(struct req *rq, struct resp *rs)
{
	const char	*body = NULL;
	size_t		 len = 0;
	char		*nl = NULL;

	if (rs->committed)
		return;
	if (rs->body != NULL) {
		body = json_compact(rs->body);
		len = strlen(body);
		nl = xmalloc(len + 2);
		memcpy(nl, body, len);
		nl[len++] = '\n';
		body = nl;
	} else if (rs->raw != NULL) {
		body = rs->raw;
		len = rs->raw_len;
	}
	if (resp_write_head(rq, rs, body != NULL ? (rs->content_type ?
	    rs->content_type : "application/octet-stream") : NULL,
	    rs->status == 204 ? -1 : (long long)len) == 0 && len > 0)
		rq->io.write(rq->io.ctx, body, (int)len);
	free(nl);
}

int
resp_json_text(struct resp *rs, int status, struct buf *body)
{
	json_object_put(rs->body);
	rs->body = NULL;
	buf_append(body, "\n", 1);
	rs->status = status;
	rs->content_type = "application/json";
	rs->owned_raw = body->p;
	rs->raw = body->p;
	rs->raw_len = body->len;
	body->p = NULL;
	body->len = body->cap = 0;
	return 0;
}
