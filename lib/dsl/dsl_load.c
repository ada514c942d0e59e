/*
 * dsl.c: Dify DSL import and export (see dsl.h).  Four parts: YAML to
 * JSON with PyYAML's typing (the libyaml event API, every limit checked as
 * events arrive); dsl_load, which checks a file and normalises its graph
 * as Dify's editor does when it opens one (web/.../workflow-init.ts);
 * storage; and the writer, which quotes every string PyYAML would read
 * back as something else, so that an export imports to the same JSON.
 *
 * dsl_load is pure so that the fuzzer (tests/fuzz/fuzz_dsl.c) can run it:
 * it never aborts on input, reports every problem it finds rather than the
 * first, and only normalises nodes whose envelope is sound.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "dsl/dsl.h"
#include "workflow/workflow.h"

/*
 * Dify's node types.  Import accepts exactly these (anything else, e.g.
 * human-input or the trigger types, fails naming the node) and warns about
 * the ones the workflow engine has no executor for (wf_type_find in
 * lib/wf_node.c), so a run fails when it reaches one.  Asking the engine's
 * own table, rather than keeping a second list here, means a warning can
 * never outlive the node type's implementation.
 */
static const char *const node_types[] = {
	"start", "end", "answer", "llm", "knowledge-retrieval",
	"question-classifier", "if-else", "code", "template-transform",
	"http-request", "tool", "variable-aggregator",
	"variable-assigner",	/* legacy name of the aggregator */
	"assigner", "parameter-extractor", "iteration", "iteration-start",
	"loop", "loop-start", "loop-end", "list-operator",
	"document-extractor", "agent",
};

static const char *const app_modes[] = {
	"workflow", "advanced-chat", "chat", "agent-chat", "completion", NULL
};

/* Owners of selectors that are not nodes (spec 3.1). */
static const char *const reserved_owners[] = {
	"sys", "env", "conversation", NULL
};

#define NUM_CHARS	"0123456789_"
#define ERR_MAX		256

int
dsl_node_type_known(const char *type)
{
	size_t	i;

	for (i = 0; i < sizeof(node_types) / sizeof(node_types[0]); i++)
		if (strcmp(node_types[i], type) == 0)
			return 1;
	return 0;
}

int
dsl_node_type_runnable(const char *type)
{
	return dsl_node_type_known(type) && wf_type_find(type) != NULL;
}

const char *
dsl_node_type_at(size_t i)
{
	return i < sizeof(node_types) / sizeof(node_types[0]) ?
	    node_types[i] : NULL;
}

static int
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* ---- scalars: PyYAML's implicit resolvers (yaml/resolver.py) ---- */

enum kind { K_STR, K_NULL, K_BOOL, K_INT, K_FLOAT, K_MERGE, K_VALUE,
	K_TIMESTAMP };

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

static int
match_int(const char *s)
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
static enum kind
resolve_plain(const char *s)
{
	static const char *const bools[] = { "yes", "Yes", "YES", "no", "No",
	    "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
	    "On", "ON", "off", "Off", "OFF", NULL };
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };

	if (in_list(bools, s))
		return K_BOOL;
	if (match_float(s))
		return K_FLOAT;
	if (match_int(s))
		return K_INT;
	if (strcmp(s, "<<") == 0)
		return K_MERGE;
	if (in_list(nulls, s))
		return K_NULL;
	if (isdigit((unsigned char)*s) && match_timestamp(s))
		return K_TIMESTAMP;
	if (strcmp(s, "=") == 0)
		return K_VALUE;
	return K_STR;
}

static int
bool_value(const char *s, int *out)
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
	if (in_list(truths, low))
		*out = 1;
	else if (in_list(lies, low))
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
static int
int_value(const char *text, long long *out)
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
static int
float_value(const char *text, double *out)
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
static void
py_repr(double d, char out[40])
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
static json_object *
new_double(double d)
{
	char	r[40];

	py_repr(d, r);
	return json_object_new_double_s(d, r);
}

/* ---- YAML to JSON ---- */

struct frame {
	json_object	*obj;		/* object or array being filled */
	int		 is_map;
	int		 have_key;
	int		 key_is_merge;
	char		*key;
	json_object	*merge;		/* keys from "<<", applied at the end */
	size_t		 start;		/* value count when it opened */
	size_t		 start_bytes;	/* text bytes when it opened */
	int		 anchor;	/* index in anchors, or -1 */
};

struct anchor {
	char		*name;
	json_object	*value;		/* a reference; NULL while open */
	size_t		 size;		/* values in it */
	size_t		 bytes;		/* bytes of text in it */
	int		 scalar_kind;	/* for aliases used as keys */
};

struct conv {
	yaml_parser_t	 parser;
	struct frame	 stack[DSL_MAX_DEPTH];
	int		 depth;
	struct anchor	*anchors;
	size_t		 nanchors;
	json_object	*anchor_index;	/* name -> index */
	size_t		 values;
	size_t		 aliased;	/* values that aliases copied */
	size_t		 bytes;		/* of scalar text, aliases expanded */
	json_object	*root;
	int		 have_root;
	int		 done;
	char		*err;
	size_t		 errlen;
};

/*
 * Make a message one line of whole UTF-8 characters: control bytes become
 * '?', and a character that %.40s or the buffer's end cut is dropped.
 */
static void
tidy(char *s)
{
	size_t		 n = strlen(s), i, cont = 0;
	unsigned char	 lead;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	for (i = n; i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80 &&
	    cont < 3; i--)
		cont++;
	if (i == 0 || (unsigned char)s[i - 1] < 0xc0)
		return;
	lead = (unsigned char)s[i - 1];
	if (cont < (size_t)(lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1))
		s[i - 1] = '\0';
}

static int
conv_fail(struct conv *c, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
conv_fail(struct conv *c, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list	ap;
	int	n = 0;

	if (m != NULL)
		n = snprintf(c->err, c->errlen, "line %zu, column %zu: ",
		    m->line + 1, m->column + 1);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	tidy(c->err);
	return -1;
}

/* A deep copy that keeps doubles' Python spelling (json_copy drops it). */
static json_object *
copy_value(json_object *v)
{
	json_object	*c;
	size_t		 i, len;

	switch (json_object_get_type(v)) {
	case json_type_object:
		c = json_object_new_object();
		json_object_object_foreach(v, k, val)
			json_object_object_add(c, k, copy_value(val));
		return c;
	case json_type_array:
		len = json_object_array_length(v);
		c = json_object_new_array();
		for (i = 0; i < len; i++)
			json_object_array_add(c, copy_value(
			    json_object_array_get_idx(v, i)));
		return c;
	case json_type_double:
		return new_double(json_object_get_double(v));
	case json_type_null:
		return NULL;
	default:
		return json_object_get(v);
	}
}

/* The string json.dumps makes of a scalar used as a mapping key. */
static char *
key_string(json_object *v)
{
	char	r[40];

	switch (json_object_get_type(v)) {
	case json_type_null:
		return xstrdup("null");
	case json_type_boolean:
		return xstrdup(json_object_get_boolean(v) ? "true" : "false");
	case json_type_double:
		py_repr(json_object_get_double(v), r);
		return xstrdup(r);
	case json_type_string:
		return xstrdup(json_object_get_string(v));
	default:
		return xstrdup(json_object_to_json_string(v));
	}
}

static int
is_tag(const yaml_char_t *tag, const char *name)
{
	return tag != NULL && strcmp((const char *)tag, name) == 0;
}

#define TAG(x)	"tag:yaml.org,2002:" x

/*
 * The JSON value of a scalar event in "*out" (NULL is JSON null) and its
 * kind.  0, or -1 with the error set.
 */
static int
scalar(struct conv *c, yaml_event_t *ev, json_object **out, enum kind *kind)
{
	const char		*s = (const char *)ev->data.scalar.value;
	const yaml_char_t	*tag = ev->data.scalar.tag;
	long long		 n;
	double			 d;
	int			 b;

	*out = NULL;
	if (strlen(s) != ev->data.scalar.length)
		return conv_fail(c, &ev->start_mark,
		    "a NUL character in a string");
	if (tag == NULL || is_tag(tag, "!"))
		*kind = ev->data.scalar.plain_implicit ? resolve_plain(s) :
		    K_STR;
	else if (is_tag(tag, TAG("str")))
		*kind = K_STR;
	else if (is_tag(tag, TAG("null")))
		*kind = K_NULL;
	else if (is_tag(tag, TAG("bool")))
		*kind = K_BOOL;
	else if (is_tag(tag, TAG("int"))) {
		*kind = K_INT;
		s += strspn(s, " ");
		if (!match_int(s))
			return conv_fail(c, &ev->start_mark,
			    "not an integer: %.40s", s);
	} else if (is_tag(tag, TAG("float")))
		*kind = K_FLOAT;
	else
		return conv_fail(c, &ev->start_mark,
		    "unsupported tag %.60s", (const char *)tag);
	switch (*kind) {
	case K_STR:
	case K_TIMESTAMP:
		*out = json_object_new_string_len(s, (int)strlen(s));
		return 0;
	case K_NULL:
		return 0;
	case K_BOOL:
		if (bool_value(s, &b) == -1)
			return conv_fail(c, &ev->start_mark,
			    "not a boolean: %.40s", s);
		*out = json_object_new_boolean(b);
		return 0;
	case K_INT:
		if (int_value(s, &n) == -1)
			return conv_fail(c, &ev->start_mark,
			    "integer out of range or malformed: %.40s", s);
		*out = json_object_new_int64(n);
		return 0;
	case K_FLOAT:
		if (float_value(s, &d) == -1)
			return conv_fail(c, &ev->start_mark,
			    "not a finite number: %.40s", s);
		*out = new_double(d);
		return 0;
	case K_MERGE:
		/* a key; on_scalar refuses it as a value, as PyYAML does */
		*out = json_object_new_string(s);
		return 0;
	case K_VALUE:
		break;
	}
	return conv_fail(c, &ev->start_mark,
	    "could not determine a constructor for %.10s", s);
}

/*
 * Count values and their text as they are made, aliases expanded: a
 * billion laughs, of many values or of long strings, stops here.
 */
static int
count_values(struct conv *c, const yaml_mark_t *m, size_t n, size_t bytes)
{
	c->values += n;
	c->bytes += bytes;
	if (c->values > DSL_MAX_VALUES)
		return conv_fail(c, m, "more than %d values (aliases "
		    "expanded)", DSL_MAX_VALUES);
	if (c->bytes > DSL_MAX_TEXT)
		return conv_fail(c, m, "more than %d bytes of text (aliases "
		    "expanded)", DSL_MAX_TEXT);
	return 0;
}

/* Fold a "<<" value into the frame's merge object. */
static int
merge_into(struct conv *c, struct frame *f, json_object *v,
    const yaml_mark_t *m)
{
	json_object	*sub;
	size_t		 i;

	if (f->merge == NULL)
		f->merge = json_object_new_object();
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, val)
			json_object_object_add(f->merge, k,
			    json_object_get(val));
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return conv_fail(c, m,
		    "expected a mapping or list of mappings for merging");
	/* of several mappings the first wins: apply them last to first */
	for (i = json_object_array_length(v); i > 0; i--) {
		sub = json_object_array_get_idx(v, i - 1);
		if (!json_object_is_type(sub, json_type_object))
			return conv_fail(c, m, "expected a mapping for "
			    "merging");
		json_object_object_foreach(sub, k, val)
			json_object_object_add(f->merge, k,
			    json_object_get(val));
	}
	return 0;
}

