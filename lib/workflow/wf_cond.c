/*
 * wf_cond.c: the conditions of if-else nodes, with Python's semantics as
 * Dify's core/workflow/utils/condition/processor.py has them: truthiness
 * for empty checks, int()/float() conversions of the expected value for
 * numbers (whose failures fail the node), "in" on strings and lists,
 * short-circuit per case, sub-conditions on file arrays.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

enum { CMP_FALSE = 0, CMP_TRUE = 1, CMP_ERR = -1 };

static int
fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return CMP_ERR;
}

/* Python's "x in container" for a string or a list; -1 on a TypeError. */
static int
py_in(json_object *x, json_object *c, char *err, size_t errlen)
{
	size_t	i, n;

	if (json_object_is_type(c, json_type_string)) {
		if (!json_object_is_type(x, json_type_string))
			return fail(err, errlen, "'in <string>' requires "
			    "string as left operand");
		if (json_object_get_string_len(x) == 0)
			return 1;
		return memmem(json_object_get_string(c),
		    (size_t)json_object_get_string_len(c),
		    json_object_get_string(x),
		    (size_t)json_object_get_string_len(x)) != NULL;
	}
	n = json_object_array_length(c);
	for (i = 0; i < n; i++)
		if (py_eq(x, json_object_array_get_idx(c, i)))
			return 1;
	return 0;
}

static void
not_found(char *err, size_t errlen, json_object *sel)
{
	struct buf	b;

	buf_init(&b, 4096);
	py_repr(&b, sel);
	snprintf(err, errlen, "Variable %s not found", buf_cstr(&b));
	buf_free(&b);
}

static void
msg_repr(char *err, size_t errlen, const char *pfx, json_object *v)
{
	struct buf	b;

	buf_init(&b, 4096);
	py_repr(&b, v);
	snprintf(err, errlen, "%s%s", pfx, buf_cstr(&b));
	buf_free(&b);
}

/* Python's int(v): strings of decimal digits (with blanks), numbers. */
static int
py_int(json_object *v, long long *out, char *err, size_t errlen)
{
	const char	*s, *e;
	char		 tmp[64];
	size_t		 n;

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		if (!isfinite(json_object_get_double(v)))
			return fail(err, errlen, "cannot convert float "
			    "infinity to integer");
		*out = (long long)json_object_get_double(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "int() argument must be a string, a "
		    "bytes-like object or a real number, not '%s'",
		    v == NULL ? "NoneType" : json_object_is_type(v,
		    json_type_array) ? "list" : "dict");
		return -1;
	}
	s = json_object_get_string(v);
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - s);
	if (n > 0 && n < sizeof(tmp)) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (parse_int(tmp[0] == '+' ? tmp + 1 : tmp, -(1LL << 62),
		    1LL << 62, out) == 0)
			return 0;
	}
	msg_repr(err, errlen, "invalid literal for int() with base 10: ", v);
	return -1;
}

/* Python's float(v). */
static int
float_of(json_object *v, double *out, char *err, size_t errlen)
{
	const char	*s;
	char		*end;

	if (py_is_num(v)) {
		*out = py_num(v);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, errlen, "float() argument must be a string or a "
		    "real number, not '%s'", v == NULL ? "NoneType" :
		    json_object_is_type(v, json_type_array) ? "list" : "dict");
		return -1;
	}
	s = json_object_get_string(v);
	while (isspace((unsigned char)*s))
		s++;
	errno = 0;
	*out = strtod(s, &end);
	while (end != s && isspace((unsigned char)*end))
		end++;
	if (end == s || *end != '\0' || strchr(s, 'x') || strchr(s, 'X')) {
		msg_repr(err, errlen, "could not convert string to float: ", v);
		return -1;
	}
	return 0;
}

