/*
 * files_sign.c: signed, time-limited URLs of stored files, as Dify's
 * file_preview.py checks them: HMAC-SHA256 (libcrypto) under a server
 * secret, base64url, and the base URL the client used.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "files_int.h"

#define ACCESS_TIMEOUT_S	300	/* signed URLs, as Dify's default */
#define SECRET_MIN		16	/* bytes of a configured secret */

void
hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    uint8_t out[32])
{
	unsigned int	n = 32;

	/* libcrypto fails only without memory: abort, as xmalloc does */
	if (klen > INT_MAX || HMAC(EVP_sha256(), klen > 0 ? key : "",
	    (int)klen, msg, mlen, out, &n) == NULL || n != 32) {
		log_error("libcrypto: HMAC-SHA256 failed");
		abort();
	}
}

int
files_base64(struct buf *out, const char *alphabet, const void *data, size_t n)
{
	const unsigned char	*p = data;
	unsigned char		 q[4 * 256 + 1];
	size_t			 i, take, k, j;

	/* whole groups of 3 per call, so that the pieces join up */
	for (i = 0; i < n; i += take) {
		take = n - i < 3 * 256 ? n - i : 3 * 256;
		k = (size_t)EVP_EncodeBlock(q, p + i, (int)take);
		for (j = 0; j < k; j++)
			if (q[j] == '+')
				q[j] = (unsigned char)alphabet[0];
			else if (q[j] == '/')
				q[j] = (unsigned char)alphabet[1];
		if (buf_append(out, q, k) == -1)
			return -1;
	}
	return 0;
}

static int
read_secret(const char *path, struct buf *out)
{
	char	s[257];
	ssize_t	n;
	int	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1)
		return -1;
	n = read(fd, s, sizeof(s) - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	if (n < 2 * SECRET_MIN) {
		log_error("%s: shorter than %d characters", path,
		    2 * SECRET_MIN);
		errno = EINVAL;
		return -1;
	}
	return buf_append(out, s, (size_t)n);
}

/*
 * The server secret: DIFYCGI_SECRET_KEY, else cfg->data_dir/secret_key,
 * made on first use from 32 random bytes.  Written to a file of its own
 * and linked into place, so that two processes racing both end up with
 * the one that won, never with half of one.
 */