/* Put a finished value where it belongs; takes "v". */
static int
place(struct conv *c, json_object *v, const yaml_mark_t *m)
{
	struct frame	*f;
	int		 rc = 0;

	if (c->depth == 0) {
		c->root = v;
		c->have_root = 1;
		return 0;
	}
	f = &c->stack[c->depth - 1];
	if (!f->is_map)
		json_object_array_add(f->obj, v);
	else if (f->key_is_merge) {
		rc = merge_into(c, f, v, m);
		json_object_put(v);
	} else
		json_object_object_add(f->obj, f->key, v);
	free(f->key);
	f->key = NULL;
	f->have_key = 0;
	f->key_is_merge = 0;
	return rc;
}

/* A scalar (or an alias to one) in key position. */
static int
take_key(struct conv *c, json_object *v, enum kind kind,
    const yaml_mark_t *m)
{
	struct frame	*f = &c->stack[c->depth - 1];

	if (json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_array))
		return conv_fail(c, m, "found unhashable key");
	f->key = key_string(v);
	f->key_is_merge = kind == K_MERGE;
	f->have_key = 1;
	return 0;
}

static int
wants_key(struct conv *c)
{
	return c->depth > 0 && c->stack[c->depth - 1].is_map &&
	    !c->stack[c->depth - 1].have_key;
}

static int
anchor_begin(struct conv *c, const yaml_char_t *name, const yaml_mark_t *m)
{
	struct anchor	*a;

	if (name == NULL)
		return -1;
	if (json_get(c->anchor_index, (const char *)name) != NULL) {
		conv_fail(c, m, "found duplicate anchor %.40s", name);
		return -2;
	}
	c->anchors = xrealloc(c->anchors, (c->nanchors + 1) *
	    sizeof(*c->anchors));
	a = &c->anchors[c->nanchors];
	a->name = xstrdup((const char *)name);
	a->value = NULL;
	a->size = 0;
	a->scalar_kind = K_STR;
	json_object_object_add(c->anchor_index, a->name,
	    json_object_new_int((int)c->nanchors));
	return (int)c->nanchors++;
}

static void
anchor_end(struct conv *c, int i, json_object *v, size_t size, size_t bytes,
    enum kind k)
{
	if (i < 0)
		return;
	c->anchors[i].value = json_object_get(v);
	c->anchors[i].size = size;
	c->anchors[i].bytes = bytes;
	c->anchors[i].scalar_kind = k;
}

static int
on_alias(struct conv *c, yaml_event_t *ev)
{
	json_object	*idx = json_get(c->anchor_index,
	    (const char *)ev->data.alias.anchor);
	struct anchor	*a;
	json_object	*v;

	if (idx == NULL)
		return conv_fail(c, &ev->start_mark,
		    "found undefined alias %.40s", ev->data.alias.anchor);
	a = &c->anchors[json_object_get_int(idx)];
	if (a->size == 0)
		return conv_fail(c, &ev->start_mark,
		    "recursive alias %.40s", a->name);
	if (count_values(c, &ev->start_mark, a->size, a->bytes) == -1)
		return -1;
	c->aliased += a->size;
	if (c->aliased > DSL_MAX_ALIASED)
		return conv_fail(c, &ev->start_mark, "aliases expand to more "
		    "than %d values", DSL_MAX_ALIASED);
	if (wants_key(c))
		return take_key(c, a->value, (enum kind)a->scalar_kind,
		    &ev->start_mark);
	v = copy_value(a->value);
	return place(c, v, &ev->start_mark);
}

static int
on_scalar(struct conv *c, yaml_event_t *ev)
{
	json_object	*v;
	enum kind	 kind = K_STR;
	int		 a, rc;

	if (count_values(c, &ev->start_mark, 1,
	    ev->data.scalar.length) == -1 || scalar(c, ev, &v, &kind) == -1)
		return -1;
	a = anchor_begin(c, ev->data.scalar.anchor, &ev->start_mark);
	if (a == -2) {
		json_object_put(v);
		return -1;
	}
	anchor_end(c, a, v, 1, ev->data.scalar.length, kind);
	if (wants_key(c)) {
		rc = take_key(c, v, kind, &ev->start_mark);
		json_object_put(v);
		return rc;
	}
	if (kind == K_MERGE) {
		json_object_put(v);
		return conv_fail(c, &ev->start_mark,
		    "could not determine a constructor for <<");
	}
	return place(c, v, &ev->start_mark);
}

static int
on_start(struct conv *c, yaml_event_t *ev, int is_map)
{
	const yaml_char_t	*tag, *anchor;
	struct frame		*f;
	int			 a;

	tag = is_map ? ev->data.mapping_start.tag :
	    ev->data.sequence_start.tag;
	anchor = is_map ? ev->data.mapping_start.anchor :
	    ev->data.sequence_start.anchor;
	if (wants_key(c))
		return conv_fail(c, &ev->start_mark, "found unhashable key");
	if (tag != NULL && !is_tag(tag, "!") &&
	    !is_tag(tag, is_map ? TAG("map") : TAG("seq")))
		return conv_fail(c, &ev->start_mark, "unsupported tag %.60s",
		    (const char *)tag);
	if (c->depth == DSL_MAX_DEPTH)
		return conv_fail(c, &ev->start_mark, "nested deeper than %d "
		    "levels", DSL_MAX_DEPTH);
	if (count_values(c, &ev->start_mark, 1, 0) == -1)
		return -1;
	if ((a = anchor_begin(c, anchor, &ev->start_mark)) == -2)
		return -1;
	f = &c->stack[c->depth++];
	memset(f, 0, sizeof(*f));
	f->obj = is_map ? json_object_new_object() : json_object_new_array();
	f->is_map = is_map;
	f->start = c->values;
	f->start_bytes = c->bytes;
	f->anchor = a;
	return 0;
}

static int
on_end(struct conv *c, yaml_event_t *ev)
{
	struct frame	*f = &c->stack[c->depth - 1];
	json_object	*v = f->obj;

	if (f->merge != NULL) {
		/* keys written in the mapping win over merged ones */
		json_object_object_foreach(f->merge, k, val)
			if (!json_object_object_get_ex(v, k, NULL))
				json_object_object_add(v, k,
				    json_object_get(val));
		json_object_put(f->merge);
	}
	anchor_end(c, f->anchor, v, c->values - f->start + 1,
	    c->bytes - f->start_bytes, K_STR);
	free(f->key);
	c->depth--;
	return place(c, v, &ev->start_mark);
}

