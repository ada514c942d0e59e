/*
 * wf_nodes_llm.c: the nodes that call a model besides the llm node (spec
 * workflow.md 5.8, 5.9, 5.13): question-classifier, parameter-extractor
 * and agent.  Mirrors Dify's core/workflow/nodes/{question_classifier,
 * parameter_extractor,agent}: their prompts keep Dify's structure (a
 * system instruction, few-shot examples, a final user message whose
 * parts sit in the same XML tags and JSON keys), not its wording; their
 * answers are read as Dify reads them.  None of them streams but the
 * agent, whose answer streams as [node, "text"] as the llm node's does.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workflow/workflow.h"

#define MEMORY_TURNS_MAX	500
#define AGENT_ROUNDS_MAX	20
#define AGENT_CALLS_MAX		16	/* tool calls run per round */
#define AGENT_TOOL_OUTPUT_MAX	(256 * 1024)

/* ---- prompts and model calls ---- */

static void
lmsgs_init(struct wf_msgs *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->prompts = json_object_new_array();
}

static const char *
lrender(struct wf_engine *e, const char *tpl)
{
	return wf_tmpl_render(e->r->p, e->pool, tpl != NULL ? tpl : "",
	    WF_TEXT, NULL);
}

/* A variable's text (Dify's segment.text); "" when it does not exist. */
static const char *
var_text(struct wf_engine *e, json_object *selector)
{
	json_object	*v;
	struct buf	 b;
	const char	*s;

	if (!wf_pool_get_sel(e->pool, selector, &v) || v == NULL)
		return "";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
	wf_render(&b, v, WF_TEXT);
	s = pool_strdup(e->r->p, buf_cstr(&b));
	buf_free(&b);
	return s;
}

struct call {
	struct wf_engine	*e;
	struct wf_node		*n;
	const char		*provider;
	const char		*model;
	json_object		*params;	/* completion_params */
	int			 stream;	/* text to [node, "text"] */
	/* totals over the calls of a node */
	int			 ptok, ctok;
	double			 latency;
};

static int
on_delta(void *arg, const char *text, size_t len)
{
	struct call	*c = arg;

	if (len == 0 || !c->stream)
		return 0;
	return wf_stream_chunk(c->e, c->n, text, len);
}

static int
on_tick(void *arg)
{
	struct call	*c = arg;

	return wf_engine_tick(c->e);
}

/*
 * One model call with "msgs" (and "tools", or NULL) into "res" (from
 * llm_result_init; the caller frees it).  Tokens go to the call's and
 * the run's totals.  WF_OK, WF_FAIL with x->error, or WF_ABORT.
 */
static int
call_model(struct call *c, const struct llm_msg *msgs, int nmsgs,
    json_object *tools, struct llm_result *res, struct wf_exec *x)
{
	struct wf_run		*r = c->e->r;
	struct llm_request	 lr;
	double			 t0 = now_mono();
	int			 rc;

	memset(&lr, 0, sizeof(lr));
	lr.provider = c->provider;
	lr.model = c->model;
	lr.params = c->params;
	lr.msgs = msgs;
	lr.nmsgs = nmsgs;
	lr.tools = tools;
	lr.stream = 1;	/* for the stop flag, even when nothing streams */
	lr.on_delta = on_delta;
	lr.on_tick = on_tick;
	lr.arg = c;
	rc = r->chat_fn != NULL ? r->chat_fn(&lr, res) : upstream_chat(&lr,
	    res);
	c->latency += now_mono() - t0;
	if (rc == 1 || c->e->aborted || r->client_gone)
		return WF_ABORT;
	if (rc == -1)
		return wf_fail(x, wf_llm_error_type(res->err), "%s", res->errmsg);
	c->ptok += res->prompt_tokens;
	c->ctok += res->completion_tokens;
	x->tokens += res->prompt_tokens + res->completion_tokens;
	r->prompt_tokens += res->prompt_tokens;
	r->completion_tokens += res->completion_tokens;
	if (r->provider == NULL && c->provider != NULL)
		r->provider = pool_strdup(r->p, c->provider);
	return WF_OK;
}

/* The usage object (Dify's LLMUsage) and execution_metadata of a node. */
static json_object *
usage_and_metadata(struct call *c, struct wf_exec *x)
{
	json_object	*u = json_object_new_object();
	char		 price[32];

	usage_json(u, c->provider != NULL ? c->provider : "", c->ptok,
	    c->ctok, c->latency, price);
	json_object_object_add(u, "time_to_first_token", NULL);
	json_object_object_add(u, "time_to_generate", NULL);
	x->metadata = json_object_new_object();
	json_object_object_add(x->metadata, "total_tokens",
	    json_object_new_int(c->ptok + c->ctok));
	json_object_object_add(x->metadata, "total_price",
	    json_object_new_string(price));
	json_object_object_add(x->metadata, "currency",
	    json_object_new_string("USD"));
	return u;
}

static int
call_init(struct call *c, struct wf_engine *e, struct wf_node *n,
    json_object *model, struct wf_exec *x)
{
	memset(c, 0, sizeof(*c));
	c->e = e;
	c->n = n;
	c->provider = json_str(model, "provider");
	c->model = json_str(model, "name");
	if (c->model == NULL)
		c->model = json_str(model, "model");
	c->params = json_get(model, "completion_params");
	if (c->model == NULL || *c->model == '\0')
		return wf_fail(x, "ModelNotExistError", "Model config of node %s "
		    "is incomplete.", n->id);
	return WF_OK;
}

