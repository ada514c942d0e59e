/*
 * wf_node.c: the node executors (spec workflow.md 5) and the table of
 * node types.  Each executor reads its data and the pool, and fills a
 * struct wf_exec: inputs, process_data, outputs, execution_metadata as
 * Dify shows them in node_finished, and for branch nodes the handle.
 * It returns WF_OK, WF_FAIL (error and error_type set) or WF_ABORT.
 * Mirrors core/workflow/nodes/{start,end,answer,llm,if_else,
 * template_transform,variable_aggregator,variable_assigner}.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"

#define TT_OUTPUT_MAX		400000	/* template-transform, characters */
#define MEMORY_TURNS_MAX	500

/*
 * Fail the node being run: its error text and Dify's error type.  Returns
 * WF_FAIL, for tail calls from executors.
 */
int
wf_fail(struct wf_exec *x, const char *type, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(x->error, sizeof(x->error), fmt, ap);
	va_end(ap);
	x->error_type = type;
	return WF_FAIL;
}

/* ---- start, end, answer ---- */

static int
run_start(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	(void)n;
	x->inputs = json_copy(e->start_out);
	x->outputs = json_copy(e->start_out);
	return WF_OK;
}

static int
run_end(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*outs = json_get(n->data, "outputs"), *o, *v;
	const char	*var;
	size_t		 i, k;

	x->outputs = json_object_new_object();
	k = outs && json_object_is_type(outs, json_type_array) ?
	    json_object_array_length(outs) : 0;
	for (i = 0; i < k; i++) {
		o = json_object_array_get_idx(outs, i);
		var = json_str(o, "variable");
		if (var == NULL)
			continue;
		if (!wf_pool_get_sel(e->pool, json_get(o, "value_selector"),
		    &v))
			v = NULL;
		json_object_object_add(x->outputs, var, json_copy(v));
	}
	x->inputs = json_copy(x->outputs);
	return WF_OK;
}

static int
run_answer(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	const char	*tpl = json_str(n->data, "answer");
	struct wf_seg	*segs;
	json_object	*files = json_object_new_array(), *v;
	struct buf	 b;
	int		 i, ns;

	ns = wf_tmpl_parse(e->r->p, tpl ? tpl : "", &segs);
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
	for (i = 0; i < ns; i++) {
		if (!segs[i].is_var) {
			buf_append(&b, segs[i].text, segs[i].len);
			continue;
		}
		if (!wf_pool_get(e->pool, segs[i].parts, segs[i].nparts, &v)) {
			buf_append(&b, segs[i].text, segs[i].len);
			continue;
		}
		wf_render(&b, v, WF_MARKDOWN);
		if (wf_is_file(v))
			json_object_array_add(files, json_object_get(v));
		else if (json_object_is_type(v, json_type_array)) {
			size_t	k, m = json_object_array_length(v);

			for (k = 0; k < m; k++)
				if (wf_is_file(json_object_array_get_idx(v, k)))
					json_object_array_add(files,
					    json_object_get(
					    json_object_array_get_idx(v, k)));
		}
	}
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "answer",
	    json_object_new_string_len(b.p ? b.p : "", (int)b.len));
	json_object_object_add(x->outputs, "files", files);
	buf_free(&b);
	return WF_OK;
}

/* ---- if-else ---- */

static int
run_if_else(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*cases = json_get(n->data, "cases"), *c, *res, *cr;
	json_object	*conds;
	const char	*selected = NULL, *op;
	size_t		 i, k;
	int		 r = 0;

	x->inputs = json_object_new_object();
	x->process_data = json_object_new_object();
	cr = json_object_new_array();
	json_object_object_add(x->process_data, "condition_results", cr);
	k = cases && json_object_is_type(cases, json_type_array) ?
	    json_object_array_length(cases) : 0;
	conds = json_object_new_array();
	if (k > 0) {
		for (i = 0; i < k && !r; i++) {
			c = json_object_array_get_idx(cases, i);
			json_object_put(conds);
			conds = json_object_new_array();
			res = json_object_new_array();
			r = wf_cond_case(e->pool, e->r->p, json_get(c,
			    "conditions"), json_str(c, "logical_operator"),
			    conds, res, x->error, sizeof(x->error));
			if (r < 0) {
				json_object_put(res);
				break;
			}
			{
				json_object	*g = json_object_new_object();

				json_object_object_add(g, "group",
				    json_copy(c));
				json_object_object_add(g, "results", res);
				json_object_object_add(g, "final_result",
				    json_object_new_boolean(r));
				json_object_array_add(cr, g);
			}
			if (r)
				selected = json_str(c, "case_id");
		}
	} else {
		/* the legacy form: one group, handles "true" and "false" */
		op = json_str(n->data, "logical_operator");
		res = json_object_new_array();
		r = wf_cond_case(e->pool, e->r->p, json_get(n->data,
		    "conditions"), op, conds, res, x->error, sizeof(x->error));
		if (r >= 0) {
			json_object	*g = json_object_new_object();

			json_object_object_add(g, "group",
			    json_object_new_string("default"));
			json_object_object_add(g, "results", res);
			json_object_object_add(g, "final_result",
			    json_object_new_boolean(r));
			json_object_array_add(cr, g);
			selected = r ? "true" : "false";
		} else
			json_object_put(res);
	}
	json_object_object_add(x->inputs, "conditions", conds);
	if (r < 0) {
		x->error_type = "ValueError";
		return WF_FAIL;
	}
	x->handle = selected != NULL ? selected : "false";
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "result",
	    json_object_new_boolean(r > 0));
	json_object_object_add(x->outputs, "selected_case_id",
	    json_object_new_string(x->handle));
	return WF_OK;
}