static int
on_event(struct conv *c, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (c->have_root)
			return conv_fail(c, &ev->start_mark,
			    "expected a single document in the stream");
		return 0;
	case YAML_ALIAS_EVENT:
		return on_alias(c, ev);
	case YAML_SCALAR_EVENT:
		return on_scalar(c, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(c, ev, 0);
	case YAML_MAPPING_START_EVENT:
		return on_start(c, ev, 1);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(c, ev);
	case YAML_STREAM_END_EVENT:
		c->done = 1;
		return 0;
	default:
		return 0;
	}
}

json_object *
dsl_yaml_to_json(const char *text, size_t len, char *err, size_t errlen)
{
	struct conv	 c;
	yaml_event_t	 ev;
	json_object	*out = NULL;
	size_t		 i;
	int		 rc = 0;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if (len > DSL_MAX_BYTES) {
		conv_fail(&c, NULL, "larger than %d bytes", DSL_MAX_BYTES);
		return NULL;
	}
	if (!yaml_parser_initialize(&c.parser)) {
		conv_fail(&c, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)text,
	    len);
	c.anchor_index = json_object_new_object();
	while (rc == 0 && !c.done) {
		if (!yaml_parser_parse(&c.parser, &ev)) {
			rc = conv_fail(&c, &c.parser.problem_mark, "%s%s%s",
			    c.parser.context ? c.parser.context : "",
			    c.parser.context ? ": " : "",
			    c.parser.problem ? c.parser.problem :
			    "invalid YAML");
			break;
		}
		rc = on_event(&c, &ev);
		yaml_event_delete(&ev);
	}
	if (rc == 0)
		out = c.root;
	else
		json_object_put(c.root);
	while (c.depth > 0) {
		c.depth--;
		json_object_put(c.stack[c.depth].obj);
		json_object_put(c.stack[c.depth].merge);
		free(c.stack[c.depth].key);
	}
	for (i = 0; i < c.nanchors; i++) {
		free(c.anchors[i].name);
		json_object_put(c.anchors[i].value);
	}
	free(c.anchors);
	json_object_put(c.anchor_index);
	yaml_parser_delete(&c.parser);
	return out;
}

/* ---- dsl_load: checks and the editor's normalisations ---- */

struct node {
	json_object	*obj;
	json_object	*data;		/* NULL when missing */
	const char	*id;		/* NULL when missing */
	const char	*type;		/* data.type, NULL when missing */
	const char	*title;
	int		 pos;		/* 0-based, in the file's node list */
	int		 ok;		/* id, data and a known type; unique */
};

struct load {
	struct dsl_app	*a;
	struct pool	 p;
	struct node	*nodes;		/* notes dropped; room for starts */
	size_t		 n, cap;
	json_object	*index;		/* node id -> position in nodes */
	json_object	*node_list;	/* the stored graph's nodes */
	json_object	*edge_list;
	int		*esrc, *etgt;	/* edges between known nodes */
	size_t		 ne, ecap;
	size_t		 unsaid[2];	/* problems, warnings past the cap */
};

#define SAY_MAX		200	/* messages of each kind listed */

#define QUOTE_MAX	80

