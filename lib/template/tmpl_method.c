/*
 * tmpl_method.c: calls, "x.name(args)": the Python methods Jinja users
 * call on dicts (items, keys, values, get), strings (upper, lower, strip,
 * startswith, split, replace, ...) and lists (index), and range(), whose
 * arguments a for loop also takes to count without making a list.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "tmpl_int.h"

static long long
clamp_range(long long v)
{
	return v > (1LL << 40) ? (1LL << 40) : v < -(1LL << 40) ?
	    -(1LL << 40) : v;
}

int
tmpl_is_range(struct expr *e)
{
	return e->k == E_CALL && e->a->k == E_NAME &&
	    strcmp(e->a->name, "range") == 0;
}

/* The arguments of call "e" to range(): its start, step and length. */
int
tmpl_range_args(struct ctx *c, struct expr *e, long long *lo, long long *st,
    size_t *cnt)
{
	struct val	 args[ARGS_MAX];
	long long	 hi = 0, span;
	int		 i;

	*lo = 0;
	*st = 1;
	*cnt = 0;
	if (tmpl_work(c, 1) == -1 || tmpl_eval_args(c, e, args) == -1)
		return -1;
	for (i = 0; i < e->nargs; i++)
		if (args[i].undef || !tmpl_isint(args[i].j))
			tmpl_rerr(c, "range() needs integers");
	if (!c->failed && e->nargs == 1)
		hi = json_object_get_int64(args[0].j);
	else if (!c->failed && e->nargs >= 2) {
		*lo = json_object_get_int64(args[0].j);
		hi = json_object_get_int64(args[1].j);
		if (e->nargs >= 3)
			*st = json_object_get_int64(args[2].j);
	}
	if (!c->failed && *st == 0)
		tmpl_rerr(c, "range() arg 3 must not be zero");
	tmpl_put_args(args, e->nargs);
	if (c->failed)
		return -1;
	*lo = clamp_range(*lo);
	hi = clamp_range(hi);
	*st = clamp_range(*st);
	span = *st > 0 ? hi - *lo : *lo - hi;
	if (span > 0)
		*cnt = (size_t)((span + (*st > 0 ? *st : -*st) - 1) /
		    (*st > 0 ? *st : -*st));
	return 0;
}