/* ---- template-transform ---- */

/* {variable: value} of a node's "variables" list (missing: null). */
static json_object *
var_map(struct wf_engine *e, json_object *vars)
{
	json_object	*o = json_object_new_object(), *it, *v;
	const char	*name;
	size_t		 i, n;

	n = vars && json_object_is_type(vars, json_type_array) ?
	    json_object_array_length(vars) : 0;
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(vars, i);
		name = json_str(it, "variable");
		if (name == NULL)
			continue;
		if (!wf_pool_get_sel(e->pool, json_get(it, "value_selector"),
		    &v))
			v = NULL;
		json_object_object_add(o, name, json_copy(v));
	}
	return o;
}


static int
tmpl_tick(void *arg)
{
	return wf_engine_tick(arg);
}

/*
 * A Jinja2 render of a node: within the configured limits, and ended by
 * a stop, the run's time limit or a client gone (wf_engine_tick) within
 * milliseconds.  tmpl_render's result.
 */
static int
render_jinja(struct wf_engine *e, const char *tpl, json_object *vars,
    struct buf *out, struct wf_exec *x)
{
	struct tmpl_limits	lim;

	memset(&lim, 0, sizeof(lim));
	lim.max_steps = cfg->template_max_steps;
	lim.max_bytes = (size_t)cfg->template_max_mb << 20;
	lim.tick = tmpl_tick;
	lim.arg = e;
	return tmpl_render(tpl ? tpl : "", tpl ? strlen(tpl) : 0, vars, &lim,
	    out, x->error, sizeof(x->error));
}

static int
run_template(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	const char	*tpl = json_str(n->data, "template");
	struct buf	 b;
	int		 rc = WF_OK, trc;

	x->inputs = var_map(e, json_get(n->data, "variables"));
	buf_init(&b, TMPL_OUTPUT_MAX);
	trc = render_jinja(e, tpl, x->inputs, &b, x);
	if (trc == TMPL_STOPPED)
		rc = WF_ABORT;
	else if (trc == -1) {
		x->error_type = "TemplateTransformNodeError";
		rc = WF_FAIL;
	} else if (utf8_count(buf_cstr(&b), b.len) > TT_OUTPUT_MAX)
		rc = wf_fail(x, "TemplateTransformNodeError", "Output length "
		    "exceeds %d characters", TT_OUTPUT_MAX);
	else {
		x->outputs = json_object_new_object();
		json_object_object_add(x->outputs, "output",
		    json_object_new_string_len(b.p ? b.p : "", (int)b.len));
	}
	buf_free(&b);
	return rc;
}

/* ---- variable-aggregator (and the legacy variable-assigner) ---- */

/* The first selector of "sels" that exists; NULL when none does. */
static json_object *
first_existing(struct wf_engine *e, json_object *sels, json_object *inputs)
{
	json_object	*v, *sel;
	const char	*parts[WF_SELECTOR_MAX];
	size_t		 i, n;
	int		 k, np;

	n = sels && json_object_is_type(sels, json_type_array) ?
	    json_object_array_length(sels) : 0;
	for (i = 0; i < n; i++) {
		sel = json_object_array_get_idx(sels, i);
		if (!wf_pool_get_sel(e->pool, sel, &v))
			continue;
		np = wf_selector_parts(sel, parts);
		if (inputs != NULL && np >= 2) {
			struct buf	b;

			buf_init(&b, 4096);
			for (k = 1; k < np; k++)
				buf_printf(&b, "%s%s", k > 1 ? "." : "",
				    parts[k]);
			json_object_object_add(inputs, buf_cstr(&b),
			    json_copy(v));
			buf_free(&b);
		}
		return v != NULL ? json_copy(v) : json_object_new_null();
	}
	return NULL;
}

static int
run_aggregator(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*adv = json_get(n->data, "advanced_settings"), *groups;
	json_object	*g, *v, *o;
	const char	*name;
	size_t		 i, k;

	x->inputs = json_object_new_object();
	x->outputs = json_object_new_object();
	if (json_object_get_boolean(json_get(adv, "group_enabled"))) {
		groups = json_get(adv, "groups");
		k = groups && json_object_is_type(groups, json_type_array) ?
		    json_object_array_length(groups) : 0;
		for (i = 0; i < k; i++) {
			g = json_object_array_get_idx(groups, i);
			name = json_str(g, "group_name");
			if (name == NULL)
				continue;
			v = first_existing(e, json_get(g, "variables"),
			    x->inputs);
			if (v == NULL)
				continue;
			if (json_object_is_type(v, json_type_null)) {
				json_object_put(v);
				v = NULL;
			}
			o = json_object_new_object();
			json_object_object_add(o, "output", v);
			json_object_object_add(x->outputs, name, o);
		}
		return WF_OK;
	}
	v = first_existing(e, json_get(n->data, "variables"), x->inputs);
	if (v != NULL) {
		if (json_object_is_type(v, json_type_null)) {
			json_object_put(v);
			v = NULL;
		}
		json_object_object_add(x->outputs, "output", v);
	}
	return WF_OK;
}

