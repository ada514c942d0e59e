/*
 * multipart.c: a streaming multipart/form-data parser (RFC 7578, RFC
 * 2046).  Bytes go in as they arrive, split anywhere; part headers come
 * out parsed, part contents come out in pieces, so a body of any size
 * passes through a few kilobytes of memory.  Caps: MP_HEADER_MAX bytes
 * of headers per part, MP_PARTS_MAX parts.
 *
 * The delimiter is CRLF "--" boundary.  The body is read as if a CRLF
 * preceded it, so a first delimiter at its very start needs no special
 * case.  Because the boundary holds no CR, a CR inside the delimiter can
 * only be its first byte: on a mismatch every byte held back is content,
 * and matching restarts at the byte that broke it.  After a delimiter
 * come "--" (the end) or optional spaces and tabs, then CRLF; in the
 * preamble a line that only starts like a delimiter is text.  Header
 * lines end in CRLF (a bare LF is tolerated); Content-Disposition gives
 * name, filename and filename* (RFC 5987: UTF-8 or ISO-8859-1, which
 * wins over filename), Content-Type the type; other headers are skipped.
 * Quoted values unescape \" and \\ only, as Werkzeug does, so that a
 * Windows path keeps its backslashes.  Control characters in headers
 * are refused.
 */
#include <string.h>
#include <strings.h>

#include "http/http.h"

enum {
	S_PREAMBLE,
	S_TAIL,		/* just after a delimiter */
	S_HEADERS,
	S_DATA,
	S_EPILOGUE,
	S_FAILED
};

enum { T_START, T_DASH, T_LWSP, T_CR };

#define LWSP_MAX	64	/* transport padding after a delimiter */

static const char *const errors[MP_ERR__MAX] = {
	[MP_OK] = "no error",
	[MP_ERR_BOUNDARY] = "not multipart/form-data with a valid boundary",
	[MP_ERR_SYNTAX] = "malformed delimiter or part header",
	[MP_ERR_HEADER_TOO_LARGE] = "part headers too large",
	[MP_ERR_TOO_MANY_PARTS] = "too many parts",
	[MP_ERR_TRUNCATED] = "the body ends before the closing boundary",
	[MP_ERR_CALLBACK] = "stopped by the receiver",
};

const char *
multipart_strerror(enum mp_err e)
{
	return e < MP_ERR__MAX ? errors[e] : "unknown error";
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}


/*
 * Find parameter "key" (case-insensitive) among the "; k=v" parameters
 * after the first value of header value s[0..n), and append its value,
 * unquoted, to "out".  Returns 1 found, 0 absent, -1 malformed.
 */
static int
param_get(const char *s, size_t n, const char *key, struct buf *out)
{
	size_t	 i = 0, ks, ke, klen = strlen(key);
	int	 match;

	while (i < n && s[i] != ';')
		i++;
	while (i < n) {
		i++;	/* the ';' */
		while (i < n && is_ws((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		if (s[i] == ';')
			continue;	/* an empty parameter */
		ks = i;
		while (i < n && s[i] != '=' && s[i] != ';' &&
		    !is_ws((unsigned char)s[i]))
			i++;
		ke = i;
		while (i < n && is_ws((unsigned char)s[i]))
			i++;
		if (ke == ks || i == n || s[i] != '=')
			return -1;
		i++;
		while (i < n && is_ws((unsigned char)s[i]))
			i++;
		match = ke - ks == klen && strncasecmp(s + ks, key, klen) == 0;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n &&
				    (s[i + 1] == '"' || s[i + 1] == '\\'))
					i++;
				if (match && buf_append(out, s + i, 1) == -1)
					return -1;
			}
			if (i == n)
				return -1;	/* no closing quote */
			i++;
			while (i < n && is_ws((unsigned char)s[i]))
				i++;
			if (i < n && s[i] != ';')
				return -1;
		} else {
			ks = i;
			while (i < n && s[i] != ';')
				i++;
			ke = i;
			while (ke > ks && is_ws((unsigned char)s[ke - 1]))
				ke--;
			if (match && buf_append(out, s + ks, ke - ks) == -1)
				return -1;
		}
		if (match)
			return 1;
	}
	return 0;
}

