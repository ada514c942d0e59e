/*
 * dsl_scalar.c: PyYAML's typing of scalars.  The reader (dsl_yaml.c)
 * applies it, and the writer (dsl_export.c) asks it which strings need
 * quotes.  The implicit resolvers of yaml/resolver.py, YAML 1.1 as PyYAML
 * reads it (yes/no/on/off are booleans, 0x1F and 017 integers, 1:30 is
 * 90, ~ is null; dates stay strings); the constructors of
 * yaml/constructor.py that turn the matched text into values; and
 * Python's repr() of a float, which json.dumps writes, so that numbers
 * keep the spelling Dify would store.  Dify reads DSL files with
 * yaml.safe_load (api/services/app_dsl_service.py): these rules decide
 * what an import means.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_int.h"

#define NUM_CHARS	"0123456789_"

int
dsl_in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* Consume "(:[0-5]?[0-9])+" at *p; 1 when at least one group matched. */
static int
sexagesimal(const char **p)
{
	const char	*q = *p;
	int		 n = 0;

	while (*q == ':') {
		q++;
		if (q[0] >= '0' && q[0] <= '5' && isdigit((unsigned char)q[1]))
			q += 2;
		else if (isdigit((unsigned char)q[0]))
			q++;
		else
			return 0;
		n++;
	}
	*p = q;
	return n > 0;
}

/* "([eE][-+][0-9]+)?" then the end of the text. */
static int
exponent_end(const char *q)
{
	if (*q == '\0')
		return 1;
	if ((*q != 'e' && *q != 'E') || (q[1] != '-' && q[1] != '+') ||
	    !isdigit((unsigned char)q[2]))
		return 0;
	q += 2;
	q += strspn(q, "0123456789");
	return *q == '\0';
}

int
dsl_match_int(const char *s)
{
	const char	*p = s + (*s == '-' || *s == '+'), *q;
	size_t		 n;

	if (p[0] == '0' && p[1] == 'b') {
		n = strspn(p + 2, "01_");
		return n > 0 && p[2 + n] == '\0';
	}
	if (p[0] == '0' && p[1] == 'x') {
		n = strspn(p + 2, "0123456789abcdefABCDEF_");
		return n > 0 && p[2 + n] == '\0';
	}
	if (p[0] == '0') {
		if (p[1] == '\0')
			return 1;
		n = strspn(p + 1, "01234567_");
		return n > 0 && p[1 + n] == '\0';
	}
	if (p[0] < '1' || p[0] > '9')
		return 0;
	q = p + 1 + strspn(p + 1, NUM_CHARS);
	if (*q == '\0')
		return 1;
	return sexagesimal(&q) && *q == '\0';
}

static int
match_float(const char *s)
{
	const char	*p = s, *q;
	int		 sign = 0;

	if (*p == '-' || *p == '+') {
		p++;
		sign = 1;
	}
	if (*p == '.') {
		q = p + 1;
		if (strcmp(q, "inf") == 0 || strcmp(q, "Inf") == 0 ||
		    strcmp(q, "INF") == 0)
			return 1;
		if (sign)
			return 0;
		if (strcmp(q, "nan") == 0 || strcmp(q, "NaN") == 0 ||
		    strcmp(q, "NAN") == 0)
			return 1;
		if (!isdigit((unsigned char)*q))
			return 0;
		q += strspn(q, NUM_CHARS);
		return exponent_end(q);
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	q = p + 1 + strspn(p + 1, NUM_CHARS);
	if (*q == '.') {
		q++;
		q += strspn(q, NUM_CHARS);
		return exponent_end(q);
	}
	if (!sexagesimal(&q) || *q != '.')
		return 0;
	q++;
	q += strspn(q, NUM_CHARS);
	return *q == '\0';
}

static int
ndigits(const char **p, int min, int max)
{
	int	n = 0;

	while (n < max && isdigit((unsigned char)(*p)[n]))
		n++;
	if (n < min)
		return 0;
	*p += n;
	return 1;
}

static int
match_timestamp(const char *s)
{
	const char	*p = s;

	if (!ndigits(&p, 4, 4) || *p++ != '-')
		return 0;
	if (strlen(s) == 10 && isdigit((unsigned char)p[0]) &&
	    isdigit((unsigned char)p[1]) && p[2] == '-' &&
	    isdigit((unsigned char)p[3]) && isdigit((unsigned char)p[4]))
		return 1;
	if (!ndigits(&p, 1, 2) || *p++ != '-' || !ndigits(&p, 1, 2))
		return 0;
	if (*p == 'T' || *p == 't')
		p++;
	else if (*p == ' ' || *p == '\t')
		p += strspn(p, " \t");
	else
		return 0;
	if (!ndigits(&p, 1, 2) || *p++ != ':' || !ndigits(&p, 2, 2) ||
	    *p++ != ':' || !ndigits(&p, 2, 2))
		return 0;
	if (*p == '.') {
		p++;
		p += strspn(p, "0123456789");
	}
	p += strspn(p, " \t");
	if (*p == 'Z')
		p++;
	else if (*p == '-' || *p == '+') {
		p++;
		if (!ndigits(&p, 1, 2))
			return 0;
		if (*p == ':') {
			p++;
			if (!ndigits(&p, 2, 2))
				return 0;
		}
	}
	/* the zone is optional but blanks alone may not end the text */
	return *p == '\0' && !(p > s && (p[-1] == ' ' || p[-1] == '\t'));
}

/* What PyYAML makes of a plain scalar, in its resolver order. */
enum dsl_kind
dsl_resolve_plain(const char *s)
{
	static const char *const bools[] = { "yes", "Yes", "YES", "no", "No",
	    "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
	    "On", "ON", "off", "Off", "OFF", NULL };
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };

	if (dsl_in_list(bools, s))
		return K_BOOL;
	if (match_float(s))
		return K_FLOAT;
	if (dsl_match_int(s))
		return K_INT;
	if (strcmp(s, "<<") == 0)
		return K_MERGE;
	if (dsl_in_list(nulls, s))
		return K_NULL;
	if (isdigit((unsigned char)*s) && match_timestamp(s))
		return K_TIMESTAMP;
	if (strcmp(s, "=") == 0)
		return K_VALUE;
	return K_STR;
}

