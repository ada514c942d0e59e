/*
 * tmpl.c: the subset of Jinja2 that Dify's template-transform nodes and
 * jinja2 prompts use (spec workflow.md 5.6), rendered as Jinja2's
 * default Environment does: {{ expr }}, {% if/elif/else %}, {% for %}
 * (with loop.*, else, "k, v in d.items()"), {% set %}, {% raw %},
 * comments, whitespace control with "-", filters, tests, attribute and
 * subscript access, arithmetic and comparisons with Python semantics.
 * Values print as Python's str() does ({'a': 1}, True, None); undefined
 * names print as nothing; the source's newlines become "\n" and one
 * trailing newline is dropped (keep_trailing_newline=False).
 *
 * The input is untrusted (it comes from a DSL file): parsing is bounded
 * in depth and linear in the source; rendering is bounded in depth, steps
 * (time), bytes (memory) and output size, can be stopped by the caller
 * (struct tmpl_limits), and every failure is a message, never a crash.
 * tests/fuzz/fuzz_tmpl.c.
 *
 * This file evaluates expressions (names, subscripts, slices, operators
 * with Python semantics) and holds tmpl_render, which parses the source
 * and runs its statements.  The other pieces: tmpl_lex.c (the tokens of
 * a tag), tmpl_parse.c (the syntax tree), tmpl_value.c (values and the
 * work they cost), tmpl_filter.c (filters and tests), tmpl_method.c
 * (method calls and range()), tmpl_exec.c (statements and loops); what
 * they share is in tmpl_int.h.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

static struct val
lookup(struct ctx *c, const char *name)
{
	json_object	*v;
	int		 i;

	for (i = c->nframes - 1; i >= 0; i--)
		if (json_object_object_get_ex(c->frames[i], name, &v))
			return tmpl_v(json_object_get(v));
	return tmpl_undef(name);
}

/* obj.name or obj[key]: attribute then item, as Jinja's getattr does. */
struct val
tmpl_getitem(struct ctx *c, struct val *o, json_object *key, const char *attr)
{
	json_object	*v;
	long long	 i, n;

	if (o->undef) {
		tmpl_rerr(c, "'%s' is undefined", o->name ? o->name : "value");
		return tmpl_undef(NULL);
	}
	if (json_object_is_type(o->j, json_type_object)) {
		const char	*k = attr;

		if (k == NULL && json_object_is_type(key, json_type_string))
			k = json_object_get_string(key);
		/* scalars are copied: loop.* change in place between rounds */
		if (k != NULL && json_object_object_get_ex(o->j, k, &v))
			return tmpl_v(json_object_is_type(v, json_type_int) ||
			    json_object_is_type(v, json_type_boolean) ?
			    json_copy(v) : json_object_get(v));
		return tmpl_undef(k);
	}
	if (json_object_is_type(o->j, json_type_array) ||
	    json_object_is_type(o->j, json_type_string)) {
		if (attr != NULL) {
			if (parse_int(attr, 0, 1LL << 40, &i) == -1)
				return tmpl_undef(attr);
		} else if (tmpl_isint(key))
			i = json_object_get_int64(key);
		else
			return tmpl_undef(NULL);
		if (json_object_is_type(o->j, json_type_array)) {
			n = (long long)json_object_array_length(o->j);
			if (i < 0)
				i += n;
			if (i < 0 || i >= n)
				return tmpl_undef(NULL);
			return tmpl_v(json_object_get(json_object_array_get_idx(
			    o->j, (size_t)i)));
		} else {
			const char	*s = json_object_get_string(o->j);
			size_t		 sl = tmpl_slen(o->j), a, b;

			if (tmpl_scanned(c, 2 * sl) == -1)
				return tmpl_undef(NULL);
			n = (long long)tmpl_u8len(s, sl);
			if (i < 0)
				i += n;
			if (i < 0 || i >= n)
				return tmpl_undef(NULL);
			a = tmpl_u8off(s, sl, (size_t)i);
			b = tmpl_u8off(s, sl, (size_t)i + 1);
			return tmpl_v(tmpl_new_str(c, s + a, b - a));
		}
	}
	return tmpl_undef(attr);
}

