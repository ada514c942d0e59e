/*
 * fuzz_knowledge_split.c: fuzz target of Dify's document cleaning and
 * segmentation (kn_split in lib/knowledge/), which reads the text of
 * uploaded documents.
 *
 * Input: six bytes of rules, then the text.  Byte 0: bits 0-1 the mode
 * (automatic, custom, hierarchical by paragraph, full-doc), bit 2
 * remove_extra_spaces, bit 3 remove_urls_emails, bit 4 that rule first;
 * byte 1: max_tokens - 50; byte 2: chunk_overlap (mod max_tokens + 1);
 * byte 3: the child max_tokens - 50 (mod 64); byte 4: the child
 * overlap; byte 5: the separators, from a table.  Beyond "no crash, no
 * leak, no hang" it checks: a valid text splits without error; every
 * chunk is valid UTF-8, not blank, of at most max_tokens + 1 code
 * points (a full-doc parent aside: the one over is Dify's character
 * window when chunk_overlap is max_tokens) and, but for full-doc, holds
 * no NUL; a
 * paragraph-mode chunk has no white space at either end; the same input
 * splits the same way twice.  A broken invariant aborts.
 *
 * libFuzzer build, from the top of the tree (make fuzz-lib first):
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *       -D_GNU_SOURCE -Ilib $(pkg-config --cflags json-c libxml-2.0) \
 *       -o fuzz_knowledge_split tests/fuzz/fuzz_knowledge_split.c \
 *       build-fuzz/libdify.a $(pkg-config --libs fcgi json-c sqlite3 \
 *       libpq libcurl yaml-0.1 duktape libcrypto libxml-2.0) -lpthread -lm
 *   mkdir -p /tmp/corpus && ./fuzz_knowledge_split -max_len=65536 \
 *       -timeout=10 /tmp/corpus tests/fuzz/corpus/knowledge_split
 *
 * Replay build (make builds it as $(BUILD)/fuzz/fuzz_knowledge_split,
 * linked with tests/fuzz/replay.c, and make test runs it over the
 * corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge/knowledge.h"

static const char *const seps[] = {
	"\\n", "\\n\\n", "", " ", "。", ".", "\\t", "\\\\n", "\\x41",
	"\\u4e2d", "|", "\\q", "\\", "\\x4", "\\N{BULLET}", "ab"
};

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_knowledge_split: invariant broken: %s\n",
		    what);
		abort();
	}
}

static size_t
cpcount(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

static int
space_at_end(const char *s, size_t n)
{
	/* the ASCII part of Python's white space is enough to catch a slip */
	return n > 0 && (strchr(" \t\n\r\v\f", s[0]) != NULL ||
	    strchr(" \t\n\r\v\f", s[n - 1]) != NULL);
}

static void
check_chunk(const struct kn_chunk *c, int max, int nul_ok, int stripped)
{
	check(utf8_valid(c->text, c->len), "valid UTF-8");
	check(c->text[c->len] == '\0', "NUL-terminated");
	check(c->len > 0, "not empty");
	check(nul_ok || strlen(c->text) == c->len, "no NUL");
	check(cpcount(c->text, c->len) <= (size_t)max + 1,
	    "within max_tokens");
	check(!stripped || !space_at_end(c->text, c->len), "stripped");
}

static int
same(const struct kn_chunks *a, const struct kn_chunks *b)
{
	size_t	i, j;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->v[i].len != b->v[i].len || a->v[i].nchildren !=
		    b->v[i].nchildren || memcmp(a->v[i].text, b->v[i].text,
		    a->v[i].len) != 0)
			return 0;
		for (j = 0; j < a->v[i].nchildren; j++)
			if (strcmp(a->v[i].children[j].text,
			    b->v[i].children[j].text) != 0)
				return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kn_rules		 r;
	struct kn_chunks	 c, c2;
	const char		*text;
	size_t			 n, i, j;
	enum kn_err		 e;
	int			 fulldoc, max;

	if (size < 6)
		return 0;
	memset(&r, 0, sizeof(r));
	r.mode = (data[0] & 3) == 0 ? KN_AUTOMATIC : (data[0] & 3) == 1 ?
	    KN_CUSTOM : KN_HIERARCHICAL;
	r.parent_mode = (data[0] & 3) == 3 ? KN_PARENT_FULL_DOC :
	    KN_PARENT_PARAGRAPH;
	r.remove_extra_spaces = (data[0] & 4) != 0;
	r.remove_urls_emails = (data[0] & 8) != 0;
	r.urls_emails_first = (data[0] & 16) != 0;
	r.seg.max_tokens = 50 + data[1];
	r.seg.chunk_overlap = data[2] % (r.seg.max_tokens + 1);
	r.sub.max_tokens = 50 + data[3] % 64;
	r.sub.chunk_overlap = data[4] % (r.sub.max_tokens + 1);
	r.seg.separator = seps[data[5] % 16];
	r.sub.separator = seps[data[5] / 16];
	text = (const char *)data + 6;
	n = size - 6;
	fulldoc = r.mode == KN_HIERARCHICAL &&
	    r.parent_mode == KN_PARENT_FULL_DOC;
	e = kn_split(text, n, &r, &c);
	if (e == KN_ERR_SEPARATOR || e == KN_ERR_TOO_MANY_CHUNKS)
		return 0;
	check(e == KN_OK || (e == KN_ERR_NOT_UTF8 && !utf8_valid(text, n)),
	    "a valid text splits");
	if (e != KN_OK)
		return 0;
	max = r.mode == KN_AUTOMATIC ? KN_AUTO_MAX_TOKENS : r.seg.max_tokens;
	for (i = 0; i < c.n; i++) {
		if (fulldoc)
			check(c.n == 1 && c.v[0].len == n &&
			    memcmp(c.v[0].text, text, n) == 0,
			    "full-doc: the text is the parent");
		else
			check_chunk(&c.v[i], max, 0,
			    r.mode != KN_HIERARCHICAL);
		check(r.mode == KN_HIERARCHICAL || c.v[i].nchildren == 0,
		    "children only in hierarchical mode");
		for (j = 0; j < c.v[i].nchildren; j++)
			check_chunk(&c.v[i].children[j], r.sub.max_tokens,
			    fulldoc, 0);
	}
	check(kn_split(text, n, &r, &c2) == KN_OK && same(&c, &c2),
	    "the same split twice");
	kn_chunks_free(&c);
	kn_chunks_free(&c2);
	return 0;
}