/* "s" quoted and escaped for a message, at most QUOTE_MAX bytes of it. */
static const char *
qs(struct load *L, const char *s)
{
	size_t	 n = strlen(s), cut = n, i, o = 0;
	char	*out;

	if (n > QUOTE_MAX) {
		cut = QUOTE_MAX;
		while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
			cut--;
	}
	out = pool_alloc(&L->p, cut * 4 + 8);
	out[o++] = '"';
	for (i = 0; i < cut; i++) {
		unsigned char	ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(out + o, 5, "\\x%02x", ch);
			o += 4;
		} else
			out[o++] = (char)ch;
	}
	if (cut < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* node "id": "title" (type), or node #N when it has no id. */
static void
node_desc(struct load *L, struct buf *b, const struct node *nd)
{
	const char	*t;

	if (nd->id != NULL)
		buf_printf(b, "node %s", qs(L, nd->id));
	else
		buf_printf(b, "node #%d", nd->pos + 1);
	if (nd->title != NULL && nd->title[0] != '\0')
		buf_printf(b, ": %s", qs(L, nd->title));
	if (nd->type != NULL && nd->type[0] != '\0') {
		t = qs(L, nd->type);
		buf_printf(b, " (%.*s)", (int)strlen(t) - 2, t + 1);
	}
}

/* Add a message to "list", prefixed with the node it is about. */
static void
say(struct load *L, json_object *list, const struct node *nd,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
say(struct load *L, json_object *list, const struct node *nd,
    const char *fmt, ...)
{
	struct buf	 b;
	char		 msg[4096];
	va_list		 ap;

	if (json_object_array_length(list) >= SAY_MAX) {
		L->unsaid[list == L->a->problems ? 0 : 1]++;
		return;
	}
	buf_init(&b, 8192);
	if (nd != NULL) {
		node_desc(L, &b, nd);
		buf_puts(&b, ": ");
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tidy(msg);
	buf_puts(&b, msg);
	json_object_array_add(list, json_object_new_string(buf_cstr(&b)));
	buf_free(&b);
}

#define PROBLEM(L, nd, ...)	say((L), (L)->a->problems, (nd), __VA_ARGS__)
#define WARN(L, nd, ...)	say((L), (L)->a->warnings, (nd), __VA_ARGS__)

/* JavaScript's falsiness, which the editor's defaults test. */
static int
falsy(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return 1;
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	default:
		return 0;
	}
}

static struct node *
find_node(struct load *L, const char *id)
{
	json_object	*v;

	if (id == NULL || !json_object_object_get_ex(L->index, id, &v))
		return NULL;
	return &L->nodes[json_object_get_int(v)];
}

static int
type_is(const struct node *nd, const char *type)
{
	return nd->type != NULL && strcmp(nd->type, type) == 0;
}

/* An optional string field of "o": 0, or -1 after a problem. */
static int
opt_string(struct load *L, json_object *o, const char *key, const char *what,
    const char **out)
{
	json_object	*v = json_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		PROBLEM(L, NULL, "%s.%s: must be a string", what, key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* "1.2.3" into numbers (more than four parts are ignored): 0 or -1. */
static int
version_parse(const char *s, long v[4])
{
	char	*end;
	int	 i = 0;

	memset(v, 0, 4 * sizeof(v[0]));
	for (;;) {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		if (i < 4)
			v[i++] = strtol(s, &end, 10);
		else
			strtol(s, &end, 10);
		if (errno != 0)
			return -1;
		if (*end == '\0')
			return 0;
		if (*end != '.')
			return -1;
		s = end + 1;
	}
}

/* version, kind and the app section (spec 2.5 rules 2 and 4). */
static void
load_header(struct load *L, const char *name)
{
	struct dsl_app	*a = L->a;
	json_object	*app, *v;
	long		 have[4], cur[4];
	int		 i;

	v = json_get(a->doc, "version");
	if (v == NULL && !json_object_object_get_ex(a->doc, "version", NULL))
		a->version = "0.1.0";
	else if (!json_object_is_type(v, json_type_string))
		PROBLEM(L, NULL, "version: must be a string such as '0.6.0' "
		    "(quote it)");
	else {
		a->version = json_object_get_string(v);
		if (version_parse(a->version, have) == -1)
			PROBLEM(L, NULL, "version: %s is not a version number",
			    qs(L, a->version));
		else {
			version_parse(DSL_VERSION, cur);
			for (i = 0; i < 4 && have[i] == cur[i]; i++)
				;
			if (i < 4 && have[i] > cur[i])
				WARN(L, NULL, "version %s is newer than %s, "
				    "the newest this importer knows",
				    qs(L, a->version), DSL_VERSION);
		}
	}
	app = json_get(a->doc, "app");
	if (!json_object_is_type(app, json_type_object)) {
		PROBLEM(L, NULL, "app: missing (Missing app data in YAML "
		    "content)");
		return;
	}
	if (opt_string(L, app, "mode", "app", &a->mode) == 0) {
		if (a->mode == NULL)
			PROBLEM(L, NULL, "app.mode: missing");
		else if (!in_list(app_modes, a->mode)) {
			PROBLEM(L, NULL, "app.mode: unknown mode %s (expected "
			    "workflow, advanced-chat, chat, agent-chat or "
			    "completion)", qs(L, a->mode));
			a->mode = NULL;
		}
	}
	if (name != NULL)
		a->name = name;
	else if (opt_string(L, app, "name", "app", &a->name) == -1)
		a->name = "-";	/* not a string: reported already */
	if (a->name == NULL || a->name[0] == '\0')
		PROBLEM(L, NULL, "app.name: missing (or give a name)");
	opt_string(L, app, "description", "app", &a->description);
	opt_string(L, app, "icon_type", "app", &a->icon_type);
	opt_string(L, app, "icon", "app", &a->icon);
	opt_string(L, app, "icon_background", "app", &a->icon_background);
	v = json_get(app, "use_icon_as_answer_icon");
	if (json_object_is_type(v, json_type_boolean))
		a->use_icon_as_answer_icon = json_object_get_boolean(v);
	else if (v != NULL)
		PROBLEM(L, NULL, "app.use_icon_as_answer_icon: must be true "
		    "or false");
}

static void
load_model_config(struct load *L)
{
	json_object	*mc = json_get(L->a->doc, "model_config");

	if (!json_object_is_type(mc, json_type_object)) {
		PROBLEM(L, NULL, "model_config: missing (Missing model_config "
		    "for chat/agent-chat/completion app)");
		return;
	}
	if (json_get(mc, "model") == NULL)
		WARN(L, NULL, "model_config.model: missing; the app cannot "
		    "answer until it has a model");
	L->a->config = copy_value(mc);
}

/* Environment or conversation variables: a list of {name, value_type,
 * value, ...} (spec 2.3). */
static json_object *
load_variables(struct load *L, json_object *wf, const char *key)
{
	json_object	*list = json_get(wf, key), *item;
	const char	*name;
	size_t		 i;

	if (list == NULL)
		return json_object_new_array();
	if (!json_object_is_type(list, json_type_array)) {
		PROBLEM(L, NULL, "workflow.%s: must be a list", key);
		return NULL;
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object)) {
			PROBLEM(L, NULL, "%s[%zu]: not a mapping", key, i);
			continue;
		}
		name = json_str(item, "name");
		if (name == NULL || name[0] == '\0')
			PROBLEM(L, NULL, "%s[%zu]: missing name", key, i);
		if (json_str(item, "value_type") == NULL)
			PROBLEM(L, NULL, "%s[%zu] %s: missing value_type", key,
			    i, qs(L, name ? name : ""));
		if (!json_object_object_get_ex(item, "value", NULL))
			PROBLEM(L, NULL, "%s[%zu] %s: missing value", key, i,
			    qs(L, name ? name : ""));
	}
	return copy_value(list);
}

/* The nodes, notes dropped, each envelope checked; fills the index. */
static void
load_nodes(struct load *L, json_object *list)
{
	json_object	*item, *v;
	struct node	*nd, *other;
	const char	*top;
	size_t		 i, len = json_object_array_length(list);

	L->cap = 2 * len + 1;	/* a container adds at most one node */
	L->nodes = xcalloc(L->cap, sizeof(*L->nodes));
	for (i = 0; i < len; i++) {
		item = json_object_array_get_idx(list, i);
		if (!json_object_is_type(item, json_type_object)) {
			PROBLEM(L, NULL, "node #%zu: not a mapping", i + 1);
			continue;
		}
		top = json_str(item, "type");
		if (top != NULL && strcmp(top, "custom-note") == 0)
			continue;	/* an editor sticky note */
		nd = &L->nodes[L->n++];
		nd->obj = item;
		nd->pos = (int)i;
		json_object_array_add(L->node_list, json_object_get(item));
		v = json_get(item, "data");
		if (json_object_is_type(v, json_type_object)) {
			nd->data = v;
			nd->title = json_str(v, "title");
			nd->type = json_str(v, "type");
		}
		v = json_get(item, "id");
		if (json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) > 0)
			nd->id = json_object_get_string(v);
		else if (v != NULL && !json_object_is_type(v, json_type_null))
			PROBLEM(L, nd, "id must be a string (quote it)");
		else
			PROBLEM(L, nd, "missing id");
		if (nd->data == NULL)
			PROBLEM(L, nd, "missing data");
		else if (nd->type == NULL || nd->type[0] == '\0')
			PROBLEM(L, nd, "missing data.type");
		else if (!dsl_node_type_known(nd->type))
			PROBLEM(L, nd, "unknown node type");
		nd->ok = nd->id != NULL && nd->type != NULL &&
		    dsl_node_type_known(nd->type);
		if (nd->id == NULL)
			continue;
		if ((other = find_node(L, nd->id)) != NULL) {
			PROBLEM(L, nd, "duplicate id (node #%d has it too)",
			    other->pos + 1);
			nd->ok = 0;
			continue;
		}
		json_object_object_add(L->index, nd->id,
		    json_object_new_int((int)(nd - L->nodes)));
	}
}

static void
add_edge_record(struct load *L, struct node *src, struct node *tgt)
{
	if (L->ne == L->ecap) {
		L->ecap = L->ecap ? 2 * L->ecap : 64;
		L->esrc = xrealloc(L->esrc, L->ecap * sizeof(*L->esrc));
		L->etgt = xrealloc(L->etgt, L->ecap * sizeof(*L->etgt));
	}
	L->esrc[L->ne] = (int)(src - L->nodes);
	L->etgt[L->ne] = (int)(tgt - L->nodes);
	L->ne++;
}

/* One end of an edge: the node; NULL, and "*why" set, when it is not. */
static struct node *
edge_end(struct load *L, json_object *e, const char *end, const char **why)
{
	json_object	*v = json_get(e, end);
	struct node	*nd;

	*why = NULL;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*why = pool_printf(&L->p, "missing %s", end);
		return NULL;
	}
	if ((nd = find_node(L, json_object_get_string(v))) == NULL)
		*why = pool_printf(&L->p, "%s %s is not a node", end,
		    qs(L, json_object_get_string(v)));
	return nd;
}

/* edge "id" (from node ...): what is wrong */
static void
edge_problem(struct load *L, json_object *e, size_t i, struct node *other,
    const char *dir, const char *why)
{
	struct buf	 b;
	const char	*eid = json_str(e, "id");

	buf_init(&b, 4096);
	if (eid != NULL)
		buf_printf(&b, "edge %s", qs(L, eid));
	else
		buf_printf(&b, "edge #%zu", i + 1);
	if (other != NULL) {
		buf_printf(&b, " (%s ", dir);
		node_desc(L, &b, other);
		buf_puts(&b, ")");
	}
	PROBLEM(L, NULL, "%s: %s", buf_cstr(&b), why);
	buf_free(&b);
}

static void
load_edges(struct load *L, json_object *list)
{
	json_object	*e;
	struct node	*src, *tgt;
	const char	*swhy, *twhy;
	size_t		 i;

	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (!json_object_is_type(e, json_type_object)) {
			PROBLEM(L, NULL, "edge #%zu: not a mapping", i + 1);
			continue;
		}
		json_object_array_add(L->edge_list, json_object_get(e));
		src = edge_end(L, e, "source", &swhy);
		tgt = edge_end(L, e, "target", &twhy);
		if (swhy != NULL)
			edge_problem(L, e, i, tgt, "to", swhy);
		if (twhy != NULL)
			edge_problem(L, e, i, src, "from", twhy);
		if (src != NULL && tgt != NULL)
			add_edge_record(L, src, tgt);
	}
}

/* The editor's per-node defaults (initialNodes in workflow-init.ts). */
static void
normalise_node(struct node *nd)
{
	json_object	*d = nd->data, *cases, *tc, *v, *c;

	if (falsy(json_get(nd->obj, "type")))
		json_object_object_add(nd->obj, "type",
		    json_object_new_string("custom"));
	if (type_is(nd, "if-else")) {
		cases = json_get(d, "cases");
		if (cases == NULL && !falsy(json_get(d, "logical_operator")) &&
		    json_get(d, "conditions") != NULL) {
			c = json_object_new_object();
			json_object_object_add(c, "case_id",
			    json_object_new_string("true"));
			json_object_object_add(c, "logical_operator",
			    json_object_get(json_get(d, "logical_operator")));
			json_object_object_add(c, "conditions",
			    json_object_get(json_get(d, "conditions")));
			cases = json_object_new_array();
			json_object_array_add(cases, c);
			json_object_object_add(d, "cases", cases);
		}
		if (json_object_is_type(cases, json_type_array) &&
		    json_object_array_length(cases) > 0 &&
		    json_get(d, "conditions") != NULL &&
		    !falsy(json_get(d, "logical_operator"))) {
			json_object_object_del(d, "conditions");
			json_object_object_del(d, "logical_operator");
		}
	}
	if (type_is(nd, "iteration")) {
		if (falsy(json_get(d, "is_parallel")))
			json_object_object_add(d, "is_parallel",
			    json_object_new_boolean(0));
		if (falsy(json_get(d, "parallel_nums")))
			json_object_object_add(d, "parallel_nums",
			    json_object_new_int(10));
	}
	if ((type_is(nd, "iteration") || type_is(nd, "loop")) &&
	    falsy(json_get(d, "error_handle_mode")))
		json_object_object_add(d, "error_handle_mode",
		    json_object_new_string("terminated"));
	if (type_is(nd, "http-request") && falsy(json_get(d, "retry_config"))) {
		v = json_object_new_object();
		json_object_object_add(v, "retry_enabled",
		    json_object_new_boolean(1));
		json_object_object_add(v, "max_retries",
		    json_object_new_int(3));
		json_object_object_add(v, "retry_interval",
		    json_object_new_int(100));
		json_object_object_add(d, "retry_config", v);
	}
	if (type_is(nd, "tool") && falsy(json_get(d, "version")) &&
	    falsy(json_get(d, "tool_node_version"))) {
		json_object_object_add(d, "tool_node_version",
		    json_object_new_string("2"));
		tc = json_get(d, "tool_configurations");
		if (json_object_is_type(tc, json_type_object)) {
			json_object_object_foreach(tc, k, val) {
				if (json_object_is_type(val,
				    json_type_object) ||
				    json_object_is_type(val, json_type_array))
					continue;
				c = json_object_new_object();
				json_object_object_add(c, "type",
				    json_object_new_string("constant"));
				json_object_object_add(c, "value",
				    json_object_get(val));
				json_object_object_add(tc, k, c);
			}
		}
	}
}