/* The first value of a header, trimmed: s[*start..*end). */
static void
first_value(const char *s, size_t n, size_t *start, size_t *end)
{
	size_t	i = 0, e;

	while (i < n && is_ws((unsigned char)s[i]))
		i++;
	e = i;
	while (e < n && s[e] != ';')
		e++;
	while (e > i && is_ws((unsigned char)s[e - 1]))
		e--;
	*start = i;
	*end = e;
}

/* Whether a boundary is usable: 1..70 printable characters, no quote. */
static int
boundary_ok(const char *b, size_t n)
{
	size_t	i;

	if (n == 0 || n > MP_BOUNDARY_MAX || b[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)b[i] < 0x20 || (unsigned char)b[i] > 0x7e ||
		    b[i] == '"')
			return 0;
	return 1;
}

int
multipart_init(struct multipart *mp, const char *content_type)
{
	struct buf	 b;
	size_t		 s, e;
	int		 rc;

	memset(mp, 0, sizeof(*mp));
	buf_init(&mp->head, MP_HEADER_MAX);
	buf_init(&mp->vals, 2 * MP_HEADER_MAX);
	mp->state = S_FAILED;
	mp->err = MP_ERR_BOUNDARY;
	if (content_type == NULL)
		return -1;
	first_value(content_type, strlen(content_type), &s, &e);
	if (e - s != 19 ||
	    strncasecmp(content_type + s, "multipart/form-data", 19) != 0)
		return -1;
	buf_init(&b, MP_BOUNDARY_MAX + 1);
	rc = param_get(content_type, strlen(content_type), "boundary", &b);
	if (rc == 1 && boundary_ok(buf_cstr(&b), b.len)) {
		memcpy(mp->delim, "\r\n--", 4);
		memcpy(mp->delim + 4, b.p, b.len);
		mp->dlen = 4 + b.len;
		mp->delim[mp->dlen] = '\0';
		mp->state = S_PREAMBLE;
		mp->match = 2;	/* the CRLF the body is read as if after */
		mp->err = MP_OK;
	}
	buf_free(&b);
	return mp->err == MP_OK ? 0 : -1;
}

void
multipart_free(struct multipart *mp)
{
	buf_free(&mp->head);
	buf_free(&mp->vals);
}

static int
fail(struct multipart *mp, enum mp_err e)
{
	mp->err = e;
	mp->state = S_FAILED;
	return -1;
}

/* ---- part headers ---- */