/* Compare "actual" (a number) with "expected" converted to its type. */
static int
numeric(const char *op, json_object *actual, json_object *expected,
    char *err, size_t errlen)
{
	long long	 ei, ai;
	double		 ed, ad;
	int		 c;

	if (json_object_is_type(actual, json_type_double)) {
		if (float_of(expected, &ed, err, errlen) == -1)
			return CMP_ERR;
		ad = json_object_get_double(actual);
		c = ad < ed ? -1 : ad > ed ? 1 : ad == ed ? 0 : 2;
	} else {
		if (py_int(expected, &ei, err, errlen) == -1)
			return CMP_ERR;
		ai = json_object_get_int64(actual);
		c = ai < ei ? -1 : ai > ei ? 1 : 0;
	}
	if (c == 2)	/* NaN: every comparison but != is false */
		return strcmp(op, "≠") == 0;
	if (strcmp(op, "=") == 0)
		return c == 0;
	if (strcmp(op, "≠") == 0)
		return c != 0;
	if (strcmp(op, ">") == 0)
		return c > 0;
	if (strcmp(op, "<") == 0)
		return c < 0;
	if (strcmp(op, "≥") == 0)
		return c >= 0;
	return c <= 0;
}

int
wf_cond_compare(const char *op, json_object *actual, json_object *expected,
    char *err, size_t errlen)
{
	int	t = py_truthy(actual), r;
	size_t	i, n;

	if (strcmp(op, "contains") == 0 || strcmp(op, "not contains") == 0) {
		int	neg = op[0] == 'n';

		if (!t)
			return neg;
		if (!json_object_is_type(actual, json_type_string) &&
		    !json_object_is_type(actual, json_type_array))
			return fail(err, errlen, "Invalid actual value type: "
			    "string or array");
		r = py_in(expected, actual, err, errlen);
		return r < 0 ? r : neg ? !r : r;
	}
	if (strcmp(op, "start with") == 0 || strcmp(op, "end with") == 0) {
		const char	*a, *x;
		size_t		 an, xn;

		if (!t)
			return 0;
		if (!json_object_is_type(actual, json_type_string))
			return fail(err, errlen, "Invalid actual value type: "
			    "string");
		if (!json_object_is_type(expected, json_type_string))
			return fail(err, errlen, op[0] == 's' ?
			    "startswith first arg must be str or a tuple of "
			    "str" : "endswith first arg must be str or a tuple "
			    "of str");
		a = json_object_get_string(actual);
		an = (size_t)json_object_get_string_len(actual);
		x = json_object_get_string(expected);
		xn = (size_t)json_object_get_string_len(expected);
		if (xn > an)
			return 0;
		return memcmp(op[0] == 's' ? a : a + an - xn, x, xn) == 0;
	}
	if (strcmp(op, "is") == 0 || strcmp(op, "is not") == 0) {
		if (actual == NULL)
			return 0;
		if (!json_object_is_type(actual, json_type_string) &&
		    !json_object_is_type(actual, json_type_boolean))
			return fail(err, errlen, "Invalid actual value type: "
			    "string or boolean");
		r = py_eq(actual, expected);
		return strcmp(op, "is") == 0 ? r : !r;
	}
	if (strcmp(op, "empty") == 0)
		return !t;
	if (strcmp(op, "not empty") == 0)
		return t;
	if (strcmp(op, "null") == 0 || strcmp(op, "not exists") == 0)
		return actual == NULL;
	if (strcmp(op, "not null") == 0 || strcmp(op, "exists") == 0)
		return actual != NULL;
	if (strcmp(op, "=") == 0 || strcmp(op, "≠") == 0) {
		if (actual == NULL)
			return 0;
		if (!py_is_num(actual))
			return fail(err, errlen, "Invalid actual value type: "
			    "number or boolean");
		if (json_object_is_type(actual, json_type_boolean)) {
			r = json_object_get_boolean(actual) ==
			    py_truthy(expected);
			return op[0] == '=' ? r : !r;
		}
		return numeric(op, actual, expected, err, errlen);
	}
	if (strcmp(op, ">") == 0 || strcmp(op, "<") == 0 ||
	    strcmp(op, "≥") == 0 || strcmp(op, "≤") == 0) {
		if (actual == NULL)
			return 0;
		if (!py_is_num(actual))
			return fail(err, errlen, "Invalid actual value type: "
			    "number");
		return numeric(op, actual, expected, err, errlen);
	}
	if (strcmp(op, "in") == 0 || strcmp(op, "not in") == 0) {
		int	neg = op[0] == 'n';

		if (!t)
			return neg;
		if (!json_object_is_type(expected, json_type_array))
			return fail(err, errlen, "Invalid expected value type: "
			    "array");
		r = py_in(actual, expected, err, errlen);
		return r < 0 ? r : neg ? !r : r;
	}
	if (strcmp(op, "all of") == 0 &&
	    json_object_is_type(expected, json_type_array)) {
		if (!t)
			return 0;
		if (!json_object_is_type(actual, json_type_string) &&
		    !json_object_is_type(actual, json_type_array))
			return fail(err, errlen, "argument of type is not "
			    "iterable");
		n = json_object_array_length(expected);
		for (i = 0; i < n; i++) {
			r = py_in(json_object_array_get_idx(expected, i),
			    actual, err, errlen);
			if (r != 1)
				return r;
		}
		return 1;
	}
	snprintf(err, errlen, "Unsupported operator: %s", op);
	return CMP_ERR;
}