/* ---- assigner: conversation variables ---- */

/*
 * The loop enclosing "e" whose id is "owner" (its variables are the
 * assigner's other targets), or NULL.
 */
static struct wf_node *
enclosing_loop(struct wf_engine *e, const char *owner)
{
	for (; e != NULL; e = e->parent)
		if (e->container != NULL && strcmp(e->container->type,
		    "loop") == 0 && strcmp(e->container->id, owner) == 0)
			return e->container;
	return NULL;
}

/* The declared type of a variable, else one inferred from its value. */
static const char *
var_type(struct wf_engine *e, const char *owner, const char *name,
    json_object *v)
{
	json_object	*d = e->r->conv_decls;
	struct wf_node	*loop = enclosing_loop(e, owner);
	const char	*nk = "name", *tk = "value_type";
	size_t		 i, n;

	if (loop != NULL) {
		d = json_get(loop->data, "loop_variables");
		nk = "label";
		tk = "var_type";
	}
	n = d && json_object_is_type(d, json_type_array) ?
	    json_object_array_length(d) : 0;
	for (i = 0; i < n; i++) {
		json_object	*it = json_object_array_get_idx(d, i);
		const char	*nm = json_str(it, nk);

		if (nm != NULL && strcmp(nm, name) == 0 &&
		    json_str(it, tk) != NULL)
			return json_str(it, tk);
	}
	switch (json_object_get_type(v)) {
	case json_type_string: return "string";
	case json_type_int:
	case json_type_double: return "number";
	case json_type_boolean: return "boolean";
	case json_type_object: return "object";
	case json_type_array: return "array[any]";
	default: return "any";
	}
}

static json_object *
zero_value(const char *type)
{
	if (strncmp(type, "array", 5) == 0)
		return json_object_new_array();
	if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0)
		return json_object_new_int(0);
	if (strcmp(type, "float") == 0)
		return json_object_new_double(0);
	if (strcmp(type, "object") == 0)
		return json_object_new_object();
	if (strcmp(type, "boolean") == 0)
		return json_object_new_boolean(0);
	return json_object_new_string("");
}

/* Whether value "v" fits type "t" (an element type for arrays). */
static int
fits(const char *t, json_object *v)
{
	size_t	i, n;

	if (strcmp(t, "string") == 0 || strcmp(t, "secret") == 0)
		return json_object_is_type(v, json_type_string);
	if (strcmp(t, "number") == 0 || strcmp(t, "integer") == 0 ||
	    strcmp(t, "float") == 0)
		return json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double);
	if (strcmp(t, "boolean") == 0)
		return json_object_is_type(v, json_type_boolean);
	if (strcmp(t, "object") == 0)
		return json_object_is_type(v, json_type_object);
	if (strcmp(t, "file") == 0)
		return wf_is_file(v);
	if (strncmp(t, "array[", 6) == 0) {
		char	el[32];
		size_t	l = strlen(t + 6);

		if (!json_object_is_type(v, json_type_array))
			return 0;
		if (l == 0 || l >= sizeof(el) || t[6 + l - 1] != ']')
			return 1;
		memcpy(el, t + 6, l - 1);
		el[l - 1] = '\0';
		if (strcmp(el, "any") == 0)
			return 1;
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!fits(el, json_object_array_get_idx(v, i)))
				return 0;
		return 1;
	}
	return 1;
}

static const char *
element_type(const char *t, char *buf, size_t len)
{
	size_t	l;

	if (strncmp(t, "array[", 6) != 0)
		return NULL;
	l = strlen(t + 6);
	if (l == 0 || l > len || t[6 + l - 1] != ']')
		return "any";
	memcpy(buf, t + 6, l - 1);
	buf[l - 1] = '\0';
	return buf;
}

static void
invalid_value(struct wf_exec *x, json_object *v)
{
	struct buf	b;

	buf_init(&b, 512);
	py_repr(&b, v);
	wf_fail(x, "InvalidInputValueError", "Invalid input value %s",
	    buf_cstr(&b));
	buf_free(&b);
}

/*
 * Apply one operation to "cur" (borrowed), giving the new value (owned)
 * or NULL with x->error set.
 */
