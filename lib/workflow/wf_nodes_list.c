/*
 * wf_nodes_list.c: list-operator, document-extractor, knowledge-retrieval
 * and tool nodes (spec workflow.md 5.12, 5.13).  Mirrors Dify's
 * core/workflow/nodes/{list_operator,document_extractor,
 * knowledge_retrieval,tool}: the same steps in the same order, the same
 * operators per element type, the same messages when a value has the
 * wrong type.  Values are JSON here; an array's element type is what
 * Dify's segment factory would infer from its values.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workflow/workflow.h"

#define DOC_BYTES_MAX		(16 * 1024 * 1024)

/* A selector as Python prints a list: ['sys', 'files']. */
static const char *
sel_repr(struct pool *p, json_object *sel)
{
	struct buf	 b;
	const char	*s;

	buf_init(&b, 4096);
	py_repr(&b, sel);
	s = pool_strdup(p, buf_cstr(&b));
	buf_free(&b);
	return s;
}

static const char *
repr_of(struct pool *p, json_object *v)
{
	return sel_repr(p, v);
}

/* Python's repr() of a string. */
static const char *
str_repr(struct pool *p, const char *s)
{
	json_object	*o = json_object_new_string(s);
	const char	*r = sel_repr(p, o);

	json_object_put(o);
	return r;
}

static const char *
rendered(struct wf_engine *e, const char *tpl)
{
	return wf_tmpl_render(e->r->p, e->pool, tpl != NULL ? tpl : "",
	    WF_TEXT, NULL);
}

/* ---- list-operator ---- */

enum lkind { LK_STRING, LK_NUMBER, LK_FILE, LK_BOOLEAN, LK_OTHER };

static int
is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double);
}

/* The element type Dify would give a (non-empty) array. */
static enum lkind
array_kind(json_object *a)
{
	size_t		n = json_object_array_length(a), i, c[4] = { 0 };
	json_object	*v;

	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (json_object_is_type(v, json_type_string))
			c[LK_STRING]++;
		else if (is_number(v))
			c[LK_NUMBER]++;
		else if (wf_is_file(v))
			c[LK_FILE]++;
		else if (json_object_is_type(v, json_type_boolean))
			c[LK_BOOLEAN]++;
	}
	for (i = 0; i < 4; i++)
		if (c[i] == n)
			return (enum lkind)i;
	return LK_OTHER;
}

static const char *
kind_name(json_object *a)
{
	static const char *const names[] = { "array[string]",
	    "array[number]", "array[file]", "array[boolean]", "array[any]" };

	if (!json_object_is_type(a, json_type_array)) {
		switch (json_object_get_type(a)) {
		case json_type_string: return "string";
		case json_type_int:
		case json_type_double: return "number";
		case json_type_boolean: return "boolean";
		default: return "object";
		}
	}
	return names[array_kind(a)];
}

/* A string condition (Dify's _get_string_filter_func); -1: unknown. */
static int
string_match(const char *op, const char *x, const char *value)
{
	size_t	lx = strlen(x), lv = strlen(value);

	if (strcmp(op, "contains") == 0)
		return strstr(x, value) != NULL;
	if (strcmp(op, "not contains") == 0)
		return strstr(x, value) == NULL;
	if (strcmp(op, "start with") == 0)
		return strncmp(x, value, lv) == 0;
	if (strcmp(op, "end with") == 0)
		return lx >= lv && strcmp(x + lx - lv, value) == 0;
	if (strcmp(op, "is") == 0)
		return strcmp(x, value) == 0;
	if (strcmp(op, "is not") == 0)
		return strcmp(x, value) != 0;
	/* Python's "x in value" on a string: a substring */
	if (strcmp(op, "in") == 0)
		return strstr(value, x) != NULL;
	if (strcmp(op, "not in") == 0)
		return strstr(value, x) == NULL;
	if (strcmp(op, "empty") == 0)
		return *x == '\0';
	if (strcmp(op, "not empty") == 0)
		return *x != '\0';
	return -1;
}