/* <think> blocks out (reasoning models put them before the answer). */
static char *
strip_think(struct pool *p, const char *s)
{
	struct buf	 b;
	const char	*a, *z;
	char		*out;

	buf_init(&b, strlen(s) + 1);
	while ((a = strcasestr(s, "<think")) != NULL &&
	    (z = strcasestr(a, "</think>")) != NULL) {
		buf_append(&b, s, (size_t)(a - s));
		s = z + 8;
	}
	buf_puts(&b, s);
	out = pool_strndup(p, b.p ? b.p : "", b.len);
	buf_free(&b);
	return out;
}

/*
 * The first complete JSON object in "s" (Dify's _extract_complete_json_
 * response): from each '{' or '[' the text up to its matching bracket,
 * strings respected, is tried until one parses as an object.  A new
 * object or NULL.
 */
static json_object *
first_json_object(const char *s)
{
	const char	*p, *q;
	char		 stack[64];
	int		 depth, in_str, esc;
	json_object	*o;

	for (p = s; *p != '\0'; p++) {
		if (*p != '{' && *p != '[')
			continue;
		depth = in_str = esc = 0;
		for (q = p; *q != '\0'; q++) {
			if (in_str) {
				if (esc)
					esc = 0;
				else if (*q == '\\')
					esc = 1;
				else if (*q == '"')
					in_str = 0;
				continue;
			}
			if (*q == '"')
				in_str = 1;
			else if (*q == '{' || *q == '[') {
				if (depth == (int)sizeof(stack))
					break;
				stack[depth++] = *q;
			} else if (*q == '}' || *q == ']') {
				if (depth == 0 || (*q == '}') !=
				    (stack[depth - 1] == '{'))
					break;
				if (--depth == 0)
					break;
			}
		}
		if (*q == '\0' || depth != 0)
			continue;
		{
			struct json_tokener	*tok;
			int			 len = (int)(q + 1 - p);

			tok = json_tokener_new_ex(JSON_MAX_DEPTH);
			o = json_tokener_parse_ex(tok, p, len);
			if (json_tokener_get_error(tok) !=
			    json_tokener_success ||
			    json_tokener_get_parse_end(tok) != (size_t)len ||
			    !json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				o = NULL;
			}
			json_tokener_free(tok);
		}
		if (o != NULL)
			return o;
	}
	return NULL;
}

/* ---- question-classifier ---- */

static const char CLASSIFIER_SYSTEM[] =
    "### Job Description\n"
    "You are a text classification engine: you read a text and put it in "
    "exactly one of the categories you are given.\n"
    "### Task\n"
    "Choose one category only for the input text, and list the key words "
    "of the text that made you choose it.\n"
    "### Format\n"
    "The input is a JSON object: input_text holds the text, categories the "
    "list of categories with their category_id and category_name, and "
    "classification_instructions may help you decide.\n"
    "### Constraint\n"
    "Answer with one JSON object with the keys keywords, category_id and "
    "category_name, and nothing else.\n"
    "### Memory\n"
    "The chat history between the human and the assistant, inside "
    "<histories></histories> XML tags.\n"
    "<histories>\n%s\n</histories>";

static const char CLASSIFIER_USER_1[] =
    "{\"input_text\": [\"The delivery was fast and the support team "
    "answered all my questions kindly.\"], \"categories\": ["
    "{\"category_id\": \"c1\", \"category_name\": \"Customer Service\"}, "
    "{\"category_id\": \"c2\", \"category_name\": \"Pricing\"}, "
    "{\"category_id\": \"c3\", \"category_name\": \"Product Defect\"}], "
    "\"classification_instructions\": [\"classify the feedback of the "
    "customer\"]}";

static const char CLASSIFIER_ASSISTANT_1[] =
    "```json\n{\"keywords\": [\"delivery\", \"fast\", \"support team\", "
    "\"kindly\"], \"category_id\": \"c1\", \"category_name\": "
    "\"Customer Service\"}\n```";

static const char CLASSIFIER_USER_2[] =
    "{\"input_text\": [\"The soup was cold and far too salty.\"], "
    "\"categories\": [{\"category_id\": \"f1\", \"category_name\": "
    "\"Food Quality\"}, {\"category_id\": \"f2\", \"category_name\": "
    "\"Ambience\"}], \"classification_instructions\": []}";

static const char CLASSIFIER_ASSISTANT_2[] =
    "```json\n{\"keywords\": [\"soup\", \"cold\", \"salty\"], "
    "\"category_id\": \"f1\", \"category_name\": \"Food Quality\"}\n```";

static const char *
class_id(json_object *c)
{
	json_object	*id = json_get(c, "id");

	return id != NULL ? json_object_get_string(id) : "";
}