/* Dify's _convert_to_bool for the expected value of boolean variables. */
static json_object *
to_bool(json_object *v, char *err, size_t errlen)
{
	json_object	*j = NULL, *out = NULL;

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_boolean))
		return json_object_new_boolean(json_object_get_int64(v) != 0);
	if (json_object_is_type(v, json_type_string)) {
		j = json_tokener_parse(json_object_get_string(v));
		if (j != NULL && (json_object_is_type(j, json_type_int) ||
		    json_object_is_type(j, json_type_boolean)))
			out = json_object_new_boolean(
			    json_object_get_int64(j) != 0);
		json_object_put(j);
		if (out != NULL)
			return out;
	}
	msg_repr(err, errlen, "unexpected value: ", v);
	return NULL;
}

static int
is_bool_var(json_object *v)
{
	size_t	i, n;

	if (json_object_is_type(v, json_type_boolean))
		return 1;
	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_boolean))
			return 0;
	return n > 0;
}

static int
is_file_array(json_object *v)
{
	return json_object_is_type(v, json_type_array) &&
	    json_object_array_length(v) > 0 &&
	    wf_is_file(json_object_array_get_idx(v, 0));
}

/* A string with a leading dot, as Dify compares extensions. */
static json_object *
dotted(json_object *v)
{
	struct buf	 b;
	json_object	*o;

	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    json_object_get_string(v)[0] == '.')
		return json_object_get(v);
	buf_init(&b, 4096);
	buf_printf(&b, ".%s", json_object_get_string(v));
	o = json_object_new_string(buf_cstr(&b));
	buf_free(&b);
	return o;
}

/*
 * Sub-conditions on the attributes of a file array: each is true when
 * any file matches, or every file for operators with "not".
 */
static int
sub_conditions(json_object *files, json_object *sub, char *err,
    size_t errlen)
{
	json_object	*conds = json_get(sub, "conditions"), *c, *exp, *val;
	const char	*op = json_str(sub, "logical_operator"), *key, *cop;
	const char	*parts[3] = { "f", "f", NULL };
	struct wf_pool	 tmp;
	size_t		 i, j, n, nf = json_object_array_length(files);
	int		 all = op == NULL || strcmp(op, "or") != 0, r, any;
	int		 every, group = all, ext;

	n = conds && json_object_is_type(conds, json_type_array) ?
	    json_object_array_length(conds) : 0;
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(conds, i);
		key = json_str(c, "key");
		cop = json_str(c, "comparison_operator");
		if (key == NULL || cop == NULL)
			return fail(err, errlen, "Invalid sub condition");
		ext = strcmp(key, "extension") == 0;
		exp = ext ? dotted(json_get(c, "value")) :
		    json_object_get(json_get(c, "value"));
		any = 0;
		every = 1;
		for (j = 0; j < nf; j++) {
			wf_pool_init(&tmp);
			wf_pool_set(&tmp, "f", "f", json_object_get(
			    json_object_array_get_idx(files, j)));
			parts[2] = key;
			wf_pool_get(&tmp, parts, 3, &val);
			val = ext ? dotted(val) : json_object_get(val);
			wf_pool_free(&tmp);
			r = wf_cond_compare(cop, val, exp, err, errlen);
			json_object_put(val);
			if (r < 0) {
				json_object_put(exp);
				return r;
			}
			any |= r;
			every &= r;
		}
		json_object_put(exp);
		r = strstr(cop, "not") != NULL ? every : any;
		group = all ? group && r : group || r;
	}
	return group;
}

