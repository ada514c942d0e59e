/*
 * fuzz_html.c: fuzz target of the text of HTML documents
 * (files_extract_text in lib/files/files_text.c over libxml2's HTML
 * parser), which reads uploads and pages fetched from anywhere.
 *
 * Input: the first byte picks the cap on the text (0: 64 kB, else that
 * many bytes); the rest is the document.  Beyond "no crash, no leak, no
 * hang" it checks: the text is valid UTF-8 without NULs and within the
 * cap, and a cut text is a prefix of the uncut one; uncut, and from a
 * document with no '&' or U+00A0 (a no-break space stays a space, where
 * it stands), it neither starts nor ends with white space and holds no
 * white space but single spaces and line breaks, no space beside a line
 * break and no more than one empty line in a row.  A broken invariant
 * aborts.
 *
 * libFuzzer build, from the top of the tree (make fuzz-lib first):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *       -D_GNU_SOURCE -Ilib $(pkg-config --cflags json-c libxml-2.0) \
 *       -o fuzz_html tests/fuzz/fuzz_html.c build-fuzz/libdify.a \
 *       $(pkg-config --libs fcgi json-c sqlite3 libcurl yaml-0.1 \
 *       libcrypto libxml-2.0) -lpthread -lm
 *   mkdir -p /tmp/corpus && ./fuzz_html -max_len=65536 -timeout=10 \
 *       /tmp/corpus tests/fuzz/corpus/html
 *
 * Replay build (make builds it as $(BUILD)/fuzz/fuzz_html, linked with
 * tests/fuzz/replay.c, and make test runs it over the corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files/files.h"

#define TEXT_MAX	(64 * 1024)

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_html: invariant broken: %s\n", what);
		abort();
	}
}

static void
check_shape(const char *s, size_t n)
{
	size_t	i, nl = 0;

	check(n == 0 || (s[0] != ' ' && s[0] != '\n'), "leading space");
	check(n == 0 || (s[n - 1] != ' ' && s[n - 1] != '\n'),
	    "trailing space");
	for (i = 0; i < n; i++) {
		check(s[i] != '\t' && s[i] != '\r' && s[i] != '\f' &&
		    s[i] != '\v', "white space other than space and newline");
		nl = s[i] == '\n' ? nl + 1 : 0;
		check(nl <= 2, "more than one empty line");
		if (s[i] == '\n' && i > 0)
			check(s[i - 1] != ' ', "space before a line break");
		if (s[i] == '\n' && i + 1 < n)
			check(s[i + 1] != ' ', "space after a line break");
		if (s[i] == ' ' && i + 1 < n)
			check(s[i + 1] != ' ', "two spaces");
	}
}

static int
has_nbsp(const uint8_t *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] == '&' || (p[i] == 0xc2 && i + 1 < n &&
		    p[i + 1] == 0xa0))
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 whole, cut;
	size_t		 cap;

	if (size < 1)
		return 0;
	cap = data[0] ? data[0] : TEXT_MAX;
	buf_init(&whole, TEXT_MAX);
	buf_init(&cut, cap);
	check(files_extract_text("html", NULL, (const char *)data + 1,
	    size - 1, &whole) == 0, "HTML has text");
	files_extract_text("html", NULL, (const char *)data + 1, size - 1,
	    &cut);
	check(utf8_valid(buf_cstr(&whole), whole.len), "valid UTF-8");
	check(strlen(buf_cstr(&whole)) == whole.len, "no NUL");
	check(cut.len <= cap, "within the cap");
	if (whole.len < TEXT_MAX - 4 && !has_nbsp(data + 1, size - 1))
		check_shape(buf_cstr(&whole), whole.len);
	check(cut.len <= whole.len && (cut.len == 0 ||
	    memcmp(cut.p, whole.p, cut.len) == 0), "cut is a prefix");
	buf_free(&whole);
	buf_free(&cut);
	return 0;
}
