/*
 * files_ooxml.c: the text of Office Open XML documents (docx, xlsx, pptx)
 * in the shapes Dify's document-extractor node gives them: a docx's body
 * paragraphs and tables (as Markdown tables) one a line, an xlsx's sheets
 * as Markdown tables, a pptx's slides' paragraphs one a line.
 *
 * A document is a zip of XML parts.  The zip is read with libzip from
 * memory and each part goes through libxml2's streaming reader straight
 * from the inflater, so no part is ever held whole: memory is the text
 * written plus one table or one row.  The files are untrusted, so the
 * entries, the bytes inflated (a zip bomb inflates without end) and the
 * XML depth are capped, the parser never reaches the network nor expands
 * entities, and any of these gives FILES_BAD_DOC, never a partial text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlreader.h>
#include <zip.h>

#include "files_int.h"

#define OX_ENTRIES_MAX	10000
#define OX_PART_MAX	(64 * 1024 * 1024)	/* bytes one part inflates to */
#define OX_INFLATE_MAX	(256 * 1024 * 1024)	/* over the whole document */
#define OX_DEPTH_MAX	256			/* XML element nesting */
#define OX_STRINGS_MAX	(32 * 1024 * 1024)	/* xlsx shared strings */
#define OX_COLS_MAX	16384			/* xlsx columns (A..XFD) */
#define OX_CELLS_MAX	1024			/* docx table cells a row */

struct ox {
	zip_t		*z;
	zip_file_t	*zf;		/* the part being read */
	uint64_t	 part;		/* bytes inflated of it */
	uint64_t	 inflated;	/* of the document */
	int		 bad;		/* a cap or the zip failed */
	struct buf	*out;
	int		 full;		/* "out" reached its cap */
};

/* ---- the zip and its parts ---- */

static int
ox_read(void *arg, char *b, int len)
{
	struct ox	*x = arg;
	zip_int64_t	 n;

	if (x->zf == NULL || len <= 0)
		return 0;
	n = zip_fread(x->zf, b, (zip_uint64_t)len);
	if (n < 0) {
		x->bad = 1;
		return -1;
	}
	x->part += (uint64_t)n;
	x->inflated += (uint64_t)n;
	if (x->part > OX_PART_MAX || x->inflated > OX_INFLATE_MAX) {
		x->bad = 1;
		return -1;
	}
	return (int)n;
}

static int
ox_close(void *arg)
{
	struct ox	*x = arg;

	if (x->zf != NULL)
		zip_fclose(x->zf);
	x->zf = NULL;
	return 0;
}

static int
ox_zip_open(struct ox *x, const char *data, size_t len)
{
	zip_source_t	*src;
	zip_error_t	 ze;
	zip_int64_t	 n;

	zip_error_init(&ze);
	src = zip_source_buffer_create(data, len, 0, &ze);
	if (src == NULL) {
		zip_error_fini(&ze);
		return -1;
	}
	x->z = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	zip_error_fini(&ze);
	if (x->z == NULL) {
		zip_source_free(src);
		return -1;
	}
	n = zip_get_num_entries(x->z, 0);
	if (n < 0 || n > OX_ENTRIES_MAX)
		return -1;
	return 0;
}

/*
 * A reader over the part "name", or NULL (x->bad set unless the part is
 * missing, which "missing" then tells).  Without XML_PARSE_NOENT no
 * entity is substituted, without XML_PARSE_DTDLOAD no DTD is fetched,
 * and without XML_PARSE_HUGE libxml2 keeps its limits on names and text.
 */