static json_object *
new_position(int x, int y)
{
	json_object	*p = json_object_new_object();

	json_object_object_add(p, "x", json_object_new_int(x));
	json_object_object_add(p, "y", json_object_new_int(y));
	return p;
}

/*
 * Give a container a start node (getIterationStartNode): pre-0.1.2 files
 * name an ordinary first child in start_node_id or none at all.  "k"
 * numbers the added start nodes per container type, as the editor does.
 */
static void
add_start_node(struct load *L, struct node *c, struct node *first, int k)
{
	int		 iter = type_is(c, "iteration");
	const char	*flag = iter ? "isInIteration" : "isInLoop";
	json_object	*n, *d, *e, *ed;
	struct node	*nd, *parent;
	char		*id, *eid;

	id = pool_printf(&L->p, "%sstart%d", c->id, k);
	if (find_node(L, id) != NULL || L->n == L->cap) {
		PROBLEM(L, c, "cannot add its start node: id %s is taken",
		    qs(L, id));
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "title", json_object_new_string(""));
	json_object_object_add(d, "desc", json_object_new_string(""));
	json_object_object_add(d, "type", json_object_new_string(iter ?
	    "iteration-start" : "loop-start"));
	json_object_object_add(d, flag, json_object_new_boolean(1));
	n = json_object_new_object();
	json_object_object_add(n, "id", json_object_new_string(id));
	json_object_object_add(n, "type", json_object_new_string(iter ?
	    "custom-iteration-start" : "custom-loop-start"));
	json_object_object_add(n, "data", d);
	json_object_object_add(n, "position", new_position(24, 68));
	json_object_object_add(n, "targetPosition",
	    json_object_new_string("left"));
	json_object_object_add(n, "sourcePosition",
	    json_object_new_string("right"));
	json_object_object_add(n, "zIndex", json_object_new_int(1002));
	json_object_object_add(n, "parentId", json_object_new_string(c->id));
	json_object_object_add(n, "selectable", json_object_new_boolean(0));
	json_object_object_add(n, "draggable", json_object_new_boolean(0));
	json_object_array_add(L->node_list, n);
	nd = &L->nodes[L->n];
	memset(nd, 0, sizeof(*nd));
	nd->obj = n;
	nd->data = d;
	nd->id = json_str(n, "id");
	nd->type = json_str(d, "type");
	nd->title = "";
	nd->pos = c->pos;
	nd->ok = 1;
	json_object_object_add(L->index, nd->id,
	    json_object_new_int((int)L->n));
	L->n++;
	json_object_object_add(c->data, "start_node_id",
	    json_object_new_string(id));
	if (first == NULL)
		return;
	parent = find_node(L, json_str(first->obj, "parentId"));
	ed = json_object_new_object();
	json_object_object_add(ed, "sourceType", json_object_new_string(
	    nd->type));
	json_object_object_add(ed, "targetType", json_object_new_string(
	    first->type));
	json_object_object_add(ed, "isInIteration", json_object_new_boolean(
	    parent != NULL && type_is(parent, "iteration")));
	if (parent != NULL && type_is(parent, "iteration"))
		json_object_object_add(ed, "iteration_id",
		    json_object_new_string(parent->id));
	json_object_object_add(ed, "isInLoop", json_object_new_boolean(
	    parent != NULL && type_is(parent, "loop")));
	if (parent != NULL && type_is(parent, "loop"))
		json_object_object_add(ed, "loop_id",
		    json_object_new_string(parent->id));
	eid = pool_printf(&L->p, "%s-source-%s-target", id, first->id);
	e = json_object_new_object();
	json_object_object_add(e, "id", json_object_new_string(eid));
	json_object_object_add(e, "type", json_object_new_string("custom"));
	json_object_object_add(e, "source", json_object_new_string(id));
	json_object_object_add(e, "sourceHandle",
	    json_object_new_string("source"));
	json_object_object_add(e, "target", json_object_new_string(first->id));
	json_object_object_add(e, "targetHandle",
	    json_object_new_string("target"));
	json_object_object_add(e, "data", ed);
	json_object_object_add(e, "zIndex", json_object_new_int(1002));
	json_object_array_add(L->edge_list, e);
	add_edge_record(L, nd, first);
}

/* preprocessNodesAndEdges: containers without a proper start node. */
static void
add_start_nodes(struct load *L, const char *ctype, const char *custom)
{
	size_t		 i, n = L->n;
	struct node	*c, *first;
	json_object	*sid;
	const char	*top;
	int		 k = 0, pass;

	/* first those naming an ordinary node, then those naming none */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			c = &L->nodes[i];
			if (!c->ok || !type_is(c, ctype))
				continue;
			sid = json_get(c->data, "start_node_id");
			if (falsy(sid)) {
				if (pass == 1)
					add_start_node(L, c, NULL, k++);
				continue;
			}
			if (!json_object_is_type(sid, json_type_string)) {
				if (pass == 0)
					PROBLEM(L, c, "start_node_id must be "
					    "a string");
				continue;
			}
			first = find_node(L, json_object_get_string(sid));
			if (first == NULL) {
				if (pass == 0)
					PROBLEM(L, c, "start_node_id %s is "
					    "not a node", qs(L,
					    json_object_get_string(sid)));
				continue;
			}
			top = json_str(first->obj, "type");
			if (pass == 0 && (top == NULL ||
			    strcmp(top, custom) != 0))
				add_start_node(L, c, first->ok ? first : NULL,
				    k++);
		}
	}
}

/* initialEdges: handles, edge type and end types filled in. */
static void
normalise_edges(struct load *L)
{
	json_object	*e, *d;
	struct node	*nd;
	size_t		 i;

	for (i = 0; i < json_object_array_length(L->edge_list); i++) {
		e = json_object_array_get_idx(L->edge_list, i);
		json_object_object_add(e, "type",
		    json_object_new_string("custom"));
		if (falsy(json_get(e, "sourceHandle")))
			json_object_object_add(e, "sourceHandle",
			    json_object_new_string("source"));
		if (falsy(json_get(e, "targetHandle")))
			json_object_object_add(e, "targetHandle",
			    json_object_new_string("target"));
		d = json_get(e, "data");
		if (d == NULL) {
			d = json_object_new_object();
			json_object_object_add(e, "data", d);
		}
		if (!json_object_is_type(d, json_type_object))
			continue;
		nd = find_node(L, json_str(e, "source"));
		if (falsy(json_get(d, "sourceType")) && nd != NULL &&
		    nd->type != NULL)
			json_object_object_add(d, "sourceType",
			    json_object_new_string(nd->type));
		nd = find_node(L, json_str(e, "target"));
		if (falsy(json_get(d, "targetType")) && nd != NULL &&
		    nd->type != NULL)
			json_object_object_add(d, "targetType",
			    json_object_new_string(nd->type));
	}
}

/* ---- references: value selectors and {{#node.var#}} templates ---- */

#define OWNER_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"0123456789_"

struct refs {
	struct node	*nd;
	const char	*field;		/* the data key being walked */
	json_object	*seen;		/* owners already reported */
};

static void
ref_owner(struct load *L, struct refs *r, const char *owner)
{
	if (owner[0] == '\0' || in_list(reserved_owners, owner) ||
	    find_node(L, owner) != NULL ||
	    json_object_object_get_ex(r->seen, owner, NULL))
		return;
	json_object_object_add(r->seen, owner, NULL);
	PROBLEM(L, r->nd, "refers to node %s, which does not exist (in %s)",
	    qs(L, owner), r->field != NULL ? r->field : "data");
}

static int
is_selector(json_object *v)
{
	size_t	i, n;

	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			return 0;
	return n > 0;
}

