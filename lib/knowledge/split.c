/*
 * split.c: Dify's splitters and the index processors around them.
 *
 * - custom and hierarchical: FixedRecursiveCharacterTextSplitter
 *   (api/core/rag/splitter/fixed_text_splitter.py): str.split on the
 *   fixed separator, and each piece longer than max_tokens through
 *   recursive_split_text over ["\n\n", "。", ". ", " ", ""], whose too
 *   long parts go on to RecursiveCharacterTextSplitter._split_text;
 * - automatic: EnhanceRecursiveCharacterTextSplitter, that is
 *   RecursiveCharacterTextSplitter._split_text (text_splitter.py) over
 *   the same list with 500 and 50;
 * - both merge small parts with TextSplitter._merge_splits.
 * Separators are kept at the end of their part (keep_separator is
 * True), so parts are joined with "" -- also the words that
 * recursive_split_text split on " +", which lose their spaces as in
 * Dify.  _split_text takes its separators as regular expressions when
 * it looks for one (". " is any character but a newline, then a
 * space) and as text when it splits: so do we.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge.h"
#include "kn_int.h"

static const char *const seps[] = { "\n\n", "。", ". ", " ", "" };
#define NSEPS	(sizeof(seps) / sizeof(seps[0]))

struct part {
	const char	*p;
	size_t		 n;	/* bytes */
	size_t		 cp;	/* code points: Dify's length */
};

struct parts {
	struct part	*v;
	size_t		 n, cap;
};

struct list {
	struct kn_chunk	*v;
	size_t		 n, cap;
};

struct splitter {
	long		 size, overlap;
	size_t		*total;		/* pieces made: KN_CHUNKS_MAX */
	enum kn_err	 err;
};


static int
fail(struct splitter *sp, enum kn_err e)
{
	if (sp->err == KN_OK)
		sp->err = e;
	return -1;
}

static int
parts_add(struct splitter *sp, struct parts *ps, const char *p, size_t n)
{
	struct part	*v;

	/* _split_text_with_regex and recursive_split_text drop these */
	if (n == 0 || (n == 1 && p[0] == '\n'))
		return 0;
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		v = reallocarray(ps->v, ps->cap, sizeof(*v));
		if (v == NULL)
			return fail(sp, KN_ERR_NOMEM);
		ps->v = v;
	}
	ps->v[ps->n].p = p;
	ps->v[ps->n].n = n;
	ps->v[ps->n].cp = utf8_count(p, n);
	ps->n++;
	return 0;
}

/* Take the buffer's text as the next chunk. */
static int
list_take(struct splitter *sp, struct list *l, struct buf *b)
{
	struct kn_chunk	*v;
	char		*t;

	if (*sp->total >= KN_CHUNKS_MAX)
		return fail(sp, KN_ERR_TOO_MANY_CHUNKS);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		if ((v = reallocarray(l->v, l->cap, sizeof(*v))) == NULL)
			return fail(sp, KN_ERR_NOMEM);
		l->v = v;
	}
	if ((t = malloc(b->len + 1)) == NULL)
		return fail(sp, KN_ERR_NOMEM);
	if (b->len > 0)
		memcpy(t, b->p, b->len);
	t[b->len] = '\0';
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n].text = t;
	l->v[l->n].len = b->len;
	l->n++;
	(*sp->total)++;
	return 0;
}

static int
list_add(struct splitter *sp, struct list *l, const char *p, size_t n)
{
	struct buf	b;
	int		rc;

	buf_init(&b, KN_TEXT_MAX);
	if (buf_append(&b, p, n) == -1) {
		buf_free(&b);
		return fail(sp, KN_ERR_NOMEM);
	}
	rc = list_take(sp, l, &b);
	buf_free(&b);
	return rc;
}

/* Python's str.strip(): the bounds of s without white space around. */
static void
strip(const char **s, size_t *n)
{
	size_t		k, j;
	uint32_t	c;

	while (*n > 0) {
		c = kn_cp(*s, 0, &k);
		if (!kn_isspace(c))
			break;
		*s += k;
		*n -= k;
	}
	while (*n > 0) {
		for (j = *n - 1; j > 0 && ((unsigned char)(*s)[j] & 0xc0) ==
		    0x80; j--)
			;
		c = kn_cp(*s, j, &k);
		if (!kn_isspace(c))
			break;
		*n = j;
	}
}