static json_object *
apply_op(struct wf_exec *x, const char *op, const char *type,
    json_object *cur, json_object *in)
{
	char		 elbuf[32];
	const char	*el = element_type(type, elbuf, sizeof(elbuf));
	json_object	*out;
	size_t		 i, n;

	if (strcmp(op, "clear") == 0)
		return zero_value(type);
	if (strcmp(op, "over-write") == 0 || strcmp(op, "set") == 0) {
		if (!fits(type, in)) {
			invalid_value(x, in);
			return NULL;
		}
		return json_copy(in);
	}
	if (strcmp(op, "+=") == 0 || strcmp(op, "-=") == 0 ||
	    strcmp(op, "*=") == 0 || strcmp(op, "/=") == 0) {
		double		 a, b, r;
		int		 ints;

		if (strcmp(type, "number") != 0 && strcmp(type, "integer") !=
		    0 && strcmp(type, "float") != 0) {
			wf_fail(x, "OperationNotSupportedError", "Operation %s "
			    "is not supported for type %s", op, type);
			return NULL;
		}
		if (!fits("number", in) || !fits("number", cur)) {
			invalid_value(x, in);
			return NULL;
		}
		ints = json_object_is_type(cur, json_type_int) &&
		    json_object_is_type(in, json_type_int);
		a = json_object_get_double(cur);
		b = json_object_get_double(in);
		if (op[0] == '/' && b == 0) {
			wf_fail(x, "InvalidInputValueError", "Division by zero");
			return NULL;
		}
		if (ints && op[0] != '/') {
			long long	ia = json_object_get_int64(cur),
					ib = json_object_get_int64(in);

			return json_object_new_int64(op[0] == '+' ? ia + ib :
			    op[0] == '-' ? ia - ib : ia * ib);
		}
		r = op[0] == '+' ? a + b : op[0] == '-' ? a - b :
		    op[0] == '*' ? a * b : a / b;
		return json_object_new_double(r);
	}
	if (el == NULL || !json_object_is_type(cur, json_type_array)) {
		wf_fail(x, "OperationNotSupportedError", "Operation %s is not "
		    "supported for type %s", op, type);
		return NULL;
	}
	n = json_object_array_length(cur);
	if (strcmp(op, "append") == 0 || strcmp(op, "extend") == 0) {
		int	ext = op[0] == 'e';

		if (ext ? !fits(type, in) : (strcmp(el, "any") != 0 &&
		    !fits(el, in))) {
			invalid_value(x, in);
			return NULL;
		}
		out = json_copy(cur);
		if (!ext)
			json_object_array_add(out, json_copy(in));
		else
			for (i = 0; i < json_object_array_length(in); i++)
				json_object_array_add(out, json_copy(
				    json_object_array_get_idx(in, i)));
		return out;
	}
	if (strcmp(op, "remove-first") == 0 || strcmp(op, "remove-last") == 0) {
		out = json_object_new_array();
		for (i = 0; i < n; i++) {
			if (n > 0 && ((op[7] == 'f' && i == 0) ||
			    (op[7] == 'l' && i == n - 1)))
				continue;
			json_object_array_add(out, json_copy(
			    json_object_array_get_idx(cur, i)));
		}
		return out;
	}
	wf_fail(x, "OperationNotSupportedError", "Operation %s is not "
	    "supported for type %s", op, type);
	return NULL;
}

static void
not_found(struct wf_exec *x, json_object *sel)
{
	struct buf	b;

	buf_init(&b, 512);
	py_repr(&b, sel);
	wf_fail(x, "VariableOperatorNodeError", "Variable %s not found",
	    buf_cstr(&b));
	buf_free(&b);
}

static void
updated(json_object *list, const char *owner, const char *name,
    const char *type, json_object *v)
{
	json_object	*u = json_object_new_object(), *sel;

	sel = json_object_new_array();
	json_object_array_add(sel, json_object_new_string(owner));
	json_object_array_add(sel, json_object_new_string(name));
	json_object_object_add(u, "name", json_object_new_string(name));
	json_object_object_add(u, "selector", sel);
	json_object_object_add(u, "value_type", json_object_new_string(type));
	json_object_object_add(u, "new_value", json_copy(v));
	json_object_array_add(list, u);
}

