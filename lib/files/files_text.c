/*
 * files_text.c: the text of documents for a prompt: text, Markdown, CSV,
 * JSON and other text formats as they are, HTML through libxml2's parser
 * without tags, comments, scripts and styles; valid UTF-8 in every case.
 * PDF (files_pdf.c) and Office Open XML (files_ooxml.c) have their own
 * readers.
 */
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "files_int.h"

#define OOXML	"application/vnd.openxmlformats-officedocument."

enum files_text_kind
files_text_kind(const char *ext, const char *mime)
{
	static const char *const plain[] = { "txt", "text", "md", "markdown",
	    "mdx", "csv", "tsv", "json", "jsonl", "vtt", "properties", "xml",
	    "yaml", "yml", "log", "ini", "toml", NULL };
	char	 m[128];
	size_t	 i, n;

	if (ext != NULL && *ext != '\0') {
		for (i = 0; plain[i] != NULL; i++)
			if (strcasecmp(ext, plain[i]) == 0)
				return TX_PLAIN;
		if (strcasecmp(ext, "html") == 0 ||
		    strcasecmp(ext, "htm") == 0 ||
		    strcasecmp(ext, "xhtml") == 0)
			return TX_HTML;
		if (strcasecmp(ext, "pdf") == 0)
			return TX_PDF;
		if (strcasecmp(ext, "docx") == 0)
			return TX_DOCX;
		if (strcasecmp(ext, "xlsx") == 0)
			return TX_XLSX;
		if (strcasecmp(ext, "pptx") == 0)
			return TX_PPTX;
	}
	if (mime == NULL)
		return TX_NONE;
	n = strcspn(mime, "; ");
	if (n >= sizeof(m))
		return TX_NONE;
	for (i = 0; i < n; i++)
		m[i] = (char)tolower((unsigned char)mime[i]);
	m[n] = '\0';
	if (strcmp(m, "text/html") == 0 ||
	    strcmp(m, "application/xhtml+xml") == 0)
		return TX_HTML;
	if (strcmp(m, "application/pdf") == 0)
		return TX_PDF;
	if (strcmp(m, OOXML "wordprocessingml.document") == 0)
		return TX_DOCX;
	if (strcmp(m, OOXML "spreadsheetml.sheet") == 0)
		return TX_XLSX;
	if (strcmp(m, OOXML "presentationml.presentation") == 0)
		return TX_PPTX;
	if (strncmp(m, "text/", 5) == 0 || strcmp(m, "application/json") == 0)
		return TX_PLAIN;
	return TX_NONE;
}