static int
same_trimmed(const char *a, const char *b)
{
	size_t	la, lb;

	while (isspace((unsigned char)*a))
		a++;
	while (isspace((unsigned char)*b))
		b++;
	la = strlen(a);
	lb = strlen(b);
	while (la > 0 && isspace((unsigned char)a[la - 1]))
		la--;
	while (lb > 0 && isspace((unsigned char)b[lb - 1]))
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/*
 * Which class a classifier's answer names: the category_id of a JSON
 * object in it (Dify's reading; its category_name when the id is not a
 * class's), else a class name in the text (the whole answer, else the
 * longest name it contains), else the first class (Dify's default).
 * "names" are the rendered class names.  Returns the class index.
 */
static int
classify_answer(struct pool *p, const char *answer, json_object *classes,
    const char *const *names)
{
	json_object	*o;
	const char	*text = strip_think(p, answer), *v;
	size_t		 i, k = json_object_array_length(classes), best = 0;
	int		 found = -1;

	if ((o = first_json_object(text)) != NULL) {
		json_object	*cid = json_get(o, "category_id");

		v = cid != NULL && !json_object_is_type(cid, json_type_null) ?
		    json_object_get_string(cid) : NULL;
		for (i = 0; v != NULL && i < k && found < 0; i++)
			if (strcmp(v, class_id(json_object_array_get_idx(
			    classes, i))) == 0)
				found = (int)i;
		v = json_str(o, "category_name");
		for (i = 0; v != NULL && i < k && found < 0; i++)
			if (same_trimmed(v, names[i]))
				found = (int)i;
		json_object_put(o);
		if (found >= 0)
			return found;
	}
	for (i = 0; i < k; i++)
		if (same_trimmed(text, names[i]) || same_trimmed(text,
		    class_id(json_object_array_get_idx(classes, i))))
			return (int)i;
	for (i = 0; i < k; i++) {
		const char	*nm = names[i];
		size_t		 nl;

		while (isspace((unsigned char)*nm))
			nm++;
		nl = strlen(nm);
		while (nl > 0 && isspace((unsigned char)nm[nl - 1]))
			nl--;
		if (nl == 0 || nl <= best)
			continue;
		if (strcasestr(text, pool_strndup(p, nm, nl)) != NULL) {
			best = nl;
			found = (int)i;
		}
	}
	return found >= 0 ? found : 0;
}

int
wf_run_classifier(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run		*r = e->r;
	struct pool		*p = r->p;
	json_object		*classes = json_get(n->data, "classes");
	json_object		*model = json_get(n->data, "model"), *o, *cats;
	json_object		*u;
	const char		*query, *instruction, **names;
	struct wf_msgs		 ms;
	struct llm_result	 res;
	struct call		 c;
	struct buf		 hist;
	size_t			 i, k;
	int			 rc, pick;

	x->inputs = json_object_new_object();
	query = var_text(e, json_get(n->data, "query_variable_selector"));
	json_object_object_add(x->inputs, "query",
	    json_object_new_string(query));
	k = json_object_is_type(classes, json_type_array) ?
	    json_object_array_length(classes) : 0;
	if (k == 0)
		return wf_fail(x, "ValueError", "Question classifier %s has no "
		    "classes.", n->id);
	if (call_init(&c, e, n, model, x) == WF_FAIL)
		return WF_FAIL;
	instruction = json_str(n->data, "instruction");
	if (instruction == NULL)
		instruction = json_str(n->data, "instructions");
	instruction = lrender(e, instruction);
	names = pool_alloc(p, k * sizeof(*names));
	cats = json_object_new_array();
	for (i = 0; i < k; i++) {
		json_object	*cl = json_object_array_get_idx(classes, i);

		names[i] = lrender(e, json_str(cl, "name"));
		o = json_object_new_object();
		json_object_object_add(o, "category_id",
		    json_object_new_string(class_id(cl)));
		json_object_object_add(o, "category_name",
		    json_object_new_string(names[i]));
		json_object_array_add(cats, o);
	}
	o = json_object_new_object();
	json_object_object_add(o, "input_text", json_object_new_array());
	json_object_array_add(json_get(o, "input_text"),
	    json_object_new_string(query));
	json_object_object_add(o, "categories", cats);
	json_object_object_add(o, "classification_instructions",
	    json_object_new_array());
	if (*instruction != '\0')
		json_object_array_add(json_get(o,
		    "classification_instructions"),
		    json_object_new_string(instruction));
	lmsgs_init(&ms);
	buf_init(&hist, (size_t)UPSTREAM_TEXT_MAX);
	wf_llm_memory(e, json_get(n->data, "memory"), NULL, &hist);
	wf_msgs_push(p, &ms, "system", pool_printf(p, CLASSIFIER_SYSTEM,
	    buf_cstr(&hist)));
	buf_free(&hist);
	wf_msgs_push(p, &ms, "user", CLASSIFIER_USER_1);
	wf_msgs_push(p, &ms, "assistant", CLASSIFIER_ASSISTANT_1);
	wf_msgs_push(p, &ms, "user", CLASSIFIER_USER_2);
	wf_msgs_push(p, &ms, "assistant", CLASSIFIER_ASSISTANT_2);
	wf_msgs_push(p, &ms, "user", pool_strdup(p, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)));
	json_object_put(o);
	llm_result_init(&res);
	rc = call_model(&c, ms.m, ms.n, NULL, &res, x);
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "model_mode",
	    json_object_new_string(json_str(model, "mode") ?
	    json_str(model, "mode") : "chat"));
	json_object_object_add(x->process_data, "prompts", ms.prompts);
	if (rc != WF_OK) {
		llm_result_free(&res);
		return rc;
	}
	pick = classify_answer(p, buf_cstr(&res.text), classes, names);
	u = usage_and_metadata(&c, x);
	json_object_object_add(x->process_data, "usage", json_copy(u));
	json_object_object_add(x->process_data, "finish_reason",
	    res.finish_reason[0] ? json_object_new_string(res.finish_reason) :
	    NULL);
	json_object_object_add(x->process_data, "model_provider",
	    c.provider != NULL ? json_object_new_string(c.provider) : NULL);
	json_object_object_add(x->process_data, "model_name",
	    json_object_new_string(c.model));
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "class_name",
	    json_object_new_string(names[pick]));
	json_object_object_add(x->outputs, "class_id", json_object_new_string(
	    class_id(json_object_array_get_idx(classes, (size_t)pick))));
	json_object_object_add(x->outputs, "usage", u);
	x->handle = pool_strdup(p, class_id(json_object_array_get_idx(classes,
	    (size_t)pick)));
	llm_result_free(&res);
	return WF_OK;
}

