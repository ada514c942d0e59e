/*
 * fuzz_extract.c: fuzz target of the text of PDF and Office files
 * (files_extract_text over lib/files/files_pdf.c and files_ooxml.c:
 * poppler, libzip and libxml2's reader), which read uploads from anyone.
 *
 * Input: the first byte's low two bits pick the type (docx, xlsx, pptx,
 * pdf), its other six the cap on the text (0: 64 kB, else four bytes
 * each); the rest is the file.  Beyond "no crash, no leak, no hang" it
 * checks: the answer is a text or FILES_BAD_DOC, a refused file leaves
 * "out" as it was, the text is valid UTF-8 without NULs within the cap,
 * and a cut text is a prefix of the uncut one.  A broken invariant
 * aborts.
 *
 * libFuzzer build: tools/fuzz.sh fuzz_extract (as fuzz_html.c says, with
 * poppler-glib and libzip besides), seeds in tests/fuzz/corpus/extract.
 * Replay build: make builds $(BUILD)/fuzz/fuzz_extract and make test runs
 * it over the corpus.
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
		fprintf(stderr, "fuzz_extract: invariant broken: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ext[] = { "docx", "xlsx", "pptx", "pdf" };
	struct buf	 whole, cut;
	const char	*e;
	size_t		 cap;
	int		 rw, rc;

	if (size < 1)
		return 0;
	e = ext[data[0] & 3];
	cap = data[0] >> 2 ? (size_t)(data[0] >> 2) * 4 : TEXT_MAX;
	buf_init(&whole, TEXT_MAX);
	buf_init(&cut, cap);
	rw = files_extract_text(e, NULL, (const char *)data + 1, size - 1,
	    &whole);
	rc = files_extract_text(e, NULL, (const char *)data + 1, size - 1,
	    &cut);
	check(rw == 0 || rw == FILES_BAD_DOC, "a text or FILES_BAD_DOC");
	check(rw == 0 || whole.len == 0, "a refused file writes nothing");
	check(rc == 0 || cut.len == 0, "a refused file writes nothing");
	check(utf8_valid(buf_cstr(&whole), whole.len), "valid UTF-8");
	check(strlen(buf_cstr(&whole)) == whole.len, "no NUL");
	check(cut.len <= cap, "within the cap");
	if (rw == 0 && rc == 0)
		check(cut.len <= whole.len && (cut.len == 0 ||
		    memcmp(cut.p, whole.p, cut.len) == 0), "cut is a prefix");
	buf_free(&whole);
	buf_free(&cut);
	return 0;
}