static int
number_match(const char *op, double x, double v)
{
	if (strcmp(op, "=") == 0)
		return x == v;
	if (strcmp(op, "≠") == 0 || strcmp(op, "!=") == 0)
		return x != v;
	if (strcmp(op, "<") == 0)
		return x < v;
	if (strcmp(op, "≤") == 0 || strcmp(op, "<=") == 0)
		return x <= v;
	if (strcmp(op, ">") == 0)
		return x > v;
	if (strcmp(op, "≥") == 0 || strcmp(op, ">=") == 0)
		return x >= v;
	return -1;
}

/* "in" / "not in" against a list (or, as Python, a string). */
static int
sequence_match(const char *op, const char *x, json_object *value)
{
	size_t	i, n;
	int	in = 0;

	if (strcmp(op, "in") != 0 && strcmp(op, "not in") != 0)
		return -1;
	if (json_object_is_type(value, json_type_string))
		in = strstr(json_object_get_string(value), x) != NULL;
	else if (json_object_is_type(value, json_type_array)) {
		n = json_object_array_length(value);
		for (i = 0; i < n && !in; i++) {
			json_object	*it;

			it = json_object_array_get_idx(value, i);
			in = json_object_is_type(it, json_type_string) &&
			    strcmp(json_object_get_string(it), x) == 0;
		}
	}
	return op[0] == 'i' ? in : !in;
}

/* A file attribute as Dify's list operator reads it ("" when none). */
static const char *
file_str(json_object *f, const char *key)
{
	const char	*v = NULL;

	if (strcmp(key, "name") == 0)
		v = json_str(f, "filename");
	else if (strcmp(key, "url") == 0)
		v = json_str(f, "remote_url");
	else if (strcmp(key, "type") == 0 || strcmp(key, "extension") == 0 ||
	    strcmp(key, "mime_type") == 0 || strcmp(key, "transfer_method") ==
	    0 || strcmp(key, "related_id") == 0)
		v = json_str(f, key);
	return v != NULL ? v : "";
}

/* Python's float(s), or -1 when it is not a number. */
static int
parse_float(const char *s, double *d)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	errno = 0;
	*d = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	return *end == '\0' ? 0 : -1;
}

/*
 * Keep the elements of "a" that one condition keeps (Dify's
 * _apply_filter).  A new array, or NULL with x->error set.
 */
static json_object *
filter_one(struct wf_engine *e, json_object *a, enum lkind kind,
    json_object *cond, struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	const char	*op = json_str(cond, "comparison_operator");
	const char	*key = json_str(cond, "key"), *sv = NULL;
	json_object	*val = json_get(cond, "value"), *out, *it;
	size_t		 i, n = json_object_array_length(a);
	double		 num = 0;
	int		 m;

	if (op == NULL)
		op = "";
	if (key == NULL)
		key = "";
	switch (kind) {
	case LK_STRING:
	case LK_NUMBER:
		if (!json_object_is_type(val, json_type_string)) {
			wf_fail(x, "InvalidFilterValueError", "Invalid filter "
			    "value: %s", repr_of(p, val));
			return NULL;
		}
		sv = rendered(e, json_object_get_string(val));
		if (kind == LK_NUMBER && parse_float(sv, &num) == -1) {
			wf_fail(x, "ValueError", "could not convert string to "
			    "float: %s", str_repr(p, sv));
			return NULL;
		}
		break;
	case LK_BOOLEAN:
		if (!json_object_is_type(val, json_type_boolean)) {
			wf_fail(x, "InvalidFilterValueError", "Invalid filter "
			    "value: %s", repr_of(p, val));
			return NULL;
		}
		break;
	default:
		if (json_object_is_type(val, json_type_boolean)) {
			wf_fail(x, "ValueError", "File filter expects a string "
			    "value, got <class 'bool'>");
			return NULL;
		}
		if (json_object_is_type(val, json_type_string))
			sv = rendered(e, json_object_get_string(val));
		if (strcmp(key, "size") == 0 && sv != NULL &&
		    parse_float(sv, &num) == -1) {
			wf_fail(x, "ValueError", "could not convert string to "
			    "float: %s", str_repr(p, sv));
			return NULL;
		}
		if (!((sv != NULL && (strcmp(key, "name") == 0 ||
		    strcmp(key, "extension") == 0 ||
		    strcmp(key, "mime_type") == 0 || strcmp(key, "url") == 0 ||
		    strcmp(key, "related_id") == 0 ||
		    strcmp(key, "size") == 0)) || strcmp(key, "type") == 0 ||
		    strcmp(key, "transfer_method") == 0)) {
			wf_fail(x, "InvalidKeyError", "Invalid key: %s", key);
			return NULL;
		}
		break;
	}
	out = json_object_new_array();
	for (i = 0; i < n; i++) {
		it = json_object_array_get_idx(a, i);
		switch (kind) {
		case LK_STRING:
			m = string_match(op, json_object_get_string(it), sv);
			break;
		case LK_NUMBER:
			m = number_match(op, json_object_get_double(it), num);
			break;
		case LK_BOOLEAN:
			if (strcmp(op, "is") == 0 || strcmp(op, "is not") == 0)
				m = (json_object_get_boolean(it) ==
				    json_object_get_boolean(val)) == (op[2] ==
				    '\0');
			else
				m = -1;
			break;
		default:
			if (strcmp(key, "type") == 0 || strcmp(key,
			    "transfer_method") == 0)
				m = sequence_match(op, file_str(it, key), val);
			else if (strcmp(key, "size") == 0)
				m = number_match(op, json_object_get_double(
				    json_get(it, "size")), num);
			else
				m = string_match(op, file_str(it, key), sv);
			break;
		}
		if (m < 0) {
			json_object_put(out);
			wf_fail(x, "InvalidConditionError", "Invalid condition: "
			    "%s", op);
			return NULL;
		}
		if (m)
			json_object_array_add(out, json_object_get(it));
	}
	return out;
}

