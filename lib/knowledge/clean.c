/*
 * clean.c: CleanProcessor.clean of Dify (api/core/rag/cleaner/
 * clean_processor.py): the default cleaning that always runs, then the
 * pre-processing rules remove_extra_spaces and remove_urls_emails in
 * the order they were given.  Each regular expression of Dify is a
 * small scanner here that finds what Python's re finds (leftmost
 * match, its greedy and lazy parts backtracking as re does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge.h"
#include "kn_int.h"

/* Decode the code point at s[i] (valid UTF-8), its byte length in *k. */
uint32_t
kn_cp(const char *s, size_t i, size_t *k)
{
	const unsigned char	*p = (const unsigned char *)s + i;

	if (p[0] < 0x80) {
		*k = 1;
		return p[0];
	}
	if (p[0] < 0xe0) {
		*k = 2;
		return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
	}
	if (p[0] < 0xf0) {
		*k = 3;
		return (uint32_t)(p[0] & 0x0f) << 12 |
		    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	}
	*k = 4;
	return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
}

/* Python's str.isspace(), which is also what re's \s matches in a str. */
int
kn_isspace(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) ||
	    c == 0x85 || c == 0xa0 || c == 0x1680 ||
	    (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
	    c == 0x202f || c == 0x205f || c == 0x3000;
}

/*
 * The default cleaning's character class
 * [\x00-\x08\x0B\x0C\x0E-\x1F\x7F\xEF\xBF\xBE], then "\ufffe".  In a
 * Python str pattern \xEF, \xBF and \xBE are the code points U+00EF,
 * U+00BF and U+00BE (not the bytes of U+FFFE they were meant to be),
 * so Dify drops every "ï", "¿" and "¾": so do we.
 */
static int
invalid_symbol(uint32_t c)
{
	return c <= 0x08 || c == 0x0b || c == 0x0c ||
	    (c >= 0x0e && c <= 0x1f) || c == 0x7f || c == 0xef ||
	    c == 0xbf || c == 0xbe || c == 0xfffe;
}

/* re.sub(from, to, s) for a literal two-byte from. */
static int
sub2(struct buf *out, const char *s, size_t n, const char *from, char to)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (i + 1 < n && s[i] == from[0] && s[i + 1] == from[1]) {
			if (buf_append(out, &to, 1) == -1)
				return -1;
			i++;
		} else if (buf_append(out, s + i, 1) == -1)
			return -1;
	}
	return 0;
}

static int
drop_invalid(struct buf *out, const char *s, size_t n)
{
	size_t		i, k;
	uint32_t	c;

	for (i = 0; i < n; i += k) {
		c = kn_cp(s, i, &k);
		if (!invalid_symbol(c) && buf_append(out, s + i, k) == -1)
			return -1;
	}
	return 0;
}

/* [\t\f\r\x20\u00a0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000] */
static int
extra_space(uint32_t c)
{
	return c == '\t' || c == '\f' || c == '\r' || c == ' ' ||
	    c == 0xa0 || c == 0x1680 || c == 0x180e ||
	    (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f ||
	    c == 0x3000;
}

/* \n{3,} -> "\n\n" */
static int
squeeze_newlines(struct buf *out, const char *s, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i = j) {
		if (s[i] != '\n') {
			if (buf_append(out, s + i, 1) == -1)
				return -1;
			j = i + 1;
			continue;
		}
		for (j = i; j < n && s[j] == '\n'; j++)
			;
		if (buf_append(out, "\n\n", j - i >= 3 ? 2 : j - i) == -1)
			return -1;
	}
	return 0;
}

/* [spaces]{2,} -> " " */
static int
squeeze_spaces(struct buf *out, const char *s, size_t n)
{
	size_t		i, j, k, run;
	uint32_t	c;

	for (i = 0; i < n; i = j) {
		for (j = i, run = 0; j < n; j += k, run++) {
			c = kn_cp(s, j, &k);
			if (!extra_space(c))
				break;
		}
		if (run >= 2) {
			if (buf_append(out, " ", 1) == -1)
				return -1;
			continue;
		}
		if (run == 0)
			kn_cp(s, i, &k);
		else
			k = j - i;
		j = i + k;
		if (buf_append(out, s + i, k) == -1)
			return -1;
	}
	return 0;
}

