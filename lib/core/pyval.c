/*
 * pyval.c: JSON values with Python's semantics, as Dify (a Python
 * program) shows and compares them: repr() of dicts and lists ({'a': 1},
 * [True, None]), str(), floats in their shortest form (2.5, 1.0, 1e+16),
 * json.dumps with ensure_ascii=False, truthiness and ==.  Used by the
 * workflow engine, the template engine and stored conversation variables.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define DEPTH_MAX	64

void
py_float(struct buf *b, double d)
{
	char	s[40], digits[24];
	int	p, exp, nd = 0, i;
	char	*e;

	if (isnan(d)) {
		buf_puts(b, "nan");
		return;
	}
	if (isinf(d)) {
		buf_puts(b, d < 0 ? "-inf" : "inf");
		return;
	}
	if (d == 0) {
		buf_puts(b, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	/* the shortest digits that read back as the same double */
	for (p = 1; p <= 17; p++) {
		snprintf(s, sizeof(s), "%.*e", p - 1, d);
		if (strtod(s, NULL) == d)
			break;
	}
	e = strchr(s, 'e');
	exp = (int)strtol(e + 1, NULL, 10);
	for (i = 0; s + i < e; i++)
		if (s[i] >= '0' && s[i] <= '9')
			digits[nd++] = s[i];
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (d < 0)
		buf_puts(b, "-");
	if (exp < -4 || exp >= 16) {
		buf_printf(b, "%c", digits[0]);
		if (nd > 1)
			buf_printf(b, ".%s", digits + 1);
		buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
	} else if (exp >= nd - 1) {
		buf_puts(b, digits);
		for (i = nd - 1; i < exp; i++)
			buf_puts(b, "0");
		buf_puts(b, ".0");
	} else if (exp >= 0) {
		buf_append(b, digits, (size_t)exp + 1);
		buf_printf(b, ".%s", digits + exp + 1);
	} else {
		buf_puts(b, "0.");
		for (i = -1; i > exp; i--)
			buf_puts(b, "0");
		buf_puts(b, digits);
	}
}

static void
py_int(struct buf *b, json_object *v)
{
	buf_printf(b, "%lld", (long long)json_object_get_int64(v));
}

/* Python's repr of a str: quotes chosen as Python chooses them. */
static void
repr_string(struct buf *b, const char *s, size_t n)
{
	char	q = '\'';
	size_t	i;

	if (memchr(s, '\'', n) != NULL && memchr(s, '"', n) == NULL)
		q = '"';
	buf_append(b, &q, 1);
	for (i = 0; i < n; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c == (unsigned char)q || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\r')
			buf_puts(b, "\\r");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\x%02x", c);
		else
			buf_append(b, &s[i], 1);
	}
	buf_append(b, &q, 1);
}

static void
repr(struct buf *b, json_object *v, int depth)
{
	size_t	i, n;
	int	first = 1;

	if (depth > DEPTH_MAX) {
		buf_puts(b, "...");
		return;
	}
	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_puts(b, "None");
		break;
	case json_type_boolean:
		buf_puts(b, json_object_get_boolean(v) ? "True" : "False");
		break;
	case json_type_int:
		py_int(b, v);
		break;
	case json_type_double:
		py_float(b, json_object_get_double(v));
		break;
	case json_type_string:
		repr_string(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		buf_puts(b, "[");
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(b, ", ");
			repr(b, json_object_array_get_idx(v, i), depth + 1);
		}
		buf_puts(b, "]");
		break;
	case json_type_object:
		buf_puts(b, "{");
		json_object_object_foreach(v, k, val) {
			if (!first)
				buf_puts(b, ", ");
			first = 0;
			repr_string(b, k, strlen(k));
			buf_puts(b, ": ");
			repr(b, val, depth + 1);
		}
		buf_puts(b, "}");
		break;
	}
}

void
py_repr(struct buf *b, json_object *v)
{
	repr(b, v, 0);
}