static long long
clampi(long long v, long long n)
{
	if (v < 0)
		v += n;
	if (v < 0)
		v = 0;
	if (v > n)
		v = n;
	return v;
}

static struct val
slice(struct ctx *c, struct val *o, struct val *lo, struct val *hi)
{
	long long	 n, a = 0, b;
	json_object	*r;
	long long	 i;

	if (o->undef)
		return tmpl_undef(NULL);
	if ((!lo->undef && lo->j != NULL && !tmpl_isint(lo->j)) ||
	    (!hi->undef && hi->j != NULL && !tmpl_isint(hi->j))) {
		tmpl_rerr(c, "slice indices must be integers or None");
		return tmpl_undef(NULL);
	}
	if (json_object_is_type(o->j, json_type_array)) {
		n = (long long)json_object_array_length(o->j);
		a = lo->undef || lo->j == NULL ? 0 :
		    clampi(json_object_get_int64(lo->j), n);
		b = hi->undef || hi->j == NULL ? n :
		    clampi(json_object_get_int64(hi->j), n);
		if (b > a && tmpl_made_n(c, (size_t)(b - a), SLOT_BYTES) == -1)
			return tmpl_undef(NULL);
		r = tmpl_new_list(c, tmpl_depth_of(o->j),
		    (size_t)(b - a) * SLOT_BYTES);
		for (i = a; i < b; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(o->j, (size_t)i)));
		return tmpl_v(r);
	}
	if (json_object_is_type(o->j, json_type_string)) {
		const char	*s = json_object_get_string(o->j);
		size_t		 sl = tmpl_slen(o->j), x, y;

		if (tmpl_scanned(c, 3 * sl) == -1)
			return tmpl_undef(NULL);
		n = (long long)tmpl_u8len(s, sl);
		a = lo->undef || lo->j == NULL ? 0 :
		    clampi(json_object_get_int64(lo->j), n);
		b = hi->undef || hi->j == NULL ? n :
		    clampi(json_object_get_int64(hi->j), n);
		if (b < a)
			b = a;
		x = tmpl_u8off(s, sl, (size_t)a);
		y = tmpl_u8off(s, sl, (size_t)b);
		return tmpl_v(tmpl_new_str(c, s + x, y - x));
	}
	tmpl_rerr(c, "object is not subscriptable");
	return tmpl_undef(NULL);
}

static int
cmp_vals(struct ctx *c, json_object *a, json_object *b, const char *op)
{
	int	r;

	if (tmpl_isnum(a) && tmpl_isnum(b)) {
		double	x = tmpl_dnum(a), y = tmpl_dnum(b);

		if (tmpl_isint(a) && tmpl_isint(b)) {
			long long	i = json_object_get_int64(a),
					j = json_object_get_int64(b);

			r = i < j ? -1 : i > j;
		} else
			r = x < y ? -1 : x > y ? 1 : 0;
	} else if (json_object_is_type(a, json_type_string) &&
	    json_object_is_type(b, json_type_string)) {
		if (tmpl_scanned(c, tmpl_slen(a) + tmpl_slen(b)) == -1)
			return 0;
		r = strcmp(json_object_get_string(a),
		    json_object_get_string(b));
		r = r < 0 ? -1 : r > 0;
	} else {
		tmpl_rerr(c, "'%s' not supported between these types", op);
		return 0;
	}
	return r;
}

int
tmpl_contains(struct ctx *c, json_object *hay, struct val *needle)
{
	size_t	i, n;

	if (json_object_is_type(hay, json_type_string)) {
		if (needle->undef || !json_object_is_type(needle->j,
		    json_type_string)) {
			tmpl_rerr(c, "'in <string>' requires string as left "
			    "operand");
			return 0;
		}
		return tmpl_slen(needle->j) == 0 || tmpl_find(c,
		    json_object_get_string(hay), tmpl_slen(hay),
		    json_object_get_string(needle->j),
		    tmpl_slen(needle->j)) != NULL;
	}
	if (json_object_is_type(hay, json_type_array)) {
		if (needle->undef)
			return 0;
		n = json_object_array_length(hay);
		for (i = 0; i < n && !c->failed; i++)
			if (tmpl_veq(c, needle->j,
			    json_object_array_get_idx(hay, i), 0))
				return 1;
		return 0;
	}
	if (json_object_is_type(hay, json_type_object))
		return !needle->undef && json_object_is_type(needle->j,
		    json_type_string) && json_get(hay,
		    json_object_get_string(needle->j)) != NULL;
	tmpl_rerr(c, "argument is not iterable");
	return 0;
}

