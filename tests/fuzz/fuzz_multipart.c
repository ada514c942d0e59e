/*
 * fuzz_multipart.c: fuzz target of the streaming multipart/form-data
 * parser (lib/http/multipart.c), which reads upload bodies straight from
 * clients.
 *
 * Input: the first byte picks how the rest is fed (low four bits: pieces
 * of 1..15 bytes, 0: whole) and whether the first line of the rest is
 * the Content-Type (bit 4; else "multipart/form-data; boundary=XyZ").
 * Beyond "no crash, no leak, no hang" it checks: the parse ends in 1
 * (complete, MP_OK) or -1 (an error set); feeding whole and in pieces
 * gives the same parts, bytes and result; parts never exceed
 * MP_PARTS_MAX and part ends never outnumber part starts; content only
 * comes inside a part and never adds up to more than the input; names
 * and filenames hold no control characters but tabs (header white space
 * that a quoted value may hold); types are lowercase; after
 * the end or an error more input changes nothing.  A broken invariant
 * aborts.
 *
 * libFuzzer build: `make fuzz` (tools/fuzz.sh) links every target with
 * build-fuzz/libdify.a, the library built by clang with fuzzer
 * instrumentation (`make fuzz-lib`).
 *
 * Replay build (make builds it as $(BUILD)/fuzz/fuzz_multipart, linked
 * with tests/fuzz/replay.c, and make test runs it over the corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define OUT_MAX		(1 << 22)

struct seen {
	struct buf	 out;		/* what the callbacks saw */
	int		 parts;
	int		 ends;
	int		 in_part;
	size_t		 data;
};

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_multipart: invariant broken: %s\n", what);
		abort();
	}
}

static void
check_text(const char *s, int lower)
{
	if (s == NULL)
		return;
	for (; *s != '\0'; s++) {
		check(((unsigned char)*s >= 0x20 || *s == '\t') && *s != 0x7f,
		    "no control characters but tabs in part headers");
		check(!lower || *s < 'A' || *s > 'Z', "types are lowercase");
	}
}

static int
on_part(void *arg, const struct mp_part *p)
{
	struct seen	*s = arg;

	check(!s->in_part, "a part starts after the last one ended");
	check(p->index == s->parts, "parts are numbered in order");
	s->parts++;
	s->in_part = 1;
	check(s->parts <= MP_PARTS_MAX, "at most MP_PARTS_MAX parts");
	check_text(p->name, 0);
	check_text(p->filename, 0);
	check_text(p->content_type, 1);
	buf_printf(&s->out, "<%s|%s|%s>", p->name ? p->name : "-",
	    p->filename ? p->filename : "-", p->content_type);
	return 0;
}

static int
on_data(void *arg, const char *p, size_t n)
{
	struct seen	*s = arg;

	check(s->in_part, "content comes inside a part");
	check(n > 0, "no empty pieces");
	s->data += n;
	buf_append(&s->out, p, n);
	return 0;
}

static int
on_end(void *arg)
{
	struct seen	*s = arg;

	check(s->in_part, "a part ends after it started");
	s->in_part = 0;
	s->ends++;
	buf_puts(&s->out, ";");
	return 0;
}

/* Parse in pieces of "step" bytes (0: whole); the final result. */
static int
run(const char *ctype, const char *p, size_t n, size_t step,
    struct seen *s, enum mp_err *err)
{
	struct multipart	mp;
	size_t			i, k;
	int			rc = 0, again;

	memset(s, 0, sizeof(*s));
	buf_init(&s->out, OUT_MAX);
	if (multipart_init(&mp, ctype) == -1) {
		check(mp.err == MP_ERR_BOUNDARY, "init fails on the type only");
		*err = mp.err;
		multipart_free(&mp);
		return -1;
	}
	mp.on_part = on_part;
	mp.on_data = on_data;
	mp.on_end = on_end;
	mp.arg = s;
	for (i = 0; i < n && rc == 0; i += k) {
		k = step == 0 || step > n - i ? n - i : step;
		rc = multipart_feed(&mp, p + i, k);
		check(rc >= -1 && rc <= 1, "feed returns -1, 0 or 1");
	}
	if (rc != 0) {
		again = multipart_feed(&mp, "--XyZ\r\n", 7);
		check(again == rc, "after the end or an error, the same");
	} else
		rc = multipart_end(&mp) == 0 ? 1 : -1;
	check((rc == 1) == (mp.err == MP_OK), "an error comes with its code");
	check(s->ends <= s->parts, "no more ends than parts");
	check(s->data <= n, "no more content than input");
	*err = mp.err;
	multipart_free(&mp);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	 whole, pieces;
	enum mp_err	 e1, e2;
	const char	*p = (const char *)data + 1, *nl;
	char		*ctype;
	size_t		 n;
	int		 r1, r2;

	if (size < 1)
		return 0;
	n = size - 1;
	if ((data[0] & 0x10) && (nl = memchr(p, '\n', n)) != NULL) {
		ctype = strndup(p, (size_t)(nl - p));
		n -= (size_t)(nl - p) + 1;
		p = nl + 1;
	} else
		ctype = strdup("multipart/form-data; boundary=XyZ");
	check(ctype != NULL, "memory");
	r1 = run(ctype, p, n, 0, &whole, &e1);
	r2 = run(ctype, p, n, data[0] & 0x0f, &pieces, &e2);
	check(r1 == r2 && e1 == e2, "whole and in pieces end alike");
	check(whole.out.len == pieces.out.len && (whole.out.len == 0 ||
	    memcmp(whole.out.p, pieces.out.p, whole.out.len) == 0),
	    "whole and in pieces see the same parts and bytes");
	buf_free(&whole.out);
	buf_free(&pieces.out);
	free(ctype);
	return 0;
}