static int
run_assigner(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run	*r = e->r;
	json_object	*items = json_get(n->data, "items"), *one = NULL;
	json_object	*it, *sel, *cur, *in, *nv, *upd;
	const char	*ver = json_str(n->data, "version");
	const char	*parts[WF_SELECTOR_MAX], *op, *type, *itype;
	size_t		 i, k;
	int		 np;

	upd = json_object_new_array();
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "updated_variables", upd);
	x->inputs = json_object_new_object();
	x->outputs = json_object_new_object();
	if (ver == NULL || strcmp(ver, "2") != 0) {
		/* version 1: one target, write_mode, an input selector */
		const char	*mode = json_str(n->data, "write_mode");

		one = json_object_new_array();
		it = json_object_new_object();
		json_object_object_add(it, "variable_selector", json_copy(
		    json_get(n->data, "assigned_variable_selector")));
		json_object_object_add(it, "input_type",
		    json_object_new_string("variable"));
		json_object_object_add(it, "operation", json_object_new_string(
		    mode ? mode : "over-write"));
		json_object_object_add(it, "value", json_copy(json_get(n->data,
		    "input_variable_selector")));
		json_object_array_add(one, it);
		items = one;
	}
	k = items && json_object_is_type(items, json_type_array) ?
	    json_object_array_length(items) : 0;
	for (i = 0; i < k; i++) {
		it = json_object_array_get_idx(items, i);
		sel = json_get(it, "variable_selector");
		op = json_str(it, "operation");
		itype = json_str(it, "input_type");
		np = wf_selector_parts(sel, parts);
		if (np < 2 || (strcmp(parts[0], "conversation") != 0 &&
		    enclosing_loop(e, parts[0]) == NULL) ||
		    !wf_pool_get(e->pool, parts, 2, &cur)) {
			not_found(x, sel);
			goto fail;
		}
		if (op == NULL)
			op = "over-write";
		type = var_type(e, parts[0], parts[1], cur);
		in = NULL;
		if (strcmp(op, "clear") != 0 &&
		    strcmp(op, "remove-first") != 0 &&
		    strcmp(op, "remove-last") != 0) {
			if (itype != NULL && strcmp(itype, "constant") == 0)
				in = json_get(it, "value");
			else if (!wf_pool_get_sel(e->pool, json_get(it,
			    "value"), &in)) {
				wf_fail(x, "VariableOperatorNodeError", "input "
				    "value not found");
				goto fail;
			}
		}
		if (ver == NULL || strcmp(ver, "2") != 0) {
			/* v1 checks no types; append needs an array */
			if (strcmp(op, "over-write") == 0)
				nv = json_copy(in);
			else if (strcmp(op, "append") == 0 &&
			    json_object_is_type(cur, json_type_array)) {
				nv = json_copy(cur);
				json_object_array_add(nv, json_copy(in));
			} else if (strcmp(op, "clear") == 0)
				nv = zero_value(type);
			else {
				wf_fail(x, "VariableOperatorNodeError",
				    "Unsupported write mode: %s", op);
				goto fail;
			}
		} else if ((nv = apply_op(x, op, type, cur, in)) == NULL)
			goto fail;
		updated(upd, parts[0], parts[1], type, nv);
		wf_pool_set(e->pool, parts[0], parts[1], nv);
	}
	/* persisted on success, so the next turn sees it */
	if (r->db != NULL && r->conversation_id != NULL) {
		k = json_object_array_length(upd);
		for (i = 0; i < k; i++) {
			json_object	*u = json_object_array_get_idx(upd, i);
			const char	*name = json_str(u, "name");
			const char	*id = json_str(r->conv_ids, name);

			if (strcmp(json_object_get_string(
			    json_object_array_get_idx(json_get(u, "selector"),
			    0)), "conversation") != 0)
				continue;
			if (id != NULL && wf_pool_get(e->pool, (const char *[])
			    { "conversation", name }, 2, &cur) &&
			    db_conv_var_set(r->db, r->app_id,
			    r->conversation_id, id, cur) == -1)
				log_error("run %s: conversation variable %s "
				    "not stored", r->run_id, name);
		}
	}
	json_object_put(one);
	return WF_OK;
fail:
	json_object_put(one);
	return WF_FAIL;
}

/* ---- llm ---- */

struct llm_ctx {
	struct wf_engine	*e;
	struct wf_node		*n;
};

static int
llm_delta(void *arg, const char *text, size_t len)
{
	struct llm_ctx	*c = arg;

	if (len == 0)
		return 0;
	return wf_stream_chunk(c->e, c->n, text, len);
}

static int
llm_tick(void *arg)
{
	struct llm_ctx	*c = arg;

	return wf_engine_tick(c->e);
}

/* The context text: a string, or an array of strings / {content}. */
static char *
context_text(struct wf_engine *e, json_object *ctxcfg)
{
	json_object	*v, *it;
	struct buf	 b;
	size_t		 i, n;
	char		*s;

	if (!json_object_get_boolean(json_get(ctxcfg, "enabled")) ||
	    !wf_pool_get_sel(e->pool, json_get(ctxcfg, "variable_selector"),
	    &v))
		return NULL;
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
	if (json_object_is_type(v, json_type_string))
		buf_puts(&b, json_object_get_string(v));
	else if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			it = json_object_array_get_idx(v, i);
			if (b.len > 0)
				buf_puts(&b, "\n");
			if (json_object_is_type(it, json_type_string))
				buf_puts(&b, json_object_get_string(it));
			else if (json_str(it, "content") != NULL)
				buf_puts(&b, json_str(it, "content"));
		}
	}
	s = pool_strdup(e->r->p, buf_cstr(&b));
	buf_free(&b);
	return s;
}

static char *
replace_all(struct pool *p, const char *s, const char *what, const char *with)
{
	struct buf	 b;
	const char	*q;
	char		*out;
	size_t		 wl = strlen(what);

	if (with == NULL || strstr(s, what) == NULL)
		return (char *)s;
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX * 2);
	while ((q = strstr(s, what)) != NULL) {
		buf_append(&b, s, (size_t)(q - s));
		buf_puts(&b, with);
		s = q + wl;
	}
	buf_puts(&b, s);
	out = pool_strdup(p, buf_cstr(&b));
	buf_free(&b);
	return out;
}