static int
is_local(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '+' ||
	    c == '-';
}

static int
is_label(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * ([a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+): none of the classes
 * holds '@', and the label's no '.', so a match is the longest local
 * part before an '@' (not reaching back into the last match), one
 * label, a dot and the longest rest; backtracking finds no other.
 */
static int
drop_emails(struct buf *out, const char *s, size_t n)
{
	size_t	i, from = 0, done = 0, l, d;

	for (i = 0; i < n; i++) {
		if (s[i] != '@')
			continue;
		for (l = i; l > done && is_local((unsigned char)s[l - 1]); l--)
			;
		if (l == i)
			continue;
		for (d = i + 1; d < n && is_label((unsigned char)s[d]); d++)
			;
		if (d == i + 1 || d + 1 >= n || s[d] != '.' ||
		    !(is_label((unsigned char)s[d + 1]) || s[d + 1] == '.'))
			continue;
		for (d++; d < n && (is_label((unsigned char)s[d]) ||
		    s[d] == '.'); d++)
			;
		if (buf_append(out, s + from, l - from) == -1)
			return -1;
		from = done = d;
		i = d - 1;
	}
	return buf_append(out, s + from, n - from);
}

/* The length of "https?://[^\\s)]+" at s[i], or 0. */
static size_t
url_at(const char *s, size_t n, size_t i)
{
	size_t		j, k, start;
	uint32_t	c;

	if (n - i < 8 || memcmp(s + i, "http", 4) != 0)
		return 0;
	j = i + 4;
	if (s[j] == 's')
		j++;
	if (n - j < 4 || memcmp(s + j, "://", 3) != 0)
		return 0;
	start = j + 3;
	for (j = start; j < n; j += k) {
		c = kn_cp(s, j, &k);
		if (c == ')' || kn_isspace(c))
			break;
	}
	return j > start ? j - i : 0;
}

static int
drop_urls(struct buf *out, const char *s, size_t n)
{
	size_t	i, from = 0, u;

	for (i = 0; i < n; i++) {
		u = url_at(s, n, i);
		if (u == 0)
			continue;
		if (buf_append(out, s + from, i - from) == -1)
			return -1;
		from = i + u;
		i = from - 1;
	}
	return buf_append(out, s + from, n - from);
}

/*
 * !\[.*?\]\((https?://[^\s)]+)\) at s[i]: the lazy .*? (no newline)
 * grows until "](" and a URL closed by ')' follow.  Sets the URL.
 */
static size_t
image_at(const char *s, size_t n, size_t i, size_t *url, size_t *ulen)
{
	size_t	j, u;

	if (i + 1 >= n || s[i] != '!' || s[i + 1] != '[')
		return 0;
	for (j = i + 2; j + 1 < n && s[j] != '\n'; j++) {
		if (s[j] != ']' || s[j + 1] != '(')
			continue;
		u = url_at(s, n, j + 2);
		if (u > 0 && j + 2 + u < n && s[j + 2 + u] == ')') {
			*url = j + 2;
			*ulen = u;
			return j + 3 + u - i;
		}
	}
	return 0;
}

/*
 * Dify's Markdown-image dance: each image becomes
 * "![image](__MARKDOWN_IMAGE_URL_<n>__)" (its alt text is lost), the
 * URLs left are removed, and the placeholders get their URLs back.
 */
struct images {
	size_t	*off, *len;
	size_t	 n;
};

static int
hide_images(struct buf *out, const char *s, size_t n, struct images *im)
{
	size_t	 i, from = 0, m, u = 0, ul = 0, cap = 0;
	size_t	*p;

	for (i = 0; i < n; i++) {
		m = image_at(s, n, i, &u, &ul);
		if (m == 0)
			continue;
		if (im->n == cap) {
			cap = cap ? cap * 2 : 16;
			p = reallocarray(im->off, cap, sizeof(*p));
			if (p == NULL)
				return -1;
			im->off = p;
			p = reallocarray(im->len, cap, sizeof(*p));
			if (p == NULL)
				return -1;
			im->len = p;
		}
		im->off[im->n] = u;
		im->len[im->n] = ul;
		if (buf_append(out, s + from, i - from) == -1 ||
		    buf_printf(out, "![image](__MARKDOWN_IMAGE_URL_%zu__)",
		    im->n) == -1)
			return -1;
		im->n++;
		from = i + m;
		i = from - 1;
	}
	return buf_append(out, s + from, n - from);
}

#define PLACEHOLDER	"__MARKDOWN_IMAGE_URL_"

static int
show_images(struct buf *out, const char *s, size_t n, const char *orig,
    const struct images *im)
{
	size_t	i, j, from = 0, idx;
	size_t	pl = sizeof(PLACEHOLDER) - 1;

	for (i = 0; i + pl < n; i++) {
		if (memcmp(s + i, PLACEHOLDER, pl) != 0)
			continue;
		idx = 0;
		for (j = i + pl; j < n && s[j] >= '0' && s[j] <= '9' &&
		    j - (i + pl) < 12; j++)
			idx = idx * 10 + (size_t)(s[j] - '0');
		if (j == i + pl || j + 1 >= n || s[j] != '_' ||
		    s[j + 1] != '_' || idx >= im->n ||
		    (s[i + pl] == '0' && j - (i + pl) > 1))
			continue;
		if (buf_append(out, s + from, i - from) == -1 ||
		    buf_append(out, orig + im->off[idx], im->len[idx]) == -1)
			return -1;
		from = j + 2;
		i = from - 1;
	}
	return buf_append(out, s + from, n - from);
}

/* Run one pass from *cur into a fresh buffer, which becomes *cur. */
static int
pass(struct buf *cur, int (*fn)(struct buf *, const char *, size_t))
{
	struct buf	next;

	buf_init(&next, KN_CLEAN_MAX);
	if (fn(&next, cur->p != NULL ? cur->p : "", cur->len) == -1) {
		buf_free(&next);
		return -1;
	}
	buf_free(cur);
	*cur = next;
	return 0;
}

static int
bar_gt(struct buf *o, const char *s, size_t n)
{
	return sub2(o, s, n, "|>", '>');
}

static int
urls_emails(struct buf *cur)
{
	struct images	 im = { NULL, NULL, 0 };
	struct buf	 orig, next;
	int		 rc = -1;

	if (pass(cur, drop_emails) == -1)
		return -1;
	orig = *cur;
	buf_init(cur, KN_CLEAN_MAX);
	if (hide_images(cur, orig.p != NULL ? orig.p : "", orig.len,
	    &im) == -1 || pass(cur, drop_urls) == -1)
		goto out;
	buf_init(&next, KN_CLEAN_MAX);
	if (show_images(&next, cur->p != NULL ? cur->p : "", cur->len,
	    orig.p, &im) == -1) {
		buf_free(&next);
		goto out;
	}
	buf_free(cur);
	*cur = next;
	rc = 0;
out:
	buf_free(&orig);
	free(im.off);
	free(im.len);
	return rc;
}

static int
extra_spaces(struct buf *cur)
{
	if (pass(cur, squeeze_newlines) == -1)
		return -1;
	return pass(cur, squeeze_spaces);
}

enum kn_err
kn_clean(const char *text, size_t len, const struct kn_rules *r,
    struct buf *out)
{
	struct buf	cur;
	int		rc = 0;

	if (len > KN_TEXT_MAX)
		return KN_ERR_TOO_LARGE;
	if (!utf8_valid(text, len))
		return KN_ERR_NOT_UTF8;
	buf_init(&cur, KN_CLEAN_MAX);
	if (sub2(&cur, text, len, "<|", '<') == -1 ||
	    pass(&cur, bar_gt) == -1 || pass(&cur, drop_invalid) == -1)
		rc = -1;
	if (rc == 0 && r->urls_emails_first && r->remove_urls_emails)
		rc = urls_emails(&cur);
	if (rc == 0 && r->remove_extra_spaces)
		rc = extra_spaces(&cur);
	if (rc == 0 && !r->urls_emails_first && r->remove_urls_emails)
		rc = urls_emails(&cur);
	if (rc == 0)
		rc = buf_append(out, cur.p != NULL ? cur.p : "", cur.len);
	buf_free(&cur);
	return rc == 0 ? KN_OK : KN_ERR_NOMEM;
}