struct sort_key {
	enum lkind	 kind;
	const char	*key;		/* of files */
	int		 desc;
};

static int
compare(const struct sort_key *k, json_object *a, json_object *b)
{
	double	x, y;
	int	c;

	switch (k->kind) {
	case LK_STRING:
		c = strcmp(json_object_get_string(a),
		    json_object_get_string(b));
		break;
	case LK_NUMBER:
	case LK_BOOLEAN:
		x = json_object_get_double(a);
		y = json_object_get_double(b);
		c = x < y ? -1 : x > y;
		break;
	default:
		if (strcmp(k->key, "size") == 0) {
			x = json_object_get_double(json_get(a, "size"));
			y = json_object_get_double(json_get(b, "size"));
			c = x < y ? -1 : x > y;
		} else
			c = strcmp(file_str(a, k->key), file_str(b, k->key));
		break;
	}
	return k->desc ? -c : c;
}

/* A stable merge sort, as Python's sorted() (reverse keeps ties' order). */
static void
merge_sort(const struct sort_key *k, json_object **v, json_object **tmp,
    size_t n)
{
	size_t	h = n / 2, i = 0, j = h, o = 0;

	if (n < 2)
		return;
	merge_sort(k, v, tmp, h);
	merge_sort(k, v + h, tmp, n - h);
	while (i < h && j < n)
		tmp[o++] = compare(k, v[j], v[i]) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[o++] = v[i++];
	while (j < n)
		tmp[o++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static json_object *
order(json_object *a, enum lkind kind, json_object *cfg, struct wf_exec *x)
{
	struct sort_key	 k;
	json_object	**v, **tmp, *out;
	const char	*key = json_str(cfg, "key"), *dir = json_str(cfg,
			    "value");
	size_t		 i, n = json_object_array_length(a);

	k.kind = kind;
	k.key = key != NULL ? key : "";
	k.desc = dir != NULL && strcmp(dir, "desc") == 0;
	if (kind == LK_FILE && strcmp(k.key, "size") != 0 &&
	    strcmp(k.key, "name") != 0 && strcmp(k.key, "type") != 0 &&
	    strcmp(k.key, "extension") != 0 && strcmp(k.key, "mime_type") !=
	    0 && strcmp(k.key, "transfer_method") != 0 && strcmp(k.key,
	    "url") != 0 && strcmp(k.key, "related_id") != 0) {
		wf_fail(x, "InvalidKeyError", "Invalid order key: %s", k.key);
		return NULL;
	}
	v = xcalloc(n + 1, sizeof(*v));
	tmp = xcalloc(n + 1, sizeof(*tmp));
	for (i = 0; i < n; i++)
		v[i] = json_object_array_get_idx(a, i);
	merge_sort(&k, v, tmp, n);
	out = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(out, json_object_get(v[i]));
	free(v);
	free(tmp);
	return out;
}

/* Python's int(s): optional sign and digits, spaces around. */
static int
parse_serial(const char *s, long long *v)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	errno = 0;
	*v = strtoll(s, &end, 10);
	if (end == s || errno != 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	return *end == '\0' ? 0 : -1;
}

static json_object *
slice(json_object *a, long long from, long long to)
{
	json_object	*out = json_object_new_array();
	long long	 n = (long long)json_object_array_length(a), i;

	if (to < 0)
		to = n + to < 0 ? 0 : n + to;
	if (to > n)
		to = n;
	for (i = from; i < to; i++)
		json_object_array_add(out, json_object_get(
		    json_object_array_get_idx(a, (size_t)i)));
	return out;
}

/*
 * The list-operator's steps on array "in" (borrowed): filter, extract,
 * order, limit, in Dify's order.  A new array, or NULL with x->error.
 */
static json_object *
list_apply(struct wf_engine *e, json_object *data, json_object *in,
    enum lkind kind, struct wf_exec *x)
{
	json_object	*cur = json_object_get(in), *next, *cfg, *conds;
	const char	*serial;
	long long	 k;
	size_t		 i, nc;

	cfg = json_get(data, "filter_by");
	if (json_object_get_boolean(json_get(cfg, "enabled"))) {
		conds = json_get(cfg, "conditions");
		nc = json_object_is_type(conds, json_type_array) ?
		    json_object_array_length(conds) : 0;
		for (i = 0; i < nc; i++) {
			next = filter_one(e, cur, kind,
			    json_object_array_get_idx(conds, i), x);
			json_object_put(cur);
			if ((cur = next) == NULL)
				return NULL;
		}
	}
	cfg = json_get(data, "extract_by");
	if (json_object_get_boolean(json_get(cfg, "enabled"))) {
		serial = rendered(e, json_str(cfg, "serial"));
		if (parse_serial(serial, &k) == -1) {
			json_object_put(cur);
			wf_fail(x, "ValueError", "invalid literal for int() with "
			    "base 10: %s", str_repr(e->r->p,
			    serial));
			return NULL;
		}
		if (k < 1 || k > (long long)json_object_array_length(cur)) {
			wf_fail(x, k < 1 ? "ValueError" : "InvalidKeyError",
			    "Invalid serial index: must be %s %lld, got %lld",
			    k < 1 ? ">=" : "<=", k < 1 ? 1 :
			    (long long)json_object_array_length(cur), k);
			json_object_put(cur);
			return NULL;
		}
		next = slice(cur, k - 1, k);
		json_object_put(cur);
		cur = next;
	}
	cfg = json_get(data, "order_by");
	if (json_object_get_boolean(json_get(cfg, "enabled"))) {
		next = order(cur, kind, cfg, x);
		json_object_put(cur);
		if ((cur = next) == NULL)
			return NULL;
	}
	cfg = json_get(data, "limit");
	if (json_object_get_boolean(json_get(cfg, "enabled"))) {
		next = slice(cur, 0, json_object_get_int64(json_get(cfg,
		    "size")));
		json_object_put(cur);
		cur = next;
	}
	return cur;
}

int
wf_run_list_operator(struct wf_engine *e, struct wf_node *n,
    struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	json_object	*sel = json_get(n->data, "variable"), *v, *res;
	enum lkind	 kind;
	size_t		 len;

	x->inputs = json_object_new_object();
	x->process_data = json_object_new_object();
	if (!wf_pool_get_sel(e->pool, sel, &v))
		return wf_fail(x, "ListOperatorError", "Variable not found for "
		    "selector: %s", sel_repr(p, sel));
	if (!py_truthy(v)) {
		json_object_object_add(x->inputs, "variable",
		    json_object_new_array());
		json_object_object_add(x->process_data, "variable",
		    json_object_new_array());
		x->outputs = json_object_new_object();
		json_object_object_add(x->outputs, "result",
		    json_object_new_array());
		json_object_object_add(x->outputs, "first_record", NULL);
		json_object_object_add(x->outputs, "last_record", NULL);
		return WF_OK;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    (kind = array_kind(v)) == LK_OTHER)
		return wf_fail(x, "ListOperatorError", "Variable %s is not an "
		    "array type, actual type: %s", sel_repr(p, sel),
		    kind_name(v));
	json_object_object_add(x->inputs, "variable", json_copy(v));
	json_object_object_add(x->process_data, "variable", json_copy(v));
	if ((res = list_apply(e, n->data, v, kind, x)) == NULL)
		return WF_FAIL;
	len = json_object_array_length(res);
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "result", res);
	json_object_object_add(x->outputs, "first_record", len > 0 ?
	    json_copy(json_object_array_get_idx(res, 0)) : NULL);
	json_object_object_add(x->outputs, "last_record", len > 0 ?
	    json_copy(json_object_array_get_idx(res, len - 1)) : NULL);
	return WF_OK;
}

/* ---- document-extractor ---- */

/* The name Dify's TextExtractionError gives the type (PDF, DOCX, ...). */
static const char *
doc_kind(const char *ext, const char *mime)
{
	const char	*s = ext != NULL && *ext != '\0' ? ext :
			    mime != NULL ? mime : "";

	if (strcasestr(s, "pdf") != NULL)
		return "PDF";
	if (strcasecmp(s, "xlsx") == 0 || strstr(s, "spreadsheet") != NULL)
		return "Excel file";
	if (strcasecmp(s, "pptx") == 0 || strstr(s, "presentation") != NULL)
		return "PPTX";
	return "DOCX";
}

/* The text of one file (Dify's _extract_text_from_file). */
static int
file_text(struct wf_run *r, json_object *f, json_object **text,
    struct wf_exec *x)
{
	const char	*ext = json_str(f, "extension");
	const char	*mime = json_str(f, "mime_type");
	struct buf	 data, out;
	char		 err[512];
	int		 rc;

	if ((ext == NULL || *ext == '\0') && (mime == NULL || *mime == '\0'))
		return wf_fail(x, "UnsupportedFileTypeError", "Unable to "
		    "determine file type: MIME type or file extension is "
		    "missing");
	buf_init(&data, DOC_BYTES_MAX);
	if (wf_file_bytes(r, f, DOC_BYTES_MAX, &data, err, sizeof(err)) ==
	    -1) {
		buf_free(&data);
		return wf_fail(x, "FileDownloadError", "Error downloading file "
		    "%s: %s", json_str(f, "filename") ? json_str(f,
		    "filename") : "", err);
	}
	buf_init(&out, (size_t)UPSTREAM_TEXT_MAX);
	if (ext != NULL && *ext == '.')
		ext++;
	rc = files_extract_text(ext != NULL && *ext != '\0' ? ext : NULL,
	    mime, data.p ? data.p : "", data.len, &out);
	buf_free(&data);
	if (rc == FILES_BAD_DOC) {
		buf_free(&out);
		return wf_fail(x, "TextExtractionError", "Failed to extract "
		    "text from %s: the file is damaged or past the limits on "
		    "size, entries, nesting, pages or time", doc_kind(ext,
		    mime));
	}
	if (rc != 0) {
		buf_free(&out);
		if (ext != NULL && *ext != '\0')
			return wf_fail(x, "UnsupportedFileTypeError",
			    "Unsupported Extension Type: .%s (text is "
			    "extracted here from text, HTML, PDF, docx, xlsx "
			    "and pptx files)", ext);
		return wf_fail(x, "UnsupportedFileTypeError", "Unsupported MIME "
		    "type: %s (text is extracted here from text, HTML, PDF, "
		    "docx, xlsx and pptx files)", mime);
	}
	*text = json_object_new_string_len(out.p ? out.p : "", (int)out.len);
	buf_free(&out);
	return WF_OK;
}

int
wf_run_doc_extractor(struct wf_engine *e, struct wf_node *n,
    struct wf_exec *x)
{
	struct pool	*p = e->r->p;
	json_object	*sel = json_get(n->data, "variable_selector"), *v, *t;
	json_object	*texts, *docs;
	size_t		 i, k;
	int		 files = 1;

	if (!wf_pool_get_sel(e->pool, sel, &v))
		return wf_fail(x, "DocumentExtractorError", "File variable not "
		    "found for selector: %s", sel_repr(p, sel));
	if (json_object_is_type(v, json_type_array)) {
		k = json_object_array_length(v);
		for (i = 0; i < k; i++)
			if (!wf_is_file(json_object_array_get_idx(v, i)))
				files = 0;
	} else
		files = wf_is_file(v);
	if (py_truthy(v) && !files)
		return wf_fail(x, "DocumentExtractorError", "Variable %s is not "
		    "an ArrayFileSegment", sel_repr(p, sel));
	x->inputs = json_object_new_object();
	json_object_object_add(x->inputs, "variable_selector", json_copy(sel));
	x->process_data = json_object_new_object();
	if (json_object_is_type(v, json_type_array))
		docs = json_copy(v);
	else {
		docs = json_object_new_array();
		json_object_array_add(docs, json_copy(v));
	}
	json_object_object_add(x->process_data, "documents", docs);
	if (json_object_is_type(v, json_type_array)) {
		texts = json_object_new_array();
		k = json_object_array_length(v);
		for (i = 0; i < k; i++) {
			if (file_text(e->r, json_object_array_get_idx(v, i), &t,
			    x) == WF_FAIL) {
				json_object_put(texts);
				return WF_FAIL;
			}
			json_object_array_add(texts, t);
		}
	} else if (wf_is_file(v)) {
		if (file_text(e->r, v, &texts, x) == WF_FAIL)
			return WF_FAIL;
	} else
		return wf_fail(x, "DocumentExtractorError", "Unsupported "
		    "variable type: %s", kind_name(v));
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "text", texts);
	return WF_OK;
}

