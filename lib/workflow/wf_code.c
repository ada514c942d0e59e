/*
 * wf_code.c: the workflow "code" node (spec workflow.md 5.5), python3 and
 * javascript.  The inputs are the node's variables from the pool; the
 * code runs in the process sandbox of sandbox.c; what main() returned is
 * checked against the declared outputs as Dify checks it, with Dify's
 * messages and error types.  Mirrors core/workflow/nodes/code/code_node.py
 * and core/helper/code_executor/ (template_transformer.py).
 *
 * Configuration (environment or the DIFYCGI_CONFIG file):
 *
 *   DIFYCGI_CODE_TIMEOUT_MS   wall-clock limit of one run, ms (10000); the
 *                             CPU limit is the same rounded up, plus 1 s
 *   DIFYCGI_CODE_MEMORY_MB    memory of one run, MB (256): python's address
 *                             space, the javascript heap's allocator cap
 *   DIFYCGI_CODE_OUTPUT_KB    the largest result main() may return, KB of
 *                             JSON (1024); a larger one fails the node
 *
 * Dify's limits on the checked outputs are its docker deployment's
 * defaults: strings of 400000 characters at most (the API's own default
 * is 80000; docker/.env raises it, as for template-transform), numbers
 * within +-9223372036854775807 with at most 20 decimals, arrays of at most
 * 1000 numbers or 30 strings or objects, objects 5 levels deep.
 *
 * python3 is Debian's /usr/bin/python3 with its standard library and the
 * python3-* packages installed; javascript is Duktape: ECMAScript 5.1
 * with parts of later editions (const, Proxy, Symbol, typed arrays), and
 * the two things Dify's template needs rewritten before it runs:
 * "function main({a, b})" and "let".  Arrow functions, template literals,
 * classes and destructuring elsewhere are syntax errors.
 *
 * Errors: a run that failed (its stderr, then "error: exit status 1",
 * "error: timeout" ...) is a CodeExecutionError; a declared output that
 * is missing or of the wrong type an OutputValidationError; too deep a
 * result a DepthLimitError; undeclared keys a CodeNodeError ("Not all
 * output parameters are validated."); a result that is not a JSON object
 * a WorkflowNodeError, as Dify's generic handler names it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"
#include "sandbox/sandbox.h"

#define CODE_TIMEOUT_MS		10000
#define CODE_MEMORY_MB		256
#define CODE_OUTPUT_KB		1024
#define MAX_STRING_LENGTH	400000
#define MAX_NUMBER		"9223372036854775807"
#define MIN_NUMBER		"-9223372036854775807"
#define MAX_PRECISION		20
#define MAX_DEPTH		5
#define MAX_NUMBER_ARRAY	1000
#define MAX_STRING_ARRAY	30
#define MAX_OBJECT_ARRAY	30
#define CODE_MAX_BYTES		(1 << 20)

static int
config_int(const char *name, int dflt, int min, int max)
{
	const char	*v = config_get(name);
	long long	 n;

	if (v == NULL || *v == '\0')
		return dflt;
	if (parse_int(v, min, max, &n) == -1) {
		log_warn("%s=%s is not a number from %d to %d; using %d", name,
		    v, min, max, dflt);
		return dflt;
	}
	return (int)n;
}

/* ---- Python's view of JSON values, for Dify's messages ---- */

/* type(v).__name__ of the value json.loads gives. */
static const char *
py_type(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "NoneType";
	case json_type_boolean: return "bool";
	case json_type_int: return "int";
	case json_type_double: return "float";
	case json_type_string: return "str";
	case json_type_array: return "list";
	case json_type_object: return "dict";
	}
	return "object";
}

static int
is_number(json_object *v)
{
	/* Python's bool is an int: True passes as a number */
	return json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_boolean);
}


/*
 * The decimals Dify counts: -exponent of Decimal(str(v)).normalize(),
 * str() being Python's shortest repr ("0.1", "1e-05", "1.5e+16").
 */