struct llm_msg *
wf_msgs_push(struct pool *p, struct wf_msgs *ms, const char *role,
    const char *text)
{
	json_object	*pr;

	if (ms->n == ms->cap) {
		struct llm_msg	*nm;

		ms->cap = ms->cap ? ms->cap * 2 : 16;
		nm = pool_alloc(p, (size_t)ms->cap * sizeof(*nm));
		if (ms->n > 0)
			memcpy(nm, ms->m, (size_t)ms->n * sizeof(*nm));
		ms->m = nm;
	}
	memset(&ms->m[ms->n], 0, sizeof(ms->m[0]));
	ms->m[ms->n].role = role;
	ms->m[ms->n].content = text;
	pr = json_object_new_object();
	json_object_object_add(pr, "role", json_object_new_string(role));
	json_object_object_add(pr, "text",
	    json_object_new_string(text != NULL ? text : ""));
	json_object_object_add(pr, "files", json_object_new_array());
	json_object_array_add(ms->prompts, pr);
	return &ms->m[ms->n++];
}

static void
add_msg(struct pool *p, struct wf_msgs *ms, const char *role,
    const char *text)
{
	if (text == NULL || *text == '\0')
		return;	/* messages that render empty are left out */
	wf_msgs_push(p, ms, role, text);
}

/* Render one prompt text: basic ({{#...#}}, all must exist) or jinja2. */
static char *
render_prompt(struct wf_engine *e, struct wf_node *n, json_object *m,
    const char *ctx, struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	const char	*ed = json_str(m, "edition_type"), *missing, *t;
	char		*s;

	if (ed != NULL && strcmp(ed, "jinja2") == 0) {
		json_object	*jv = json_get(json_get(n->data,
		    "prompt_config"), "jinja2_variables");
		json_object	*vars = var_map(e, jv);
		struct buf	 b;

		t = json_str(m, "jinja2_text");
		buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
		/* stopped: the engine is aborted and the node with it */
		if (render_jinja(e, t, vars, &b, x) != 0) {
			x->error_type = "TemplateRenderError";
			s = NULL;
		} else
			s = pool_strndup(p, b.p ? b.p : "", b.len);
		buf_free(&b);
		json_object_put(vars);
		return s;
	}
	t = json_str(m, "text");
	t = replace_all(p, t ? t : "", "{#context#}", ctx);
	s = wf_tmpl_render(p, e->pool, t, WF_TEXT, &missing);
	if (s == NULL)
		wf_fail(x, "VariableNotFoundError", "Variable %s not found",
		    missing);
	return s;
}

/* Dify's error type of a failed model call, for node outputs. */
const char *
wf_llm_error_type(enum err err)
{
	switch (err) {
	case ERR_PROVIDER_NOT_INITIALIZE:
		return "ProviderTokenNotInitError";
	case ERR_PROVIDER_QUOTA_EXCEEDED:
		return "QuotaExceededError";
	case ERR_MODEL_NOT_SUPPORT:
		return "ModelCurrentlyNotSupportError";
	case ERR_RATE_LIMIT:
		return "InvokeRateLimitError";
	default:
		return "InvokeError";
	}
}

/*
 * The previous turns of the conversation within the node's memory window:
 * as messages into "ms", or (completion models) as "Human: ..." lines into
 * "hist" with the memory's role prefixes.  Returns the number of turns.
 */
int
wf_llm_memory(struct wf_engine *e, json_object *memory, struct wf_msgs *ms,
    struct buf *hist)
{
	struct wf_run	*r = e->r;
	json_object	*win = json_get(memory, "window");
	struct turn	*turns;
	int		 max = MEMORY_TURNS_MAX, nt, i;

	if (memory == NULL || !r->chat || r->db == NULL ||
	    r->conversation_id == NULL)
		return 0;
	if (json_object_get_boolean(json_get(win, "enabled"))) {
		max = json_object_get_int(json_get(win, "size"));
		if (max <= 0)
			return 0;
		if (max > MEMORY_TURNS_MAX)
			max = MEMORY_TURNS_MAX;
	}
	turns = pool_alloc(r->p, sizeof(*turns) * (size_t)max);
	nt = db_conversation_history(r->db, r->p, r->conversation_id, max,
	    turns);
	for (i = 0; i < nt; i++) {
		if (hist != NULL) {
			json_object	*rp = json_get(memory, "role_prefix");
			const char	*u = json_str(rp, "user");
			const char	*a = json_str(rp, "assistant");

			buf_printf(hist, "%s%s: %s\n%s: %s", hist->len ? "\n" :
			    "", u && *u ? u : "Human", turns[i].query,
			    a && *a ? a : "Assistant", turns[i].answer);
			continue;
		}
		add_msg(r->p, ms, "user", turns[i].query);
		add_msg(r->p, ms, "assistant", turns[i].answer);
	}
	return nt;
}