static xmlTextReaderPtr
ox_open(struct ox *x, const char *name, int *missing)
{
	zip_stat_t	 st;
	zip_int64_t	 i;

	if (missing != NULL)
		*missing = 0;
	i = zip_name_locate(x->z, name, ZIP_FL_NOCASE);
	if (i < 0) {
		if (missing != NULL)
			*missing = 1;
		else
			x->bad = 1;
		return NULL;
	}
	if (zip_stat_index(x->z, (zip_uint64_t)i, 0, &st) == -1 ||
	    ((st.valid & ZIP_STAT_SIZE) && st.size > OX_PART_MAX)) {
		x->bad = 1;
		return NULL;
	}
	x->zf = zip_fopen_index(x->z, (zip_uint64_t)i, 0);
	if (x->zf == NULL) {
		x->bad = 1;
		return NULL;
	}
	x->part = 0;
	return xmlReaderForIO(ox_read, ox_close, x, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The next node: 1, 0 at the end, -1 (x->bad) on an error or a cap. */
static int
ox_next(struct ox *x, xmlTextReaderPtr r)
{
	int	rc;

	rc = xmlTextReaderRead(r);
	if (rc == 1 && xmlTextReaderDepth(r) > OX_DEPTH_MAX)
		rc = -1;
	if (rc == -1 || x->bad) {
		x->bad = 1;
		return -1;
	}
	return rc;
}

static int
is(xmlTextReaderPtr r, const char *local)
{
	const xmlChar	*n = xmlTextReaderConstLocalName(r);

	return n != NULL && strcmp((const char *)n, local) == 0;
}

/* An attribute by local name, whatever its prefix; free with xmlFree. */
static char *
attr(xmlTextReaderPtr r, const char *local, int prefixed)
{
	char	*v = NULL;

	if (xmlTextReaderMoveToFirstAttribute(r) != 1)
		return NULL;
	do {
		if (is(r, local) &&
		    (xmlTextReaderConstPrefix(r) != NULL) == prefixed) {
			v = (char *)xmlTextReaderValue(r);
			break;
		}
	} while (xmlTextReaderMoveToNextAttribute(r) == 1);
	xmlTextReaderMoveToElement(r);
	return v;
}

static int
is_text(xmlTextReaderPtr r)
{
	int	t = xmlTextReaderNodeType(r);

	return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
	    t == XML_READER_TYPE_WHITESPACE ||
	    t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE;
}

static void
put(struct ox *x, const char *s, size_t n)
{
	if (!x->full && files_utf8_append(x->out, s, n) == -1)
		x->full = 1;
}

static void
puts_(struct ox *x, const char *s)
{
	put(x, s, strlen(s));
}

static int
blank(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && (s[i] < '\t' || s[i] > '\r'))
			return 0;
	return 1;
}

/*
 * The parts a main part lists in order (a workbook's sheets, a
 * presentation's slides): the r:id of each "item" element of "main",
 * looked up in "rels" and made a zip path under "dir".  Appends the paths
 * NUL-terminated to "paths"; 0 or -1.
 */
static int
ox_listed(struct ox *x, const char *main, const char *item,
    const char *rels, const char *dir, struct buf *paths)
{
	xmlTextReaderPtr	 r;
	struct buf		 ids, map;
	char			*id, *tg;
	const char		*p, *q;
	int			 rc = 0;

	buf_init(&ids, 1024 * 1024);
	buf_init(&map, 4 * 1024 * 1024);
	if ((r = ox_open(x, main, NULL)) == NULL) {
		rc = -1;
		goto done;
	}
	while (rc == 0 && ox_next(x, r) == 1)
		if (xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT &&
		    is(r, item) && (id = attr(r, "id", 1)) != NULL) {
			rc = buf_append(&ids, id, strlen(id) + 1);
			xmlFree(id);
		}
	xmlFreeTextReader(r);
	if (rc == -1 || x->bad || (r = ox_open(x, rels, NULL)) == NULL) {
		rc = -1;
		goto done;
	}
	while (rc == 0 && ox_next(x, r) == 1) {
		if (xmlTextReaderNodeType(r) != XML_READER_TYPE_ELEMENT ||
		    !is(r, "Relationship"))
			continue;
		id = attr(r, "Id", 0);
		tg = attr(r, "Target", 0);
		if (id != NULL && tg != NULL &&
		    (buf_append(&map, id, strlen(id) + 1) == -1 ||
		    buf_append(&map, tg, strlen(tg) + 1) == -1))
			rc = -1;
		xmlFree(id);
		xmlFree(tg);
	}
	xmlFreeTextReader(r);
	if (rc == -1 || x->bad) {
		rc = -1;
		goto done;
	}
	for (p = ids.p; p != NULL && p < ids.p + ids.len; p += strlen(p) + 1)
		for (q = map.p; q != NULL && q < map.p + map.len;
		    q += strlen(q) + 1) {
			tg = (char *)q + strlen(q) + 1;
			if (strcmp(p, q) == 0) {
				/* "/ppt/slides/s.xml" or "slides/s.xml" */
				if (*tg == '/')
					rc = buf_append(paths, tg + 1,
					    strlen(tg));
				else if (buf_puts(paths, dir) == -1 ||
				    buf_append(paths, tg, strlen(tg) + 1) ==
				    -1)
					rc = -1;
				break;
			}
			q = tg;
		}
 done:
	buf_free(&ids);
	buf_free(&map);
	return rc;
}

/* ---- docx ---- */

/*
 * What python-docx reads, which is what Dify's node writes: the body's
 * paragraphs and tables in order joined by a line break, a paragraph
 * being its runs' text (direct or in a hyperlink) with tabs and breaks,
 * a table with any text being a Markdown table whose first row heads it
 * and whose cells' lines are joined by <br>; a merged cell repeats its
 * text in every column it covers, as python-docx's row.cells does.
 */
enum dk { DK_OTHER, DK_BODY, DK_P, DK_HYPER, DK_R, DK_T, DK_TBL, DK_TR,
    DK_TC, DK_TCPR };

struct dtbl {
	struct buf	 md;		/* the table so far */
	struct buf	 cell;		/* the cell being read */
	struct buf	 row, prev;	/* cell texts, NUL-terminated */
	size_t		 ncell, nprev, rows;
	int		 span, vcont, paras, has;
};

struct dwalk {
	struct ox	*x;
	enum dk		 st[OX_DEPTH_MAX + 1];
	struct dtbl	 t;
	size_t		 elems;		/* body elements written */
	int		 in_tbl;
};

static void
dtext(struct dwalk *w, const char *s, size_t n)
{
	if (w->in_tbl)
		buf_append(&w->t.cell, s, n);
	else
		put(w->x, s, n);
}

static void
row_cell(struct dtbl *t, const char *s, size_t n)
{
	if (t->ncell >= OX_CELLS_MAX)
		return;
	if (buf_append(&t->row, s, n) == 0 &&
	    buf_append(&t->row, "", 1) == 0)
		t->ncell++;
}

/* The cell ends: its text, or the text above it, once a column. */
static void
cell_end(struct dtbl *t)
{
	const char	*p = t->prev.p, *s = t->cell.p ? t->cell.p : "";
	size_t		 i, n = t->cell.len;

	if (t->vcont) {
		s = "";
		for (i = 0; p != NULL && i < t->nprev; i++, p += strlen(p) + 1)
			if (i == t->ncell) {
				s = p;
				break;
			}
		n = strlen(s);
	} else if (!blank(s, n))
		t->has = 1;
	for (i = 0; i < (size_t)t->span; i++)
		row_cell(t, s, n);
	buf_reset(&t->cell);
}

static void
md_cell(struct buf *md, const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n')
			buf_puts(md, "<br>");
		else
			buf_append(md, s, 1);
}

static void
row_end(struct dtbl *t)
{
	const char	*p = t->row.p;
	size_t		 i;

	buf_puts(&t->md, "| ");
	for (i = 0; i < t->ncell; i++, p += strlen(p) + 1) {
		if (i > 0)
			buf_puts(&t->md, " | ");
		md_cell(&t->md, p);
	}
	buf_puts(&t->md, " |\n");
	if (t->rows++ == 0) {
		buf_puts(&t->md, "| ");
		for (i = 0; i < t->ncell; i++)
			buf_puts(&t->md, i > 0 ? " | ---" : "---");
		buf_puts(&t->md, " |\n");
	}
	buf_reset(&t->prev);
	if (t->row.len > 0)
		buf_append(&t->prev, t->row.p, t->row.len);
	t->nprev = t->ncell;
	buf_reset(&t->row);
	t->ncell = 0;
}

static enum dk
docx_kind(xmlTextReaderPtr r, enum dk parent, int depth)
{
	if (depth == 1 && is(r, "body"))
		return DK_BODY;
	switch (parent) {
	case DK_BODY:
		return is(r, "p") ? DK_P : is(r, "tbl") ? DK_TBL : DK_OTHER;
	case DK_TBL:
		return is(r, "tr") ? DK_TR : DK_OTHER;
	case DK_TR:
		return is(r, "tc") ? DK_TC : DK_OTHER;
	case DK_TC:
		/* a table in a cell is not the cell's text (cell.text) */
		return is(r, "p") ? DK_P : is(r, "tcPr") ? DK_TCPR : DK_OTHER;
	case DK_P:
		return is(r, "r") ? DK_R : is(r, "hyperlink") ? DK_HYPER :
		    DK_OTHER;
	case DK_HYPER:
		return is(r, "r") ? DK_R : DK_OTHER;
	case DK_R:
		return is(r, "t") ? DK_T : DK_OTHER;
	default:
		return DK_OTHER;
	}
}

/* An element opens (and, if empty, closes). */
static void
docx_open(struct dwalk *w, xmlTextReaderPtr r, enum dk k, enum dk parent)
{
	long long	 span;
	char		*v;

	if (k == DK_P && parent == DK_BODY && w->elems++ > 0)
		put(w->x, "\n", 1);
	else if (k == DK_P && parent == DK_TC && w->t.paras++ > 0)
		buf_puts(&w->t.cell, "\n");
	else if (k == DK_TBL) {
		w->in_tbl = 1;
		w->t.rows = w->t.ncell = w->t.nprev = 0;
		w->t.has = 0;
		buf_reset(&w->t.md);
		buf_reset(&w->t.prev);
		buf_reset(&w->t.row);
	} else if (k == DK_TC) {
		w->t.span = 1;
		w->t.vcont = w->t.paras = 0;
		buf_reset(&w->t.cell);
	} else if (parent == DK_TCPR && is(r, "gridSpan")) {
		v = attr(r, "val", 1);
		w->t.span = v != NULL && parse_int(v, 1, OX_CELLS_MAX,
		    &span) == 0 ? (int)span : 1;
		xmlFree(v);
	} else if (parent == DK_TCPR && is(r, "vMerge")) {
		v = attr(r, "val", 1);
		w->t.vcont = v == NULL || strcmp(v, "continue") == 0;
		xmlFree(v);
	} else if (parent == DK_R && (is(r, "tab") || is(r, "ptab")))
		dtext(w, "\t", 1);
	else if (parent == DK_R && is(r, "cr"))
		dtext(w, "\n", 1);
	else if (parent == DK_R && is(r, "noBreakHyphen"))
		dtext(w, "-", 1);
	else if (parent == DK_R && is(r, "br")) {
		/* page and column breaks are no text (python-docx) */
		v = attr(r, "type", 1);
		if (v == NULL || strcmp(v, "textWrapping") == 0)
			dtext(w, "\n", 1);
		xmlFree(v);
	}
}

static void
docx_close(struct dwalk *w, enum dk k)
{
	if (k == DK_TC)
		cell_end(&w->t);
	else if (k == DK_TR)
		row_end(&w->t);
	else if (k == DK_TBL) {
		w->in_tbl = 0;
		if (w->t.has) {
			if (w->elems++ > 0)
				put(w->x, "\n", 1);
			put(w->x, w->t.md.p ? w->t.md.p : "", w->t.md.len);
		}
	}
}

static int
docx_text(struct ox *x)
{
	xmlTextReaderPtr	 r;
	struct dwalk		*w;
	enum dk			 k, parent;
	int			 d, type, rc;

	if ((r = ox_open(x, "word/document.xml", NULL)) == NULL)
		return -1;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		xmlFreeTextReader(r);
		return -1;
	}
	w->x = x;
	buf_init(&w->t.md, x->out->max);
	buf_init(&w->t.cell, x->out->max);
	buf_init(&w->t.row, x->out->max);
	buf_init(&w->t.prev, x->out->max);
	while (!x->full && (rc = ox_next(x, r)) == 1) {
		d = xmlTextReaderDepth(r);
		type = xmlTextReaderNodeType(r);
		parent = d > 0 ? w->st[d - 1] : DK_OTHER;
		if (type == XML_READER_TYPE_ELEMENT) {
			k = docx_kind(r, parent, d);
			w->st[d] = k;
			docx_open(w, r, k, parent);
			if (xmlTextReaderIsEmptyElement(r))
				docx_close(w, k);
		} else if (type == XML_READER_TYPE_END_ELEMENT)
			docx_close(w, w->st[d]);
		else if (parent == DK_T && is_text(r))
			dtext(w, (const char *)xmlTextReaderConstValue(r),
			    strlen((const char *)xmlTextReaderConstValue(r)));
	}
	xmlFreeTextReader(r);
	buf_free(&w->t.md);
	buf_free(&w->t.cell);
	buf_free(&w->t.row);
	buf_free(&w->t.prev);
	free(w);
	return x->bad ? -1 : 0;
}

