/*
 * files_pdf.c: the text of a PDF through poppler-glib, page after page
 * in reading order, the pages' texts joined as Dify's node joins
 * pypdfium2's (nothing between them), lines ending in CR LF as pdfium
 * ends them where poppler writes LF.  A PDF is untrusted: past
 * PDF_PAGES_MAX pages, or once PDF_TIME_MS has gone by between pages, the
 * file is refused rather than read on; poppler itself refuses (or
 * repairs) a damaged file.
 */
#include <string.h>
#include <time.h>

#include <poppler.h>

#include "files_int.h"

#define PDF_PAGES_MAX	5000
#define PDF_TIME_MS	30000

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Append the page's text, its LFs as CR LF; -1 once "out" is full. */
static int
page_text(struct buf *out, const char *s)
{
	const char	*nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		if (files_utf8_append(out, s, (size_t)(nl - s)) == -1 ||
		    files_utf8_append(out, "\r\n", 2) == -1)
			return -1;
		s = nl + 1;
	}
	return files_utf8_append(out, s, strlen(s));
}

int
files_pdf_text(const char *data, size_t len, struct buf *out)
{
	PopplerDocument	*doc;
	PopplerPage	*page;
	GBytes		*bytes;
	GError		*err = NULL;
	char		*text;
	long long	 start = now_ms();
	int		 i, n, rc = 0;

	/* poppler sniffs the header itself, but garbage need not reach it */
	if (len < 5 || memmem(data, len < 1024 ? len : 1024, "%PDF-", 5) ==
	    NULL)
		return -1;
	bytes = g_bytes_new_static(data, len);
	doc = poppler_document_new_from_bytes(bytes, NULL, &err);
	g_bytes_unref(bytes);
	if (doc == NULL) {
		if (err != NULL)
			g_error_free(err);
		return -1;
	}
	n = poppler_document_get_n_pages(doc);
	if (n < 0 || n > PDF_PAGES_MAX)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++) {
		if (now_ms() - start > PDF_TIME_MS) {
			rc = -1;
			break;
		}
		if ((page = poppler_document_get_page(doc, i)) == NULL)
			continue;
		text = poppler_page_get_text(page);
		g_object_unref(page);
		if (text != NULL && page_text(out, text) == -1)
			i = n;	/* "out" is full: the text is cut there */
		g_free(text);
	}
	g_object_unref(doc);
	return rc;
}