/* ---- parameter-extractor ---- */

enum ptype { PT_STRING, PT_NUMBER, PT_BOOLEAN, PT_OBJECT };

struct param {
	const char	*name;
	int		 array;		/* array[<type>] */
	enum ptype	 type;
	int		 required;
	json_object	*options;	/* select */
	json_object	*decl;		/* borrowed */
};

/* Dify's ParameterConfig: bool is boolean, select a string with options. */
static int
param_of(json_object *decl, struct param *pr, struct wf_exec *x)
{
	static const struct {
		const char	*name;
		int		 array;
		enum ptype	 type;
	} types[] = {
		{ "string", 0, PT_STRING }, { "select", 0, PT_STRING },
		{ "number", 0, PT_NUMBER }, { "boolean", 0, PT_BOOLEAN },
		{ "bool", 0, PT_BOOLEAN },
		{ "array[string]", 1, PT_STRING },
		{ "array[number]", 1, PT_NUMBER },
		{ "array[object]", 1, PT_OBJECT },
		{ "array[boolean]", 1, PT_BOOLEAN },
	};
	const char	*t = json_str(decl, "type");
	size_t		 i;

	memset(pr, 0, sizeof(*pr));
	pr->decl = decl;
	pr->name = json_str(decl, "name");
	if (pr->name == NULL || *pr->name == '\0')
		return wf_fail(x, "ValueError", "A parameter has no name.");
	if (strcmp(pr->name, "__reason") == 0 ||
	    strcmp(pr->name, "__is_success") == 0)
		return wf_fail(x, "ValueError", "Invalid parameter name, "
		    "__reason or __is_success is reserved");
	for (i = 0; t != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			break;
	if (t == NULL || i == sizeof(types) / sizeof(types[0]))
		return wf_fail(x, "ValueError", "Invalid parameter type %s of %s",
		    t != NULL ? t : "None", pr->name);
	pr->array = types[i].array;
	pr->type = types[i].type;
	pr->required = json_object_get_boolean(json_get(decl, "required"));
	pr->options = json_get(decl, "options");
	if (!json_object_is_type(pr->options, json_type_array) ||
	    json_object_array_length(pr->options) == 0 || pr->array ||
	    pr->type != PT_STRING)
		pr->options = NULL;
	return WF_OK;
}

static const char *
ptype_name(enum ptype t)
{
	switch (t) {
	case PT_NUMBER: return "number";
	case PT_BOOLEAN: return "boolean";
	case PT_OBJECT: return "object";
	default: return "string";
	}
}

/* Dify's get_parameter_json_schema (a new object). */
static json_object *
params_schema(const struct param *ps, int np)
{
	json_object	*s = json_object_new_object(), *props, *req, *o, *it;
	int		 i;

	props = json_object_new_object();
	req = json_object_new_array();
	json_object_object_add(s, "type", json_object_new_string("object"));
	for (i = 0; i < np; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "description", json_object_new_string(
		    json_str(ps[i].decl, "description") ?
		    json_str(ps[i].decl, "description") : ""));
		if (ps[i].array) {
			json_object_object_add(o, "type",
			    json_object_new_string("array"));
			it = json_object_new_object();
			json_object_object_add(it, "type",
			    json_object_new_string(ptype_name(ps[i].type)));
			json_object_object_add(o, "items", it);
		} else {
			json_object_object_add(o, "type",
			    json_object_new_string(ptype_name(ps[i].type)));
			if (ps[i].options != NULL)
				json_object_object_add(o, "enum",
				    json_copy(ps[i].options));
		}
		json_object_object_add(props, ps[i].name, o);
		if (ps[i].required)
			json_object_array_add(req,
			    json_object_new_string(ps[i].name));
	}
	json_object_object_add(s, "properties", props);
	json_object_object_add(s, "required", req);
	return s;
}

/* A value of one type as Python's isinstance sees it (bool is a number). */
static int
valid_scalar(enum ptype t, json_object *v)
{
	switch (t) {
	case PT_STRING:
		return json_object_is_type(v, json_type_string);
	case PT_NUMBER:
		return json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_boolean);
	case PT_BOOLEAN:
		return json_object_is_type(v, json_type_boolean);
	default:
		return json_object_is_type(v, json_type_object);
	}
}

static int
valid_value(const struct param *pr, json_object *v)
{
	size_t	i, n;

	if (!pr->array)
		return v != NULL && valid_scalar(pr->type, v);
	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!valid_scalar(pr->type, json_object_array_get_idx(v, i)))
			return 0;
	return 1;
}

static const char *
json_type_label(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_string: return "string";
	case json_type_int:
	case json_type_double: return "number";
	case json_type_boolean: return "boolean";
	case json_type_object: return "object";
	case json_type_array: return "array[any]";
	default: return "none";
	}
}