json_object *
tmpl_num_result(double d, int integer, long long i)
{
	return integer ? json_object_new_int64(i) : json_object_new_double(d);
}

/* seq * k, Python's repetition of a string or a list. */
static struct val
repeat(struct ctx *c, json_object *seq, long long k)
{
	json_object	*r;
	size_t		 n, i, m, total;
	char		*p;

	if (k < 0)
		k = 0;
	if (json_object_is_type(seq, json_type_string)) {
		n = tmpl_slen(seq);
		if (tmpl_made_n(c, (size_t)k, n) == -1 ||
		    tmpl_made(c, VAL_BYTES) == -1)
			return tmpl_undef(NULL);
		total = n * (size_t)k;
		p = xmalloc(total + 1);
		/* doubling copies: a few memcpy whatever k is */
		if (total > 0)
			memcpy(p, json_object_get_string(seq), n);
		for (m = n; m > 0 && m < total; m += m < total - m ? m :
		    total - m)
			memcpy(p + m, p, m < total - m ? m : total - m);
		r = tmpl_own(c, json_object_new_string_len(p, (int)total),
		    VAL_BYTES + total, 0);
		free(p);
		return tmpl_v(r);
	}
	n = json_object_array_length(seq);
	if (n == 0)
		k = 0;
	if (tmpl_made_n(c, (size_t)k, n * SLOT_BYTES) == -1 ||
	    tmpl_work(c, n * (size_t)k) == -1)
		return tmpl_undef(NULL);
	r = tmpl_new_list(c, tmpl_depth_of(seq), n * (size_t)k * SLOT_BYTES);
	for (m = 0; m < (size_t)k; m++)
		for (i = 0; i < n; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(seq, i)));
	return tmpl_v(r);
}

static int
issequence(json_object *j)
{
	return json_object_is_type(j, json_type_string) ||
	    json_object_is_type(j, json_type_array);
}

