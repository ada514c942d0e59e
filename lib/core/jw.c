/*
 * jw.c: JSON written straight into a buffer, for the list endpoints whose
 * rows come from SQLite and go to the client unchanged: building a json-c
 * tree per row, serialising it and freeing it cost ten times the query
 * (see README, Performance).  Strings are escaped as json-c does (raw
 * UTF-8, control characters and '"' '\' escaped, '/' not).
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"

void
jw_strn(struct buf *b, const char *s, size_t n)
{
	const char	*run, *end = s + n;

	buf_append(b, "\"", 1);
	for (run = s; s < end; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, run, (size_t)(s - run));
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\b': buf_puts(b, "\\b"); break;
		case '\f': buf_puts(b, "\\f"); break;
		default: buf_printf(b, "\\u%04x", c);
		}
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_append(b, "\"", 1);
}

void
jw_str(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_puts(b, "null");
	else
		jw_strn(b, s, strlen(s));
}

void
jw_key(struct buf *b, int first, const char *key)
{
	if (!first)
		buf_append(b, ",", 1);
	jw_str(b, key);
	buf_append(b, ":", 1);
}

void
jw_double(struct buf *b, double d)
{
	char	tmp[40];

	snprintf(tmp, sizeof(tmp), "%.17g", d);
	buf_puts(b, tmp);
	if (strpbrk(tmp, ".eEn") == NULL)
		buf_puts(b, ".0");
}