/* ---- knowledge-retrieval ---- */

/*
 * No knowledge datasets exist on this server.  Dify's node, when none of
 * its dataset_ids names an available dataset (_fetch_dataset_retriever
 * finds no datasets), returns {"result": []} and succeeds; with an empty
 * query it succeeds with the same empty result.  So does this node, so
 * that the LLM nodes after it run with an empty context, as they would
 * in a Dify workspace without those datasets.  A query variable that is
 * there but not a string fails the node, as in Dify.
 */
int
wf_run_knowledge(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object	*sel = json_get(n->data, "query_variable_selector");
	json_object	*v = NULL;
	const char	*parts[WF_SELECTOR_MAX];

	x->inputs = json_object_new_object();
	if (wf_selector_parts(sel, parts) >= 2 &&
	    (!wf_pool_get_sel(e->pool, sel, &v) ||
	    (v != NULL && !json_object_is_type(v, json_type_string))))
		return wf_fail(x, "KnowledgeRetrievalNodeError", "Query variable "
		    "is not string type.");
	json_object_object_add(x->inputs, "query", json_object_new_string(
	    v != NULL ? json_object_get_string(v) : ""));
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "result", json_object_new_array());
	return WF_OK;
}

/* ---- tool ---- */

static const char *
short_id(const char *s)
{
	const char	*slash = s != NULL ? strrchr(s, '/') : NULL;

	return slash != NULL ? slash + 1 : s;
}

