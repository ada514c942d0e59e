/*
 * tmpl_value.c: the values of a render and the work they cost (see the
 * accounting in tmpl_int.h): counting steps and bytes and calling the
 * tick, the cost and depth a made value carries in its json-c userdata
 * and gives back when freed, strings being built within what the render
 * may still make, printing as Python's str() and repr() (and tojson),
 * Python's ==, the counted substring search, UTF-8 lengths and the items
 * a loop or filter walks.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

void
tmpl_rerr(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* Count "n" steps; -1 once the render has failed or must end. */
int
tmpl_work(struct ctx *c, size_t n)
{
	if (c->failed)
		return -1;
	if (n > (unsigned long long)(c->max_steps - c->steps)) {
		tmpl_rerr(c, "template too expensive to render (more than %lld "
		    "steps)", c->max_steps);
		return -1;
	}
	c->steps += (long long)n;
	if (c->steps >= c->next_tick) {
		c->next_tick = c->steps + TICK_STEPS;
		if (c->tick != NULL && c->tick(c->arg) != 0) {
			c->stopped = 1;
			tmpl_rerr(c, "template rendering stopped");
			return -1;
		}
	}
	return 0;
}

/* Count "n" bytes scanned or copied. */
int
tmpl_scanned(struct ctx *c, size_t n)
{
	return tmpl_work(c, n / BYTES_PER_STEP);
}

/* Count "n" bytes made (before making them); -1 past the limit. */
int
tmpl_made(struct ctx *c, size_t n)
{
	if (c->failed)
		return -1;
	if (n > c->max_bytes - c->bytes) {
		tmpl_rerr(c, "template needs too much memory to render "
		    "(more than %zu bytes)", c->max_bytes);
		return -1;
	}
	c->bytes += n;
	if (c->bytes > c->peak)
		c->peak = c->bytes;
	return tmpl_scanned(c, n);
}

/* The bytes a render may still make, "n" of them each "each" bytes. */
int
tmpl_made_n(struct ctx *c, size_t n, size_t each)
{
	if (each > 0 && n > (c->max_bytes - c->bytes) / each)
		return tmpl_made(c, SIZE_MAX);
	return tmpl_made(c, n * each);
}

struct val
tmpl_v(json_object *j)
{
	struct val	v = { j, 0, NULL };

	return v;
}

struct val
tmpl_undef(const char *name)
{
	struct val	v = { NULL, 1, name };

	return v;
}

void
tmpl_vput(struct val *v)
{
	json_object_put(v->j);
	v->j = NULL;
}

int
tmpl_truthy(struct val *v)
{
	return !v->undef && py_truthy(v->j);
}

int
tmpl_isnum(json_object *j)
{
	return json_object_is_type(j, json_type_int) ||
	    json_object_is_type(j, json_type_double) ||
	    json_object_is_type(j, json_type_boolean);
}

double
tmpl_dnum(json_object *j)
{
	return json_object_is_type(j, json_type_double) ?
	    json_object_get_double(j) : (double)json_object_get_int64(j);
}

int
tmpl_isint(json_object *j)
{
	return json_object_is_type(j, json_type_int) ||
	    json_object_is_type(j, json_type_boolean);
}

static int
iscontainer(json_object *j)
{
	return json_object_is_type(j, json_type_array) ||
	    json_object_is_type(j, json_type_object);
}

size_t
tmpl_slen(json_object *j)
{
	return (size_t)json_object_get_string_len(j);
}

/*
 * What a string, list or dict the render made cost, and how deep it
 * nests: json-c userdata, which gives the bytes back when json-c frees
 * the value, so that the bytes counted are the bytes alive.
 */
struct tag {
	struct ctx	*c;
	size_t		 bytes;
	int		 depth;
};

void
tmpl_unmade(struct ctx *c, size_t n)
{
	c->bytes -= n < c->bytes ? n : c->bytes;
}

static void
refund(json_object *o, void *arg)
{
	struct tag	*t = arg;

	(void)o;
	tmpl_unmade(t->c, t->bytes);
	free(t);
}

/* Mark "o" made, at "bytes" already counted; lists nest "depth" deep. */
json_object *
tmpl_own(struct ctx *c, json_object *o, size_t bytes, int depth)
{
	struct tag	*t = xmalloc(sizeof(*t));

	t->c = c;
	t->bytes = bytes;
	t->depth = depth;
	json_object_set_userdata(o, t, refund);
	if (depth > VAL_DEPTH_MAX)
		tmpl_rerr(c, "values nested too deeply");
	return o;
}

/* Count "n" more bytes of made value "o". */
int
tmpl_grow(struct ctx *c, json_object *o, size_t n)
{
	struct tag	*t = json_object_get_userdata(o);

	if (tmpl_made(c, n) == -1)
		return -1;
	t->bytes += n;
	return 0;
}

/*
 * How deep a value nests: 0 for a scalar, 1 for a list of scalars.  The
 * caller's values have no userdata (their doubles do, but are scalars).
 */