/* Methods Jinja users call on dicts, strings and lists. */
struct val
tmpl_call(struct ctx *c, struct expr *e)
{
	struct expr	*callee = e->a;
	struct val	 o, args[ARGS_MAX], r = tmpl_undef(NULL);
	const char	*m;
	struct buf	 b;
	json_object	*a;
	size_t		 i, n;

	if (tmpl_is_range(e)) {
		long long	lo, st;

		if (tmpl_range_args(c, e, &lo, &st, &n) == -1 ||
		    tmpl_made_n(c, n, VAL_BYTES + SLOT_BYTES) == -1 ||
		    tmpl_work(c, n) == -1)
			return tmpl_undef(NULL);
		a = tmpl_new_list(c, 1, n * (VAL_BYTES + SLOT_BYTES));
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_int64(lo +
			    (long long)i * st));
		return tmpl_v(a);
	}
	if (callee->k != E_ATTR) {
		tmpl_rerr(c, "object is not callable");
		return tmpl_undef(NULL);
	}
	m = callee->name;
	o = tmpl_eval(c, callee->a);
	if (c->failed)
		return o;
	if (tmpl_eval_args(c, e, args) == -1) {
		tmpl_vput(&o);
		return tmpl_undef(NULL);
	}
	tmpl_sb_init(c, &b);
	if (o.undef)
		tmpl_rerr(c, "'%s' is undefined", o.name ? o.name : "value");
	else if (json_object_is_type(o.j, json_type_object) &&
	    (strcmp(m, "items") == 0 || strcmp(m, "keys") == 0 ||
	    strcmp(m, "values") == 0)) {
		if ((a = tmpl_dict_list(c, o.j, m[0])) != NULL)
			r = tmpl_v(a);
	} else if (json_object_is_type(o.j, json_type_object) &&
	    strcmp(m, "get") == 0 && e->nargs >= 1) {
		const char	*k = tmpl_argstr(args, e->nargs, 0, NULL);
		json_object	*x;

		if (k != NULL && json_object_object_get_ex(o.j, k, &x))
			r = tmpl_v(json_object_get(x));
		else
			r = e->nargs > 1 ? tmpl_v(json_object_get(args[1].j)) :
			    tmpl_v(NULL);
	} else if (json_object_is_type(o.j, json_type_string)) {
		const char	*s = json_object_get_string(o.j);
		size_t		 sl = tmpl_slen(o.j);

		if (strcmp(m, "upper") == 0 || strcmp(m, "lower") == 0) {
			tmpl_sput(c, &b, s, sl);
			for (i = 0; i < b.len && !c->failed; i++)
				b.p[i] = m[0] == 'u' ?
				    (char)toupper((unsigned char)b.p[i]) :
				    (char)tolower((unsigned char)b.p[i]);
			r = tmpl_v(tmpl_buf_str(c, &b));
		} else if (strcmp(m, "strip") == 0 ||
		    strcmp(m, "lstrip") == 0 || strcmp(m, "rstrip") == 0) {
			const char	*p = s, *t = s + sl;

			if (m[0] != 'r')
				while (p < t && isspace((unsigned char)*p))
					p++;
			if (m[0] != 'l')
				while (t > p && isspace((unsigned char)t[-1]))
					t--;
			r = tmpl_v(tmpl_new_str(c, p, (size_t)(t - p)));
		} else if (strcmp(m, "startswith") == 0 ||
		    strcmp(m, "endswith") == 0) {
			const char	*x = tmpl_argstr(args, e->nargs, 0,
			    NULL);
			size_t		 xl = x ? strlen(x) : 0;

			if (x == NULL)
				tmpl_rerr(c, "%s needs a string", m);
			else if (tmpl_scanned(c, xl) == 0)
				r = tmpl_v(json_object_new_boolean(xl <= sl &&
				    memcmp(m[0] == 's' ? s : s + sl - xl, x,
				    xl) == 0));
		} else if (strcmp(m, "split") == 0) {
			const char	*sep = tmpl_argstr(args, e->nargs, 0,
			    NULL);
			const char	*p = s, *q, *t = s + sl;
			size_t		 pl = sep != NULL ? strlen(sep) : 0;

			/* the pieces' bytes, then each piece as it comes */
			if (tmpl_made(c, sl) == -1)
				goto out;
			a = tmpl_new_list(c, 1, sl);
			while (!c->failed && pl == 0 && p < t) {
				while (p < t && isspace((unsigned char)*p))
					p++;
				if (p >= t)
					break;
				for (q = p; q < t &&
				    !isspace((unsigned char)*q); q++)
					;
				if (tmpl_grow(c, a, VAL_BYTES +
				    SLOT_BYTES) == 0)
					json_object_array_add(a,
					    json_object_new_string_len(p,
					    (int)(q - p)));
				p = q;
			}
			while (!c->failed && pl > 0) {
				if (tmpl_grow(c, a, VAL_BYTES +
				    SLOT_BYTES) == -1)
					break;
				q = tmpl_find(c, p, (size_t)(t - p), sep, pl);
				if (q == NULL) {
					json_object_array_add(a,
					    json_object_new_string_len(p,
					    (int)(t - p)));
					break;
				}
				json_object_array_add(a,
				    json_object_new_string_len(p,
				    (int)(q - p)));
				p = q + pl;
			}
			r = tmpl_v(a);
		} else if (strcmp(m, "replace") == 0) {
			const char	*old = tmpl_argstr(args, e->nargs, 0,
			    NULL);
			const char	*nw = tmpl_argstr(args, e->nargs, 1,
			    "");

			tmpl_replace_str(c, &b, s, sl,
			    old != NULL ? old : "", nw);
			r = tmpl_v(tmpl_buf_str(c, &b));
		} else
			tmpl_rerr(c, "'str' object has no attribute '%s'", m);
	} else if (json_object_is_type(o.j, json_type_array) &&
	    strcmp(m, "index") == 0 && e->nargs >= 1) {
		n = json_object_array_length(o.j);
		for (i = 0; i < n && !c->failed; i++)
			if (!args[0].undef && tmpl_veq(c, args[0].j,
			    json_object_array_get_idx(o.j, i), 0))
				break;
		if (c->failed)
			;
		else if (i == n)
			tmpl_rerr(c, "value is not in list");
		else
			r = tmpl_v(json_object_new_int64((int64_t)i));
	} else
		tmpl_rerr(c, "object has no method '%s'", m);
out:
	buf_free(&b);
	tmpl_vput(&o);
	tmpl_put_args(args, e->nargs);
	if (c->failed)
		tmpl_vput(&r);
	return r;
}