static json_object *
usage_of(const char *provider, int ptok, int ctok, double latency,
    char price[32])
{
	json_object	*u = json_object_new_object();

	usage_json(u, provider, ptok, ctok, latency, price);
	json_object_object_add(u, "time_to_first_token", NULL);
	json_object_object_add(u, "time_to_generate", NULL);
	return u;
}

/* reasoning_format "separated": <think> blocks move out of the text. */
static void
separate_reasoning(const char *text, struct buf *out, struct buf *reason)
{
	const char	*s = text, *a, *b;

	while ((a = strstr(s, "<think>")) != NULL &&
	    (b = strstr(a, "</think>")) != NULL) {
		buf_append(out, s, (size_t)(a - s));
		buf_append(reason, a + 7, (size_t)(b - a - 7));
		s = b + 8;
		while (*s == '\n')
			s++;
	}
	buf_puts(out, s);
}

static int
run_llm(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run		*r = e->r;
	struct pool		*p = r->p;
	json_object		*model = json_get(n->data, "model");
	json_object		*tpl = json_get(n->data, "prompt_template");
	json_object		*memory = json_get(n->data, "memory"), *u;
	const char		*provider = json_str(model, "provider");
	const char		*name = json_str(model, "name");
	const char		*mode = json_str(model, "mode"), *query = NULL;
	const char		*fmt = json_str(n->data, "reasoning_format");
	struct wf_msgs		 ms;
	struct llm_request	 lr;
	struct llm_result	 res;
	struct llm_ctx		 cx;
	char			*ctx, *s, price[32];
	double			 t0 = now_mono(), latency;
	size_t			 i, k;
	int			 rc, ptok, ctok;

	memset(&ms, 0, sizeof(ms));
	ms.prompts = json_object_new_array();
	x->inputs = json_object_new_object();
	if (provider == NULL || name == NULL) {
		json_object_put(ms.prompts);
		return wf_fail(x, "LLMNodeError", "Model config of node %s is "
		    "incomplete.", n->id);
	}
	ctx = context_text(e, json_get(n->data, "context"));
	if (ctx != NULL)
		json_object_object_add(x->inputs, "#context#",
		    json_object_new_string(ctx));
	if (json_object_is_type(tpl, json_type_array)) {
		k = json_object_array_length(tpl);
		for (i = 0; i < k; i++) {
			json_object	*m = json_object_array_get_idx(tpl, i);
			const char	*role = json_str(m, "role");

			if ((s = render_prompt(e, n, m, ctx, x)) == NULL)
				goto fail;
			if (role == NULL || (strcmp(role, "system") &&
			    strcmp(role, "assistant")))
				role = "user";
			add_msg(p, &ms, role, s);
		}
		if (memory != NULL) {
			wf_llm_memory(e, memory, &ms, NULL);
			query = json_str(memory, "query_prompt_template");
			if (query != NULL && *query != '\0') {
				const char	*missing;

				query = wf_tmpl_render(p, e->pool, query,
				    WF_TEXT, &missing);
				if (query == NULL) {
					wf_fail(x, "VariableNotFoundError",
					    "Variable %s not found", missing);
					goto fail;
				}
			} else
				query = r->query;
			add_msg(p, &ms, "user", query);
		}
	} else if (json_object_is_type(tpl, json_type_object)) {
		struct buf	 hist;

		/* completion models: one prompt, #histories# and #sys.query# */
		if ((s = render_prompt(e, n, tpl, ctx, x)) == NULL)
			goto fail;
		buf_init(&hist, (size_t)UPSTREAM_TEXT_MAX);
		if (memory != NULL)
			wf_llm_memory(e, memory, &ms, &hist);
		s = replace_all(p, s, "#histories#", buf_cstr(&hist));
		s = replace_all(p, s, "#sys.query#", r->query ? r->query : "");
		buf_free(&hist);
		add_msg(p, &ms, "user", s);
	}
	if (ms.n == 0) {
		wf_fail(x, "LLMNodeError", "No prompt messages for node %s.",
		    n->id);
		goto fail;
	}
	memset(&lr, 0, sizeof(lr));
	lr.provider = provider;
	lr.model = name;
	lr.params = json_get(model, "completion_params");
	lr.msgs = ms.m;
	lr.nmsgs = ms.n;
	lr.stream = 1;
	lr.on_delta = llm_delta;
	lr.on_tick = llm_tick;
	cx.e = e;
	cx.n = n;
	lr.arg = &cx;
	llm_result_init(&res);
	rc = r->chat_fn != NULL ? r->chat_fn(&lr, &res) : upstream_chat(&lr,
	    &res);
	latency = now_mono() - t0;
	if (rc == 1 || e->aborted || r->client_gone) {
		llm_result_free(&res);
		json_object_put(ms.prompts);
		return WF_ABORT;
	}
	if (rc == -1) {
		wf_fail(x, wf_llm_error_type(res.err), "%s", res.errmsg);
		llm_result_free(&res);
		goto fail;
	}
	ptok = res.prompt_tokens;
	ctok = res.completion_tokens;
	x->tokens = ptok + ctok;
	if (r->provider == NULL)
		r->provider = pool_strdup(p, provider);
	if (r->first_token_s < 0 && res.first_token_s >= 0)
		r->first_token_s = (t0 - r->started) + res.first_token_s;
	r->prompt_tokens += ptok;
	r->completion_tokens += ctok;
	u = usage_of(provider, ptok, ctok, latency, price);
	x->outputs = json_object_new_object();
	{
		struct buf	text, reason;

		buf_init(&text, (size_t)UPSTREAM_TEXT_MAX);
		buf_init(&reason, (size_t)UPSTREAM_TEXT_MAX);
		if (fmt != NULL && strcmp(fmt, "separated") == 0)
			separate_reasoning(buf_cstr(&res.text), &text, &reason);
		else
			buf_append(&text, res.text.p ? res.text.p : "",
			    res.text.len);
		json_object_object_add(x->outputs, "text",
		    json_object_new_string_len(text.p ? text.p : "",
		    (int)text.len));
		json_object_object_add(x->outputs, "reasoning_content",
		    json_object_new_string_len(reason.p ? reason.p : "",
		    (int)reason.len));
		buf_free(&text);
		buf_free(&reason);
	}
	json_object_object_add(x->outputs, "usage", json_copy(u));
	json_object_object_add(x->outputs, "finish_reason",
	    res.finish_reason[0] ? json_object_new_string(res.finish_reason) :
	    NULL);
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "model_mode",
	    json_object_new_string(mode ? mode : "chat"));
	json_object_object_add(x->process_data, "prompts", ms.prompts);
	json_object_object_add(x->process_data, "usage", u);
	json_object_object_add(x->process_data, "finish_reason",
	    res.finish_reason[0] ? json_object_new_string(res.finish_reason) :
	    NULL);
	json_object_object_add(x->process_data, "model_provider",
	    json_object_new_string(provider));
	json_object_object_add(x->process_data, "model_name",
	    json_object_new_string(name));
	x->metadata = json_object_new_object();
	json_object_object_add(x->metadata, "total_tokens",
	    json_object_new_int(ptok + ctok));
	json_object_object_add(x->metadata, "total_price",
	    json_object_new_string(price));
	json_object_object_add(x->metadata, "currency",
	    json_object_new_string("USD"));
	llm_result_free(&res);
	return WF_OK;