int
dsl_bool_value(const char *s, int *out)
{
	static const char *const truths[] = { "yes", "true", "on", NULL };
	static const char *const lies[] = { "no", "false", "off", NULL };
	char	low[8];
	size_t	i;

	for (i = 0; s[i] != '\0' && i < sizeof(low) - 1; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	if (s[i] != '\0')
		return -1;
	low[i] = '\0';
	if (dsl_in_list(truths, low))
		*out = 1;
	else if (dsl_in_list(lies, low))
		*out = 0;
	else
		return -1;
	return 0;
}

/* The text without underscores (PyYAML drops them before converting). */
static char *
strip_underscores(const char *s)
{
	char	*t = xmalloc(strlen(s) + 1), *q = t;

	for (; *s != '\0'; s++)
		if (*s != '_')
			*q++ = *s;
	*q = '\0';
	return t;
}

/* construct_yaml_int on text that matched the int resolver: 0 or -1. */
int
dsl_int_value(const char *text, long long *out)
{
	char			*t = strip_underscores(text), *p = t, *part;
	unsigned long long	 v = 0, limit, d;
	int			 neg = 0, base = 10, rc = -1;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
	if (p[0] == '0' && p[1] == 'b') {
		base = 2;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'x') {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] != '\0')
		base = 8;
	if (*p == '\0')
		goto out;	/* "0b_": Python's int('', 2) fails too */
	if (base == 10 && strchr(p, ':') != NULL) {
		char	*save = NULL;

		/* sexagesimal: 1:30 is 90 */
		for (part = strtok_r(p, ":", &save); part != NULL;
		    part = strtok_r(NULL, ":", &save)) {
			d = strtoull(part, NULL, 10);
			if (d > limit || v > (limit - d) / 60)
				goto out;
			v = v * 60 + d;
		}
	} else {
		for (; *p != '\0'; p++) {
			d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0') :
			    (unsigned)(tolower((unsigned char)*p) - 'a' + 10);
			if (d >= (unsigned)base || v > (limit - d) / base)
				goto out;
			v = v * base + d;
		}
	}
	*out = neg ? (v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN :
	    -(long long)v) : (long long)v;
	rc = 0;
out:
	free(t);
	return rc;
}

/* construct_yaml_float: 0, or -1 for a value JSON cannot hold. */
int
dsl_float_value(const char *text, double *out)
{
	char	*t = strip_underscores(text), *p = t, *end, *part, *save = NULL;
	double	 v = 0;
	int	 neg = 0, rc = -1;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strchr(p, ':') != NULL) {
		for (part = strtok_r(p, ":", &save); part != NULL;
		    part = strtok_r(NULL, ":", &save))
			v = v * 60 + strtod(part, NULL);
	} else {
		/* Python's float() takes no hexadecimal, strtod() does */
		if (*p == '\0' || strpbrk(p, "xXpP") != NULL)
			goto out;
		v = strtod(p, &end);
		if (*end != '\0' || end == p)
			goto out;
	}
	if (!isfinite(v))
		goto out;
	*out = neg ? -v : v;
	rc = 0;
out:
	free(t);
	return rc;
}

/*
 * Python's repr() of a finite double, which json.dumps also writes: the
 * shortest digits that read back, fixed notation from 1e-4 up to 1e16.
 */
void
dsl_py_repr(double d, char out[40])
{
	char	 tmp[40], digits[24], *p, *q = digits;
	int	 prec, exp, n, i;
	size_t	 o = 0;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	p = tmp;
	if (*p == '-')
		out[o++] = *p++;
	for (; *p != 'e'; p++)
		if (isdigit((unsigned char)*p))
			*q++ = *p;
	*q = '\0';
	exp = (int)strtol(p + 1, NULL, 10);
	n = (int)strlen(digits);
	while (n > 1 && digits[n - 1] == '0')
		digits[--n] = '\0';
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (i = -1; i > exp; i--)
				out[o++] = '0';
			for (i = 0; i < n; i++)
				out[o++] = digits[i];
		} else {
			for (i = 0; i <= exp; i++)
				out[o++] = i < n ? digits[i] : '0';
			out[o++] = '.';
			if (n > exp + 1)
				for (i = exp + 1; i < n; i++)
					out[o++] = digits[i];
			else
				out[o++] = '0';
		}
		out[o] = '\0';
		return;
	}
	out[o++] = digits[0];
	if (n > 1) {
		out[o++] = '.';
		for (i = 1; i < n; i++)
			out[o++] = digits[i];
	}
	snprintf(out + o, 40 - o, "e%c%02d", exp < 0 ? '-' : '+',
	    exp < 0 ? -exp : exp);
}

/* A double that serialises as Python would write it. */
json_object *
dsl_new_double(double d)
{
	char	r[40];

	dsl_py_repr(d, r);
	return json_object_new_double_s(d, r);
}