/* Percent-decode an RFC 5987 value into UTF-8; -1 when malformed. */
static int
decode_ext_value(const char *s, size_t n, struct buf *out)
{
	const char	*q1, *q2;
	size_t		 i, cs;
	int		 latin1, h, l;
	unsigned char	 c, u[2];

	q1 = memchr(s, '\'', n);
	if (q1 == NULL)
		return -1;
	q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - s));
	if (q2 == NULL)
		return -1;
	cs = (size_t)(q1 - s);
	if (cs == 5 && strncasecmp(s, "utf-8", 5) == 0)
		latin1 = 0;
	else if (cs == 10 && strncasecmp(s, "iso-8859-1", 10) == 0)
		latin1 = 1;
	else
		return -1;
	for (i = (size_t)(q2 + 1 - s); i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			h = hex_digit((unsigned char)s[i + 1]);
			l = hex_digit((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (latin1 && c >= 0x80) {
			u[0] = (unsigned char)(0xc0 | c >> 6);
			u[1] = (unsigned char)(0x80 | (c & 0x3f));
			if (buf_append(out, u, 2) == -1)
				return -1;
		} else if (buf_append(out, &c, 1) == -1)
			return -1;
	}
	return 0;
}

/* Header offsets into mp->vals, turned into pointers once all are in. */
struct hdr_vals {
	long	name, filename, ctype;
};

static int
disposition(struct multipart *mp, const char *v, size_t n,
    struct hdr_vals *hv)
{
	struct buf	*o = &mp->vals;
	size_t		 at, s, e;
	int		 rc;

	first_value(v, n, &s, &e);
	if (e == s)
		return -1;
	at = o->len;
	rc = param_get(v, n, "name", o);
	if (rc == -1 || buf_append(o, "", 1) == -1)
		return -1;
	if (rc == 1)
		hv->name = (long)at;
	at = o->len;
	rc = param_get(v, n, "filename*", o);
	if (rc == -1)
		return -1;
	if (rc == 1) {
		struct buf	raw;

		buf_init(&raw, MP_HEADER_MAX);
		rc = buf_append(&raw, o->p + at, o->len - at);
		o->len = at;
		/* one we cannot decode is ignored, as RFC 6266 says */
		if (rc == 0 && decode_ext_value(raw.p, raw.len, o) == 0 &&
		    buf_append(o, "", 1) == 0) {
			hv->filename = (long)at;
			buf_free(&raw);
			return 0;
		}
		buf_free(&raw);
		o->len = at;
	}
	rc = param_get(v, n, "filename", o);
	if (rc == -1 || buf_append(o, "", 1) == -1)
		return -1;
	if (rc == 1)
		hv->filename = (long)at;
	return 0;
}

static int
content_type(struct multipart *mp, const char *v, size_t n,
    struct hdr_vals *hv)
{
	size_t	s, e, i, at = mp->vals.len;

	first_value(v, n, &s, &e);
	for (i = s; i < e; i++) {
		char	c = (char)lower((unsigned char)v[i]);

		if (buf_append(&mp->vals, &c, 1) == -1)
			return -1;
	}
	if (buf_append(&mp->vals, "", 1) == -1)
		return -1;
	hv->ctype = (long)at;
	return 0;
}

/* Parse the header block in mp->head and start the part. */
static int
start_part(struct multipart *mp)
{
	struct hdr_vals	 hv = { -1, -1, -1 };
	struct mp_part	 part;
	const char	*p = buf_cstr(&mp->head), *end = p + mp->head.len;
	const char	*nl, *colon, *le;
	int		 have_cd = 0, have_ct = 0;

	buf_reset(&mp->vals);
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (le == p)
			break;	/* the empty line ending the block */
		for (const char *c = p; c < le; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') ||
			    *c == 0x7f)
				return fail(mp, MP_ERR_SYNTAX);
		colon = memchr(p, ':', (size_t)(le - p));
		if (colon == NULL || colon == p)
			return fail(mp, MP_ERR_SYNTAX);
		if (colon - p == 19 &&
		    strncasecmp(p, "content-disposition", 19) == 0) {
			if (have_cd++)
				continue;
			if (disposition(mp, colon + 1,
			    (size_t)(le - colon - 1), &hv) == -1)
				return fail(mp, MP_ERR_SYNTAX);
		} else if (colon - p == 12 &&
		    strncasecmp(p, "content-type", 12) == 0) {
			if (have_ct++)
				continue;
			if (content_type(mp, colon + 1,
			    (size_t)(le - colon - 1), &hv) == -1)
				return fail(mp, MP_ERR_SYNTAX);
		}
	}
	memset(&part, 0, sizeof(part));
	part.name = hv.name >= 0 ? mp->vals.p + hv.name : NULL;
	part.filename = hv.filename >= 0 ? mp->vals.p + hv.filename : NULL;
	part.content_type = hv.ctype >= 0 ? mp->vals.p + hv.ctype : "";
	part.index = mp->nparts - 1;
	mp->in_part = 1;
	if (mp->on_part != NULL && mp->on_part(mp->arg, &part) == -1)
		return fail(mp, MP_ERR_CALLBACK);
	return 0;
}

/*
 * Append header bytes up to and including the empty line; *used says
 * how many were taken.  Returns 1 when the block is complete, 0 when
 * more is needed, -1 on error.
 */
static int
headers(struct multipart *mp, const char *p, size_t n, size_t *used)
{
	size_t		 i;
	const char	*h;
	size_t		 len;

	for (i = 0; i < n; i++) {
		if (buf_append(&mp->head, p + i, 1) == -1)
			return fail(mp, MP_ERR_HEADER_TOO_LARGE);
		if (p[i] != '\n')
			continue;
		h = mp->head.p;
		len = mp->head.len;
		/* the line just ended is empty: "\n" or "\r\n" alone */
		if (len == 1 || (len == 2 && h[0] == '\r') ||
		    (len >= 2 && h[len - 2] == '\n') ||
		    (len >= 3 && h[len - 2] == '\r' && h[len - 3] == '\n')) {
			*used = i + 1;
			return 1;
		}
	}
	*used = n;
	return 0;
}

/* ---- delimiters and content ---- */