static int
precision(double d)
{
	struct buf	 b;
	const char	*s, *dot, *e;
	long		 exp10 = 0;
	int		 frac = 0, i;

	buf_init(&b, 64);
	py_float(&b, d);
	s = buf_cstr(&b);
	e = strpbrk(s, "eE");
	if (e != NULL)
		exp10 = strtol(e + 1, NULL, 10);
	else
		e = s + strlen(s);
	if ((dot = strchr(s, '.')) != NULL && dot < e) {
		frac = (int)(e - dot - 1);
		for (i = frac; i > 0 && dot[i] == '0'; i--)
			frac--;
	}
	buf_free(&b);
	return frac - exp10 > 0 ? (int)(frac - exp10) : 0;
}

/* Dify's _check_number; null passes.  0 or WF_FAIL. */
static int
check_number(struct wf_exec *x, json_object *v, const char *var)
{
	int64_t	i;
	double	d;

	if (v == NULL || json_object_is_type(v, json_type_boolean))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		/* json-c clamps what int64 cannot hold to its ends */
		i = json_object_get_int64(v);
		if (i >= -INT64_MAX && (i < INT64_MAX ||
		    json_object_get_uint64(v) <= INT64_MAX))
			return 0;
	} else {
		d = json_object_get_double(v);
		if (isfinite(d) && d < 9223372036854775808.0 &&
		    d > -9223372036854775808.0) {
			if (precision(d) <= MAX_PRECISION)
				return 0;
			return wf_fail(x, "OutputValidationError", "Output "
			    "variable `%s` has too high precision, it must be "
			    "less than %d digits.", var, MAX_PRECISION);
		}
	}
	return wf_fail(x, "OutputValidationError", "Output variable `%s` is out "
	    "of range, it must be between " MIN_NUMBER " and " MAX_NUMBER ".",
	    var);
}

/*
 * Dify's _check_string: null passes; the length in characters is capped;
 * NULs are removed.  Returns the value to keep (new), or NULL with x set
 * (*failed = 1).
 */
static json_object *
check_string(struct wf_exec *x, json_object *v, const char *var, int *failed)
{
	const char	*s;
	char		*t;
	size_t		 n, i, k = 0;
	json_object	*o;

	if (v == NULL)
		return NULL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (utf8_count(s, n) > MAX_STRING_LENGTH) {
		wf_fail(x, "OutputValidationError", "The length of output "
		    "variable `%s` must be less than %d characters", var,
		    MAX_STRING_LENGTH);
		*failed = 1;
		return NULL;
	}
	if (memchr(s, '\0', n) == NULL)
		return json_object_get(v);
	t = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		if (s[i] != '\0')
			t[k++] = s[i];
	o = json_object_new_string_len(t, (int)k);
	free(t);
	return o;
}

/* ---- Dify's _transform_result ---- */

struct xf {
	struct wf_exec	*x;
	struct pool	*p;
};

static int validate(struct xf *, json_object *, const char *, int);
static json_object *transform(struct xf *, json_object *, json_object *,
	    const char *, int);

static const char *
name_of(struct xf *f, const char *prefix, const char *name)
{
	return *prefix ? pool_printf(f->p, "%s.%s", prefix, name) :
	    pool_strdup(f->p, name);
}