/* _join_docs: parts [a, b) joined with "", stripped, kept unless empty */
static int
join(struct splitter *sp, struct list *l, const struct parts *ps,
    size_t a, size_t b)
{
	struct buf	 j;
	const char	*s;
	size_t		 i, n;
	int		 rc = 0;

	buf_init(&j, KN_TEXT_MAX);
	for (i = a; i < b; i++)
		if (buf_append(&j, ps->v[i].p, ps->v[i].n) == -1) {
			buf_free(&j);
			return fail(sp, KN_ERR_NOMEM);
		}
	s = j.p != NULL ? j.p : "";
	n = j.len;
	strip(&s, &n);
	if (n > 0)
		rc = list_add(sp, l, s, n);
	buf_free(&j);
	return rc;
}

/*
 * TextSplitter._merge_splits with separator "" (its length 0): the
 * window [head, i) of parts grows to the chunk size; when the next part
 * would not fit, the window is a chunk, and its front is dropped until
 * what is left fits chunk_overlap and leaves room for the next part.
 */
static int
merge(struct splitter *sp, struct list *l, const struct parts *ps,
    size_t from, size_t to)
{
	size_t	i, head = from;
	long	total = 0, len;

	for (i = from; i < to; i++) {
		len = (long)ps->v[i].cp;
		if (total + len > sp->size && i > head) {
			if (join(sp, l, ps, head, i) == -1)
				return -1;
			while (total > sp->overlap ||
			    (total + len > sp->size && total > 0)) {
				total -= (long)ps->v[head].cp;
				head++;
			}
		}
		total += len;
	}
	return join(sp, l, ps, head, to);
}

/* text.split(sep), the separator kept at the end of each part but the last */
static int
split_keep(struct splitter *sp, struct parts *ps, const char *s, size_t n,
    const char *sep)
{
	size_t		 sl = strlen(sep);
	const char	*at, *end = s + n;

	while ((at = memmem(s, (size_t)(end - s), sep, sl)) != NULL) {
		if (parts_add(sp, ps, s, (size_t)(at - s) + sl) == -1)
			return -1;
		s = at + sl;
	}
	return parts_add(sp, ps, s, (size_t)(end - s));
}

/* list(text): one part per code point */
static int
split_chars(struct splitter *sp, struct parts *ps, const char *s, size_t n)
{
	size_t	i, k;

	for (i = 0; i < n; i += k) {
		kn_cp(s, i, &k);
		if (parts_add(sp, ps, s + i, k) == -1)
			return -1;
	}
	return 0;
}

/* re.search(seps[i], text): ". " is a pattern, the others are text */
static int
re_found(size_t i, const char *s, size_t n)
{
	size_t	j;

	if (strcmp(seps[i], ". ") != 0)
		return memmem(s, n, seps[i], strlen(seps[i])) != NULL;
	for (j = 1; j < n; j++)
		if (s[j] == ' ' && s[j - 1] != '\n')
			return 1;
	return 0;
}

static int	split_regex(struct splitter *, struct list *, const char *,
		    size_t, size_t);

/*
 * The loop both recursive splitters share: parts shorter than the chunk
 * size are gathered (a run of them, [good, i)) and merged; a longer one
 * goes to _split_text with the separators after this one (or as it is,
 * when there are none).
 */
static int
gather(struct splitter *sp, struct list *l, const struct parts *ps,
    size_t next)
{
	size_t	i, good = 0;
	int	rc = 0;

	for (i = 0; i < ps->n && rc == 0; i++) {
		if ((long)ps->v[i].cp < sp->size)
			continue;
		if (good < i)
			rc = merge(sp, l, ps, good, i);
		good = i + 1;
		if (rc == 0 && next >= NSEPS)
			rc = list_add(sp, l, ps->v[i].p, ps->v[i].n);
		else if (rc == 0)
			rc = split_regex(sp, l, ps->v[i].p, ps->v[i].n, next);
	}
	if (rc == 0 && good < ps->n)
		rc = merge(sp, l, ps, good, ps->n);
	return rc;
}

