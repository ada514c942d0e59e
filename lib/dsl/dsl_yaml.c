/*
 * dsl_yaml.c: YAML text to JSON as PyYAML's safe_load builds it
 * (dsl_yaml_to_json), on libyaml's event API.  A stack of the mappings
 * and sequences still open; anchors kept until the end, each alias a deep
 * copy; "<<" keys folded in when their mapping closes, keys written in it
 * winning; scalars typed by dsl_scalar.c.  Every limit of dsl.h (bytes,
 * depth, values and text with aliases expanded) is checked as the events
 * arrive, so that a billion laughs stops before it is built, and every
 * error names its line and column.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "dsl_int.h"

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
void
dsl_tidy(char *s)
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
	dsl_tidy(c->err);
	return -1;
}

/* A deep copy that keeps doubles' Python spelling (json_copy drops it). */
json_object *
dsl_copy_value(json_object *v)
{
	json_object	*c;
	size_t		 i, len;

	switch (json_object_get_type(v)) {
	case json_type_object:
		c = json_object_new_object();
		json_object_object_foreach(v, k, val)
			json_object_object_add(c, k, dsl_copy_value(val));
		return c;
	case json_type_array:
		len = json_object_array_length(v);
		c = json_object_new_array();
		for (i = 0; i < len; i++)
			json_object_array_add(c, dsl_copy_value(
			    json_object_array_get_idx(v, i)));
		return c;
	case json_type_double:
		return dsl_new_double(json_object_get_double(v));
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
		dsl_py_repr(json_object_get_double(v), r);
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
scalar(struct conv *c, yaml_event_t *ev, json_object **out, enum dsl_kind *kind)
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
		*kind = ev->data.scalar.plain_implicit ? dsl_resolve_plain(s) :
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
		if (!dsl_match_int(s))
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
		if (dsl_bool_value(s, &b) == -1)
			return conv_fail(c, &ev->start_mark,
			    "not a boolean: %.40s", s);
		*out = json_object_new_boolean(b);
		return 0;
	case K_INT:
		if (dsl_int_value(s, &n) == -1)
			return conv_fail(c, &ev->start_mark,
			    "integer out of range or malformed: %.40s", s);
		*out = json_object_new_int64(n);
		return 0;
	case K_FLOAT:
		if (dsl_float_value(s, &d) == -1)
			return conv_fail(c, &ev->start_mark,
			    "not a finite number: %.40s", s);
		*out = dsl_new_double(d);
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
take_key(struct conv *c, json_object *v, enum dsl_kind kind,
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
    enum dsl_kind k)
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
		return take_key(c, a->value, (enum dsl_kind)a->scalar_kind,
		    &ev->start_mark);
	v = dsl_copy_value(a->value);
	return place(c, v, &ev->start_mark);
}

static int
on_scalar(struct conv *c, yaml_event_t *ev)
{
	json_object	*v;
	enum dsl_kind	 kind = K_STR;
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