/* No declared schema: every value is checked, none changed. */
static int
validate_list(struct xf *f, json_object *list, const char *prefix,
    const char *name, int depth)
{
	json_object	*first, *v;
	size_t		 i, n = json_object_array_length(list);
	int		 all = 1, failed = 0;
	enum json_type	 t;

	first = n > 0 ? json_object_array_get_idx(list, 0) : NULL;
	if (first == NULL)
		return 0;
	t = json_object_get_type(first);
	for (i = 0; i < n && all; i++) {
		v = json_object_array_get_idx(list, i);
		if (v == NULL)
			continue;
		if (is_number(first))
			all = is_number(v);
		else if (t == json_type_string || t == json_type_object ||
		    t == json_type_array)
			all = json_object_get_type(v) == t;
		else
			all = 0;
	}
	if (!all)
		return wf_fail(f->x, "OutputValidationError", "Output %s.%s is "
		    "not a valid array. make sure all elements are of the "
		    "same type.", prefix, name);
	for (i = 0; i < n; i++) {
		const char	*var;

		v = json_object_array_get_idx(list, i);
		var = *prefix ? pool_printf(f->p, "%s.%s[%zu]", prefix, name,
		    i) : pool_printf(f->p, "%s[%zu]", name, i);
		if (is_number(first)) {
			if (check_number(f->x, v, var) != 0)
				return WF_FAIL;
		} else if (t == json_type_string) {
			json_object_put(check_string(f->x, v, var, &failed));
			if (failed)
				return WF_FAIL;
		} else if (v != NULL && t == json_type_object) {
			if (validate(f, v, var, depth + 1) != 0)
				return WF_FAIL;
		} else if (v != NULL)	/* Dify calls .items() on a list */
			return wf_fail(f->x, "WorkflowNodeError", "'list' object "
			    "has no attribute 'items'");
	}
	return 0;
}

static int
validate(struct xf *f, json_object *obj, const char *prefix, int depth)
{
	int	failed = 0;

	if (depth > MAX_DEPTH)
		return wf_fail(f->x, "DepthLimitError", "Depth limit %d reached, "
		    "object too deep.", MAX_DEPTH);
	json_object_object_foreach(obj, name, v) {
		const char	*var = name_of(f, prefix, name);

		switch (json_object_get_type(v)) {
		case json_type_object:
			if (validate(f, v, var, depth + 1) != 0)
				return WF_FAIL;
			break;
		case json_type_int:
		case json_type_double:
			if (check_number(f->x, v, var) != 0)
				return WF_FAIL;
			break;
		case json_type_string:
			json_object_put(check_string(f->x, v, var, &failed));
			if (failed)
				return WF_FAIL;
			break;
		case json_type_array:
			if (validate_list(f, v, prefix, name, depth) != 0)
				return WF_FAIL;
			break;
		default:	/* null, bool */
			break;
		}
	}
	return 0;
}

/* "Output X is not an array, got <class 'str'> instead." and the like */
static int
not_a(struct xf *f, const char *var, const char *what, json_object *v)
{
	return wf_fail(f->x, "OutputValidationError", "Output %s is not %s, got "
	    "<class '%s'> instead.", var, what, py_type(v));
}

static int
array_cap(struct xf *f, const char *var, json_object *v, size_t max)
{
	if (json_object_array_length(v) <= max)
		return 0;
	return wf_fail(f->x, "OutputValidationError", "The length of output "
	    "variable `%s` must be less than %zu elements.", var, max);
}

/*
 * One declared output "name" of type "type" (children "ch") with value
 * "v" (borrowed, NULL for null): the value to keep in *out (new or NULL).
 * 0 or WF_FAIL.
 */
