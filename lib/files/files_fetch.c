/*
 * files_fetch.c: remote URLs, checked and fetched without reaching
 * private addresses (Dify's ssrf_proxy does this with a proxy; we check
 * the addresses ourselves).  A URL is fetched only after every address of
 * its host passed the check, each hop's address is pinned, and each
 * connection is checked again as its socket opens.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "files_int.h"

#define FETCH_REDIRECTS		3
#define FETCH_TIMEOUT_MS	30000
#define ADDRS_MAX		16

static int
allow_private(void)
{
	const char	*v = config_get("DIFYCGI_ALLOW_PRIVATE_URLS");

	return v != NULL && strcmp(v, "1") == 0;
}

static int
v4_public(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return 0;
	if ((a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* CGNAT */
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) ||
	    (a[0] == 192 && a[1] == 88 && a[2] == 99) ||
	    (a[0] == 198 && (a[1] & 0xfe) == 18) ||
	    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	    (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return 0;
	return 1;
}

/*
 * Whether an address is public: not loopback, unspecified, private,
 * link-local, shared (CGNAT), multicast, documentation or reserved, in
 * IPv4 or IPv6, nor an IPv4 one of those inside IPv6 (mapped, NAT64,
 * 6to4).
 */
static int
addr_public(const struct sockaddr *sa)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	const uint8_t		*b;
	static const uint8_t	 zero[12];
	sa_family_t		 family;

	/* copied out: a sockaddr is read as the type it was written as */
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr,
	    sa_family), sizeof(family));
	if (family == AF_INET) {
		memcpy(&s4, sa, sizeof(s4));
		return v4_public((const uint8_t *)&s4.sin_addr.s_addr);
	}
	if (family != AF_INET6)
		return 0;
	memcpy(&s6, sa, sizeof(s6));
	b = s6.sin6_addr.s6_addr;
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		return v4_public(b + 12);		/* ::ffff:a.b.c.d */
	if (memcmp(b, zero, 12) == 0)
		return 0;	/* ::, ::1 and the old IPv4-compatible form */
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    memcmp(b + 4, zero, 8) == 0)
		return v4_public(b + 12);		/* NAT64 */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_public(b + 2);		/* 6to4 */
	if ((b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) ||
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
	    (b[0] & 0xfe) == 0xfc ||			/* unique local */
	    (b[0] == 0xfe && (b[1] & 0x80) == 0x80) ||	/* link, site local */
	    b[0] == 0xff ||
	    (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0))
		return 0;
	return 1;
}

/* A URL taken apart, its host resolved and every address checked. */
struct target {
	char	 host[256];		/* without IPv6 brackets */
	long	 port;
	char	 pin[1024];		/* "host:port:addr,..." */
};

static int
check_target(const char *url, struct target *t, char *err, size_t errlen)
{
	CURLU		*u = NULL;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	size_t		 hl, pl;
	int		 rc = -1, naddr = 0, gai;
	long long	 p;

	memset(t, 0, sizeof(*t));
	if (strlen(url) > 4096 || upstream_curl_init() == -1 ||
	    (u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, url,
	    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "only http and https URLs are fetched");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	for (char *c = host; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80 || *c == '%') {
			snprintf(err, errlen, "the host name must be ASCII");
			goto out;
		}
	if (parse_int(port, 1, 65535, &p) == -1 || *host == '\0' ||
	    strlen(host) >= sizeof(t->host)) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->port = (long)p;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(t->host, NULL, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve the host %s", t->host);
		goto out;
	}
	/* a name gets its addresses pinned; a literal address needs none */
	if (inet_pton(AF_INET, t->host, addr) == 1 ||
	    inet_pton(AF_INET6, t->host, addr) == 1)
		pl = 0;
	else
		pl = (size_t)snprintf(t->pin, sizeof(t->pin), "%s:%ld:",
		    t->host, t->port);
	for (ai = res; ai != NULL && naddr < ADDRS_MAX; ai = ai->ai_next) {
		const void	*a;

		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)
			    ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)(void *)
			    ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, addr, sizeof(addr)) == NULL)
			continue;
		if (!allow_private() && !addr_public(ai->ai_addr)) {
			snprintf(err, errlen, "the host %s is or resolves to a "
			    "loopback, private, link-local or reserved address "
			    "(%s); such URLs are not fetched", t->host, addr);
			goto out;
		}
		naddr++;
		if (pl == 0)
			continue;
		pl += (size_t)snprintf(t->pin + pl, pl < sizeof(t->pin) ?
		    sizeof(t->pin) - pl : 0, "%s%s%s%s", naddr > 1 ? "," : "",
		    ai->ai_family == AF_INET6 ? "[" : "", addr,
		    ai->ai_family == AF_INET6 ? "]" : "");
	}
	if (naddr == 0 || pl >= sizeof(t->pin)) {
		snprintf(err, errlen, "cannot resolve the host %s", t->host);
		goto out;
	}
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int
files_url_check(const char *url, char *err, size_t errlen)
{
	struct target	t;

	return check_target(url, &t, err, errlen);
}