int
tmpl_depth_of(json_object *j)
{
	struct tag	*t;

	if (!iscontainer(j))
		return 0;
	t = json_object_get_userdata(j);
	return t != NULL ? t->depth : JSON_MAX_DEPTH;
}

/* Set the depth of list or dict "o", made; past the limit, fail. */
void
tmpl_set_depth(struct ctx *c, json_object *o, int depth)
{
	struct tag	*t = json_object_get_userdata(o);

	t->depth = depth;
	if (depth > VAL_DEPTH_MAX)
		tmpl_rerr(c, "values nested too deeply");
}

/*
 * A new list (a new dict) that nests "depth" deep, whose items' "bytes"
 * are counted already.
 */
json_object *
tmpl_new_list(struct ctx *c, int depth, size_t bytes)
{
	tmpl_made(c, VAL_BYTES);
	return tmpl_own(c, json_object_new_array(), VAL_BYTES + bytes,
	    depth < 1 ? 1 : depth);
}

json_object *
tmpl_new_dict(struct ctx *c, int depth, size_t bytes)
{
	tmpl_made(c, VAL_BYTES);
	return tmpl_own(c, json_object_new_object(), VAL_BYTES + bytes,
	    depth < 1 ? 1 : depth);
}

/* A new string, counted; NULL (None) past the limit. */
json_object *
tmpl_new_str(struct ctx *c, const char *s, size_t n)
{
	if (tmpl_made(c, VAL_BYTES + n) == -1)
		return NULL;
	return tmpl_own(c, json_object_new_string_len(s, (int)n), VAL_BYTES + n,
	    0);
}

static void
too_big(struct ctx *c, struct buf *b)
{
	if (b == c->out)
		tmpl_rerr(c, "output too large");
	else
		tmpl_made(c, SIZE_MAX);
}

/*
 * A string being built: it may grow to what the render may still make
 * (and a piece more, so that a piece that did not fit shows).  Whole
 * strings go in with tmpl_sput(); the small pieces of repr and escapes may go
 * in directly, as their failure leaves the length past the room, which
 * tmpl_buf_str() refuses.
 */
void
tmpl_sb_init(struct ctx *c, struct buf *b)
{
	buf_init(b, c->max_bytes - c->bytes + PIECE_MAX);
}

int
tmpl_sput(struct ctx *c, struct buf *b, const char *s, size_t n)
{
	if (c->failed)
		return -1;
	if (buf_append(b, s, n) == -1) {
		too_big(c, b);
		return -1;
	}
	return tmpl_scanned(c, n);
}

json_object *
tmpl_buf_str(struct ctx *c, struct buf *b)
{
	return tmpl_new_str(c, b->p ? b->p : "", b->len);
}

/*
 * repr() (or with "json", tojson) of "j" into "t", as py_repr and
 * py_json print it (and stopping as deep), one step a node: a value
 * shared many times over costs what printing it costs, and the printing
 * stops once past "room".  -1 then, or when the render failed.
 */
static int
print_rec(struct ctx *c, struct buf *t, size_t room, json_object *j,
    int json, int depth)
{
	json_object	*ks;
	size_t		 i, n;
	int		 first = 1;

	if (tmpl_work(c, 1) == -1 || t->len > room)
		return -1;
	if (depth > DEPTH_MAX) {
		buf_puts(t, json ? "null" : "...");
	} else if (json_object_is_type(j, json_type_array)) {
		buf_puts(t, "[");
		n = json_object_array_length(j);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(t, ", ");
			if (print_rec(c, t, room, json_object_array_get_idx(j,
			    i), json, depth + 1) == -1)
				return -1;
		}
		buf_puts(t, "]");
	} else if (json_object_is_type(j, json_type_object)) {
		buf_puts(t, "{");
		json_object_object_foreach(j, k, x) {
			if (!first)
				buf_puts(t, ", ");
			first = 0;
			if (tmpl_scanned(c, strlen(k)) == -1)
				return -1;
			ks = json_object_new_string(k);
			if (json)
				py_json(t, ks, 0);
			else
				py_repr(t, ks);
			json_object_put(ks);
			buf_puts(t, ": ");
			if (print_rec(c, t, room, x, json, depth + 1) == -1)
				return -1;
		}
		buf_puts(t, "}");
	} else {
		if (json_object_is_type(j, json_type_string) &&
		    tmpl_scanned(c, tmpl_slen(j)) == -1)
			return -1;
		if (json)
			py_json(t, j, 0);
		else
			py_repr(t, j);
	}
	return t->len > room ? -1 : 0;
}