static int
secret_key(struct buf *out)
{
	const char	*v = config_get("DIFYCGI_SECRET_KEY");
	char		 path[4096], tmp[4096], hex[65], id[UUID_LEN + 1];
	uint8_t		 r[32];
	int		 fd, i, rc;

	buf_init(out, 1024);
	if (v != NULL && *v != '\0') {
		if (strlen(v) < SECRET_MIN)
			log_warn("DIFYCGI_SECRET_KEY is shorter than %d bytes",
			    SECRET_MIN);
		return buf_puts(out, v);
	}
	if (files_data_path(path, sizeof(path), "secret_key") == -1)
		return -1;
	if (read_secret(path, out) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	uuid_new(id);
	if (snprintf(tmp, sizeof(tmp), "%s/.secret_key.%s", cfg->data_dir,
	    id) >= (int)sizeof(tmp))
		return -1;
	random_bytes(r, sizeof(r));
	for (i = 0; i < 32; i++)
		snprintf(hex + i * 2, 3, "%02x", r[i]);
	explicit_bzero(r, sizeof(r));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_error("%s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = files_write_all(fd, hex, 64);
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && link(tmp, path) == -1 && errno != EEXIST) {
		log_error("%s: %s", path, strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	explicit_bzero(hex, sizeof(hex));
	if (rc == -1)
		return -1;
	return read_secret(path, out);
}

/* base64url(HMAC-SHA256("file-preview|id|timestamp|nonce")). */
static int
sign(const char *file_id, const char *ts, const char *nonce, char out[48])
{
	struct buf	key, msg, b;
	uint8_t		mac[32];
	int		rc = -1;

	buf_init(&msg, 512);
	buf_init(&b, 64);
	if (secret_key(&key) == -1) {
		log_error("files: no secret key for signed URLs");
		goto out;
	}
	if (buf_printf(&msg, "file-preview|%s|%s|%s", file_id, ts,
	    nonce) == -1)
		goto out;
	hmac_sha256(key.p, key.len, msg.p, msg.len, mac);
	if (files_base64(&b, FILES_B64URL, mac, sizeof(mac)) == 0 &&
	    b.len < 48) {
		memcpy(out, b.p, b.len + 1);
		rc = 0;
	}
out:
	if (key.p != NULL)
		explicit_bzero(key.p, key.len);
	buf_free(&key);
	buf_free(&msg);
	buf_free(&b);
	return rc;
}

static int
host_ok(const char *h)
{
	if (*h == '\0' || strlen(h) > 255)
		return 0;
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-:[]_", *h) == NULL)
			return 0;
	return 1;
}

/* Scheme, host and mount prefix the client used, or DIFYCGI_FILES_URL. */
static const char *
base_url(struct req *rq)
{
	const char	*v = config_get("DIFYCGI_FILES_URL"), *host, *https;
	const char	*uri, *port, *scheme;
	size_t		 n, plen = strlen(rq->path), i;

	if (v != NULL && *v != '\0') {
		n = strlen(v);
		while (n > 0 && v[n - 1] == '/')
			n--;
		return pool_strndup(&rq->pool, v, n);
	}
	https = req_env(rq, "HTTPS");
	scheme = req_env(rq, "REQUEST_SCHEME");
	if (scheme == NULL || (strcmp(scheme, "http") &&
	    strcmp(scheme, "https")))
		scheme = https != NULL && (strcasecmp(https, "on") == 0 ||
		    strcmp(https, "1") == 0) ? "https" : "http";
	host = req_env(rq, "HTTP_HOST");
	if (host == NULL || !host_ok(host)) {
		host = req_env(rq, "SERVER_NAME");
		port = req_env(rq, "SERVER_PORT");
		if (host == NULL || !host_ok(host))
			host = "localhost";
		if (port != NULL && strspn(port, "0123456789") ==
		    strlen(port) && *port != '\0' &&
		    strcmp(port, strcmp(scheme, "https") ? "80" : "443"))
			host = pool_printf(&rq->pool, "%s:%s", host, port);
	}
	/* the mount prefix: what comes before the API path in the URI */
	uri = req_env(rq, "REQUEST_URI");
	n = uri != NULL ? strcspn(uri, "?#") : 0;
	if (n < plen || strncmp(uri + n - plen, rq->path, plen) != 0)
		n = plen;
	n -= plen;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)uri[i]) &&
		    strchr("/-._~%", uri[i]) == NULL)
			n = 0;
	return pool_printf(&rq->pool, "%s://%s%.*s", scheme, host, (int)n,
	    n > 0 ? uri : "");
}

char *
files_signed_url(struct req *rq, const char *file_id)
{
	char	ts[32], nonce[33], sig[48];
	uint8_t	r[16];
	int	i;

	snprintf(ts, sizeof(ts), "%lld", (long long)now_s());
	random_bytes(r, sizeof(r));
	for (i = 0; i < 16; i++)
		snprintf(nonce + i * 2, 3, "%02x", r[i]);
	if (sign(file_id, ts, nonce, sig) == -1)
		return NULL;
	return pool_printf(&rq->pool, "%s/v1/files/%s/file-preview?"
	    "timestamp=%s&nonce=%s&sign=%s", base_url(rq), file_id, ts,
	    nonce, sig);
}

int
files_signature_ok(struct req *rq, const char *file_id, long long *left_s)
{
	const char	*ts = req_query(rq, "timestamp");
	const char	*nonce = req_query(rq, "nonce");
	const char	*given = req_query(rq, "sign");
	const char	*v = config_get("DIFYCGI_FILES_ACCESS_TIMEOUT_S");
	char		 want[48];
	long long	 t, timeout = ACCESS_TIMEOUT_S, now = now_s();

	if (v != NULL && *v != '\0' && parse_int(v, 1, 86400 * 365,
	    &timeout) == -1)
		timeout = ACCESS_TIMEOUT_S;
	if (ts == NULL || nonce == NULL || given == NULL ||
	    parse_int(ts, 0, (long long)1 << 40, &t) == -1 ||
	    strlen(nonce) > 64 || now - t > timeout || t - now > 60)
		return 0;
	if (sign(file_id, ts, nonce, want) == -1)
		return 0;
	*left_s = t + timeout - now;
	return strlen(given) == strlen(want) &&
	    ct_equal(given, want, strlen(want));
}
