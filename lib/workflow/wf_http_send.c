/*
 * wf_http_send.c: the transfer of an http-request node's request (spec
 * workflow.md 5.7; Dify's http_request/executor.py, _do_http_request and
 * its ssrf_proxy), under the rules files_fetch_url keeps for remote
 * files: every hop's URL passes files_url_check, every socket's address
 * is checked again as it opens (so DNS rebinding cannot reach a private
 * address), redirects are followed by hand as httpx follows them, no
 * proxy.  The engine's stop flag and time limit are polled every 100 ms
 * while the transfer runs, and the read and write timeouts are the
 * longest wait for a byte.  The response's size is capped by its buffer.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

#define HTTP_REDIRECTS_MAX	10
#define HTTP_RESP_HEADERS_MAX	(256 * 1024)
#define HTTP_TICK_MS		100

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
		wf_http_latin1(&v, p + k, vl);
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
	if (with_body && wf_http_find_hdr(hr, "content-type") < 0)
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
int
wf_http_send(struct wf_engine *e, const struct http_request *hr,
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