int
wf_cond_case(struct wf_pool *wp, struct pool *p, json_object *conditions,
    const char *op, json_object *inputs, json_object *results, char *err,
    size_t errlen)
{
	json_object	*c, *sel, *actual, *expected, *conv, *in;
	const char	*cop, *s;
	size_t		 i, n;
	int		 is_and = op == NULL || strcmp(op, "or") != 0, r;
	int		 final = is_and;

	n = conditions && json_object_is_type(conditions, json_type_array) ?
	    json_object_array_length(conditions) : 0;
	for (i = 0; i < n; i++) {
		c = json_object_array_get_idx(conditions, i);
		sel = json_get(c, "variable_selector");
		cop = json_str(c, "comparison_operator");
		if (cop == NULL)
			return fail(err, errlen, "Invalid condition: no "
			    "comparison_operator");
		if (!wf_pool_get_sel(wp, sel, &actual)) {
			not_found(err, errlen, sel);
			return CMP_ERR;
		}
		if (is_file_array(actual) && (strcmp(cop, "contains") == 0 ||
		    strcmp(cop, "not contains") == 0 ||
		    strcmp(cop, "all of") == 0)) {
			if (json_get(c, "sub_variable_condition") == NULL)
				return fail(err, errlen, "Sub variable is "
				    "required");
			r = sub_conditions(actual, json_get(c,
			    "sub_variable_condition"), err, errlen);
		} else if (strcmp(cop, "exists") == 0 ||
		    strcmp(cop, "not exists") == 0)
			r = wf_cond_compare(cop, actual, NULL, err, errlen);
		else {
			expected = json_get(c, "value");
			conv = NULL;
			if (json_object_is_type(expected, json_type_string)) {
				s = wf_tmpl_render(p, wp,
				    json_object_get_string(expected), WF_TEXT,
				    NULL);
				conv = json_object_new_string(s);
			} else
				conv = json_object_get(expected);
			if (is_bool_var(actual) && conv != NULL) {
				json_object	*b;

				if (json_object_is_type(conv,
				    json_type_array)) {
					size_t	k, m;

					b = json_object_new_array();
					m = json_object_array_length(conv);
					for (k = 0; k < m; k++) {
						json_object	*x = to_bool(
						    json_object_array_get_idx(
						    conv, k), err, errlen);

						if (x == NULL) {
							json_object_put(b);
							json_object_put(conv);
							return CMP_ERR;
						}
						json_object_array_add(b, x);
					}
				} else if ((b = to_bool(conv, err,
				    errlen)) == NULL) {
					json_object_put(conv);
					return CMP_ERR;
				}
				json_object_put(conv);
				conv = b;
			}
			if (inputs != NULL) {
				in = json_object_new_object();
				json_object_object_add(in, "actual_value",
				    json_object_get(actual));
				json_object_object_add(in, "expected_value",
				    json_object_get(conv));
				json_object_object_add(in,
				    "comparison_operator",
				    json_object_new_string(cop));
				json_object_array_add(inputs, in);
			}
			r = wf_cond_compare(cop, actual, conv, err, errlen);
			json_object_put(conv);
		}
		if (r < 0)
			return CMP_ERR;
		if (results != NULL)
			json_object_array_add(results,
			    json_object_new_boolean(r));
		if (is_and && !r)
			return 0;
		if (!is_and && r)
			return 1;
		final = r;
	}
	return n == 0 ? is_and : final;
}