static void
ref_selector(struct load *L, struct refs *r, json_object *sel)
{
	ref_owner(L, r, json_object_get_string(
	    json_object_array_get_idx(sel, 0)));
}

/*
 * Every {{#owner.name...#}} in "s", as Dify's VariableTemplateParser
 * finds them: owner [A-Za-z0-9_]{1,50}, then 1-10 ".name" segments of
 * [A-Za-z_][A-Za-z0-9_]{0,29}.
 */
static void
ref_templates(struct load *L, struct refs *r, const char *s)
{
	const char	*p = s, *q;
	size_t		 n, m;
	int		 segs;
	char		 owner[51];

	while ((p = strstr(p, "{{#")) != NULL) {
		p += 3;
		n = strspn(p, OWNER_CHARS);
		if (n < 1 || n > 50)
			continue;
		q = p + n;
		for (segs = 0; *q == '.' && segs < 10; segs++) {
			q++;
			if (!isalpha((unsigned char)*q) && *q != '_')
				break;
			m = strspn(q, OWNER_CHARS);
			if (m > 30)
				break;
			q += m;
		}
		if (segs == 0 || strncmp(q, "#}}", 3) != 0)
			continue;
		memcpy(owner, p, n);
		owner[n] = '\0';
		ref_owner(L, r, owner);
	}
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Walk a node's data for selectors (by the keys Dify keeps them under)
 * and templates. */
static void
ref_walk(struct load *L, struct refs *r, json_object *v, const char *key)
{
	json_object	*el;
	size_t		 i;
	const char	*how;

	switch (json_object_get_type(v)) {
	case json_type_string:
		if (key == NULL || (strcmp(key, "code") != 0 &&
		    strcmp(key, "desc") != 0 && strcmp(key, "title") != 0))
			ref_templates(L, r, json_object_get_string(v));
		return;
	case json_type_array:
		if (key != NULL && (ends_with(key, "selector") ||
		    strcmp(key, "query") == 0 || strcmp(key, "variable") == 0 ||
		    strcmp(key, "file") == 0) && is_selector(v)) {
			ref_selector(L, r, v);
			return;
		}
		for (i = 0; i < json_object_array_length(v); i++) {
			el = json_object_array_get_idx(v, i);
			/* variable-aggregator: variables is a list of them */
			if (key != NULL && strcmp(key, "variables") == 0 &&
			    is_selector(el))
				ref_selector(L, r, el);
			else
				ref_walk(L, r, el, NULL);
		}
		return;
	case json_type_object:
		/* {type|value_type|input_type: variable, value: selector} */
		how = json_str(v, "type");
		if (how == NULL || strcmp(how, "variable") != 0)
			how = json_str(v, "value_type");
		if (how == NULL || strcmp(how, "variable") != 0)
			how = json_str(v, "input_type");
		if (how != NULL && strcmp(how, "variable") == 0 &&
		    is_selector(json_get(v, "value")))
			ref_selector(L, r, json_get(v, "value"));
		json_object_object_foreach(v, k, val) {
			if (r->field == NULL || v == r->nd->data)
				r->field = k;
			ref_walk(L, r, val, k);
		}
		return;
	default:
		return;
	}
}

static void
check_references(struct load *L)
{
	struct refs	 r;
	struct node	*nd;
	const char	*parent;
	size_t		 i;

	for (i = 0; i < L->n; i++) {
		nd = &L->nodes[i];
		if (!nd->ok)
			continue;
		r.nd = nd;
		r.field = NULL;
		r.seen = json_object_new_object();
		ref_walk(L, &r, nd->data, NULL);
		json_object_put(r.seen);
		parent = json_str(nd->obj, "parentId");
		if (parent != NULL && parent[0] != '\0' &&
		    find_node(L, parent) == NULL)
			PROBLEM(L, nd, "parentId %s is not a node",
			    qs(L, parent));
	}
}

/* ---- cycles: Tarjan's strongly connected components, iteratively ---- */

struct graph {
	int	*off;		/* CSR: successors of v are adj[off[v]..] */
	int	*adj;
};

/* Name one cycle through "v" within its component "comp". */
static void
report_cycle(struct load *L, const struct graph *g, int v, const int *comp,
    int *prev, int *queue)
{
	struct buf	 b;
	int		 head = 0, tail = 0, u = -1, w, j, path[12], np = 0;

	queue[tail++] = v;
	while (head < tail && u == -1) {
		int	x = queue[head++];

		for (j = g->off[x]; j < g->off[x + 1]; j++) {
			w = g->adj[j];
			if (comp[w] != v)
				continue;
			if (w == v) {
				u = x;
				break;
			}
			if (prev[w] == -1) {
				prev[w] = x;
				queue[tail++] = w;
			}
		}
	}
	for (w = u; w != v && w != -1 && np < 10; w = prev[w])
		path[np++] = w;
	buf_init(&b, 4096);
	buf_printf(&b, "in a cycle: %s", qs(L, L->nodes[v].id));
	if (w != v && w != -1)
		buf_puts(&b, " -> ...");
	while (np > 0)
		buf_printf(&b, " -> %s", qs(L, L->nodes[path[--np]].id));
	buf_printf(&b, " -> %s", qs(L, L->nodes[v].id));
	PROBLEM(L, &L->nodes[v], "%s", buf_cstr(&b));
	buf_free(&b);
	for (j = 0; j < tail; j++)
		prev[queue[j]] = -1;
}

static void
check_cycles(struct load *L)
{
	struct graph	 g;
	size_t		 i, n = L->n;
	int		*idx, *low, *stk, *onstk, *call, *it, *comp, *prev;
	int		*queue;
	int		 counter = 0, sp = 0, cp = 0, v, w, size, self;

	if (n == 0 || L->ne == 0)
		return;
	g.off = xcalloc(n + 1, sizeof(int));
	g.adj = xmalloc(L->ne * sizeof(int));
	for (i = 0; i < L->ne; i++)
		g.off[L->esrc[i] + 1]++;
	for (i = 0; i < n; i++)
		g.off[i + 1] += g.off[i];
	it = xmalloc(n * sizeof(int));
	memcpy(it, g.off, n * sizeof(int));
	for (i = 0; i < L->ne; i++)
		g.adj[it[L->esrc[i]]++] = L->etgt[i];
	idx = xmalloc(n * sizeof(int));
	low = xmalloc(n * sizeof(int));
	stk = xmalloc(n * sizeof(int));
	onstk = xcalloc(n, sizeof(int));
	call = xmalloc(n * sizeof(int));
	comp = xmalloc(n * sizeof(int));
	prev = xmalloc(n * sizeof(int));
	queue = xmalloc(n * sizeof(int));
	for (i = 0; i < n; i++)
		idx[i] = comp[i] = prev[i] = -1;
	for (i = 0; i < n; i++) {
		if (idx[i] != -1)
			continue;
		v = (int)i;
		idx[v] = low[v] = counter++;
		stk[sp++] = v;
		onstk[v] = 1;
		call[cp] = v;
		it[cp++] = g.off[v];
		while (cp > 0) {
			v = call[cp - 1];
			if (it[cp - 1] < g.off[v + 1]) {
				w = g.adj[it[cp - 1]++];
				if (idx[w] == -1) {
					idx[w] = low[w] = counter++;
					stk[sp++] = w;
					onstk[w] = 1;
					call[cp] = w;
					it[cp++] = g.off[w];
				} else if (onstk[w] && idx[w] < low[v])
					low[v] = idx[w];
				continue;
			}
			cp--;
			if (cp > 0 && low[v] < low[call[cp - 1]])
				low[call[cp - 1]] = low[v];
			if (low[v] != idx[v])
				continue;
			size = 0;
			do {
				w = stk[--sp];
				onstk[w] = 0;
				comp[w] = v;
				size++;
			} while (w != v);
			self = 0;
			for (w = g.off[v]; w < g.off[v + 1]; w++)
				self |= g.adj[w] == v;
			if (size > 1 || self)
				report_cycle(L, &g, v, comp, prev, queue);
		}
	}
	free(g.off);
	free(g.adj);
	free(it);
	free(idx);
	free(low);
	free(stk);
	free(onstk);
	free(call);
	free(comp);
	free(prev);
	free(queue);
}

/* ---- the graph as a whole, and what the app row gets from it ---- */

static void
check_required(struct load *L)
{
	int	start = 0, end = 0, answer = 0;
	size_t	i;

	for (i = 0; i < L->n; i++) {
		start |= type_is(&L->nodes[i], "start");
		end |= type_is(&L->nodes[i], "end");
		answer |= type_is(&L->nodes[i], "answer");
	}
	if (!start)
		PROBLEM(L, NULL, "graph: no start node");
	if (strcmp(L->a->mode, "workflow") == 0 && !end)
		PROBLEM(L, NULL, "graph: no end node (a workflow app needs "
		    "one)");
	if (strcmp(L->a->mode, "advanced-chat") == 0 && !answer)
		PROBLEM(L, NULL, "graph: no answer node (an advanced-chat app "
		    "needs one)");
}

/* [{<type>: <variable>}, ...] of the first start node (Dify's
 * Workflow.user_input_form(to_old_structure=True)). */
static json_object *
user_input_form(struct load *L)
{
	json_object	*form = json_object_new_array(), *vars, *var, *item;
	struct node	*nd = NULL;
	const char	*type;
	size_t		 i;

	for (i = 0; i < L->n && nd == NULL; i++)
		if (L->nodes[i].ok && type_is(&L->nodes[i], "start"))
			nd = &L->nodes[i];
	vars = nd != NULL ? json_get(nd->data, "variables") : NULL;
	if (vars == NULL)
		return form;
	if (!json_object_is_type(vars, json_type_array)) {
		PROBLEM(L, nd, "variables must be a list");
		return form;
	}
	for (i = 0; i < json_object_array_length(vars); i++) {
		var = json_object_array_get_idx(vars, i);
		type = json_str(var, "type");
		if (type == NULL || type[0] == '\0') {
			PROBLEM(L, nd, "variables[%zu]: missing type", i);
			continue;
		}
		if (json_str(var, "variable") == NULL)
			PROBLEM(L, nd, "variables[%zu]: missing variable name",
			    i);
		item = json_object_new_object();
		json_object_object_add(item, type, copy_value(var));
		json_object_array_add(form, item);
	}
	return form;
}

static json_object *
first_llm_model(struct load *L)
{
	json_object	*m;
	size_t		 i;

	for (i = 0; i < L->n; i++) {
		if (!L->nodes[i].ok || !type_is(&L->nodes[i], "llm"))
			continue;
		m = json_get(L->nodes[i].data, "model");
		return json_object_is_type(m, json_type_object) ?
		    copy_value(m) : NULL;
	}
	return NULL;
}

static void
load_workflow(struct load *L)
{
	struct dsl_app	*a = L->a;
	json_object	*wf = json_get(a->doc, "workflow"), *g, *nodes, *edges;
	json_object	*form, *model;
	size_t		 i;

	if (!json_object_is_type(wf, json_type_object)) {
		PROBLEM(L, NULL, "workflow: missing (Missing workflow data for "
		    "workflow/advanced chat app)");
		return;
	}
	a->features = json_get(wf, "features");
	if (a->features == NULL)
		a->features = json_object_new_object();
	else if (json_object_is_type(a->features, json_type_object))
		a->features = copy_value(a->features);
	else {
		PROBLEM(L, NULL, "workflow.features: must be a mapping");
		a->features = NULL;
	}
	a->env = load_variables(L, wf, "environment_variables");
	a->conv = load_variables(L, wf, "conversation_variables");
	g = json_get(wf, "graph");
	nodes = json_get(g, "nodes");
	edges = json_get(g, "edges");
	if (!json_object_is_type(nodes, json_type_array)) {
		PROBLEM(L, NULL, "workflow.graph.nodes: missing");
		return;
	}
	if (edges != NULL && !json_object_is_type(edges, json_type_array)) {
		PROBLEM(L, NULL, "workflow.graph.edges: must be a list");
		return;
	}
	a->graph = json_object_new_object();
	L->node_list = json_object_new_array();
	L->edge_list = json_object_new_array();
	json_object_object_add(a->graph, "nodes", L->node_list);
	json_object_object_add(a->graph, "edges", L->edge_list);
	load_nodes(L, nodes);
	if (edges != NULL)
		load_edges(L, edges);
	for (i = 0; i < L->n; i++)
		if (L->nodes[i].ok)
			normalise_node(&L->nodes[i]);
	add_start_nodes(L, "iteration", "custom-iteration-start");
	add_start_nodes(L, "loop", "custom-loop-start");
	normalise_edges(L);
	check_references(L);
	check_cycles(L);
	check_required(L);
	for (i = 0; i < L->n; i++)
		if (L->nodes[i].ok && !dsl_node_type_runnable(
		    L->nodes[i].type))
			WARN(L, &L->nodes[i], "the engine cannot run %s nodes "
			    "yet: runs fail when they reach it",
			    L->nodes[i].type);
	a->config = json_object_new_object();
	if (a->features != NULL) {
		json_object_object_foreach(a->features, k, v)
			json_object_object_add(a->config, k,
			    copy_value(v));
	}
	form = user_input_form(L);
	json_object_object_add(a->config, "user_input_form", form);
	if ((model = first_llm_model(L)) != NULL)
		json_object_object_add(a->config, "model", model);
}

int
dsl_load(const char *text, size_t len, const char *name, struct dsl_app *a)
{
	struct load	 L;
	char		 err[ERR_MAX];

	memset(a, 0, sizeof(*a));
	memset(&L, 0, sizeof(L));
	L.a = a;
	L.index = json_object_new_object();
	a->problems = json_object_new_array();
	a->warnings = json_object_new_array();
	a->doc = dsl_yaml_to_json(text, len, err, sizeof(err));
	if (a->doc == NULL && err[0] != '\0')
		PROBLEM(&L, NULL, "invalid YAML: %s", err);
	else if (!json_object_is_type(a->doc, json_type_object))
		PROBLEM(&L, NULL, "Invalid YAML format: content must be a "
		    "mapping");
	else {
		load_header(&L, name);
		if (a->mode != NULL && app_mode_is_workflow(a->mode))
			load_workflow(&L);
		else if (a->mode != NULL)
			load_model_config(&L);
	}
	a->nproblems = json_object_array_length(a->problems) + L.unsaid[0];
	if (L.unsaid[0] > 0)
		json_object_array_add(a->problems, json_object_new_string(
		    pool_printf(&L.p, "and %zu more problems", L.unsaid[0])));
	if (L.unsaid[1] > 0)
		json_object_array_add(a->warnings, json_object_new_string(
		    pool_printf(&L.p, "and %zu more warnings", L.unsaid[1])));
	free(L.nodes);
	free(L.esrc);
	free(L.etgt);
	json_object_put(L.index);
	pool_free_all(&L.p);
	return json_object_array_length(a->problems) > 0 ? -1 : 0;
}

void
dsl_app_free(struct dsl_app *a)
{
	json_object_put(a->doc);
	json_object_put(a->config);
	json_object_put(a->graph);
	json_object_put(a->features);
	json_object_put(a->env);
	json_object_put(a->conv);
	json_object_put(a->problems);
	json_object_put(a->warnings);
	memset(a, 0, sizeof(*a));
}

/* ---- storage ---- */

int
dsl_store(struct db *db, const struct dsl_app *a, char id[UUID_LEN + 1])
{
	struct app_new	 n;
	json_object	*site = json_object_new_object();
	char		 wid[UUID_LEN + 1];
	int		 rc = -1;

	memset(&n, 0, sizeof(n));
	n.name = a->name;
	n.description = a->description;
	n.mode = a->mode;
	n.icon_type = a->icon_type;
	n.icon = a->icon;
	n.icon_background = a->icon_background;
	n.config = a->config;
	json_object_object_add(site, "title", json_object_new_string(a->name));
	json_object_object_add(site, "use_icon_as_answer_icon",
	    json_object_new_boolean(a->use_icon_as_answer_icon));
	n.site = site;
	if (db_app_create(db, &n, id) == -1)
		goto out;
	if (app_mode_is_workflow(a->mode) && db_workflow_create(db, id,
	    a->graph, a->features, a->env, a->conv, wid) == -1)
		goto out;
	rc = 0;
out:
	json_object_put(site);
	return rc;
}

/* Here rather than in db_app.c: only export reads a workflow whole. */
static const char SQL_DSL_WORKFLOW[] =
    "SELECT graph, features, environment_variables, conversation_variables"
    " FROM workflows WHERE app_id = ? ORDER BY created_at DESC, rowid DESC"
    " LIMIT 1";

int
dsl_fetch(struct db *db, struct pool *p, const char *app_id,
    struct dsl_app *a)
{
	struct app	 app;
	sqlite3_stmt	*st;
	json_object	*v;
	int		 rc, step;

	memset(a, 0, sizeof(*a));
	a->problems = json_object_new_array();
	a->warnings = json_object_new_array();
	if ((rc = db_app_get(db, p, app_id, &app)) != DB_OK)
		return rc;
	a->version = DSL_VERSION;
	a->name = app.name;
	a->description = app.description;
	a->mode = app.mode;
	a->icon_type = app.icon_type;
	a->icon = app.icon;
	a->icon_background = app.icon_background;
	v = json_get(app.site, "use_icon_as_answer_icon");
	a->use_icon_as_answer_icon = json_object_get_boolean(v);
	a->config = app.config;
	app.config = NULL;
	app_release(&app);
	if (!app_mode_is_workflow(a->mode))
		return DB_OK;
	rc = -1;
	st = db_stmt(db, SQL_DSL_WORKFLOW);
	if (st == NULL || db_bind(st, "s", app_id) == -1)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		a->graph = db_col_json(st, 0);
		a->features = db_col_json(st, 1);
		a->env = db_col_json(st, 2);
		a->conv = db_col_json(st, 3);
		rc = a->graph != NULL ? DB_OK : -1;
	} else if (step == SQLITE_DONE)
		rc = DB_NOT_FOUND;
	else
		db_log_error(db, "workflow export");
out:
	db_stmt_release(st);
	return rc;
}