/*
 * Dify's _validate_result: as many values as parameters, the required
 * ones present, each of its type, a select among its options.  NULL, or
 * the reason (from "p").
 */
static const char *
validate(struct pool *p, const struct param *ps, int np, json_object *res)
{
	json_object	*v;
	int		 i;
	size_t		 k, m;

	if (json_object_object_length(res) != np)
		return "Invalid number of parameters";
	for (i = 0; i < np; i++) {
		if (ps[i].required && !json_object_object_get_ex(res,
		    ps[i].name, NULL))
			return pool_printf(p, "Parameter %s is required",
			    ps[i].name);
		v = json_get(res, ps[i].name);
		if (!valid_value(&ps[i], v))
			return pool_printf(p, "Invalid value for parameter %s, "
			    "expected segment type: %s%s%s, actual_type: %s",
			    ps[i].name, ps[i].array ? "array[" : "",
			    ptype_name(ps[i].type), ps[i].array ? "]" : "",
			    json_type_label(v));
		if (ps[i].options != NULL) {
			m = json_object_array_length(ps[i].options);
			for (k = 0; k < m; k++)
				if (strcmp(json_object_get_string(
				    json_object_array_get_idx(ps[i].options,
				    k)), json_object_get_string(v)) == 0)
					break;
			if (k == m)
				return pool_printf(p, "Invalid `select` value "
				    "for parameter %s", ps[i].name);
		}
	}
	return NULL;
}

/* Python's int(s) or float(s) ("." decides, as Dify's _transform_number). */
static json_object *
number_of_string(const char *s)
{
	char		*end;
	long long	 ll = 0;
	double		 d = 0;
	int		 dot = strchr(s, '.') != NULL;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0')
		return NULL;
	errno = 0;
	if (dot)
		d = strtod(s, &end);
	else
		ll = strtoll(s, &end, 10);
	if (end == s || errno != 0)
		return NULL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return NULL;
	return dot ? json_object_new_double(d) : json_object_new_int64(ll);
}

/* One value transformed to its type (a new object), or NULL: dropped. */
static json_object *
transform_scalar(enum ptype t, json_object *v, int item)
{
	switch (t) {
	case PT_NUMBER:
		if (json_object_is_type(v, json_type_boolean))
			return json_object_new_int(json_object_get_boolean(v));
		if (json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double))
			return json_copy(v);
		if (json_object_is_type(v, json_type_string))
			return number_of_string(json_object_get_string(v));
		return NULL;
	case PT_BOOLEAN:
		if (json_object_is_type(v, json_type_boolean))
			return json_copy(v);
		if (!item && json_object_is_type(v, json_type_int))
			return json_object_new_boolean(
			    json_object_get_int64(v) != 0);
		return NULL;
	case PT_STRING:
		return json_object_is_type(v, json_type_string) ?
		    json_copy(v) : NULL;
	default:
		return json_object_is_type(v, json_type_object) ?
		    json_copy(v) : NULL;
	}
}

/* Dify's _transform_result: typed values, defaults for the rest. */
static json_object *
transform(const struct param *ps, int np, json_object *res)
{
	json_object	*out = json_object_new_object(), *v, *t, *arr;
	size_t		 k, m;
	int		 i, have;

	for (i = 0; i < np; i++) {
		have = json_object_object_get_ex(res, ps[i].name, &v);
		t = NULL;
		if (have && ps[i].array && json_object_is_type(v,
		    json_type_array)) {
			arr = json_object_new_array();
			m = json_object_array_length(v);
			for (k = 0; k < m; k++) {
				json_object	*it;

				it = transform_scalar(ps[i].type,
				    json_object_array_get_idx(v, k), 1);

				if (it != NULL)
					json_object_array_add(arr, it);
			}
			t = arr;
		} else if (have && !ps[i].array)
			t = transform_scalar(ps[i].type, v, 0);
		if (t == NULL) {
			if (ps[i].array)
				t = json_object_new_array();
			else if (ps[i].type == PT_NUMBER)
				t = json_object_new_int(0);
			else if (ps[i].type == PT_BOOLEAN)
				t = json_object_new_boolean(0);
			else
				t = json_object_new_string("");
		}
		json_object_object_add(out, ps[i].name, t);
	}
	return out;
}

/* Dify's _generate_default_result: arrays are left out. */
static json_object *
default_result(const struct param *ps, int np)
{
	json_object	*o = json_object_new_object();
	int		 i;

	for (i = 0; i < np; i++) {
		if (ps[i].array)
			continue;
		json_object_object_add(o, ps[i].name, ps[i].type == PT_NUMBER ?
		    json_object_new_int(0) : ps[i].type == PT_BOOLEAN ?
		    json_object_new_boolean(0) : json_object_new_string(""));
	}
	return o;
}

static const char EXTRACT_FC_SYSTEM[] =
    "You extract structured information from text, following the criteria "
    "you are given.\n"
    "### Task\n"
    "Always call the function extract_parameters with the parameters "
    "found in the text.\n"
    "### Memory\n"
    "The chat history between the human and the assistant, inside "
    "<histories></histories> XML tags:\n"
    "<histories>\n%s\n</histories>\n"
    "### Instructions\n"
    "Follow these instructions as closely as you can:\n"
    "<instruction>\n%s\n</instruction>\n"
    "Give every value that matches when the text holds several. Put no XML "
    "tags in what you output.";

