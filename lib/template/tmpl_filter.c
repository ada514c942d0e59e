/*
 * tmpl_filter.c: the filters ("x | name(args)") and tests ("x is name")
 * of Jinja2's default Environment (jinja2/filters.py, jinja2/tests.py)
 * that Dify templates use: default, join, length, count, float, int,
 * string, upper, lower, capitalize, title, trim, first, last, reverse,
 * list, sort, unique, sum, max, min, abs, round, replace, tojson, safe,
 * escape, items; defined, none, number, string, mapping, odd, even,
 * divisibleby, eq, in and their kin.  Each counts the work it does.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

const char *
tmpl_argstr(struct val *args, int n, int i, const char *dflt)
{
	if (i >= n || args[i].undef || !json_object_is_type(args[i].j,
	    json_type_string))
		return dflt;
	return json_object_get_string(args[i].j);
}

/* Argument "name", given by keyword or at position "pos"; NULL if not. */
static struct val *
arg(struct expr *e, struct val *args, int pos, const char *name)
{
	int	i;

	for (i = 0; i < e->nargs; i++)
		if (e->kw[i] != NULL && strcmp(e->kw[i], name) == 0)
			return &args[i];
	return pos < e->nargs && e->kw[pos] == NULL ? &args[pos] : NULL;
}

/* Convert to a number as |float and |int do: unparsable gives dflt. */
static json_object *
to_number(struct ctx *c, struct val *v, int integer, json_object *dflt)
{
	const char	*s;
	char		*end;
	double		 d;

	if (!v->undef && tmpl_isnum(v->j)) {
		d = tmpl_dnum(v->j);
		if (integer && !tmpl_isint(v->j) && !(isfinite(d) &&
		    fabs(d) < 9.2e18))
			return json_object_get(dflt);
		return integer ? json_object_new_int64(tmpl_isint(v->j) ?
		    json_object_get_int64(v->j) : (long long)d) :
		    json_object_new_double(d);
	}
	if (!v->undef && json_object_is_type(v->j, json_type_string)) {
		if (tmpl_scanned(c, tmpl_slen(v->j)) == -1)
			return NULL;
		s = json_object_get_string(v->j);
		while (isspace((unsigned char)*s))
			s++;
		d = strtod(s, &end);
		while (end != s && isspace((unsigned char)*end))
			end++;
		if (end != s && *end == '\0' && isfinite(d) &&
		    fabs(d) < 9.2e18) {
			if (integer && strpbrk(s, ".eE") != NULL) {
				/* int('2.5') fails; Jinja then tries float */
				return json_object_new_int64((long long)d);
			}
			return integer ? json_object_new_int64((long long)d) :
			    json_object_new_double(d);
		}
	}
	return json_object_get(dflt);
}

static int
cmp_sort(const void *a, const void *b)
{
	json_object	*x = *(json_object *const *)a,
			*y = *(json_object *const *)b;

	if (tmpl_isnum(x) && tmpl_isnum(y))
		return tmpl_dnum(x) < tmpl_dnum(y) ? -1 :
		    tmpl_dnum(x) > tmpl_dnum(y);
	if (json_object_is_type(x, json_type_string) &&
	    json_object_is_type(y, json_type_string))
		return strcmp(json_object_get_string(x),
		    json_object_get_string(y));
	return (int)json_object_get_type(x) - (int)json_object_get_type(y);
}

static size_t
log2_ceil(size_t n)
{
	size_t	k = 1;

	while (n > 1) {
		n >>= 1;
		k++;
	}
	return k;
}

/* The items of "items" in a new array, sorted when "sort" is set. */
static json_object *
copy_items(struct ctx *c, json_object *items, int sort, int reverse)
{
	json_object	**arr, *o;
	size_t		  i, n = json_object_array_length(items), sbytes = 0;

	if (tmpl_made_n(c, n, SLOT_BYTES) == -1 || tmpl_work(c, n) == -1)
		return NULL;
	arr = xcalloc(n + 1, sizeof(*arr));
	for (i = 0; i < n; i++) {
		arr[i] = json_object_array_get_idx(items, i);
		if (json_object_is_type(arr[i], json_type_string))
			sbytes += tmpl_slen(arr[i]);
	}
	/* n log n comparisons, each through its strings */
	if (sort && (tmpl_work(c, n * log2_ceil(n)) == -1 ||
	    tmpl_scanned(c, sbytes) == -1 ||
	    tmpl_work(c, (sbytes / BYTES_PER_STEP) * log2_ceil(n)) == -1)) {
		free(arr);
		return NULL;
	}
	if (sort)
		qsort(arr, n, sizeof(*arr), cmp_sort);
	o = tmpl_new_list(c, tmpl_depth_of(items), n * SLOT_BYTES);
	for (i = 0; i < n; i++)
		json_object_array_add(o, json_object_get(arr[reverse ?
		    n - 1 - i : i]));
	free(arr);
	return o;
}