/* str() (or with "json", tojson) of "j", appended to "b". */
void
tmpl_print_val(struct ctx *c, struct buf *b, json_object *j, int json)
{
	struct buf	t;
	size_t		room;

	if (c->failed)
		return;
	if (!json && json_object_is_type(j, json_type_string)) {
		tmpl_sput(c, b, json_object_get_string(j), tmpl_slen(j));
		return;
	}
	/* small pieces: one that did not fit leaves t longer than room */
	room = b->max - b->len;
	buf_init(&t, room + PIECE_MAX);
	if (print_rec(c, &t, room, j, json, 0) == -1) {
		if (!c->failed)
			too_big(c, b);
	} else
		tmpl_sput(c, b, t.p ? t.p : "", t.len);
	buf_free(&t);
}

/* str() of a value, appended; undefined appends nothing. */
void
tmpl_str_of(struct ctx *c, struct buf *b, struct val *v)
{
	if (!v->undef)
		tmpl_print_val(c, b, v->j, 0);
}

/*
 * Python's ==, counted: one step a node, and containers that are the same
 * object are equal without a walk, as Python's containers compare items.
 */
int
tmpl_veq(struct ctx *c, json_object *a, json_object *b, int depth)
{
	size_t	i, n;

	if (tmpl_work(c, 1) == -1)
		return 0;
	if (depth > 2 * VAL_DEPTH_MAX) {
		tmpl_rerr(c, "values nested too deeply");
		return 0;
	}
	if (a == b && iscontainer(a))
		return 1;
	if (!iscontainer(a) || !iscontainer(b)) {
		if (json_object_is_type(a, json_type_string) &&
		    json_object_is_type(b, json_type_string) &&
		    tmpl_scanned(c, tmpl_slen(a)) == -1)
			return 0;
		return py_eq(a, b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return 0;
	if (json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!tmpl_veq(c, json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i), depth + 1))
				return 0;
		return !c->failed;
	}
	if (json_object_object_length(a) != json_object_object_length(b))
		return 0;
	json_object_object_foreach(a, k, va) {
		json_object	*vb;

		if (!json_object_object_get_ex(b, k, &vb) ||
		    !tmpl_veq(c, va, vb, depth + 1))
			return 0;
	}
	return !c->failed;
}

/*
 * The first "n" (nl bytes, not empty) in "h" (hl bytes), counted: a step
 * a place where it might start, and its bytes.  No strstr: hay from the
 * current place to its end on every call would make a loop quadratic
 * (ASan's strstr measures it each time), and strings may hold NULs.
 */
const char *
tmpl_find(struct ctx *c, const char *h, size_t hl, const char *n, size_t nl)
{
	const char	*p = h, *end = h + hl, *q;

	while (!c->failed && (size_t)(end - p) >= nl) {
		q = memchr(p, n[0], (size_t)(end - p) - nl + 1);
		if (tmpl_scanned(c, q != NULL ? (size_t)(q - p) + nl :
		    (size_t)(end - p)) == -1 || q == NULL ||
		    tmpl_work(c, 1) == -1)
			return NULL;
		if (memcmp(q, n, nl) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

size_t
tmpl_u8len(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* Byte offset of the k-th character of a UTF-8 string. */
size_t
tmpl_u8off(const char *s, size_t n, size_t k)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (c == k)
				return i;
			c++;
		}
	}
	return n;
}

/*
 * The items a for loop (or a filter) walks: a new reference to an array.
 * Strings give their characters, objects their keys; NULL with an error
 * otherwise.
 */
json_object *
tmpl_iter_items(struct ctx *c, struct val *v)
{
	json_object	*a;
	const char	*s;
	size_t		 i, n, k;

	if (v->undef)
		return tmpl_new_list(c, 1, 0);
	switch (json_object_get_type(v->j)) {
	case json_type_array:
		return json_object_get(v->j);
	case json_type_object:
		n = (size_t)json_object_object_length(v->j);
		if (tmpl_made_n(c, n, SLOT_BYTES) == -1)
			return NULL;
		a = tmpl_new_list(c, 1, n * SLOT_BYTES);
		json_object_object_foreach(v->j, key, val) {
			(void)val;
			json_object_array_add(a,
			    tmpl_new_str(c, key, strlen(key)));
		}
		return a;
	case json_type_string:
		s = json_object_get_string(v->j);
		n = tmpl_slen(v->j);
		k = tmpl_u8len(s, n);
		if (tmpl_scanned(c, n) == -1 || tmpl_made_n(c, k, VAL_BYTES +
		    SLOT_BYTES) == -1 || tmpl_made(c, n) == -1)
			return NULL;
		a = tmpl_new_list(c, 1, k * (VAL_BYTES + SLOT_BYTES) + n);
		for (i = 0; i < n; i = k) {
			for (k = i + 1; k < n &&
			    ((unsigned char)s[k] & 0xc0) == 0x80; k++)
				;
			json_object_array_add(a,
			    json_object_new_string_len(s + i, (int)(k - i)));
		}
		return a;
	default:
		tmpl_rerr(c, "'%s' object is not iterable",
		    json_object_is_type(v->j, json_type_null) ? "NoneType" :
		    json_object_is_type(v->j, json_type_boolean) ? "bool" :
		    json_object_is_type(v->j, json_type_int) ? "int" : "float");
		return NULL;
	}
}