struct fetch {
	struct buf	*out;
	size_t		 start;
	size_t		 max;
	int		 too_big;
	int		 blocked;
};

static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch	*f = arg;

	(void)purpose;
	if (!allow_private() && !addr_public(&a->addr)) {
		f->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
fetch_body(char *p, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;
	size_t		 len = size * n;

	if (f->out->len - f->start + len > f->max ||
	    buf_append(f->out, p, len) == -1) {
		f->too_big = 1;
		return 0;
	}
	return len;
}

int
files_fetch_url(const char *url, size_t max, struct buf *out, char *err,
    size_t errlen)
{
	struct target		 t;
	struct fetch		 f;
	struct curl_slist	*pin = NULL;
	CURL			*h = NULL;
	CURLcode		 cc;
	char			*next = NULL, *loc;
	const char		*v = config_get("DIFYCGI_FETCH_TIMEOUT_MS");
	long long		 timeout = FETCH_TIMEOUT_MS;
	long			 status = 0;
	double			 t0 = now_mono();
	int			 hop, rc = -1, bad_opt;

	if (v != NULL && *v != '\0' && parse_int(v, 1, 3600000,
	    &timeout) == -1)
		timeout = FETCH_TIMEOUT_MS;
	memset(&f, 0, sizeof(f));
	f.out = out;
	f.start = out->len;
	f.max = max;
	for (hop = 0; ; hop++) {
		if (hop > FETCH_REDIRECTS) {
			snprintf(err, errlen, "more than %d redirects",
			    FETCH_REDIRECTS);
			goto out;
		}
		if (check_target(url, &t, err, errlen) == -1)
			goto out;
		curl_slist_free_all(pin);
		pin = t.pin[0] != '\0' ? curl_slist_append(NULL, t.pin) : NULL;
		if (h == NULL)
			h = curl_easy_init();
		else
			curl_easy_reset(h);
		if ((pin == NULL && t.pin[0] != '\0') || h == NULL) {
			snprintf(err, errlen, "cannot set up the HTTP client");
			goto out;
		}
		out->len = f.start;
		bad_opt = 0;
		bad_opt |= curl_easy_setopt(h, CURLOPT_URL, url);
		bad_opt |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		bad_opt |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
		    "http,https");
		bad_opt |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		bad_opt |= curl_easy_setopt(h, CURLOPT_PROXY, "");
		bad_opt |= curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
		bad_opt |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
		    open_socket);
		bad_opt |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &f);
		bad_opt |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
		    fetch_body);
		bad_opt |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
		bad_opt |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)max);
		bad_opt |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
		bad_opt |= curl_easy_setopt(h, CURLOPT_USERAGENT,
		    "difycgi/" DIFYCGI_VERSION);
		bad_opt |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)cfg->upstream_connect_ms);
		bad_opt |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)
		    (timeout - (now_mono() - t0) * 1000 > 1 ?
		    timeout - (now_mono() - t0) * 1000 : 1));
		if (bad_opt) {
			snprintf(err, errlen, "cannot set up the HTTP client");
			goto out;
		}
		cc = curl_easy_perform(h);
		if (f.blocked) {
			snprintf(err, errlen, "the host %s connects to a "
			    "loopback, private, link-local or reserved "
			    "address; such URLs are not fetched", t.host);
			goto out;
		}
		if (f.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			snprintf(err, errlen, "the file is larger than %zu "
			    "bytes", max);
			goto out;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(err, errlen, "no complete answer within "
			    "%lld ms", timeout);
			goto out;
		}
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "cannot fetch it: %s",
			    curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		loc = NULL;
		if (status >= 300 && status <= 399 && curl_easy_getinfo(h,
		    CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != NULL) {
			free(next);
			next = xstrdup(loc);
			url = next;
			continue;
		}
		if (status < 200 || status > 299) {
			snprintf(err, errlen, "the server answered HTTP %ld",
			    status);
			goto out;
		}
		rc = 0;
		break;
	}
out:
	if (rc == -1)
		out->len = f.start;
	if (out->p != NULL)
		out->p[out->len] = '\0';
	curl_slist_free_all(pin);
	curl_easy_cleanup(h);
	free(next);
	return rc;
}