/* ---- pptx ---- */

/*
 * Dify's node has unstructured's partition_pptx read a presentation and
 * joins its elements' text by line breaks: a slide's paragraphs with
 * text, slide after slide.  Here a paragraph is every a:p of the slide
 * in document order, with a:br as a line break.
 */
static int
slide_text(struct ox *x, const char *path, size_t *elems, struct buf *p)
{
	xmlTextReaderPtr	 r;
	int			 in_t = 0, type;

	if ((r = ox_open(x, path, NULL)) == NULL)
		return -1;
	while (!x->full && ox_next(x, r) == 1) {
		type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_ELEMENT && is(r, "p"))
			buf_reset(p);
		else if (type == XML_READER_TYPE_ELEMENT && is(r, "br"))
			buf_puts(p, "\n");
		else if (type == XML_READER_TYPE_ELEMENT && is(r, "t"))
			in_t = !xmlTextReaderIsEmptyElement(r);
		else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "t"))
			in_t = 0;
		else if (in_t && is_text(r))
			buf_puts(p, (const char *)xmlTextReaderConstValue(r));
		else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "p") &&
		    !blank(p->p ? p->p : "", p->len)) {
			if ((*elems)++ > 0)
				put(x, "\n", 1);
			put(x, p->p, p->len);
			buf_reset(p);
		}
	}
	xmlFreeTextReader(r);
	return x->bad ? -1 : 0;
}