static const char EXTRACT_FC_USER[] =
    "Extract structured information from the context inside "
    "<context></context> XML tags by calling the function "
    "extract_parameters with parameters of the structure inside "
    "<structure></structure> XML tags.\n"
    "<context>\n%s\n</context>\n\n<structure>\n%s\n</structure>\n";

static const char EXTRACT_PROMPT_SYSTEM[] =
    "Always follow the instructions and answer with one valid JSON "
    "object, whose structure the user gives you.\n\n"
    "### Memory\n"
    "The chat history between the human and the assistant, inside "
    "<histories></histories> XML tags.\n"
    "<histories>\n%s\n</histories>\n\n"
    "### Instructions\n"
    "Follow these instructions as closely as you can:\n"
    "<instructions>\n%s\n</instructions>\n";

static const char EXTRACT_PROMPT_USER[] =
    "### Structure\n"
    "The JSON object must have this structure:\n"
    "<structure>\n%s\n</structure>\n\n"
    "### Text to be converted to JSON\n"
    "Convert the text inside <text></text> XML tags to a JSON object.\n"
    "<text>\n%s\n</text>\n";

static const char EXAMPLE_TEXT[] = "What is the weather today in Paris?";
static const char EXAMPLE_SCHEMA[] =
    "{\"type\": \"object\", \"properties\": {\"location\": {\"type\": "
    "\"string\", \"description\": \"The place to give the weather of\"}}, "
    "\"required\": [\"location\"]}";
static const char EXAMPLE_ANSWER[] = "{\"location\": \"Paris\"}";

int
wf_run_extractor(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run		*r = e->r;
	struct pool		*p = r->p;
	json_object		*decls = json_get(n->data, "parameters");
	json_object		*model = json_get(n->data, "model");
	json_object		*schema, *tools = NULL, *fn, *result = NULL;
	json_object		*calls, *out, *u, *tc = NULL;
	const char		*query, *instruction, *mode, *schema_text;
	const char		*reason = NULL, *args;
	struct param		*ps;
	struct wf_msgs		 ms;
	struct llm_result	 res;
	struct llm_msg		*am;
	struct call		 c;
	struct buf		 hist;
	int			 np, i, rc, fc;

	np = json_object_is_type(decls, json_type_array) ?
	    (int)json_object_array_length(decls) : 0;
	ps = pool_alloc(p, sizeof(*ps) * (size_t)(np > 0 ? np : 1));
	for (i = 0; i < np; i++)
		if (param_of(json_object_array_get_idx(decls, (size_t)i),
		    &ps[i], x) == WF_FAIL)
			return WF_FAIL;
	if (call_init(&c, e, n, model, x) == WF_FAIL)
		return WF_FAIL;
	query = var_text(e, json_get(n->data, "query"));
	instruction = lrender(e, json_str(n->data, "instruction"));
	mode = json_str(n->data, "reasoning_mode");
	fc = mode == NULL || strcmp(mode, "prompt") != 0;
	schema = params_schema(ps, np);
	schema_text = pool_strdup(p, json_object_to_json_string_ext(schema,
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	x->inputs = json_object_new_object();
	json_object_object_add(x->inputs, "query",
	    json_object_new_string(query));
	json_object_object_add(x->inputs, "files", json_object_new_array());
	json_object_object_add(x->inputs, "parameters", json_copy(decls));
	json_object_object_add(x->inputs, "instruction",
	    json_object_new_string(instruction));
	lmsgs_init(&ms);
	buf_init(&hist, (size_t)UPSTREAM_TEXT_MAX);
	wf_llm_memory(e, json_get(n->data, "memory"), NULL, &hist);
	if (fc) {
		tools = json_object_new_array();
		fn = json_object_new_object();
		json_object_object_add(fn, "name",
		    json_object_new_string("extract_parameters"));
		json_object_object_add(fn, "description",
		    json_object_new_string("Extract parameters from the "
		    "natural language text"));
		json_object_object_add(fn, "parameters", schema);
		tc = json_object_new_object();
		json_object_object_add(tc, "type",
		    json_object_new_string("function"));
		json_object_object_add(tc, "function", fn);
		json_object_array_add(tools, tc);
		wf_msgs_push(p, &ms, "system", pool_printf(p, EXTRACT_FC_SYSTEM,
		    buf_cstr(&hist), instruction));
		/* one example call, as Dify's few-shot messages */
		wf_msgs_push(p, &ms, "user", EXAMPLE_TEXT);
		am = wf_msgs_push(p, &ms, "assistant", "I call the function with the "
		    "location parameter.");
		calls = json_tokener_parse("[{\"id\": \"call_example\", "
		    "\"type\": \"function\", \"function\": {\"name\": "
		    "\"extract_parameters\", \"arguments\": "
		    "\"{\\\"location\\\": \\\"Paris\\\"}\"}}]");
		am->tool_calls = calls;
		wf_msgs_push(p, &ms, "tool", "Great! You have called the function "
		    "with the correct parameters.")->tool_call_id =
		    "call_example";
		wf_msgs_push(p, &ms, "assistant", "I have extracted the parameters, "
		    "let's move on.");
		wf_msgs_push(p, &ms, "user", pool_printf(p, EXTRACT_FC_USER, query,
		    schema_text));
	} else {
		calls = NULL;
		wf_msgs_push(p, &ms, "system", pool_printf(p, EXTRACT_PROMPT_SYSTEM,
		    buf_cstr(&hist), instruction));
		wf_msgs_push(p, &ms, "user", pool_printf(p, EXTRACT_PROMPT_USER,
		    EXAMPLE_SCHEMA, EXAMPLE_TEXT));
		wf_msgs_push(p, &ms, "assistant", EXAMPLE_ANSWER);
		wf_msgs_push(p, &ms, "user", pool_printf(p, EXTRACT_PROMPT_USER,
		    schema_text, query));
		json_object_put(schema);
	}
	buf_free(&hist);
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "model_mode",
	    json_object_new_string(json_str(model, "mode") ?
	    json_str(model, "mode") : "chat"));
	json_object_object_add(x->process_data, "prompts", ms.prompts);
	json_object_object_add(x->process_data, "usage", NULL);
	json_object_object_add(x->process_data, "function", tc != NULL ?
	    json_copy(json_get(tc, "function")) : json_object_new_object());
	json_object_object_add(x->process_data, "tool_call", NULL);
	json_object_object_add(x->process_data, "model_provider",
	    c.provider != NULL ? json_object_new_string(c.provider) : NULL);
	json_object_object_add(x->process_data, "model_name",
	    json_object_new_string(c.model));
	llm_result_init(&res);
	rc = call_model(&c, ms.m, ms.n, tools, &res, x);
	json_object_put(tools);
	json_object_put(calls);
	if (rc != WF_OK) {
		if (rc == WF_FAIL) {
			x->outputs = json_object_new_object();
			json_object_object_add(x->outputs, "__is_success",
			    json_object_new_int(0));
			json_object_object_add(x->outputs, "__reason",
			    json_object_new_string(x->error));
		}
		llm_result_free(&res);
		return rc;
	}
	u = usage_and_metadata(&c, x);
	json_object_object_add(x->process_data, "usage", json_copy(u));
	json_object_object_add(x->process_data, "llm_text",
	    json_object_new_string(buf_cstr(&res.text)));
	tc = res.tool_calls != NULL && json_object_array_length(
	    res.tool_calls) > 0 ? json_object_array_get_idx(res.tool_calls, 0) :
	    NULL;
	json_object_object_add(x->process_data, "tool_call", json_copy(tc));
	if (tc != NULL) {
		args = json_str(json_get(tc, "function"), "arguments");
		result = args != NULL ? first_json_object(args) : NULL;
	} else {
		result = first_json_object(buf_cstr(&res.text));
		if (result == NULL) {
			result = default_result(ps, np);
			reason = "Failed to extract result from function call "
			    "or text response, using empty result.";
		}
	}
	if (result == NULL)
		result = json_object_new_object();
	{
		const char	*why = validate(p, ps, np, result);

		if (why != NULL)
			reason = why;
	}
	out = transform(ps, np, result);
	json_object_put(result);
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "__is_success",
	    json_object_new_int(reason == NULL));
	json_object_object_add(x->outputs, "__reason", reason != NULL ?
	    json_object_new_string(reason) : NULL);
	json_object_object_add(x->outputs, "__usage", u);
	json_object_object_foreach(out, k, v)
		json_object_object_add(x->outputs, k, json_object_get(v));
	json_object_put(out);
	llm_result_free(&res);
	return WF_OK;
}