/* A key of unique()'s, by the bytes of which items are told apart. */
struct ukey {
	const char	*k;		/* into the keys' buffer, once built */
	size_t		 off, len;
	size_t		 i;		/* the item's place */
};

static int
cmp_ukey(const void *a, const void *b)
{
	const struct ukey	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 r = memcmp(x->k, y->k, n);

	if (r != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Append the key of "x" to "b": equal keys exactly for values Python's
 * hash and == find equal (1, 1.0 and True; strings, lowered unless
 * "csens").  Lists and dicts are unhashable, as in Python.
 */
static int
hash_key(struct ctx *c, struct buf *b, struct val *x, int csens)
{
	json_object	*j = x->j;
	size_t		 i, at;
	double		 d;

	if (x->undef)
		return tmpl_sput(c, b, "u", 1);
	switch (json_object_get_type(j)) {
	case json_type_null:
		return tmpl_sput(c, b, "z", 1);
	case json_type_boolean:
	case json_type_int:
		buf_printf(b, "n%lld", (long long)json_object_get_int64(j));
		return 0;
	case json_type_double:
		d = json_object_get_double(j);
		if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18)
			buf_printf(b, "n%lld", (long long)d);
		else
			buf_printf(b, "f%.17g", d);
		return 0;
	case json_type_string:
		if (tmpl_sput(c, b, "s", 1) == -1)
			return -1;
		at = b->len;
		if (tmpl_sput(c, b, json_object_get_string(j),
		    tmpl_slen(j)) == -1)
			return -1;
		if (!csens)
			for (i = at; i < b->len; i++)
				b->p[i] = (char)tolower((unsigned char)b->p[i]);
		return 0;
	default:
		tmpl_rerr(c, "unhashable type: '%s'", json_object_is_type(j,
		    json_type_array) ? "list" : "dict");
		return -1;
	}
}

/*
 * Jinja's unique(case_sensitive=False, attribute=None): the items in
 * order, each first of its key.  The keys are sorted, not compared pair
 * by pair, so that the work grows as n log n.
 */
static json_object *
unique(struct ctx *c, json_object *items, struct expr *e, struct val *args)
{
	struct val	*cs = arg(e, args, 0, "case_sensitive"),
			*at = arg(e, args, 1, "attribute");
	const char	*attr = at != NULL && !at->undef &&
			    json_object_is_type(at->j, json_type_string) ?
			    json_object_get_string(at->j) : NULL;
	size_t		 i, n = json_object_array_length(items);
	struct ukey	*keys;
	struct buf	 kb;
	char		*keep;
	json_object	*o = NULL;

	if (tmpl_made_n(c, n, sizeof(*keys) + SLOT_BYTES + 1) == -1 ||
	    tmpl_work(c, n * log2_ceil(n)) == -1)
		return NULL;
	keys = xcalloc(n + 1, sizeof(*keys));
	keep = xcalloc(n + 1, 1);
	tmpl_sb_init(c, &kb);
	for (i = 0; i < n && tmpl_work(c, 1) == 0; i++) {
		struct val	it = tmpl_v(json_object_get(
				    json_object_array_get_idx(items, i)));
		struct val	x = attr != NULL ?
				    tmpl_getitem(c, &it, NULL, attr) :
				    tmpl_v(json_object_get(it.j));

		keys[i].off = kb.len;
		keys[i].i = i;
		hash_key(c, &kb, &x, cs != NULL && tmpl_truthy(cs));
		keys[i].len = kb.len - keys[i].off;
		tmpl_vput(&x);
		tmpl_vput(&it);
	}
	/* a key printed past the room shows here, as too_big would */
	if (!c->failed && tmpl_made(c, kb.len) == 0) {
		tmpl_unmade(c, kb.len);
		for (i = 0; i < n; i++)
			keys[i].k = kb.p + keys[i].off;
		qsort(keys, n, sizeof(*keys), cmp_ukey);
		for (i = 0; i < n; i++)
			if (i == 0 || keys[i].len != keys[i - 1].len ||
			    memcmp(keys[i].k, keys[i - 1].k, keys[i].len) != 0)
				keep[keys[i].i] = 1;
		o = tmpl_new_list(c, tmpl_depth_of(items), n * SLOT_BYTES);
		for (i = 0; i < n; i++)
			if (keep[i])
				json_object_array_add(o, json_object_get(
				    json_object_array_get_idx(items, i)));
	}
	buf_free(&kb);
	free(keys);
	free(keep);
	tmpl_unmade(c, n * (sizeof(*keys) + 1));	/* the keys are gone */
	return o;
}

/* s.replace(old, new) into "b" ("old" empty leaves "s" as it is). */
void
tmpl_replace_str(struct ctx *c, struct buf *b, const char *s, size_t sl,
    const char *old, const char *nw)
{
	size_t		 ol = strlen(old), nl = strlen(nw);
	const char	*p = s, *q;

	if (ol == 0) {
		tmpl_sput(c, b, s, sl);
		return;
	}
	while ((q = tmpl_find(c, p, (size_t)(s + sl - p), old, ol)) != NULL) {
		tmpl_sput(c, b, p, (size_t)(q - p));
		tmpl_sput(c, b, nw, nl);
		p = q + ol;
	}
	tmpl_sput(c, b, p, (size_t)(s + sl - p));
}

/* d.items() ("what" 'i'), d.keys() ('k') or d.values() ('v'). */
json_object *
tmpl_dict_list(struct ctx *c, json_object *d, int what)
{
	json_object	*a, *item;
	size_t		 n = (size_t)json_object_object_length(d);
	int		 depth = 0;

	if (tmpl_made_n(c, n, SLOT_BYTES) == -1 || tmpl_work(c, n) == -1)
		return NULL;
	a = tmpl_new_list(c, 1, n * SLOT_BYTES);
	json_object_object_foreach(d, k, x) {
		if (what == 'i' &&
		    tmpl_made(c, VAL_BYTES + 2 * SLOT_BYTES) == -1)
			break;
		if (what == 'k')
			item = tmpl_new_str(c, k, strlen(k));
		else if (what == 'v')
			item = json_object_get(x);
		else {
			item = tmpl_own(c, json_object_new_array(), VAL_BYTES +
			    2 * SLOT_BYTES, 1 + tmpl_depth_of(x));
			json_object_array_add(item,
			    tmpl_new_str(c, k, strlen(k)));
			json_object_array_add(item, json_object_get(x));
		}
		if (tmpl_depth_of(item) > depth)
			depth = tmpl_depth_of(item);
		json_object_array_add(a, item);
	}
	tmpl_set_depth(c, a, 1 + depth);
	return a;
}

struct val
tmpl_filter(struct ctx *c, struct expr *e)
{
	struct val	 v, args[ARGS_MAX], r = tmpl_undef(NULL);
	const char	*f = e->name;
	struct buf	 b;
	json_object	*items, *o;
	size_t		 i, n;

	v = tmpl_eval(c, e->a);
	if (c->failed)
		return v;
	if (tmpl_eval_args(c, e, args) == -1) {
		tmpl_vput(&v);
		return tmpl_undef(NULL);
	}
	tmpl_sb_init(c, &b);
	if (strcmp(f, "default") == 0 || strcmp(f, "d") == 0) {
		int	boolean = e->nargs > 1 && tmpl_truthy(&args[1]);

		if (v.undef || (boolean && !tmpl_truthy(&v))) {
			tmpl_vput(&v);
			r = e->nargs > 0 ? tmpl_v(json_object_get(args[0].j)) :
			    tmpl_v(json_object_new_string(""));
			if (e->nargs > 0 && args[0].undef)
				r = tmpl_undef(NULL);
		} else {
			r = v;
			v.j = NULL;
		}
	} else if (strcmp(f, "join") == 0) {
		const char	*sep = tmpl_argstr(args, e->nargs, 0, "");
		const char	*attr = tmpl_argstr(args, e->nargs, 1, NULL);

		if ((items = tmpl_iter_items(c, &v)) != NULL) {
			n = json_object_array_length(items);
			for (i = 0; i < n && tmpl_work(c, 1) == 0; i++) {
				struct val	it = tmpl_v(json_object_get(
				    json_object_array_get_idx(items, i)));

				if (i > 0)
					tmpl_sput(c, &b, sep, strlen(sep));
				if (attr != NULL) {
					struct val	x = tmpl_getitem(c, &it,
					    NULL, attr);

					tmpl_str_of(c, &b, &x);
					tmpl_vput(&x);
				} else
					tmpl_str_of(c, &b, &it);
				tmpl_vput(&it);
			}
			json_object_put(items);
			r = tmpl_v(tmpl_buf_str(c, &b));
		}
	} else if (strcmp(f, "length") == 0 || strcmp(f, "count") == 0) {
		if (v.undef)
			r = tmpl_v(json_object_new_int(0));
		else if (json_object_is_type(v.j, json_type_string)) {
			if (tmpl_scanned(c, tmpl_slen(v.j)) == 0)
				r = tmpl_v(json_object_new_int64(
				    (int64_t)tmpl_u8len(
				    json_object_get_string(v.j),
				    tmpl_slen(v.j))));
		} else if (json_object_is_type(v.j, json_type_array))
			r = tmpl_v(json_object_new_int64((int64_t)
			    json_object_array_length(v.j)));
		else if (json_object_is_type(v.j, json_type_object))
			r = tmpl_v(json_object_new_int(
			    json_object_object_length(v.j)));
		else
			tmpl_rerr(c, "object has no len()");
	} else if (strcmp(f, "float") == 0 || strcmp(f, "int") == 0) {
		json_object	*d = e->nargs > 0 && !args[0].undef ?
		    json_object_get(args[0].j) : f[0] == 'f' ?
		    json_object_new_double(0) : json_object_new_int(0);

		r = tmpl_v(to_number(c, &v, f[0] == 'i', d));
		json_object_put(d);
	} else if (strcmp(f, "string") == 0) {
		tmpl_str_of(c, &b, &v);
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "upper") == 0 || strcmp(f, "lower") == 0 ||
	    strcmp(f, "capitalize") == 0 || strcmp(f, "title") == 0) {
		int	start = 1;

		tmpl_str_of(c, &b, &v);
		for (i = 0; i < b.len && !c->failed; i++) {
			char	ch = b.p[i];

			if (f[0] == 'u')
				b.p[i] = (char)toupper((unsigned char)ch);
			else if (f[0] == 'l')
				b.p[i] = (char)tolower((unsigned char)ch);
			else if (f[0] == 'c')
				b.p[i] = (char)(i == 0 ?
				    toupper((unsigned char)ch) :
				    tolower((unsigned char)ch));
			else {
				b.p[i] = (char)(start ?
				    toupper((unsigned char)ch) :
				    tolower((unsigned char)ch));
				start = !isalnum((unsigned char)ch);
			}
		}
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "trim") == 0) {
		const char	*s, *t;

		tmpl_str_of(c, &b, &v);
		s = b.p ? b.p : "";
		t = s + b.len;
		while (s < t && isspace((unsigned char)*s))
			s++;
		while (t > s && isspace((unsigned char)t[-1]))
			t--;
		r = tmpl_v(tmpl_new_str(c, s, (size_t)(t - s)));
	} else if (strcmp(f, "first") == 0 || strcmp(f, "last") == 0) {
		if ((items = tmpl_iter_items(c, &v)) != NULL) {
			n = json_object_array_length(items);
			if (n > 0)
				r = tmpl_v(json_object_get(
				    json_object_array_get_idx(items,
				    f[0] == 'f' ? 0 : n - 1)));
			json_object_put(items);
		}
	} else if (strcmp(f, "reverse") == 0 && !v.undef &&
	    json_object_is_type(v.j, json_type_string)) {
		const char	*s = json_object_get_string(v.j);
		size_t		 k, sl = tmpl_slen(v.j);

		/* reverse by characters */
		for (i = sl; i > 0 && !c->failed; i = k) {
			for (k = i - 1; k > 0 &&
			    ((unsigned char)s[k] & 0xc0) == 0x80; k--)
				;
			tmpl_sput(c, &b, s + k, i - k);
		}
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "list") == 0 || strcmp(f, "reverse") == 0 ||
	    strcmp(f, "sort") == 0 || strcmp(f, "unique") == 0) {
		if ((items = tmpl_iter_items(c, &v)) != NULL) {
			o = f[0] == 'u' ? unique(c, items, e, args) :
			    copy_items(c, items, f[0] == 's', f[0] == 'r');
			if (o != NULL)
				r = tmpl_v(o);
			json_object_put(items);
		}
	} else if (strcmp(f, "sum") == 0 || strcmp(f, "max") == 0 ||
	    strcmp(f, "min") == 0) {
		if ((items = tmpl_iter_items(c, &v)) != NULL) {
			json_object	*best = NULL;
			double		 sd = 0;
			long long	 si = 0;
			int		 ints = 1;

			n = json_object_array_length(items);
			for (i = 0; i < n && tmpl_work(c, 1) == 0; i++) {
				json_object	*x = json_object_array_get_idx(
				    items, i);

				if (f[1] == 'u') {
					if (!tmpl_isnum(x)) {
						tmpl_rerr(c, "unsupported "
						    "operand type(s) for +");
						break;
					}
					ints &= tmpl_isint(x) &&
					    !__builtin_add_overflow(si,
					    json_object_get_int64(x), &si);
					sd += tmpl_dnum(x);
					continue;
				}
				if (json_object_is_type(x, json_type_string) &&
				    tmpl_scanned(c, tmpl_slen(x)) == -1)
					break;
				if (best == NULL || (cmp_sort(&x, &best) *
				    (f[1] == 'a' ? 1 : -1)) > 0)
					best = x;
			}
			if (c->failed)
				;
			else if (f[1] == 'u')
				r = tmpl_v(tmpl_num_result(sd, ints, si));
			else if (best != NULL)
				r = tmpl_v(json_object_get(best));
			json_object_put(items);
		}
	} else if (strcmp(f, "abs") == 0) {
		if (!v.undef && tmpl_isint(v.j) &&
		    json_object_get_int64(v.j) != LLONG_MIN)
			r = tmpl_v(json_object_new_int64(llabs(
			    json_object_get_int64(v.j))));
		else if (!v.undef && tmpl_isnum(v.j))
			r = tmpl_v(json_object_new_double(
			    fabs(tmpl_dnum(v.j))));
		else
			tmpl_rerr(c, "bad operand type for abs()");
	} else if (strcmp(f, "round") == 0) {
		long long	 prec = e->nargs > 0 && !args[0].undef &&
		    tmpl_isint(args[0].j) ?
		    json_object_get_int64(args[0].j) : 0;
		const char	*m = tmpl_argstr(args, e->nargs, 1, "common");
		double		 d, p;

		if (v.undef || !tmpl_isnum(v.j))
			tmpl_rerr(c, "round() needs a number");
		else {
			if (prec < 0)
				prec = 0;
			if (prec > 15)
				prec = 15;
			p = pow(10, (double)prec);
			d = tmpl_dnum(v.j) * p;
			d = strcmp(m, "ceil") == 0 ? ceil(d) :
			    strcmp(m, "floor") == 0 ? floor(d) : round(d);
			r = tmpl_v(json_object_new_double(d / p));
		}
	} else if (strcmp(f, "replace") == 0) {
		const char	*old = tmpl_argstr(args, e->nargs, 0, NULL);
		const char	*nw = tmpl_argstr(args, e->nargs, 1, "");
		struct buf	 s;

		tmpl_sb_init(c, &s);
		tmpl_str_of(c, &s, &v);
		if (old == NULL)
			tmpl_rerr(c, "replace() needs strings");
		else
			tmpl_replace_str(c, &b, s.p ? s.p : "", s.len, old, nw);
		buf_free(&s);
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "tojson") == 0) {
		if (!v.undef)
			tmpl_print_val(c, &b, v.j, 1);
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "safe") == 0) {
		r = v;
		v.j = NULL;
	} else if (strcmp(f, "e") == 0 || strcmp(f, "escape") == 0) {
		struct buf	 s;

		tmpl_sb_init(c, &s);
		tmpl_str_of(c, &s, &v);
		tmpl_scanned(c, s.len);
		for (i = 0; i < s.len && !c->failed; i++) {
			/* small pieces: a failure shows in tmpl_buf_str */
			switch (s.p[i]) {
			case '&': buf_puts(&b, "&amp;"); break;
			case '<': buf_puts(&b, "&lt;"); break;
			case '>': buf_puts(&b, "&gt;"); break;
			case '"': buf_puts(&b, "&#34;"); break;
			case '\'': buf_puts(&b, "&#39;"); break;
			default: buf_append(&b, &s.p[i], 1);
			}
		}
		buf_free(&s);
		r = tmpl_v(tmpl_buf_str(c, &b));
	} else if (strcmp(f, "items") == 0) {
		if (!v.undef && json_object_is_type(v.j, json_type_object))
			o = tmpl_dict_list(c, v.j, 'i');
		else
			o = tmpl_new_list(c, 1, 0);
		if (o != NULL)
			r = tmpl_v(o);
	} else
		tmpl_rerr(c, "No filter named '%s'.", f);
	buf_free(&b);
	tmpl_vput(&v);
	tmpl_put_args(args, e->nargs);
	if (c->failed)
		tmpl_vput(&r);
	return r;
}