void
py_str(struct buf *b, json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		buf_append(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	else
		repr(b, v, 0);
}

static void
newline(struct buf *b, int indent, int level)
{
	buf_puts(b, "\n");
	buf_printf(b, "%*s", indent * level, "");
}

static void
pyjson(struct buf *b, json_object *v, int indent, int level)
{
	size_t	i, n;
	int	first = 1;
	double	d;

	if (level > DEPTH_MAX) {
		buf_puts(b, "null");
		return;
	}
	switch (json_object_get_type(v)) {
	case json_type_null:
		buf_puts(b, "null");
		break;
	case json_type_boolean:
		buf_puts(b, json_object_get_boolean(v) ? "true" : "false");
		break;
	case json_type_int:
		py_int(b, v);
		break;
	case json_type_double:
		d = json_object_get_double(v);
		if (isnan(d))
			buf_puts(b, "NaN");
		else if (isinf(d))
			buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
		else
			py_float(b, d);
		break;
	case json_type_string:
		jw_strn(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		n = json_object_array_length(v);
		if (n == 0) {
			buf_puts(b, "[]");
			break;
		}
		buf_puts(b, "[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(b, indent ? "," : ", ");
			if (indent)
				newline(b, indent, level + 1);
			pyjson(b, json_object_array_get_idx(v, i), indent,
			    level + 1);
		}
		if (indent)
			newline(b, indent, level);
		buf_puts(b, "]");
		break;
	case json_type_object:
		if (json_object_object_length(v) == 0) {
			buf_puts(b, "{}");
			break;
		}
		buf_puts(b, "{");
		json_object_object_foreach(v, k, val) {
			if (!first)
				buf_puts(b, indent ? "," : ", ");
			first = 0;
			if (indent)
				newline(b, indent, level + 1);
			jw_strn(b, k, strlen(k));
			buf_puts(b, ": ");
			pyjson(b, val, indent, level + 1);
		}
		if (indent)
			newline(b, indent, level);
		buf_puts(b, "}");
		break;
	}
}

void
py_json(struct buf *b, json_object *v, int indent)
{
	pyjson(b, v, indent, 0);
}


int
py_truthy(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return 0;
	case json_type_boolean:
		return json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) != 0;
	case json_type_double:
		return json_object_get_double(v) != 0;
	case json_type_string:
		return json_object_get_string_len(v) != 0;
	case json_type_array:
		return json_object_array_length(v) != 0;
	case json_type_object:
		return json_object_object_length(v) != 0;
	}
	return 0;
}

int
py_is_num(json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_boolean);
}

double
py_num(json_object *v)
{
	if (json_object_is_type(v, json_type_double))
		return json_object_get_double(v);
	return (double)json_object_get_int64(v);
}

/* Python's ==: numbers (and booleans) by value, containers deeply. */
int
py_eq(json_object *a, json_object *b)
{
	size_t	i, n;

	if (a == NULL || b == NULL)
		return a == b;
	if (py_is_num(a) && py_is_num(b)) {
		if (json_object_is_type(a, json_type_double) ||
		    json_object_is_type(b, json_type_double))
			return py_num(a) == py_num(b);
		return json_object_get_int64(a) == json_object_get_int64(b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return 0;
	switch (json_object_get_type(a)) {
	case json_type_string:
		return json_object_get_string_len(a) ==
		    json_object_get_string_len(b) &&
		    memcmp(json_object_get_string(a), json_object_get_string(b),
		    (size_t)json_object_get_string_len(a)) == 0;
	case json_type_array:
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!py_eq(json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i)))
				return 0;
		return 1;
	case json_type_object:
		if (json_object_object_length(a) !=
		    json_object_object_length(b))
			return 0;
		json_object_object_foreach(a, k, va) {
			json_object	*vb;

			if (!json_object_object_get_ex(b, k, &vb) ||
			    !py_eq(va, vb))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}