static int
transform_one(struct xf *f, const char *type, json_object *ch, json_object *v,
    const char *prefix, const char *name, int depth, json_object **out)
{
	const char	*dot = *prefix ? "." : "";
	const char	*var = pool_printf(f->p, "%s%s%s", prefix, dot, name);
	json_object	*arr, *el, *k;
	size_t		 i, n;
	int		 failed = 0;

	*out = NULL;
	if (strcmp(type, "object") == 0) {
		if (v == NULL)
			return 0;
		if (!json_object_is_type(v, json_type_object))
			return not_a(f, var, "an object", v);
		/* Dify passes "{prefix}.{name}": a leading dot at the top */
		*out = transform(f, v, ch, pool_printf(f->p, "%s.%s", prefix,
		    name), depth + 1);
		return *out == NULL ? WF_FAIL : 0;
	}
	if (strcmp(type, "number") == 0) {
		if (v != NULL && !is_number(v))
			return not_a(f, var, "a number", v);
		if (check_number(f->x, v, var) != 0)
			return WF_FAIL;
		/* booleans declared number become 0 and 1 */
		*out = json_object_is_type(v, json_type_boolean) ?
		    json_object_new_int(json_object_get_boolean(v)) :
		    json_object_get(v);
		return 0;
	}
	if (strcmp(type, "string") == 0) {
		if (v != NULL && !json_object_is_type(v, json_type_string))
			return wf_fail(f->x, "OutputValidationError", "Output "
			    "%s must be a string, got %s instead", var,
			    py_type(v));
		*out = check_string(f->x, v, var, &failed);
		return failed ? WF_FAIL : 0;
	}
	if (strcmp(type, "boolean") == 0) {	/* Dify checks nothing */
		*out = json_object_get(v);
		return 0;
	}
	if (strncmp(type, "array[", 6) != 0 || (strcmp(type + 6, "number]") &&
	    strcmp(type + 6, "string]") && strcmp(type + 6, "object]") &&
	    strcmp(type + 6, "boolean]")))
		return wf_fail(f->x, "OutputValidationError", "Output type %s is "
		    "not supported.", type);
	if (v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return not_a(f, var, "an array", v);
	n = json_object_array_length(v);
	arr = json_object_new_array();
	*out = arr;
	if (strcmp(type, "array[number]") == 0) {
		if (array_cap(f, var, v, MAX_NUMBER_ARRAY) != 0)
			return WF_FAIL;
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(v, i);
			if (el == NULL || !is_number(el))
				return wf_fail(f->x, "OutputValidationError",
				    "The element at index %zu of output "
				    "variable `%s` must be a number.", i, var);
			if (check_number(f->x, el, pool_printf(f->p,
			    "%s[%zu]", var, i)) != 0)
				return WF_FAIL;
			json_object_array_add(arr, json_object_is_type(el,
			    json_type_boolean) ? json_object_new_int(
			    json_object_get_boolean(el)) : json_object_get(el));
		}
	} else if (strcmp(type, "array[string]") == 0) {
		if (array_cap(f, var, v, MAX_STRING_ARRAY) != 0)
			return WF_FAIL;
		for (i = 0; i < n; i++) {
			const char	*ev;

			ev = pool_printf(f->p, "%s[%zu]", var, i);
			el = json_object_array_get_idx(v, i);
			if (el != NULL && !json_object_is_type(el,
			    json_type_string))
				return wf_fail(f->x, "OutputValidationError",
				    "Output variable `%s` must be a string",
				    ev);
			k = check_string(f->x, el, ev, &failed);
			if (failed)
				return WF_FAIL;
			json_object_array_add(arr, k);
		}
	} else if (strcmp(type, "array[object]") == 0) {
		if (array_cap(f, var, v, MAX_OBJECT_ARRAY) != 0)
			return WF_FAIL;
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(v, i);
			if (el != NULL && !json_object_is_type(el,
			    json_type_object))
				return wf_fail(f->x, "OutputValidationError",
				    "Output %s[%zu] is not an object, got "
				    "<class '%s'> instead at index %zu.", var,
				    i, py_type(el), i);
		}
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(v, i);
			k = NULL;
			if (el != NULL && (k = transform(f, el, ch,
			    pool_printf(f->p, "%s[%zu]", var, i),
			    depth + 1)) == NULL)
				return WF_FAIL;
			json_object_array_add(arr, k);
		}
	} else {
		for (i = 0; i < n; i++) {
			el = json_object_array_get_idx(v, i);
			if (el != NULL && !json_object_is_type(el,
			    json_type_boolean))
				return wf_fail(f->x, "OutputValidationError",
				    "Output %s[%zu] is not a boolean, got "
				    "<class '%s'> instead.", var, i,
				    py_type(el));
			json_object_array_add(arr, json_object_get(el));
		}
	}
	return 0;
}

/*
 * The result "obj" checked against "schema" ({name: {type, children}}; NULL
 * or null: any keys, checked by their values).  Returns the outputs to
 * keep (new) or NULL with f->x set.
 */