static struct val
arith(struct ctx *c, const char *op, struct val *a, struct val *b)
{
	struct buf	 s;
	json_object	*r;
	size_t		 i;

	if (strcmp(op, "~") == 0 || (strcmp(op, "+") == 0 && !a->undef &&
	    !b->undef && json_object_is_type(a->j, json_type_string) &&
	    json_object_is_type(b->j, json_type_string))) {
		tmpl_sb_init(c, &s);
		tmpl_str_of(c, &s, a);
		tmpl_str_of(c, &s, b);
		r = tmpl_buf_str(c, &s);
		buf_free(&s);
		return tmpl_v(r);
	}
	if (a->undef || b->undef) {
		tmpl_rerr(c, "'%s' is undefined", a->undef ?
		    (a->name ? a->name : "value") :
		    (b->name ? b->name : "value"));
		return tmpl_undef(NULL);
	}
	if (strcmp(op, "+") == 0 && json_object_is_type(a->j,
	    json_type_array) && json_object_is_type(b->j, json_type_array)) {
		size_t	na = json_object_array_length(a->j),
			nb = json_object_array_length(b->j);
		int	da = tmpl_depth_of(a->j), db = tmpl_depth_of(b->j);

		if (tmpl_made_n(c, na + nb, SLOT_BYTES) == -1)
			return tmpl_undef(NULL);
		r = tmpl_new_list(c, da > db ? da : db, (na + nb) * SLOT_BYTES);
		for (i = 0; i < na; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(a->j, i)));
		for (i = 0; i < nb; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(b->j, i)));
		return tmpl_v(r);
	}
	if (strcmp(op, "*") == 0 && issequence(a->j) && tmpl_isint(b->j))
		return repeat(c, a->j, json_object_get_int64(b->j));
	if (strcmp(op, "*") == 0 && tmpl_isint(a->j) && issequence(b->j))
		return repeat(c, b->j, json_object_get_int64(a->j));
	if (!tmpl_isnum(a->j) || !tmpl_isnum(b->j)) {
		tmpl_rerr(c, "unsupported operand type(s) for %s", op);
		return tmpl_undef(NULL);
	}
	{
		int		 ints = tmpl_isint(a->j) && tmpl_isint(b->j);
		long long	 x = json_object_get_int64(a->j),
				 y = json_object_get_int64(b->j), q = 0;
		double		 dx = tmpl_dnum(a->j), dy = tmpl_dnum(b->j), dq;

		/* Python's ints do not overflow; ours turn into floats */
		if (strcmp(op, "+") == 0) {
			ints = ints && !__builtin_add_overflow(x, y, &q);
			return tmpl_v(tmpl_num_result(dx + dy, ints, q));
		}
		if (strcmp(op, "-") == 0) {
			ints = ints && !__builtin_sub_overflow(x, y, &q);
			return tmpl_v(tmpl_num_result(dx - dy, ints, q));
		}
		if (strcmp(op, "*") == 0) {
			ints = ints && !__builtin_mul_overflow(x, y, &q);
			return tmpl_v(tmpl_num_result(dx * dy, ints, q));
		}
		if ((strcmp(op, "/") == 0 || strcmp(op, "//") == 0 ||
		    strcmp(op, "%") == 0) && (ints ? y == 0 : dy == 0)) {
			tmpl_rerr(c, "division by zero");
			return tmpl_undef(NULL);
		}
		if (strcmp(op, "/") == 0)
			return tmpl_v(json_object_new_double(dx / dy));
		if (ints && y == -1 && x == LLONG_MIN)
			ints = 0;
		if (strcmp(op, "//") == 0) {
			if (ints) {
				q = x / y;
				if ((x % y != 0) && ((x < 0) != (y < 0)))
					q--;
				return tmpl_v(json_object_new_int64(q));
			}
			return tmpl_v(json_object_new_double(floor(dx / dy)));
		}
		if (strcmp(op, "%") == 0) {
			if (ints) {
				q = x % y;
				if (q != 0 && ((q < 0) != (y < 0)))
					q += y;
				return tmpl_v(json_object_new_int64(q));
			}
			dq = fmod(dx, dy);
			if (dq != 0 && ((dq < 0) != (dy < 0)))
				dq += dy;
			return tmpl_v(json_object_new_double(dq));
		}
		/* ** */
		if (ints && y >= 0 && y < 64) {
			long long	p = 1;

			for (q = 0; q < y; q++)
				if (__builtin_mul_overflow(p, x, &p))
					break;
			if (q == y)
				return tmpl_v(json_object_new_int64(p));
		}
		return tmpl_v(json_object_new_double(pow(dx, dy)));
	}
}

/* Evaluate the arguments of a call, filter or test. */
int
tmpl_eval_args(struct ctx *c, struct expr *e, struct val *args)
{
	int	i;

	for (i = 0; i < e->nargs; i++) {
		args[i] = tmpl_eval(c, e->args[i]);
		if (c->failed) {
			while (i >= 0)
				tmpl_vput(&args[i--]);
			return -1;
		}
	}
	return 0;
}

void
tmpl_put_args(struct val *args, int n)
{
	while (n-- > 0)
		tmpl_vput(&args[n]);
}