/* Length of the valid UTF-8 character at p (n > 0 bytes), or 0. */
static size_t
utf8_char(const unsigned char *p, size_t n)
{
	size_t		k, j;
	uint32_t	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 1;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 2;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 3;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (k >= n)
		return 0;
	for (j = 1; j <= k; j++) {
		if ((p[j] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[j] & 0x3f);
	}
	if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

/*
 * Append p[0..n) as valid UTF-8: bad bytes become U+FFFD, NULs go.
 * Stops (returns -1) at the first character that does not fit.
 */
int
files_utf8_append(struct buf *out, const char *p, size_t n)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, run = 0, k;

	while (i < n) {
		k = u[i] == 0 ? 0 : utf8_char(u + i, n - i);
		if (k > 0) {
			i += k;
			continue;
		}
		if (buf_append(out, p + run, i - run) == -1 ||
		    (u[i] != 0 && buf_append(out, "\xef\xbf\xbd", 3) == -1))
			return -1;
		run = ++i;
	}
	if (buf_append(out, p + run, n - run) == 0)
		return 0;
	/* cut at the last character boundary that fits */
	k = out->max > out->len ? out->max - out->len : 0;
	for (i = run; i < n && i - run < k; ) {
		size_t	c = utf8_char(u + i, n - i);

		if (i + c - run > k)
			break;
		i += c;
	}
	buf_append(out, p + run, i - run);
	return -1;
}

/*
 * HTML to text is libxml2's HTML parser, as a push parser giving SAX
 * events: no tree is built, the input goes in pieces and the parse stops
 * once "out" is full, so memory stays that of a piece and the element
 * stack whatever the document.  The parser reads the bytes as UTF-8 and
 * ignores a declared charset; they are made valid UTF-8 on the way in,
 * since libxml2 takes a document with one bad byte for Latin-1 and
 * misreads all of it, where one U+FFFD for the byte is what a plain text
 * file gets.
 */
static const char *const html_blocks[] = { "p", "div", "br", "li", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section",
    "article", "header", "footer", "pre", "blockquote", "hr", "title",
    "dd", "dt", "td", "th", "nav", "main", "aside", "form", NULL };
/* elements whose text is no text of the document */
static const char *const html_skip[] = { "script", "style", "head",
    "noscript", "template", NULL };

struct html_walk {
	htmlParserCtxtPtr	 ctxt;
	struct buf		*out;
	int			 skip;	/* depth inside html_skip elements */
	int			 nl;	/* line breaks owed the next text */
	int			 space;	/* white space since the last text */
	int			 started;	/* text written */
	int			 full;	/* "out" is at its cap */
};

static pthread_once_t	html_once = PTHREAD_ONCE_INIT;

/* libxml2's globals, once per process: xmlInitParser is not thread-safe */
static void
xml_init(void)
{
	xmlInitParser();
}

void
files_xml_init(void)
{
	pthread_once(&html_once, xml_init);
}

static int
html_is(const xmlChar *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (**list == name[0] && strcmp((const char *)name, *list) == 0)
			return 1;
	return 0;
}

static int
html_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void
html_put(struct html_walk *w, const char *p, size_t n)
{
	if (!w->full && files_utf8_append(w->out, p, n) == -1) {
		w->full = 1;
		xmlStopParser(w->ctxt);
	}
}

/* Block elements break lines where they start and end (br once). */
static void
html_start(void *arg, const xmlChar *name, const xmlChar **atts)
{
	struct html_walk	*w = arg;

	(void)atts;
	if (html_is(name, html_skip))
		w->skip++;
	else if (w->skip == 0 && html_is(name, html_blocks) && w->nl < 2)
		w->nl++;
}

static void
html_end(void *arg, const xmlChar *name)
{
	struct html_walk	*w = arg;

	if (html_is(name, html_skip)) {
		if (w->skip > 0)
			w->skip--;
	} else if (w->skip == 0 && html_is(name, html_blocks) &&
	    strcmp((const char *)name, "br") != 0 &&
	    strcmp((const char *)name, "hr") != 0 && w->nl < 2)
		w->nl++;
}

/*
 * Runs of white space are one space, owed line breaks (at most an empty
 * line) replace it, and neither starts or ends the text; a no-break
 * space is a plain one that stays.
 */
static void
html_chars(void *arg, const xmlChar *ch, int len)
{
	struct html_walk	*w = arg;
	const char		*s = (const char *)ch;
	size_t			 i = 0, n = len > 0 ? (size_t)len : 0, j;

	if (w->skip > 0)
		return;
	while (i < n && !w->full) {
		if (html_space(s[i])) {
			w->space = 1;
			i++;
			continue;
		}
		if (w->started && w->nl > 0)
			html_put(w, "\n\n", (size_t)w->nl);
		else if (w->started && w->space)
			html_put(w, " ", 1);
		w->nl = w->space = 0;
		w->started = 1;
		for (j = i; j < n && !html_space(s[j]) &&
		    !(s[j] == '\xc2' && j + 1 < n && s[j + 1] == '\xa0'); j++)
			;
		html_put(w, s + i, j - i);
		if (j < n && s[j] == '\xc2') {
			html_put(w, " ", 1);
			j += 2;
		}
		i = j;
	}
}

/* Append the text of the HTML s[0..n) to "out" (see above). */
static void
html_text(const char *s, size_t n, struct buf *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	htmlSAXHandler		 sax;
	struct html_walk	 w;
	char			 piece[16384];
	size_t			 i = 0, k, o;

	files_xml_init();
	memset(&sax, 0, sizeof(sax));
	sax.startElement = html_start;
	sax.endElement = html_end;
	sax.characters = html_chars;
	sax.ignorableWhitespace = html_chars;
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.ctxt = htmlCreatePushParserCtxt(&sax, &w, NULL, 0, NULL,
	    XML_CHAR_ENCODING_UTF8);
	if (w.ctxt == NULL) {
		log_error("libxml2: no HTML parser (out of memory)");
		return;
	}
	htmlCtxtUseOptions(w.ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
	    HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
	while (i < n && !w.full) {
		/* valid UTF-8: bad bytes as U+FFFD, NULs dropped */
		for (o = 0; i < n && o + 4 <= sizeof(piece); i += k ? k : 1) {
			k = u[i] == 0 ? 0 : u[i] < 0x80 ? 1 :
			    utf8_char(u + i, n - i);
			if (k == 1)
				piece[o++] = s[i];
			else if (k > 0) {
				memcpy(piece + o, s + i, k);
				o += k;
			} else if (u[i] != 0) {
				memcpy(piece + o, "\xef\xbf\xbd", 3);
				o += 3;
			}
		}
		htmlParseChunk(w.ctxt, piece, (int)o, 0);
	}
	if (!w.full)
		htmlParseChunk(w.ctxt, NULL, 0, 1);
	htmlFreeParserCtxt(w.ctxt);
}

int
files_extract_text(const char *extension, const char *mime_type,
    const char *data, size_t len, struct buf *out)
{
	enum files_text_kind	kind = files_text_kind(extension, mime_type);
	size_t			had = out->len;
	int			rc;

	if (kind == TX_NONE)
		return FILES_NO_TEXT;
	if (kind == TX_PDF || kind == TX_DOCX || kind == TX_XLSX ||
	    kind == TX_PPTX) {
		rc = kind == TX_PDF ? files_pdf_text(data, len, out) :
		    files_ooxml_text(kind, data, len, out);
		if (rc == 0)
			return 0;
		/* a refused document leaves no half of its text */
		out->len = had;
		if (out->p != NULL)
			out->p[had] = '\0';
		return FILES_BAD_DOC;
	}
	/* a UTF-8 byte order mark is no text */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (kind == TX_PLAIN)
		files_utf8_append(out, data, len);
	else
		html_text(data, len, out);
	return 0;
}
