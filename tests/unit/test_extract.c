/*
 * test_extract.c: the text of PDF, docx, xlsx and pptx files
 * (lib/files/files_pdf.c, files_ooxml.c) from the fixtures that
 * tests/fixtures/docs/make.py writes, and hostile files refused whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "files/files.h"
#include "unit.h"

#define FIX	"tests/fixtures/docs/"

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p = NULL;
	long	 n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n + 1)) != NULL)
		*len = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

/* The text of a fixture, extension from its name; rc in *rc. */
static char *
text_of(const char *name, size_t max, int *rc)
{
	struct buf	 out;
	char		 path[256], *data, *t;
	size_t		 len;

	snprintf(path, sizeof(path), FIX "%s", name);
	data = slurp(path, &len);
	if (data == NULL) {
		*rc = -99;
		return NULL;
	}
	buf_init(&out, max);
	*rc = files_extract_text(strrchr(name, '.') + 1, NULL, data, len, &out);
	t = strdup(buf_cstr(&out));
	buf_free(&out);
	free(data);
	return t;
}

/*
 * A zip made here (too big to keep as a fixture): "n" entries, the first
 * named "first" holding <a>, "fill" "size" times, </a>, the others (e1..)
 * empty.
 */
static char *
make_zip(const char *first, int n, size_t size, char fill, size_t *len)
{
	zip_source_t	*src, *s;
	zip_t		*z;
	zip_stat_t	 st;
	char		 name[32], *data, *out = NULL;
	int		 i;

	*len = 0;
	src = zip_source_buffer_create(NULL, 0, 0, NULL);
	zip_source_keep(src);
	z = zip_open_from_source(src, ZIP_TRUNCATE, NULL);
	data = malloc(size + 7);
	memcpy(data, "<a>", 3);
	memset(data + 3, fill, size);
	memcpy(data + 3 + size, "</a>", 4);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		s = zip_source_buffer(z, data, i == 0 ? size + 7 : 0, 0);
		zip_file_add(z, i == 0 ? first : name, s, 0);
	}
	zip_close(z);
	if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
		out = malloc(st.size);
		*len = (size_t)zip_source_read(src, out, st.size);
		zip_source_close(src);
	}
	zip_source_free(src);
	free(data);
	return out;
}

static int
refused(const char *ext, const char *data, size_t len)
{
	struct buf	out;
	int		rc;

	buf_init(&out, 1024 * 1024);
	buf_puts(&out, "kept");
	rc = files_extract_text(ext, NULL, data, len, &out);
	rc = rc == FILES_BAD_DOC && STREQ(buf_cstr(&out), "kept");
	buf_free(&out);
	return rc;
}

static void
test_shapes(void)
{
	char	*t;
	int	 rc;

	TEST("pdf: the pages' text in order, joined as Dify's node does") {
		t = text_of("sample.pdf", 1 << 20, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "Hello PDF\r\nsecond linePage two"));
		free(t);
	}
	TEST("docx: paragraphs and tables in order, tables in Markdown") {
		t = text_of("sample.docx", 1 << 20, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "Title\n"
		    "a link\tb&c\nde\n"
		    "\n"
		    "| H1 | H2 | H3 |\n"
		    "| --- | --- | --- |\n"
		    "| wide | wide | x<br>y |\n"
		    "| 1 | 2 | x<br>y |\n"
		    "\n"
		    "caf\xc3\xa9 \xe2\x80\x94 end"));
		free(t);
	}
	TEST("xlsx: each sheet in workbook order a Markdown table") {
		t = text_of("sample.xlsx", 1 << 20, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "|  |\n|  |\n\n"
		    "| name | qty | Unnamed: 2 | \xc3\xa9t\xc3\xa9 | Unnamed: 4 |\n"
		    "| ---- | --- | ---------- | --- | ---------- |\n"
		    "| Apple | 3 | True | nan | nan |\n"
		    "| two lines | 0.5 | nan | nan | inl |\n\n"));
		free(t);
	}
	TEST("pptx: the slides' paragraphs with text, slide after slide") {
		t = text_of("sample.pptx", 1 << 20, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "Deck title\none\ntwo\nSecond slide"));
		free(t);
	}
	TEST("docx: no entity is expanded, no external one read") {
		t = text_of("entity.docx", 1 << 20, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "abc"));
		free(t);
	}
	TEST("text past the cap is cut, the document is not refused") {
		t = text_of("sample.docx", 8, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "Title\na "));
		free(t);
		t = text_of("sample.pdf", 4, &rc);
		CHECK(rc == 0);
		CHECK(STREQ(t, "Hell"));
		free(t);
	}
}

static void
test_hostile(void)
{
	char	 path[256], *d, *z;
	size_t	 n, zn, i;
	static const char *const names[] = { "sample.docx", "sample.xlsx",
	    "sample.pptx", "sample.pdf" };

	TEST("a truncated or damaged file is refused whole") {
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(path, sizeof(path), FIX "%s", names[i]);
			d = slurp(path, &n);
			CHECK(d != NULL);
			if (d == NULL)
				continue;
			CHECK(refused(strrchr(names[i], '.') + 1, d, n / 2));
			/* a docx is no xlsx: its parts are missing */
			CHECK(i == 3 || refused(i == 0 ? "pptx" : "docx",
			    d, n));
			/* poppler repairs what it can of a damaged PDF */
			memset(d + n / 3, 'x', n / 3);
			CHECK(i == 3 || refused(strrchr(names[i], '.') + 1, d,
			    n));
			free(d);
		}
		CHECK(refused("docx", "", 0));
		CHECK(refused("pdf", "", 0));
		CHECK(refused("xlsx", "not a zip at all", 16));
	}
	TEST("a PDF of garbage is refused") {
		d = slurp(FIX "garbage.pdf", &n);
		CHECK(d != NULL && refused("pdf", d, n));
		free(d);
	}
	TEST("XML nested past the depth cap is refused") {
		d = slurp(FIX "deep.docx", &n);
		CHECK(d != NULL && refused("docx", d, n));
		free(d);
	}
	TEST("a zip bomb is refused: a part inflating past its cap") {
		z = make_zip("word/document.xml", 1, 65 * 1024 * 1024, ' ',
		    &zn);
		CHECK(z != NULL && zn < 1024 * 1024);
		CHECK(z != NULL && refused("docx", z, zn));
		free(z);
	}
	TEST("a zip of too many entries is refused") {
		z = make_zip("word/document.xml", 10001, 0, ' ', &zn);
		CHECK(z != NULL && refused("docx", z, zn));
		free(z);
		/* the same under the cap reads (to an empty text) */
		z = make_zip("word/document.xml", 100, 0, ' ', &zn);
		CHECK(z != NULL && !refused("docx", z, zn));
		free(z);
	}
}

int
main(void)
{
	test_shapes();
	test_hostile();
	UNIT_DONE();
}