static int
pptx_text(struct ox *x)
{
	struct buf	 paths, para;
	const char	*s;
	size_t		 elems = 0;
	int		 rc;

	buf_init(&paths, 4 * 1024 * 1024);
	buf_init(&para, x->out->max);
	rc = ox_listed(x, "ppt/presentation.xml", "sldId",
	    "ppt/_rels/presentation.xml.rels", "ppt/", &paths);
	for (s = paths.p; rc == 0 && s != NULL && s < paths.p + paths.len &&
	    !x->full; s += strlen(s) + 1)
		rc = slide_text(x, s, &elems, &para);
	buf_free(&paths);
	buf_free(&para);
	return rc;
}

/* ---- xlsx ---- */

/*
 * Dify's node reads each sheet with pandas (openpyxl): the first row
 * with a value heads the table, an empty heading is "Unnamed: <column
 * from 0>", a missing value is "nan", a row with no value is dropped,
 * line breaks in a string are spaces; then
 *
 *	| h1 | h2 |
 *	| -- | -- |		(as many dashes as the heading has characters)
 *	| v1 | v2 |
 *
 * and an empty line after each sheet.  Numbers are written here as the
 * file stores them ("3", "0.5"); pandas would write a float column's
 * whole numbers as "3.0" and a date as a date.
 */