struct val
tmpl_eval(struct ctx *c, struct expr *e)
{
	struct val	 a, b, r, items[ARGS_MAX];
	json_object	*o;
	int		 i, t, d;

	if (tmpl_work(c, 1) == -1)
		return tmpl_undef(NULL);
	switch (e->k) {
	case E_LIT:
		return tmpl_v(json_object_get(e->lit));
	case E_NAME:
		return lookup(c, e->name);
	case E_ATTR:
		a = tmpl_eval(c, e->a);
		if (c->failed)
			return a;
		r = tmpl_getitem(c, &a, NULL, e->name);
		tmpl_vput(&a);
		return r;
	case E_ITEM:
		a = tmpl_eval(c, e->a);
		b = tmpl_eval(c, e->b);
		if (c->failed) {
			tmpl_vput(&a);
			tmpl_vput(&b);
			return tmpl_undef(NULL);
		}
		r = b.undef ? tmpl_undef(NULL) : tmpl_getitem(c, &a, b.j, NULL);
		tmpl_vput(&a);
		tmpl_vput(&b);
		return r;
	case E_SLICE:
		a = tmpl_eval(c, e->a);
		b = e->b ? tmpl_eval(c, e->b) : tmpl_undef(NULL);
		r = e->c ? tmpl_eval(c, e->c) : tmpl_undef(NULL);
		if (!c->failed) {
			struct val	s = slice(c, &a, &b, &r);

			tmpl_vput(&a);
			tmpl_vput(&b);
			tmpl_vput(&r);
			return s;
		}
		tmpl_vput(&a);
		tmpl_vput(&b);
		tmpl_vput(&r);
		return tmpl_undef(NULL);
	case E_CALL:
		return tmpl_call(c, e);
	case E_FILTER:
		return tmpl_filter(c, e);
	case E_TEST:
		return tmpl_test(c, e);
	case E_NOT:
		a = tmpl_eval(c, e->a);
		t = tmpl_truthy(&a);
		tmpl_vput(&a);
		return tmpl_v(json_object_new_boolean(!t));
	case E_NEG:
	case E_POS:
		a = tmpl_eval(c, e->a);
		if (c->failed)
			return a;
		if (a.undef || !tmpl_isnum(a.j)) {
			tmpl_rerr(c, "bad operand type for unary %s",
			    e->k == E_NEG ? "-" : "+");
			tmpl_vput(&a);
			return tmpl_undef(NULL);
		}
		if (e->k == E_POS)
			return a;
		r = tmpl_isint(a.j) && json_object_get_int64(a.j) != LLONG_MIN ?
		    tmpl_v(json_object_new_int64(-json_object_get_int64(a.j))) :
		    tmpl_v(json_object_new_double(-tmpl_dnum(a.j)));
		tmpl_vput(&a);
		return r;
	case E_COND:
		a = tmpl_eval(c, e->a);
		t = tmpl_truthy(&a);
		tmpl_vput(&a);
		if (t)
			return tmpl_eval(c, e->b);
		return e->c ? tmpl_eval(c, e->c) : tmpl_undef(NULL);
	case E_LIST:
	case E_DICT:
		d = 0;
		for (i = 0; i < e->nargs; i++) {
			items[i] = tmpl_eval(c, e->args[i]);
			if (tmpl_depth_of(items[i].j) > d)
				d = tmpl_depth_of(items[i].j);
		}
		if (tmpl_made_n(c, (size_t)e->nargs, ENTRY_BYTES) == -1) {
			tmpl_put_args(items, e->nargs);
			return tmpl_undef(NULL);
		}
		if (e->k == E_LIST) {
			o = tmpl_new_list(c, 1 + d,
			    (size_t)e->nargs * ENTRY_BYTES);
			for (i = 0; i < e->nargs; i++)
				json_object_array_add(o, items[i].j);
			return tmpl_v(o);
		}
		o = tmpl_new_dict(c, 1 + d, (size_t)e->nargs * ENTRY_BYTES);
		for (i = 0; i + 1 < e->nargs; i += 2) {
			struct buf	k;

			tmpl_sb_init(c, &k);
			tmpl_str_of(c, &k, &items[i]);
			tmpl_grow(c, o, k.len);
			json_object_object_add(o, buf_cstr(&k),
			    items[i + 1].j);
			buf_free(&k);
			tmpl_vput(&items[i]);
		}
		return tmpl_v(o);
	case E_BIN:
		break;
	}
	/* binary operators */
	if (strcmp(e->name, "and") == 0 || strcmp(e->name, "or") == 0) {
		a = tmpl_eval(c, e->a);
		t = tmpl_truthy(&a);
		if ((e->name[0] == 'a') != t)
			return a;
		tmpl_vput(&a);
		return tmpl_eval(c, e->b);
	}
	a = tmpl_eval(c, e->a);
	b = tmpl_eval(c, e->b);
	if (c->failed) {
		tmpl_vput(&a);
		tmpl_vput(&b);
		return tmpl_undef(NULL);
	}
	if (strcmp(e->name, "==") == 0 || strcmp(e->name, "!=") == 0) {
		t = (a.undef && b.undef) || (!a.undef && !b.undef &&
		    tmpl_veq(c, a.j, b.j, 0));
		r = tmpl_v(json_object_new_boolean(e->name[0] == '=' ? t : !t));
	} else if (strcmp(e->name, "in") == 0 ||
	    strcmp(e->name, "not in") == 0) {
		t = b.undef ? 0 : tmpl_contains(c, b.j, &a);
		r = tmpl_v(json_object_new_boolean(e->name[0] == 'i' ? t : !t));
	} else if (e->name[0] == '<' || e->name[0] == '>') {
		if (a.undef || b.undef) {
			tmpl_rerr(c, "'%s' not supported with undefined",
			    e->name);
			r = tmpl_undef(NULL);
		} else {
			t = cmp_vals(c, a.j, b.j, e->name);
			if (strcmp(e->name, "<") == 0)
				t = t < 0;
			else if (strcmp(e->name, ">") == 0)
				t = t > 0;
			else if (strcmp(e->name, "<=") == 0)
				t = t <= 0;
			else
				t = t >= 0;
			r = tmpl_v(json_object_new_boolean(t));
		}
	} else
		r = arith(c, e->name, &a, &b);
	tmpl_vput(&a);
	tmpl_vput(&b);
	return r;
}