/* A tool input: {type: mixed|variable|constant, value}, or a bare value. */
static int
tool_input(struct wf_engine *e, json_object *in, int required,
    json_object **out, struct wf_exec *x)
{
	const char	*type = json_str(in, "type");
	json_object	*v = in, *pv;
	struct buf	 b;

	*out = NULL;
	if (json_object_is_type(in, json_type_object) && type != NULL &&
	    json_object_object_get_ex(in, "value", NULL))
		v = json_get(in, "value");
	else
		type = json_object_is_type(in, json_type_array) ? "variable" :
		    json_object_is_type(in, json_type_string) ? "mixed" :
		    "constant";
	if (strcmp(type, "variable") == 0) {
		if (!wf_pool_get_sel(e->pool, v, &pv)) {
			if (required)
				return wf_fail(x, "ToolParameterError",
				    "Variable %s does not exist",
				    sel_repr(e->r->p, v));
			return WF_OK;
		}
		if (pv == NULL || json_object_is_type(pv, json_type_string)) {
			*out = json_copy(pv);
			return WF_OK;
		}
		buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
		wf_render(&b, pv, WF_TEXT);
		*out = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
		buf_free(&b);
		return WF_OK;
	}
	if (v == NULL || json_object_is_type(v, json_type_null))
		return WF_OK;
	if (json_object_is_type(v, json_type_string)) {
		*out = json_object_new_string(rendered(e,
		    json_object_get_string(v)));
		return WF_OK;
	}
	/* Dify renders str(value) of a constant */
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
	py_str(&b, v);
	*out = json_object_new_string_len(b.p ? b.p : "", (int)b.len);
	buf_free(&b);
	return WF_OK;
}