/* ---- agent ---- */

/* An agent parameter's value: {type, value} items, or a bare value. */
static json_object *
agent_param(json_object *params, const char *name)
{
	json_object	*v = json_get(params, name);

	if (json_object_is_type(v, json_type_object) &&
	    json_object_object_get_ex(v, "value", NULL) &&
	    json_str(v, "type") != NULL)
		return json_get(v, "value");
	return v;
}

static const char *
agent_param_text(struct wf_engine *e, json_object *params, const char *name)
{
	json_object	*v = json_get(params, name);

	if (json_object_is_type(v, json_type_object) && json_str(v, "type") !=
	    NULL && strcmp(json_str(v, "type"), "variable") == 0)
		return var_text(e, json_get(v, "value"));
	v = agent_param(params, name);
	if (json_object_is_type(v, json_type_string))
		return lrender(e, json_object_get_string(v));
	return "";
}

/* The last part of a plugin id: "langgenius/time/time" is "time". */
static const char *
short_provider(const char *s)
{
	const char	*slash = s != NULL ? strrchr(s, '/') : NULL;

	return slash != NULL ? slash + 1 : s;
}

int
wf_run_agent(struct wf_engine *e, struct wf_node *n, struct wf_exec *x)
{
	struct wf_run		*r = e->r;
	struct pool		*p = r->p;
	json_object		*ap = json_get(n->data, "agent_parameters");
	json_object		*model = agent_param(ap, "model");
	json_object		*list = agent_param(ap, "tools"), *tools, *mi;
	json_object		*t, *en, *names, *u, *jout, *calls, *c, *fn;
	json_object		*args;
	const struct tool_def	*def;
	const char		*instruction, *query, *pname, *tname, *name;
	const char		*argtext;
	struct wf_msgs		 ms;
	struct llm_result	 res;
	struct call		 cl;
	struct buf		 text, out;
	char			 err[256];
	size_t			 i, k, nt;
	int			 max_iter = 3, round, rc = WF_OK, first;

	x->inputs = json_object_new_object();
	if (!json_object_is_type(model, json_type_object))
		return wf_fail(x, "AgentNodeError", "Agent node %s has no model.",
		    n->id);
	if (call_init(&cl, e, n, model, x) == WF_FAIL)
		return WF_FAIL;
	cl.stream = 1;
	mi = agent_param(ap, "maximum_iterations");
	if (mi != NULL && json_object_get_int(mi) > 0)
		max_iter = json_object_get_int(mi) > AGENT_ROUNDS_MAX ?
		    AGENT_ROUNDS_MAX : json_object_get_int(mi);
	/* the tools, each built in here, or the node fails naming it */
	tools = json_object_new_array();
	names = json_object_new_array();
	nt = json_object_is_type(list, json_type_array) ?
	    json_object_array_length(list) : 0;
	for (i = 0; i < nt; i++) {
		t = json_object_array_get_idx(list, i);
		en = json_get(t, "enabled");
		if (en != NULL && !json_object_get_boolean(en))
			continue;
		pname = json_str(t, "provider_name");
		if (pname == NULL)
			pname = json_str(t, "provider_id");
		tname = json_str(t, "tool_name");
		def = tool_find(short_provider(pname), tname);
		if (def == NULL)
			def = tool_find(NULL, tname);
		if (def == NULL) {
			json_object_put(tools);
			json_object_put(names);
			return wf_fail(x, "AgentNodeError", "Agent node %s: tool "
			    "%s/%s is not available on this server (built-in "
			    "tools: time/current_time, json_process/json_parse,"
			    " webscraper/webscraper).", n->id, pname ? pname :
			    "", tname ? tname : "");
		}
		json_object_array_add(tools, tool_schema(def));
		json_object_array_add(names, json_object_new_string(def->name));
	}
	instruction = agent_param_text(e, ap, "instruction");
	query = agent_param_text(e, ap, "query");
	if (*query == '\0' && r->query != NULL)
		query = r->query;
	json_object_object_add(x->inputs, "model", json_copy(model));
	json_object_object_add(x->inputs, "tools", names);
	json_object_object_add(x->inputs, "instruction",
	    json_object_new_string(instruction));
	json_object_object_add(x->inputs, "query",
	    json_object_new_string(query));
	json_object_object_add(x->inputs, "maximum_iterations",
	    json_object_new_int(max_iter));
	lmsgs_init(&ms);
	if (*instruction != '\0')
		wf_msgs_push(p, &ms, "system", instruction);
	wf_llm_memory(e, json_get(n->data, "memory"), &ms, NULL);
	wf_msgs_push(p, &ms, "user", query);
	buf_init(&text, (size_t)UPSTREAM_TEXT_MAX);
	/* function calling, as gen.c's agent chat: the last round has no
	 * tools, so the model answers */
	for (round = 1; round <= max_iter; round++) {
		llm_result_init(&res);
		rc = call_model(&cl, ms.m, ms.n, round < max_iter &&
		    json_object_array_length(tools) > 0 ? tools : NULL, &res,
		    x);
		if (rc != WF_OK) {
			llm_result_free(&res);
			break;
		}
		buf_append(&text, res.text.p ? res.text.p : "", res.text.len);
		calls = res.tool_calls;
		if (calls == NULL || json_object_array_length(calls) == 0) {
			llm_result_free(&res);
			break;
		}
		wf_msgs_push(p, &ms, "assistant", res.text.len ? pool_strdup(p,
		    res.text.p) : NULL)->tool_calls = json_copy(calls);
		k = json_object_array_length(calls);
		for (i = 0; i < k && i < AGENT_CALLS_MAX; i++) {
			c = json_object_array_get_idx(calls, i);
			fn = json_get(c, "function");
			name = json_str(fn, "name");
			argtext = json_str(fn, "arguments");
			args = argtext != NULL ? json_tokener_parse(argtext) :
			    NULL;
			def = tool_find(NULL, name);
			buf_init(&out, AGENT_TOOL_OUTPUT_MAX);
			if (def == NULL)
				buf_printf(&out, "there is no tool named %s",
				    name ? name : "(none)");
			else if (tool_run(def, args, &out, err, sizeof(err)) ==
			    -1)
				buf_printf(&out, "tool error: %s", err);
			json_object_put(args);
			wf_msgs_push(p, &ms, "tool", pool_strdup(p,
			    buf_cstr(&out)))->tool_call_id = pool_strdup(p,
			    json_str(c, "id") ? json_str(c, "id") : "");
			buf_free(&out);
		}
		llm_result_free(&res);
		if (wf_engine_tick(e) == -1) {
			rc = WF_ABORT;
			break;
		}
	}
	for (first = 0; first < ms.n; first++)
		json_object_put(ms.m[first].tool_calls);
	json_object_put(tools);
	x->process_data = json_object_new_object();
	json_object_object_add(x->process_data, "prompts", ms.prompts);
	if (rc != WF_OK) {
		buf_free(&text);
		return rc;
	}
	u = usage_and_metadata(&cl, x);
	x->outputs = json_object_new_object();
	json_object_object_add(x->outputs, "text",
	    json_object_new_string_len(text.p ? text.p : "", (int)text.len));
	json_object_object_add(x->outputs, "usage", u);
	json_object_object_add(x->outputs, "files", json_object_new_array());
	jout = json_object_new_array();
	json_object_array_add(jout, json_tokener_parse("{\"data\": []}"));
	json_object_object_add(x->outputs, "json", jout);
	buf_free(&text);
	return WF_OK;
}