fail:
	if (x->process_data == NULL) {
		x->process_data = json_object_new_object();
		json_object_object_add(x->process_data, "prompts", ms.prompts);
	} else
		json_object_put(ms.prompts);
	return WF_FAIL;
}

/* ---- iteration and loop helpers ---- */

/* iteration-start, loop-start: the entry of a container's graph. */
static int
run_entry(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	(void)e;
	(void)n;
	(void)x;
	return WF_OK;
}

/* loop-end: the loop stops after this round. */
static int
run_loop_end(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	(void)n;
	(void)x;
	e->loop_end = 1;
	return WF_OK;
}

/* ---- the table ---- */

static const struct wf_type types[] = {
	{ "start", WF_K_ROOT, run_start, 0, 0 },
	{ "end", WF_K_RESPONSE, run_end, 0, 0 },
	{ "answer", WF_K_RESPONSE, run_answer, 0, 0 },
	{ "llm", WF_K_EXEC, run_llm, 1, 0 },
	{ "if-else", WF_K_BRANCH, run_if_else, 0, 0 },
	{ "template-transform", WF_K_EXEC, run_template, 0, 0 },
	{ "variable-aggregator", WF_K_EXEC, run_aggregator, 0, 0 },
	{ "variable-assigner", WF_K_EXEC, run_aggregator, 0, 0 },
	{ "assigner", WF_K_EXEC, run_assigner, 0, 0 },
	{ "iteration", WF_K_CONTAINER, wf_run_iteration, 0, 0 },
	{ "loop", WF_K_CONTAINER, wf_run_loop, 0, 0 },
	{ "iteration-start", WF_K_EXEC, run_entry, 0, 1 },
	{ "loop-start", WF_K_EXEC, run_entry, 0, 1 },
	{ "loop-end", WF_K_EXEC, run_loop_end, 0, 0 },
	/* known to Dify, not run by this server yet */
	{ "code", WF_K_EXEC, wf_code_run, 1, 0 },
	{ "http-request", WF_K_EXEC, wf_run_http, 1, 0 },
	{ "tool", WF_K_EXEC, wf_run_tool, 1, 0 },
	{ "question-classifier", WF_K_BRANCH, wf_run_classifier, 0, 0 },
	{ "parameter-extractor", WF_K_EXEC, wf_run_extractor, 0, 0 },
	{ "knowledge-retrieval", WF_K_EXEC, wf_run_knowledge, 0, 0 },
	{ "list-operator", WF_K_EXEC, wf_run_list_operator, 0, 0 },
	{ "document-extractor", WF_K_EXEC, wf_run_doc_extractor, 0, 0 },
	{ "agent", WF_K_EXEC, wf_run_agent, 0, 0 },
};

const struct wf_type *
wf_type_find(const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}