struct val
tmpl_test(struct ctx *c, struct expr *e)
{
	struct val	 v, args[ARGS_MAX];
	const char	*t = e->name;
	int		 r = 0;
	json_object	*j;

	v = tmpl_eval(c, e->a);
	if (c->failed)
		return v;
	if (tmpl_eval_args(c, e, args) == -1) {
		tmpl_vput(&v);
		return tmpl_undef(NULL);
	}
	j = v.j;
	if (strcmp(t, "defined") == 0)
		r = !v.undef;
	else if (strcmp(t, "undefined") == 0)
		r = v.undef;
	else if (strcmp(t, "none") == 0)
		r = !v.undef && j == NULL;
	else if (strcmp(t, "number") == 0)
		r = !v.undef && (json_object_is_type(j, json_type_int) ||
		    json_object_is_type(j, json_type_double));
	else if (strcmp(t, "integer") == 0)
		r = !v.undef && json_object_is_type(j, json_type_int);
	else if (strcmp(t, "float") == 0)
		r = !v.undef && json_object_is_type(j, json_type_double);
	else if (strcmp(t, "boolean") == 0)
		r = !v.undef && json_object_is_type(j, json_type_boolean);
	else if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
		r = !v.undef && json_object_is_type(j, json_type_boolean) &&
		    json_object_get_boolean(j) == (t[0] == 't');
	else if (strcmp(t, "string") == 0)
		r = !v.undef && json_object_is_type(j, json_type_string);
	else if (strcmp(t, "mapping") == 0)
		r = !v.undef && json_object_is_type(j, json_type_object);
	else if (strcmp(t, "sequence") == 0 || strcmp(t, "iterable") == 0)
		r = !v.undef && (json_object_is_type(j, json_type_array) ||
		    json_object_is_type(j, json_type_string) ||
		    json_object_is_type(j, json_type_object));
	else if (strcmp(t, "odd") == 0 || strcmp(t, "even") == 0) {
		if (v.undef || !tmpl_isint(j))
			tmpl_rerr(c, "odd/even need an integer");
		else
			r = (json_object_get_int64(j) & 1) == (t[0] == 'o');
	} else if (strcmp(t, "divisibleby") == 0) {
		if (v.undef || !tmpl_isint(j) || e->nargs < 1 ||
		    args[0].undef || !tmpl_isint(args[0].j) ||
		    json_object_get_int64(args[0].j) == 0)
			tmpl_rerr(c, "divisibleby needs integers");
		else	/* LLONG_MIN % -1 traps */
			r = json_object_get_int64(args[0].j) == -1 ||
			    json_object_get_int64(j) %
			    json_object_get_int64(args[0].j) == 0;
	} else if (strcmp(t, "eq") == 0 || strcmp(t, "equalto") == 0 ||
	    strcmp(t, "sameas") == 0)
		r = e->nargs > 0 && !v.undef && !args[0].undef &&
		    tmpl_veq(c, j, args[0].j, 0);
	else if (strcmp(t, "in") == 0)
		r = e->nargs > 0 && !args[0].undef && args[0].j != NULL &&
		    tmpl_contains(c, args[0].j, &v);
	else
		tmpl_rerr(c, "No test named '%s'.", t);
	tmpl_vput(&v);
	tmpl_put_args(args, e->nargs);
	return tmpl_v(json_object_new_boolean(e->negate ? !r : r));
}