static json_object *
transform(struct xf *f, json_object *obj, json_object *schema,
    const char *prefix, int depth)
{
	json_object	*res, *v, *kept;
	int		 declared = 0;

	if (depth > MAX_DEPTH) {
		wf_fail(f->x, "DepthLimitError", "Depth limit %d reached, object "
		    "too deep.", MAX_DEPTH);
		return NULL;
	}
	if (!json_object_is_type(schema, json_type_object)) {
		if (validate(f, obj, prefix, depth) != 0)
			return NULL;
		return json_object_get(obj);
	}
	res = json_object_new_object();
	json_object_object_foreach(schema, name, cfg_out) {
		const char	*type = json_str(cfg_out, "type");

		if (!json_object_object_get_ex(obj, name, &v)) {
			wf_fail(f->x, "OutputValidationError", "Output %s%s%s is "
			    "missing.", prefix, *prefix ? "." : "", name);
			goto fail;
		}
		if (transform_one(f, type ? type : "", json_get(cfg_out,
		    "children"), v, prefix, name, depth, &kept) != 0) {
			json_object_put(kept);
			goto fail;
		}
		json_object_object_add(res, name, kept);
		declared++;
	}
	if (declared != json_object_object_length(obj)) {
		wf_fail(f->x, "CodeNodeError", "Not all output parameters are "
		    "validated.");
		goto fail;
	}
	return res;
fail:
	json_object_put(res);
	return NULL;
}

/*
 * Dify's transform_response turns strings that look like scientific
 * notation ("1e+5", "-2.5E-3") back into floats, everywhere in the result.
 */
static int
sci_notation(const char *s)
{
	const char	*p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p != 'e' && *p != 'E')
		return 0;
	p++;
	if (*p != '+' && *p != '-')
		return 0;
	p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '\0';
}

static json_object *
unscientific(json_object *v)
{
	size_t	i, n;

	if (json_object_is_type(v, json_type_string) &&
	    sci_notation(json_object_get_string(v)))
		return json_object_new_double(strtod(json_object_get_string(v),
		    NULL));
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, el) {
			json_object	*nv = unscientific(el);

			if (nv != NULL)
				json_object_object_add(v, k, nv);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			json_object	*nv = unscientific(
			    json_object_array_get_idx(v, i));

			if (nv != NULL)
				json_object_array_put_idx(v, i, nv);
		}
	}
	return NULL;
}

/* ---- the node ---- */

/* {variable: value} of the node's variables (missing: null). */
static json_object *
inputs_of(struct wf_engine *e, json_object *vars)
{
	json_object	*o = json_object_new_object(), *it, *v;
	const char	*name;
	size_t		 i, n;

	n = json_object_is_type(vars, json_type_array) ?
	    json_object_array_length(vars) : 0;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(vars, i);
		if ((name = json_str(it, "variable")) == NULL)
			continue;
		if (!wf_pool_get_sel(e->pool, json_get(it, "value_selector"),
		    &v))
			v = NULL;
		json_object_object_add(o, name, json_copy(v));
	}
	return o;
}

/*
 * The sandbox's error text as the node's error: valid UTF-8, and its end
 * (the exception and the verdict) when it is too long.
 */
static void
run_error(struct wf_exec *x, struct buf *err)
{
	size_t		 room = sizeof(x->error) - 1, i, k = 0;
	const char	*s = err->p;
	size_t		 n = err->len, start = 0;
	unsigned char	 c;
	int		 need, j;

	if (n > room) {
		start = n - (room - 4);
		while (start < n && ((unsigned char)s[start] & 0xc0) == 0x80)
			start++;
		memcpy(x->error, "...\n", 4);
		k = 4;
	}
	for (i = start; i < n && k < room; ) {
		c = (unsigned char)s[i];
		need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) ==
		    0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
		for (j = 1; need > 0 && j <= need; j++)
			if (i + (size_t)j >= n ||
			    ((unsigned char)s[i + j] & 0xc0) != 0x80)
				need = -1;
		if (need < 0 || (c == 0) || k + (size_t)need + 1 > room) {
			x->error[k++] = '?';
			i++;
			continue;
		}
		memcpy(x->error + k, s + i, (size_t)need + 1);
		k += (size_t)need + 1;
		i += (size_t)need + 1;
	}
	x->error[k] = '\0';
	x->error_type = "CodeExecutionError";
}

static int
code_tick(void *arg)
{
	return wf_engine_tick(arg);
}