/* Jinja's lexer: newlines normalised, one trailing newline dropped. */
static char *
normalise(const char *src, size_t len, size_t *out_len)
{
	char	*s = xmalloc(len + 1);
	size_t	 i, n = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '\r') {
			s[n++] = '\n';
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
		} else
			s[n++] = src[i];
	}
	if (n > 0 && s[n - 1] == '\n')
		n--;
	s[n] = '\0';
	*out_len = n;
	return s;
}

int
tmpl_render(const char *src, size_t len, json_object *vars,
    struct tmpl_limits *lim, struct buf *out, char *err, size_t errlen)
{
	struct tp	 tp;
	struct tree	 tree;
	struct blk	 body;
	struct ctx	 c;
	json_object	*empty;
	const char	*stop;
	char		*norm;
	int		 lstrip = 0, rc = -1;

	memset(&tp, 0, sizeof(tp));
	memset(&tree, 0, sizeof(tree));
	memset(&body, 0, sizeof(body));
	memset(&c, 0, sizeof(c));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (memchr(src, '\0', len) != NULL) {
		snprintf(err, errlen, "template contains a NUL character");
		return -1;
	}
	norm = normalise(src, len, &tp.len);
	tp.src = norm;
	tp.err = err;
	tp.errlen = errlen;
	tree.lits = json_object_new_array();
	tp.tree = &tree;
	if (tmpl_parse_body(&tp, &body, NULL, &stop, &lstrip) == -1)
		goto out;
	empty = json_object_new_object();
	c.frames[c.nframes++] = vars != NULL && json_object_is_type(vars,
	    json_type_object) ? vars : empty;
	c.frames[c.nframes++] = json_object_new_object();	/* set */
	c.out = out;
	c.err = err;
	c.errlen = errlen;
	c.max_steps = lim != NULL && lim->max_steps > 0 ? lim->max_steps :
	    TMPL_STEPS_MAX;
	c.max_bytes = lim != NULL && lim->max_bytes > 0 ? lim->max_bytes :
	    TMPL_BYTES_MAX;
	if (c.max_bytes > TMPL_BYTES_CEILING)
		c.max_bytes = TMPL_BYTES_CEILING;
	c.next_tick = TICK_STEPS;
	if (lim != NULL) {
		c.tick = lim->tick;
		c.arg = lim->arg;
	}
	tmpl_exec_nodes(&c, body.head);
	json_object_put(c.frames[1]);
	json_object_put(empty);
	rc = c.stopped ? TMPL_STOPPED : c.failed ? -1 : 0;
out:
	if (lim != NULL) {
		lim->steps = c.steps;
		lim->bytes = c.peak;
	}
	json_object_put(tree.lits);
	pool_free_all(&tp.pool);
	free(norm);
	return rc;
}