/* RecursiveCharacterTextSplitter._split_text over seps[from..] */
static int
split_regex(struct splitter *sp, struct list *l, const char *s, size_t n,
    size_t from)
{
	struct parts	ps = { NULL, 0, 0 };
	size_t		i, next = NSEPS;
	int		rc;

	for (i = from; i < NSEPS - 1; i++)
		if (re_found(i, s, n)) {
			next = i + 1;
			break;
		}
	if (i < NSEPS - 1)
		rc = split_keep(sp, &ps, s, n, seps[i]);
	else
		rc = split_chars(sp, &ps, s, n);
	if (rc == 0)
		rc = gather(sp, l, &ps, next);
	free(ps.v);
	return rc;
}

/* re.split(" +", text): the spaces go */
static int
split_spaces(struct splitter *sp, struct parts *ps, const char *s, size_t n)
{
	size_t	i = 0, a;

	for (;;) {
		for (a = i; i < n && s[i] != ' '; i++)
			;
		if (parts_add(sp, ps, s + a, i - a) == -1)
			return -1;
		if (i == n)
			return 0;
		while (i < n && s[i] == ' ')
			i++;
	}
}

/*
 * recursive_split_text's last resort, one code point at a time (newlines
 * dropped): a chunk fills to the chunk size, and what went into its last
 * chunk_overlap code points starts the next one.  Not stripped.
 */
static int
split_window(struct splitter *sp, struct list *l, const struct parts *ps)
{
	struct buf	cur, ov;
	long		cl = 0, ol = 0;
	size_t		i;
	int		rc = 0;

	buf_init(&cur, KN_TEXT_MAX);
	buf_init(&ov, KN_TEXT_MAX);
	for (i = 0; i < ps->n && rc == 0; i++) {
		const struct part *p = &ps->v[i];

		if (cl + 1 <= sp->size - sp->overlap) {
			rc = buf_append(&cur, p->p, p->n);
			cl++;
		} else if (cl + 1 <= sp->size) {
			rc = buf_append(&cur, p->p, p->n);
			if (rc == 0)
				rc = buf_append(&ov, p->p, p->n);
			cl++;
			ol++;
		} else {
			if (list_take(sp, l, &cur) == -1)
				break;
			buf_reset(&cur);
			rc = buf_append(&cur, ov.p != NULL ? ov.p : "", ov.len);
			if (rc == 0)
				rc = buf_append(&cur, p->p, p->n);
			cl = ol + 1;
			buf_reset(&ov);
			ol = 0;
		}
		if (rc == -1)
			fail(sp, KN_ERR_NOMEM);
	}
	if (rc == 0 && sp->err == KN_OK && cur.len > 0)
		rc = list_take(sp, l, &cur);
	buf_free(&cur);
	buf_free(&ov);
	return sp->err == KN_OK ? 0 : -1;
}

/* FixedRecursiveCharacterTextSplitter.recursive_split_text */
static int
split_recursive(struct splitter *sp, struct list *l, const char *s,
    size_t n)
{
	struct parts	ps = { NULL, 0, 0 };
	size_t		i;
	int		rc;

	for (i = 0; i < NSEPS - 1; i++)
		if (memmem(s, n, seps[i], strlen(seps[i])) != NULL)
			break;
	if (i == NSEPS - 1) {
		rc = split_chars(sp, &ps, s, n);
		if (rc == 0)
			rc = split_window(sp, l, &ps);
	} else {
		if (strcmp(seps[i], " ") == 0)
			rc = split_spaces(sp, &ps, s, n);
		else
			rc = split_keep(sp, &ps, s, n, seps[i]);
		if (rc == 0)
			rc = gather(sp, l, &ps, i + 1);
	}
	free(ps.v);
	return rc;
}