/* Parse what main() returned; NULL with x set when it is not a dict. */
static json_object *
parse_result(struct wf_exec *x, struct buf *out)
{
	json_tokener	*tok;
	json_object	*o;
	size_t		 n = out->len, end;
	int		 ok;

	if (n == 0) {
		wf_fail(x, "WorkflowNodeError", "Failed to parse result: no "
		    "result tag found in response. Response: ...");
		return NULL;
	}
	/* a newline ends a bare number, which json-c would wait on */
	if (buf_append(out, "\n", 1) == -1) {
		wf_fail(x, "CodeExecutionError", "The result is too large.");
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, out->p, (int)out->len);
	ok = json_tokener_get_error(tok) == json_tokener_success;
	end = ok ? json_tokener_get_parse_end(tok) : 0;
	while (ok && end < out->len && (out->p[end] == ' ' ||
	    out->p[end] == '\n' || out->p[end] == '\t' || out->p[end] == '\r'))
		end++;
	if (!ok || end < out->len) {
		if (n == 9 && memcmp(out->p, "undefined", 9) == 0)
			wf_fail(x, "WorkflowNodeError", "Failed to parse JSON "
			    "response: Expecting value: line 1 column 1 "
			    "(char 0).");
		else
			wf_fail(x, "WorkflowNodeError", "Failed to parse JSON "
			    "response: %s.", json_tokener_error_desc(
			    json_tokener_get_error(tok)));
		json_object_put(o);
		o = NULL;
	} else if (!json_object_is_type(o, json_type_object)) {
		wf_fail(x, "WorkflowNodeError", "Result must be a dict, got %s",
		    py_type(o));
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int
wf_code_run(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	const char	*lang = json_str(n->data, "code_language");
	const char	*code = json_str(n->data, "code");
	json_object	*res = NULL;
	struct buf	 out, err;
	struct xf	 f;
	int		 rc, timeout_ms, memory_mb, output_kb;

	x->inputs = inputs_of(e, json_get(n->data, "variables"));
	if (lang == NULL || (strcmp(lang, "python3") != 0 &&
	    strcmp(lang, "javascript") != 0))
		return wf_fail(x, "CodeNodeError", "Unsupported code language: "
		    "%s", lang ? lang : "None");
	if (code == NULL)
		code = "";
	if (strlen(code) > CODE_MAX_BYTES)
		return wf_fail(x, "CodeExecutionError", "The code is longer than "
		    "%d bytes.", CODE_MAX_BYTES);
	timeout_ms = config_int("DIFYCGI_CODE_TIMEOUT_MS", CODE_TIMEOUT_MS, 100,
	    3600000);
	memory_mb = config_int("DIFYCGI_CODE_MEMORY_MB", CODE_MEMORY_MB, 16,
	    65536);
	output_kb = config_int("DIFYCGI_CODE_OUTPUT_KB", CODE_OUTPUT_KB, 1,
	    1 << 20);
	buf_init(&out, (size_t)output_kb * 1024 + 16);
	buf_init(&err, (size_t)1 << 20);
	rc = sandbox_run(lang, code, json_object_to_json_string_ext(x->inputs,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
	    timeout_ms, memory_mb, output_kb, code_tick, e, &out, &err, NULL);
	if (rc == 1) {
		rc = WF_ABORT;
		goto out;
	}
	if (rc == -1)
		log_error("code node %s: %.*s", n->id, (int)err.len,
		    err.p ? err.p : "");
	if (rc == -1 || err.len > 0) {
		run_error(x, &err);
		rc = WF_FAIL;
		goto out;
	}
	if ((res = parse_result(x, &out)) == NULL) {
		rc = WF_FAIL;
		goto out;
	}
	unscientific(res);
	f.x = x;
	f.p = e->r->p;
	x->outputs = transform(&f, res, json_get(n->data, "outputs"), "", 1);
	rc = x->outputs != NULL ? WF_OK : WF_FAIL;
out:
	json_object_put(res);
	buf_free(&out);
	buf_free(&err);
	return rc;
}