/* ---- export: JSON to YAML that reads back the same ---- */

static int
emit_write(void *data, unsigned char *bytes, size_t size)
{
	return buf_append(data, bytes, size) == 0;
}

static int
emit_event(yaml_emitter_t *em, yaml_event_t *ev, int ok)
{
	return ok && yaml_emitter_emit(em, ev) ? 0 : -1;
}

static int
emit_scalar(yaml_emitter_t *em, const char *s, size_t len, int plain,
    yaml_scalar_style_t style)
{
	yaml_event_t	ev;

	return emit_event(em, &ev, yaml_scalar_event_initialize(&ev, NULL,
	    NULL, (yaml_char_t *)s, (int)len, plain, 1, style));
}

/*
 * A string: plain only when PyYAML would read it back as a string, and
 * multi-line text as a literal block (libyaml falls back to double quotes
 * when a block cannot hold it exactly).
 */
static int
emit_string(yaml_emitter_t *em, const char *s, size_t len)
{
	int	plain = strlen(s) == len && resolve_plain(s) == K_STR;

	return emit_scalar(em, s, len, plain, memchr(s, '\n', len) != NULL ?
	    YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int
key_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int
emit_value(yaml_emitter_t *em, json_object *v)
{
	yaml_event_t	 ev;
	const char	**keys;
	char		 num[48], *e;
	size_t		 i, n;
	int		 rc = 0;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return emit_scalar(em, "null", 4, 1, YAML_ANY_SCALAR_STYLE);
	case json_type_boolean:
		return emit_scalar(em, json_object_get_boolean(v) ? "true" :
		    "false", json_object_get_boolean(v) ? 4 : 5, 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_int:
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_object_get_int64(v));
		return emit_scalar(em, num, strlen(num), 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_double:
		if (!isfinite(json_object_get_double(v)))
			return emit_scalar(em, "null", 4, 1,
			    YAML_ANY_SCALAR_STYLE);
		/* PyYAML's represent_float: 1e+16 becomes 1.0e+16 */
		py_repr(json_object_get_double(v), num + 2);
		if (strchr(num + 2, '.') == NULL &&
		    (e = strchr(num + 2, 'e')) != NULL) {
			memmove(e + 2, e, strlen(e) + 1);
			memcpy(e, ".0", 2);
		}
		return emit_scalar(em, num + 2, strlen(num + 2), 1,
		    YAML_ANY_SCALAR_STYLE);
	case json_type_string:
		return emit_string(em, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	case json_type_array:
		if (emit_event(em, &ev, yaml_sequence_start_event_initialize(
		    &ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE)) == -1)
			return -1;
		for (i = 0; i < json_object_array_length(v) && rc == 0; i++)
			rc = emit_value(em, json_object_array_get_idx(v, i));
		if (rc == -1)
			return -1;
		return emit_event(em, &ev,
		    yaml_sequence_end_event_initialize(&ev));
	case json_type_object:
		n = (size_t)json_object_object_length(v);
		keys = xcalloc(n + 1, sizeof(*keys));
		i = 0;
		json_object_object_foreach(v, k, val) {
			(void)val;
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), key_cmp);
		rc = emit_event(em, &ev, yaml_mapping_start_event_initialize(
		    &ev, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE));
		for (i = 0; i < n && rc == 0; i++) {
			rc = emit_string(em, keys[i], strlen(keys[i]));
			if (rc == 0)
				rc = emit_value(em, json_get(v, keys[i]));
		}
		free(keys);
		if (rc == -1)
			return -1;
		return emit_event(em, &ev,
		    yaml_mapping_end_event_initialize(&ev));
	}
	return -1;
}

static void
add_str(json_object *o, const char *key, const char *s)
{
	json_object_object_add(o, key, s ? json_object_new_string(s) : NULL);
}

static json_object *
or_empty(json_object *v, int array)
{
	if (v != NULL)
		return json_object_get(v);
	return array ? json_object_new_array() : json_object_new_object();
}

static void
drop_credentials(json_object *tools)
{
	size_t	i;

	if (!json_object_is_type(tools, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(tools); i++)
		json_object_object_del(json_object_array_get_idx(tools, i),
		    "credential_id");
}

/*
 * The nodes without the workspace's tool credentials, as Dify exports
 * them when secrets are not asked for: a copy.
 */
static json_object *
nodes_without_credentials(json_object *nodes)
{
	json_object	*copy = copy_value(nodes), *d;
	const char	*type;
	size_t		 i;

	for (i = 0; i < json_object_array_length(copy); i++) {
		d = json_get(json_object_array_get_idx(copy, i), "data");
		type = json_str(d, "type");
		if (type != NULL && strcmp(type, "tool") == 0)
			json_object_object_del(d, "credential_id");
		if (type != NULL && strcmp(type, "agent") == 0)
			drop_credentials(json_get(json_get(json_get(d,
			    "agent_parameters"), "tools"), "value"));
	}
	return copy;
}

/* The document as Dify's export_dsl builds it. */
static json_object *
export_doc(const struct dsl_app *a, int include_secret)
{
	json_object	*doc = json_object_new_object(), *app, *wf, *g, *env;
	json_object	*item, *cfg, *nodes;
	const char	*vt;
	size_t		 i;

	app = json_object_new_object();
	add_str(app, "name", a->name);
	add_str(app, "mode", a->mode);
	add_str(app, "icon", a->icon);
	add_str(app, "icon_type", a->icon_type);
	add_str(app, "icon_background", a->icon_background);
	add_str(app, "description", a->description ? a->description : "");
	json_object_object_add(app, "use_icon_as_answer_icon",
	    json_object_new_boolean(a->use_icon_as_answer_icon));
	json_object_object_add(doc, "app", app);
	add_str(doc, "kind", "app");
	add_str(doc, "version", DSL_VERSION);
	json_object_object_add(doc, "dependencies", json_object_new_array());
	if (!app_mode_is_workflow(a->mode)) {
		/* Dify drops agent tools' credentials, secrets or not */
		cfg = a->config != NULL ? copy_value(a->config) :
		    json_object_new_object();
		drop_credentials(json_get(json_get(cfg, "agent_mode"),
		    "tools"));
		json_object_object_add(doc, "model_config", cfg);
		return doc;
	}
	env = json_object_new_array();
	for (i = 0; a->env != NULL && i < json_object_array_length(a->env);
	    i++) {
		item = copy_value(json_object_array_get_idx(a->env, i));
		vt = json_str(item, "value_type");
		if (!include_secret && vt != NULL && strcmp(vt, "secret") == 0)
			json_object_object_add(item, "value",
			    json_object_new_string(""));
		json_object_array_add(env, item);
	}
	g = json_object_new_object();
	nodes = json_get(a->graph, "nodes");
	json_object_object_add(g, "nodes", nodes == NULL ?
	    json_object_new_array() : include_secret ?
	    json_object_get(nodes) : nodes_without_credentials(nodes));
	json_object_object_add(g, "edges",
	    or_empty(json_get(a->graph, "edges"), 1));
	wf = json_object_new_object();
	json_object_object_add(wf, "conversation_variables",
	    or_empty(a->conv, 1));
	json_object_object_add(wf, "environment_variables", env);
	json_object_object_add(wf, "features", or_empty(a->features, 0));
	json_object_object_add(wf, "graph", g);
	json_object_object_add(doc, "workflow", wf);
	return doc;
}

int
dsl_export(const struct dsl_app *a, int include_secret, struct buf *out)
{
	yaml_emitter_t	 em;
	yaml_event_t	 ev;
	json_object	*doc;
	int		 rc = -1;

	if (!yaml_emitter_initialize(&em))
		return -1;
	yaml_emitter_set_output(&em, emit_write, out);
	yaml_emitter_set_unicode(&em, 1);
	doc = export_doc(a, include_secret);
	if (emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev,
	    YAML_UTF8_ENCODING)) == 0 &&
	    emit_event(&em, &ev, yaml_document_start_event_initialize(&ev,
	    NULL, NULL, NULL, 1)) == 0 &&
	    emit_value(&em, doc) == 0 &&
	    emit_event(&em, &ev, yaml_document_end_event_initialize(&ev,
	    1)) == 0 &&
	    emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev)) == 0 &&
	    yaml_emitter_flush(&em))
		rc = 0;
	yaml_emitter_delete(&em);
	json_object_put(doc);
	return rc;
}