struct sst {
	struct buf	 s;		/* the strings, NUL-terminated */
	size_t		*off;
	size_t		 n, cap;
};

static int
sst_add(struct sst *t, struct buf *si)
{
	size_t	*o;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		if ((o = reallocarray(t->off, t->cap, sizeof(*o))) == NULL)
			return -1;
		t->off = o;
	}
	t->off[t->n++] = t->s.len;
	if (buf_append(&t->s, si->p ? si->p : "", si->len) == -1 ||
	    buf_append(&t->s, "", 1) == -1)
		return -1;
	return 0;
}

/* Shared strings: each si is its t's text, phonetic runs (rPh) aside. */
static int
sst_read(struct ox *x, struct sst *t)
{
	xmlTextReaderPtr	 r;
	struct buf		 si;
	int			 missing, type, in_t = 0, rph = 0, rc = 0;

	buf_init(&t->s, OX_STRINGS_MAX);
	if ((r = ox_open(x, "xl/sharedStrings.xml", &missing)) == NULL)
		return missing ? 0 : -1;
	buf_init(&si, OX_STRINGS_MAX);
	while (rc == 0 && ox_next(x, r) == 1) {
		type = xmlTextReaderNodeType(r);
		if (type == XML_READER_TYPE_ELEMENT && is(r, "si")) {
			buf_reset(&si);
			/* <si/> is a string too: the indexes count it */
			if (xmlTextReaderIsEmptyElement(r))
				rc = sst_add(t, &si);
		} else if (type == XML_READER_TYPE_ELEMENT && is(r, "rPh"))
			rph = !xmlTextReaderIsEmptyElement(r);
		else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "rPh"))
			rph = 0;
		else if (type == XML_READER_TYPE_ELEMENT && is(r, "t"))
			in_t = !xmlTextReaderIsEmptyElement(r);
		else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "t"))
			in_t = 0;
		else if (in_t && !rph && is_text(r))
			rc = buf_puts(&si,
			    (const char *)xmlTextReaderConstValue(r));
		else if (type == XML_READER_TYPE_END_ELEMENT && is(r, "si"))
			rc = sst_add(t, &si);
	}
	xmlFreeTextReader(r);
	buf_free(&si);
	return rc == -1 || x->bad ? -1 : 0;
}