static int
emit(struct multipart *mp, const char *p, size_t n)
{
	if (mp->state != S_DATA || n == 0 || mp->on_data == NULL)
		return 0;
	if (mp->on_data(mp->arg, p, n) == -1)
		return fail(mp, MP_ERR_CALLBACK);
	return 0;
}

/*
 * Look for the delimiter in p[0..n), passing content on (in S_DATA).
 * Returns 1 when found (*used bytes taken, through its last byte), 0
 * when all was taken, -1 on error.
 */
static int
scan(struct multipart *mp, const char *p, size_t n, size_t *used)
{
	const char	*cr;
	size_t		 i = 0, end;

	while (i < n) {
		if (mp->match > 0) {
			if (p[i] == mp->delim[mp->match]) {
				i++;
				if (++mp->match == mp->dlen) {
					mp->match = 0;
					*used = i;
					return 1;
				}
				continue;
			}
			/* held bytes were content; p[i] is looked at again */
			if (emit(mp, mp->delim, mp->match) == -1)
				return -1;
			mp->match = 0;
			continue;
		}
		cr = memchr(p + i, '\r', n - i);
		end = cr != NULL ? (size_t)(cr - p) : n;
		if (emit(mp, p + i, end - i) == -1)
			return -1;
		i = end;
		if (cr != NULL) {
			mp->match = 1;
			i++;
		}
	}
	*used = n;
	return 0;
}

/*
 * After a delimiter: "--" ends the body, [LWSP] CRLF starts a part.
 * Returns 0 (more), 1 (the end), 2 when this was no delimiter line, -1.
 */
static int
tail(struct multipart *mp, int c)
{
	switch (mp->tail) {
	case T_START:
		if (c == '-') {
			mp->tail = T_DASH;
			return 0;
		}
		/* FALLTHROUGH */
	case T_LWSP:
		if (is_ws(c) && mp->lwsp++ < LWSP_MAX) {
			mp->tail = T_LWSP;
			return 0;
		}
		if (c == '\r') {
			mp->tail = T_CR;
			return 0;
		}
		return 2;
	case T_DASH:
		if (c != '-')
			return 2;
		mp->state = S_EPILOGUE;
		return 1;
	default:	/* T_CR */
		if (c != '\n')
			return 2;
		if (mp->nparts == MP_PARTS_MAX)
			return fail(mp, MP_ERR_TOO_MANY_PARTS);
		mp->nparts++;
		buf_reset(&mp->head);
		mp->state = S_HEADERS;
		return 0;
	}
}

int
multipart_feed(struct multipart *mp, const char *p, size_t n)
{
	size_t	used;
	int	rc;

	while (n > 0) {
		switch (mp->state) {
		case S_FAILED:
			return -1;
		case S_EPILOGUE:
			return 1;
		case S_PREAMBLE:
		case S_DATA:
			rc = scan(mp, p, n, &used);
			if (rc == -1)
				return -1;
			p += used;
			n -= used;
			if (rc == 1) {
				if (mp->in_part) {
					mp->in_part = 0;
					if (mp->on_end != NULL &&
					    mp->on_end(mp->arg) == -1)
						return fail(mp,
						    MP_ERR_CALLBACK);
				}
				mp->state = S_TAIL;
				mp->tail = T_START;
				mp->lwsp = 0;
			}
			break;
		case S_TAIL:
			rc = tail(mp, (unsigned char)*p);
			if (rc == 2 && mp->nparts == 0) {
				/* only text of the preamble: look again from
				   this byte, which may start a delimiter */
				mp->state = S_PREAMBLE;
				break;
			}
			if (rc == 2)
				return fail(mp, MP_ERR_SYNTAX);
			p++;
			n--;
			if (rc != 0)
				return rc;
			break;
		case S_HEADERS:
			rc = headers(mp, p, n, &used);
			if (rc == -1)
				return -1;
			p += used;
			n -= used;
			if (rc == 1) {
				mp->state = S_DATA;
				if (start_part(mp) == -1)
					return -1;
			}
			break;
		}
	}
	if (mp->state == S_FAILED)
		return -1;
	return mp->state == S_EPILOGUE ? 1 : 0;
}

int
multipart_end(struct multipart *mp)
{
	if (mp->state == S_EPILOGUE)
		return 0;
	if (mp->state != S_FAILED)
		fail(mp, MP_ERR_TRUNCATED);
	return -1;
}
