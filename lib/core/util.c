/*
 * util.c: ids, randomness, clocks, SHA-256 and constant-time comparison
 * (both libcrypto's), UTF-8 validation and checked integer parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/core.h"

void
random_bytes(void *p, size_t n)
{
	unsigned char	*c = p;
	ssize_t		 got;

	while (n > 0) {
		got = getrandom(c, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			log_error("getrandom: %s", strerror(errno));
			abort();
		}
		c += got;
		n -= (size_t)got;
	}
}

void
uuid_new(char out[UUID_LEN + 1])
{
	unsigned char	b[16];

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Any 8-4-4-4-12 hex string, either case, as Dify's UUID check takes. */
int
uuid_valid(const char *s)
{
	int	i;

	if (s == NULL || strlen(s) != UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	}
	return 1;
}

int64_t
now_s(void)
{
	return (int64_t)time(NULL);
}

double
now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
iso_time(int64_t t, char out[32])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
}

/*
 * SHA-256 is OpenSSL's (libcrypto's EVP interface); the digest is fetched
 * once per process, as OpenSSL 3 advises, rather than looked up by every
 * init.  libcrypto fails here only when memory runs out, and a program
 * that cannot hash cannot check a key or sign a URL: abort, as xmalloc.
 */
static EVP_MD		*sha256_md;
static pthread_once_t	 sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256_algo(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256_md == NULL) {
		log_error("libcrypto: no SHA-256");
		abort();
	}
	return sha256_md;
}

static void
sha256_fail(const char *what)
{
	log_error("libcrypto: %s failed", what);
	abort();
}

void
sha256_init(struct sha256 *s)
{
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, sha256_algo(),
	    NULL) != 1)
		sha256_fail("SHA-256 init");
}

void
sha256_update(struct sha256 *s, const void *data, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(s->ctx, data, n) != 1)
		sha256_fail("SHA-256 update");
}

void
sha256_final(struct sha256 *s, uint8_t out[32])
{
	if (EVP_DigestFinal_ex(s->ctx, out, NULL) != 1)
		sha256_fail("SHA-256 final");
	sha256_free(s);
}

void
sha256_free(struct sha256 *s)
{
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

void
sha256_hex(const void *p, size_t n, char out[65])
{
	static const char	hexd[] = "0123456789abcdef";
	uint8_t			d[32];
	int			i;

	if (EVP_Digest(p, n, d, NULL, sha256_algo(), NULL) != 1)
		sha256_fail("SHA-256");
	for (i = 0; i < 32; i++) {
		out[i * 2] = hexd[d[i] >> 4];
		out[i * 2 + 1] = hexd[d[i] & 15];
	}
	out[64] = '\0';
}

int
ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
size_t
utf8_count(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
utf8_valid(const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;

	while (i < n) {
		unsigned char	c = p[i];
		size_t		k;
		uint32_t	cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3; cp = c & 0x07;
		} else
			return 0;
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

int
parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