static int
in_array(json_object *a, const char *s)
{
	size_t	i, n = json_object_is_type(a, json_type_array) ?
		    json_object_array_length(a) : 0;

	for (i = 0; i < n; i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a,
		    i)), s) == 0)
			return 1;
	return 0;
}

int
wf_run_tool(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	json_object		*d = n->data, *schema, *props, *req, *args, *v;
	json_object		*json, *info;
	const char		*pid = json_str(d, "provider_id");
	const char		*pname = json_str(d, "provider_name");
	const char		*tname = json_str(d, "tool_name");
	const struct tool_def	*def;
	struct buf		 out;
	char			 err[512];
	int			 rc = WF_FAIL;

	def = tool_find(pid, tname);
	if (def == NULL)
		def = tool_find(short_id(pid), tname);
	if (def == NULL && pname != NULL)
		def = tool_find(short_id(pname), tname);
	if (def == NULL)
		return wf_fail(x, "ToolNodeError", "Tool %s/%s is not available "
		    "on this server (built-in tools: time/current_time, "
		    "json_process/json_parse, webscraper/webscraper).",
		    pid != NULL ? pid : pname != NULL ? pname : "",
		    tname != NULL ? tname : "");
	schema = json_tokener_parse(def->params_schema);
	props = json_get(schema, "properties");
	req = json_get(schema, "required");
	args = json_object_new_object();
	/* fixed settings first, then the parameters, each one the tool has */
	json_object_object_foreach(json_get(d, "tool_configurations"), ck, cv) {
		if (json_get(props, ck) == NULL)
			continue;
		/* not required: it cannot fail */
		(void)tool_input(e, cv, 0, &v, x);
		if (v != NULL)
			json_object_object_add(args, ck, v);
	}
	json_object_object_foreach(json_get(d, "tool_parameters"), pk, pv) {
		if (json_get(props, pk) == NULL)
			continue;
		if (tool_input(e, pv, in_array(req, pk), &v, x) == WF_FAIL)
			goto out;
		if (v != NULL)
			json_object_object_add(args, pk, v);
	}
	x->inputs = json_copy(args);
	info = json_object_new_object();
	json_object_object_add(info, "provider_type", json_object_new_string(
	    json_str(d, "provider_type") ? json_str(d, "provider_type") :
	    "builtin"));
	json_object_object_add(info, "provider_id", json_object_new_string(
	    pid != NULL ? pid : def->provider));
	json_object_object_add(info, "plugin_unique_identifier",
	    json_copy(json_get(d, "plugin_unique_identifier")));
	x->metadata = json_object_new_object();
	json_object_object_add(x->metadata, "tool_info", json_copy(info));
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "tool_info", info);
	buf_init(&out, (size_t)UPSTREAM_TEXT_MAX);
	if (tool_run(def, args, &out, err, sizeof(err)) == -1) {
		buf_free(&out);
		wf_fail(x, "ToolInvokeError", "Failed to invoke tool %s/%s: %s",
		    def->provider, def->name, err);
		goto out;
	}
	if (out.len > 0 && wf_stream_chunk(e, n, out.p, out.len) == -1) {
		buf_free(&out);
		rc = WF_ABORT;
		goto out;
	}
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "text",
	    json_object_new_string_len(out.p ? out.p : "", (int)out.len));
	json_object_object_add(x->outputs, "files", json_object_new_array());
	/* Dify's normalised json output when the tool sent no JSON */
	json = json_object_new_array();
	json_object_array_add(json, json_tokener_parse("{\"data\": []}"));
	json_object_object_add(x->outputs, "json", json);
	buf_free(&out);
	rc = WF_OK;
out:
	json_object_put(args);
	json_object_put(schema);
	return rc;
}