/* "BC12" -> 54 (from 0), or -1 */
static int
ref_col(const char *ref)
{
	int	c = 0;

	if (ref == NULL || *ref < 'A' || *ref > 'Z')
		return -1;
	for (; *ref >= 'A' && *ref <= 'Z'; ref++) {
		c = c * 26 + (*ref - 'A' + 1);
		if (c > OX_COLS_MAX)
			return -1;
	}
	return c - 1;
}

/* The characters (UTF-8 code points) of s. */
static size_t
chars(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}


struct sheet {
	struct ox		*x;
	const struct sst	*sst;
	int			 width;		/* columns, from the first pass */
	int			 rows;		/* rows with a value so far */
	int			 col;		/* next column to write */
	int			 has;		/* the row has a value */
	struct buf		 line;		/* the row's cells as written */
	struct buf		 sep;		/* the heading's dashes */
	struct buf		 val;		/* the cell's value */
};

/*
 * The value of a cell from its v (or inline is/t) text "raw", by its
 * type: a shared string's index, a boolean, else the text as stored;
 * line breaks become spaces (" ".join(str(x).splitlines())).
 */
static void
cell_value(struct sheet *sh, const char *type, struct buf *raw)
{
	const char	*s = raw->p ? raw->p : "";
	unsigned long	 i;
	char		*end;

	buf_reset(&sh->val);
	if (type != NULL && strcmp(type, "s") == 0) {
		i = strtoul(s, &end, 10);
		if (end != s && *end == '\0' && i < sh->sst->n)
			s = sh->sst->s.p + sh->sst->off[i];
		else
			s = "";
	} else if (type != NULL && strcmp(type, "b") == 0)
		s = strcmp(s, "1") == 0 ? "True" : "False";
	for (; *s != '\0'; s++)
		if (*s == '\r' && s[1] == '\n')
			continue;
		else if (*s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
			buf_puts(&sh->val, " ");
		else
			buf_append(&sh->val, s, 1);
}

static void
cell_write(struct sheet *sh, const char *s, size_t n, int heading)
{
	size_t	k;

	if (sh->col > 0)
		buf_puts(&sh->line, " | ");
	buf_append(&sh->line, s, n);
	if (heading) {
		if (sh->col > 0)
			buf_puts(&sh->sep, " | ");
		for (k = chars(s, n); k > 0; k--)
			buf_puts(&sh->sep, "-");
	}
	sh->col++;
}

/* The columns up to "upto" without a value: "Unnamed: N" or "nan". */
static void
cell_gap(struct sheet *sh, int upto, int heading)
{
	char	name[32];

	while (sh->col < upto) {
		if (heading) {
			snprintf(name, sizeof(name), "Unnamed: %d", sh->col);
			cell_write(sh, name, strlen(name), 1);
		} else
			cell_write(sh, "nan", 3, 0);
	}
}

/* A cell ends: pass 1 widens the sheet, pass 2 writes the value. */
static void
cell_put(struct sheet *sh, int col, int pass)
{
	if (sh->val.len == 0 || col < 0)
		return;
	sh->has = 1;
	if (pass == 1) {
		if (col + 1 > sh->width)
			sh->width = col + 1;
		return;
	}
	if (col >= sh->width || col < sh->col)
		return;
	cell_gap(sh, col, sh->rows == 0);
	cell_write(sh, sh->val.p, sh->val.len, sh->rows == 0);
}

/* A row ends: pass 2 writes a row with a value, filled to the width. */
static void
row_done(struct sheet *sh, int pass)
{
	int	heading = sh->rows == 0;

	if (!sh->has)
		return;
	sh->rows++;
	if (pass == 1)
		return;
	cell_gap(sh, sh->width, heading);
	put(sh->x, heading ? "| " : "\n| ", heading ? 2 : 3);
	put(sh->x, sh->line.p, sh->line.len);
	put(sh->x, " |", 2);
	if (heading) {
		put(sh->x, "\n| ", 3);
		put(sh->x, sh->sep.p, sh->sep.len);
		put(sh->x, " |", 2);
	}
}

static int
sheet_pass(struct sheet *sh, const char *path, int pass)
{
	struct ox		*x = sh->x;
	xmlTextReaderPtr	 r;
	struct buf		 raw;
	char			*type = NULL, *ref;
	int			 nt, col = 0, next = 0, in_v = 0, empty;

	if ((r = ox_open(x, path, NULL)) == NULL)
		return -1;
	buf_init(&raw, OX_PART_MAX);
	sh->rows = 0;
	while (!x->full && ox_next(x, r) == 1) {
		nt = xmlTextReaderNodeType(r);
		empty = nt == XML_READER_TYPE_ELEMENT &&
		    xmlTextReaderIsEmptyElement(r);
		if (nt == XML_READER_TYPE_ELEMENT && is(r, "row")) {
			buf_reset(&sh->line);
			sh->col = sh->has = next = 0;
		} else if (nt == XML_READER_TYPE_ELEMENT && is(r, "c")) {
			xmlFree(type);
			type = attr(r, "t", 0);
			ref = attr(r, "r", 0);
			col = ref != NULL ? ref_col(ref) : next;
			xmlFree(ref);
			next = col >= 0 && col < OX_COLS_MAX ? col + 1 : -1;
			buf_reset(&raw);
		} else if (nt == XML_READER_TYPE_ELEMENT &&
		    (is(r, "v") || is(r, "t")))
			in_v = !empty;
		else if (nt == XML_READER_TYPE_END_ELEMENT &&
		    (is(r, "v") || is(r, "t")))
			in_v = 0;
		else if (in_v && is_text(r))
			buf_puts(&raw, (const char *)xmlTextReaderConstValue(r));
		if ((nt == XML_READER_TYPE_END_ELEMENT || empty) &&
		    is(r, "c")) {
			cell_value(sh, type, &raw);
			cell_put(sh, col, pass);
		} else if ((nt == XML_READER_TYPE_END_ELEMENT || empty) &&
		    is(r, "row"))
			row_done(sh, pass);
	}
	xmlFree(type);
	xmlFreeTextReader(r);
	buf_free(&raw);
	return x->bad ? -1 : 0;
}

static int
xlsx_text(struct ox *x)
{
	struct sst	 sst;
	struct sheet	 sh;
	struct buf	 paths;
	const char	*s;
	int		 rc;

	memset(&sst, 0, sizeof(sst));
	buf_init(&paths, 4 * 1024 * 1024);
	rc = sst_read(x, &sst);
	if (rc == 0)
		rc = ox_listed(x, "xl/workbook.xml", "sheet",
		    "xl/_rels/workbook.xml.rels", "xl/", &paths);
	memset(&sh, 0, sizeof(sh));
	sh.x = x;
	sh.sst = &sst;
	buf_init(&sh.line, x->out->max);
	buf_init(&sh.sep, x->out->max);
	buf_init(&sh.val, OX_PART_MAX);
	for (s = paths.p; rc == 0 && s != NULL && s < paths.p + paths.len &&
	    !x->full; s += strlen(s) + 1) {
		sh.width = 0;
		rc = sheet_pass(&sh, s, 1);
		if (rc == 0)
			rc = sheet_pass(&sh, s, 2);
		/* an empty sheet is pandas' empty frame: "|  |" twice */
		if (rc == 0 && sh.rows == 0)
			puts_(x, "|  |\n|  |");
		puts_(x, "\n\n");
	}
	buf_free(&sh.line);
	buf_free(&sh.sep);
	buf_free(&sh.val);
	buf_free(&paths);
	buf_free(&sst.s);
	free(sst.off);
	return rc;
}

/* ---- the door ---- */

int
files_ooxml_text(enum files_text_kind kind, const char *data, size_t len,
    struct buf *out)
{
	struct ox	 x;
	int		 rc = -1;

	memset(&x, 0, sizeof(x));
	x.out = out;
	files_xml_init();
	if (ox_zip_open(&x, data, len) == 0) {
		if (kind == TX_DOCX)
			rc = docx_text(&x);
		else if (kind == TX_XLSX)
			rc = xlsx_text(&x);
		else if (kind == TX_PPTX)
			rc = pptx_text(&x);
	}
	if (x.z != NULL)
		zip_discard(x.z);
	return rc;
}