/* FixedRecursiveCharacterTextSplitter.split_text: pieces not merged */
static int
split_fixed(struct splitter *sp, struct list *l, const char *s, size_t n,
    const char *sep, size_t sl)
{
	const char	*at, *end = s + n, *a;
	size_t		 pn;

	for (a = s;; a = at + sl) {
		at = sl > 0 ? memmem(a, (size_t)(end - a), sep, sl) : NULL;
		pn = at != NULL ? (size_t)(at - a) : (size_t)(end - a);
		if ((long)utf8_count(a, pn) > sp->size) {
			if (split_recursive(sp, l, a, pn) == -1)
				return -1;
		} else if (list_add(sp, l, a, pn) == -1)
			return -1;
		if (at == NULL)
			return 0;
	}
}

/*
 * _get_splitter's separator.replace("\\n", "\n"), then the splitter's
 * codecs.decode(separator, "unicode_escape"), to UTF-8.  That codec
 * reads the UTF-8 bytes as Latin-1, so a separator like "。" becomes
 * "ã\x80\x82" and (as in Dify) matches nothing in a normal text.
 */
static int
put_cp(struct buf *b, uint32_t c)
{
	char	u[4];
	size_t	n;

	if (c >= 0xd800 && c <= 0xdfff)
		return -1;
	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | c >> 6);
		u[1] = (char)(0x80 | (c & 0x3f));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | c >> 12);
		u[1] = (char)(0x80 | (c >> 6 & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | c >> 18);
		u[1] = (char)(0x80 | (c >> 12 & 0x3f));
		u[2] = (char)(0x80 | (c >> 6 & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		n = 4;
	}
	return buf_append(b, u, n);
}


static int
unescape_one(struct buf *b, const unsigned char *s, size_t n, size_t *i)
{
	static const char	from[] = "\\'\"abfnrtv";
	static const char	to[] = "\\'\"\a\b\f\n\r\t\v";
	const char		*e;
	uint32_t		 c = 0;
	size_t			 k, want;
	int			 h;

	if (*i >= n)
		return -1;	/* "\\ at end of string" */
	if (s[*i] == '\n') {
		(*i)++;
		return 0;
	}
	if ((e = strchr(from, s[*i])) != NULL && s[*i] != '\0') {
		(*i)++;
		return put_cp(b, (unsigned char)to[e - from]);
	}
	if (s[*i] >= '0' && s[*i] <= '7') {
		for (k = 0; k < 3 && *i < n && s[*i] >= '0' && s[*i] <= '7';
		    k++, (*i)++)
			c = c * 8 + (uint32_t)(s[*i] - '0');
		return put_cp(b, c);
	}
	want = s[*i] == 'x' ? 2 : s[*i] == 'u' ? 4 : s[*i] == 'U' ? 8 : 0;
	if (want == 0) {
		if (s[*i] == 'N')
			return -1;	/* \N{name}: refused, see the door */
		/* an unknown escape stays, backslash and all */
		if (put_cp(b, '\\') == -1)
			return -1;
		return put_cp(b, s[(*i)++]);
	}
	for (k = 0, (*i)++; k < want; k++, (*i)++) {
		if (*i >= n || (h = hex_digit(s[*i])) < 0)
			return -1;
		c = c << 4 | (uint32_t)h;
	}
	if (c > 0x10ffff)
		return -1;
	return put_cp(b, c);
}

static int
unescape(const char *sep, struct buf *b)
{
	struct buf		 r;
	const unsigned char	*s;
	size_t			 i, n, len = strlen(sep);
	int			 rc = 0;

	buf_init(&r, KN_SEPARATOR_MAX);
	for (i = 0; i < len && rc == 0; i++)
		if (sep[i] == '\\' && i + 1 < len && sep[i + 1] == 'n') {
			rc = buf_append(&r, "\n", 1);
			i++;
		} else
			rc = buf_append(&r, sep + i, 1);
	s = (const unsigned char *)(r.p != NULL ? r.p : "");
	n = r.len;
	for (i = 0; i < n && rc == 0;) {
		if (s[i] != '\\')
			rc = put_cp(b, s[i++]);
		else {
			i++;
			rc = unescape_one(b, s, n, &i);
		}
	}
	buf_free(&r);
	return rc;
}

static enum kn_err
check_seg(const struct kn_segmentation *g)
{
	if (g->max_tokens < KN_MAX_TOKENS_MIN ||
	    g->max_tokens > KN_MAX_TOKENS_MAX)
		return KN_ERR_MAX_TOKENS;
	if (g->chunk_overlap < 0 || g->chunk_overlap > g->max_tokens)
		return KN_ERR_OVERLAP;
	if (g->separator != NULL && strlen(g->separator) > KN_SEPARATOR_MAX)
		return KN_ERR_SEPARATOR;
	return KN_OK;
}

enum kn_err
kn_check(const struct kn_rules *r)
{
	struct buf	b;
	enum kn_err	e;
	int		i;

	for (i = 0; i < 2; i++) {
		const struct kn_segmentation *g = i == 0 ? &r->seg : &r->sub;

		if (r->mode == KN_AUTOMATIC || (i == 1 &&
		    r->mode != KN_HIERARCHICAL))
			break;
		if ((e = check_seg(g)) != KN_OK)
			return e;
		buf_init(&b, KN_SEPARATOR_MAX * 4);
		if (g->separator != NULL && unescape(g->separator, &b) == -1)
			e = KN_ERR_SEPARATOR;
		buf_free(&b);
		if (e != KN_OK)
			return e;
	}
	return KN_OK;
}

/* Split s by one rule into l (not post-processed). */
static enum kn_err
run(const struct kn_rules *r, const struct kn_segmentation *g,
    const char *s, size_t n, size_t *total, struct list *l)
{
	struct splitter	sp;
	struct buf	sep;
	int		rc;

	memset(&sp, 0, sizeof(sp));
	sp.total = total;
	if (r->mode == KN_AUTOMATIC) {
		sp.size = KN_AUTO_MAX_TOKENS;
		sp.overlap = KN_AUTO_CHUNK_OVERLAP;
		rc = split_regex(&sp, l, s, n, 0);
		return rc == 0 ? KN_OK : sp.err;
	}
	sp.size = g->max_tokens;
	sp.overlap = g->chunk_overlap;
	buf_init(&sep, KN_SEPARATOR_MAX * 4);
	if (g->separator != NULL && unescape(g->separator, &sep) == -1) {
		buf_free(&sep);
		return KN_ERR_SEPARATOR;
	}
	rc = split_fixed(&sp, l, s, n, sep.p, sep.len);
	buf_free(&sep);
	return rc == 0 ? KN_OK : sp.err;
}

static void
chunk_free(struct kn_chunk *c)
{
	size_t	i;

	for (i = 0; i < c->nchildren; i++)
		chunk_free(&c->children[i]);
	free(c->children);
	free(c->text);
}

static void
list_free(struct list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		chunk_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* remove_leading_symbols' class */
static int
leading_symbol(uint32_t c)
{
	return (c >= 0x2000 && c <= 0x206f) || (c >= 0x2e00 && c <= 0x2e7f) ||
	    (c >= 0x3000 && c <= 0x303f) ||
	    (c < 0x80 && c != 0 && strchr("\"#$%&'()*+,./:;<=>?@^_`~",
	    (int)c) != NULL);
}

/*
 * What an index processor keeps of a chunk, in place: paragraph mode
 * (ParagraphIndexProcessor.transform) drops leading symbols and strips;
 * hierarchical (ParentChildIndexProcessor) drops one leading "." or "。"
 * and then strips, and leaves any other chunk as it is.  0: dropped.
 */
static int
keep(struct kn_chunk *c, int paragraph)
{
	const char	*s = c->text;
	size_t		 n = c->len, k;

	strip(&s, &n);
	if (n == 0)
		return 0;
	s = c->text;
	n = c->len;
	if (paragraph) {
		while (n > 0 && leading_symbol(kn_cp(s, 0, &k))) {
			s += k;
			n -= k;
		}
		strip(&s, &n);
	} else if (n > 0 && (s[0] == '.' || strncmp(s, "。", 3) == 0)) {
		k = s[0] == '.' ? 1 : 3;
		s += k;
		n -= k;
		strip(&s, &n);
	}
	if (n == 0)
		return 0;
	memmove(c->text, s, n);
	c->text[n] = '\0';
	c->len = n;
	return 1;
}

static void
keep_all(struct list *l, int paragraph)
{
	size_t	i, j = 0;

	for (i = 0; i < l->n; i++) {
		if (keep(&l->v[i], paragraph))
			l->v[j++] = l->v[i];
		else
			chunk_free(&l->v[i]);
	}
	l->n = j;
}

static enum kn_err
children(const struct kn_rules *r, struct kn_chunk *c, size_t *total)
{
	struct list	l = { NULL, 0, 0 };
	enum kn_err	e;

	if ((e = run(r, &r->sub, c->text, c->len, total, &l)) != KN_OK) {
		list_free(&l);
		return e;
	}
	keep_all(&l, 0);
	c->children = l.v;
	c->nchildren = l.n;
	return KN_OK;
}

enum kn_err
kn_split(const char *text, size_t len, const struct kn_rules *r,
    struct kn_chunks *out)
{
	struct list	 l = { NULL, 0, 0 };
	struct buf	 clean;
	struct kn_chunk	*v;
	size_t		 i, total = 0;
	enum kn_err	 e;

	memset(out, 0, sizeof(*out));
	if ((e = kn_check(r)) != KN_OK)
		return e;
	if (len > KN_TEXT_MAX)
		return KN_ERR_TOO_LARGE;
	if (!utf8_valid(text, len))
		return KN_ERR_NOT_UTF8;
	buf_init(&clean, KN_TEXT_MAX);
	if (r->mode == KN_HIERARCHICAL &&
	    r->parent_mode == KN_PARENT_FULL_DOC) {
		/* full-doc takes the text uncleaned, as one parent */
		if ((v = calloc(1, sizeof(*v))) == NULL ||
		    (v->text = malloc(len + 1)) == NULL) {
			free(v);
			return KN_ERR_NOMEM;
		}
		memcpy(v->text, text, len);
		v->text[len] = '\0';
		v->len = len;
		l.v = v;
		l.n = l.cap = 1;
		total = 1;
		e = children(r, v, &total);
		goto done;
	}
	if ((e = kn_clean(text, len, r, &clean)) != KN_OK)
		goto done;
	e = run(r, &r->seg, clean.p != NULL ? clean.p : "", clean.len,
	    &total, &l);
	if (e != KN_OK)
		goto done;
	keep_all(&l, r->mode != KN_HIERARCHICAL);
	for (i = 0; i < l.n && e == KN_OK && r->mode == KN_HIERARCHICAL; i++)
		e = children(r, &l.v[i], &total);
done:
	buf_free(&clean);
	if (e != KN_OK) {
		list_free(&l);
		return e;
	}
	out->v = l.v;
	out->n = l.n;
	return KN_OK;
}

void
kn_chunks_free(struct kn_chunks *c)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		chunk_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

void
kn_rules_automatic(struct kn_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->mode = KN_AUTOMATIC;
	r->remove_extra_spaces = 1;
	r->seg.separator = "\n";	/* AUTOMATIC_RULES' unused "delimiter" */
	r->seg.max_tokens = KN_AUTO_MAX_TOKENS;
	r->seg.chunk_overlap = KN_AUTO_CHUNK_OVERLAP;
}

const char *
kn_strerror(enum kn_err e)
{
	static const char *const msg[KN_ERR__MAX] = {
		[KN_OK] = "ok",
		[KN_ERR_TOO_LARGE] = "the document's text is too large",
		[KN_ERR_NOT_UTF8] = "the document's text is not valid UTF-8",
		[KN_ERR_MAX_TOKENS] = "Custom segment length should be "
		    "between 50 and 4000.",
		[KN_ERR_OVERLAP] = "chunk_overlap should be between 0 and "
		    "the segment length",
		[KN_ERR_SEPARATOR] = "the separator is too long or holds a "
		    "bad escape",
		[KN_ERR_TOO_MANY_CHUNKS] = "the document makes too many chunks",
		[KN_ERR_NOMEM] = "out of memory",
	};

	if ((unsigned)e >= KN_ERR__MAX)
		return "unknown error";
	return msg[e];
}
