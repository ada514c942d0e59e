/* test_wf.c: the workflow engine without a database or a network: values
 * as Python prints them, the variable pool and {{#...#}} templates, every
 * if-else operator, every branch shape (if/elif/else, joins, skipped
 * branches), response streaming order, node executors and error
 * strategies.  LLM calls go to a fake chat function. */
#include <stdlib.h>

#include "workflow/workflow.h"
#include "unit.h"

/* ---- values ---- */

static void
test_values(void)
{
	static const struct {
		int		 line;
		const char	*json;
		const char	*text;
		const char	*markdown;
		const char	*repr;
	} rows[] = {
		{ __LINE__, "\"hi\"", "hi", "hi", "'hi'" },
		{ __LINE__, "\"it's\"", "it's", "it's", "\"it's\"" },
		{ __LINE__, "\"a\\nb\"", "a\nb", "a\nb", "'a\\nb'" },
		{ __LINE__, "3", "3", "3", "3" },
		{ __LINE__, "-12", "-12", "-12", "-12" },
		{ __LINE__, "2.5", "2.5", "2.5", "2.5" },
		{ __LINE__, "1.0", "1.0", "1.0", "1.0" },
		{ __LINE__, "0.1", "0.1", "0.1", "0.1" },
		{ __LINE__, "1e16", "1e+16", "1e+16", "1e+16" },
		{ __LINE__, "123456789012345.0", "123456789012345.0",
		  "123456789012345.0", "123456789012345.0" },
		{ __LINE__, "0.00012", "0.00012", "0.00012", "0.00012" },
		{ __LINE__, "1.5e-7", "1.5e-07", "1.5e-07", "1.5e-07" },
		{ __LINE__, "true", "True", "True", "True" },
		{ __LINE__, "false", "False", "False", "False" },
		{ __LINE__, "null", "", "", "None" },
		{ __LINE__, "{\"a\":1,\"b\":\"é\"}",
		  "{\"a\": 1, \"b\": \"é\"}",
		  "{\n  \"a\": 1,\n  \"b\": \"é\"\n}", "{'a': 1, 'b': 'é'}" },
		{ __LINE__, "{}", "{}", "{}", "{}" },
		{ __LINE__, "[\"a\",\"b\"]", "[\"a\", \"b\"]", "- a\n- b",
		  "['a', 'b']" },
		{ __LINE__, "[1,2.5,true]", "[1, 2.5, True]",
		  "- 1\n- 2.5\n- True",
		  "[1, 2.5, True]" },
		{ __LINE__, "[{\"k\":\"v\"}]", "[{'k': 'v'}]", "- {'k': 'v'}",
		  "[{'k': 'v'}]" },
		{ __LINE__, "[]", "", "", "[]" },
		{ __LINE__, "{\"dify_model_identity\":\"__dify__file__\","
		  "\"type\":\"image\",\"filename\":\"a.png\",\"url\":\"http://"
		  "x/a."
		  "png\"}", "", "![a.png](http://x/a.png)", NULL },
		{ __LINE__, "[{\"dify_model_identity\":\"__dify__file__\","
		  "\"type\":\"document\",\"filename\":\"a.pdf\",\"remote_url\":"
		  "\"http://x/a.pdf\"}]", "", "[a.pdf](http://x/a.pdf)", NULL },
	};
	struct buf	 b;
	json_object	*v;
	size_t		 i;

	TEST("values render as Dify's text and markdown, and Python's repr") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			v = json_tokener_parse(rows[i].json);
			buf_init(&b, 4096);
			wf_render(&b, v, WF_TEXT);
			CHECK_ROW(strcmp(buf_cstr(&b), rows[i].text) == 0,
			    rows[i].line);
			buf_reset(&b);
			wf_render(&b, v, WF_MARKDOWN);
			CHECK_ROW(strcmp(buf_cstr(&b), rows[i].markdown) == 0,
			    rows[i].line);
			if (rows[i].repr != NULL) {
				buf_reset(&b);
				py_repr(&b, v);
				CHECK_ROW(strcmp(buf_cstr(&b), rows[i].repr) ==
				    0, rows[i].line);
			}
			buf_free(&b);
			json_object_put(v);
		}
	}
	TEST("truthiness is Python's") {
		static const char *falsy[] = { "\"\"", "0", "0.0", "[]", "{}",
		    "false", "null" };
		static const char *truthy[] = { "\" \"", "1", "-0.5", "[0]",
		    "{\"a\":null}", "true" };

		for (i = 0; i < 7; i++) {
			v = json_tokener_parse(falsy[i]);
			CHECK(!py_truthy(v));
			json_object_put(v);
		}
		for (i = 0; i < 6; i++) {
			v = json_tokener_parse(truthy[i]);
			CHECK(py_truthy(v));
			json_object_put(v);
		}
	}
}

/* ---- pool and templates ---- */

static void
test_pool(void)
{
	struct wf_pool	 wp;
	struct pool	 p = { NULL };
	json_object	*v, *sel;
	const char	*missing, *s;
	const char	*p1[] = { "code", "result", "user", "age" };
	const char	*p2[] = { "code", "result", "nope" };
	const char	*p3[] = { "start", "doc", "name" };
	const char	*p4[] = { "start", "doc", "extension" };
	const char	*p5[] = { "ghost", "x" };
	const char	*p6[] = { "start", "none" };

	wf_pool_init(&wp);
	wf_pool_set(&wp, "code", "result", json_tokener_parse(
	    "{\"user\":{\"age\":42,\"name\":\"Ann\"}}"));
	wf_pool_set(&wp, "start", "doc", json_tokener_parse(
	    "{\"dify_model_identity\":\"__dify__file__\",\"filename\":\"a.pd"
	    "f\","
	    "\"extension\":\".pdf\",\"type\":\"document\"}"));
	wf_pool_set(&wp, "start", "none", NULL);
	wf_pool_set(&wp, "sys", "query", json_object_new_string("hello"));
	wf_pool_set(&wp, "llm", "text", json_object_new_string("T"));
	TEST("selectors walk into objects and read file attributes") {
		CHECK(wf_pool_get(&wp, p1, 4, &v) == 1 &&
		    json_object_get_int(v) == 42);
		CHECK(wf_pool_get(&wp, p2, 3, &v) == 0);
		CHECK(wf_pool_get(&wp, p3, 3, &v) == 1 &&
		    STREQ(json_object_get_string(v), "a.pdf"));
		CHECK(wf_pool_get(&wp, p4, 3, &v) == 1 &&
		    STREQ(json_object_get_string(v), ".pdf"));
		CHECK(wf_pool_get(&wp, p5, 2, &v) == 0);
		CHECK(wf_pool_get(&wp, p6, 2, &v) == 1 && v == NULL);
		sel = json_tokener_parse("[\"sys\",\"query\"]");
		CHECK(wf_pool_get_sel(&wp, sel, &v) == 1);
		json_object_put(sel);
		sel = json_tokener_parse("[\"sys\"]");
		CHECK(wf_pool_get_sel(&wp, sel, &v) == 0);
		json_object_put(sel);
		sel = json_tokener_parse("\"sys.query\"");
		CHECK(wf_pool_get_sel(&wp, sel, &v) == 0);
		json_object_put(sel);
	}
	TEST("{{#...#}} templates render variables; missing ones as text") {
		s = wf_tmpl_render(&p, &wp, "Q: {{#sys.query#}}, {{#llm.text#}}"
		    " age {{#code.result.user.age#}}", WF_TEXT, NULL);
		CHECK(STREQ(s, "Q: hello, T age 42"));
		s = wf_tmpl_render(&p, &wp, "x {{#1711.text#}} y", WF_TEXT,
		    NULL);
		CHECK(STREQ(s, "x 1711.text y"));
		s = wf_tmpl_render(&p, &wp, "x {{#1711.text#}} y", WF_TEXT,
		    &missing);
		CHECK(s == NULL && STREQ(missing, "#1711.text#"));
		s = wf_tmpl_render(&p, &wp, "{{#code.result#}}", WF_TEXT, NULL);
		CHECK(STREQ(s, "{\"user\": {\"age\": 42, \"name\": \"Ann\"}}"));
		s = wf_tmpl_render(&p, &wp, "{{#code.result#}}", WF_MARKDOWN,
		    NULL);
		CHECK(STREQ(s, "{\n  \"user\": {\n    \"age\": 42,\n    "
		    "\"name\": \"Ann\"\n  }\n}"));
	}
	TEST("text that is not a variable reference stays literal") {
		s = wf_tmpl_render(&p, &wp, "{{#not a var#}} {{#sys#}} "
		    "{{#sys.query #}} {{# sys.query#}} {{#sys.1x#}}", WF_TEXT,
		    NULL);
		CHECK(STREQ(s, "{{#not a var#}} {{#sys#}} {{#sys.query #}} "
		    "{{# sys.query#}} {{#sys.1x#}}"));
		s = wf_tmpl_render(&p, &wp, "{{{#sys.query#}}}", WF_TEXT, NULL);
		CHECK(STREQ(s, "{hello}"));
	}
	TEST("templates split into text and variable segments") {
		struct wf_seg	*segs;
		int		 n = wf_tmpl_parse(&p, "a{{#x.y.z#}}b", &segs);

		CHECK(n == 3 && !segs[0].is_var && segs[1].is_var &&
		    segs[1].nparts == 3 && STREQ(segs[1].parts[2], "z") &&
		    STREQ(segs[1].text, "x.y.z") && STREQ(segs[2].text, "b"));
	}
	wf_pool_free(&wp);
	pool_free_all(&p);
}

/* ---- conditions ---- */

static void
test_compare(void)
{
	static const struct {
		int		 line;
		const char	*op;
		const char	*actual;	/* JSON; NULL is null */
		const char	*expected;	/* JSON; NULL is null */
		int		 result;	/* 1, 0, -1: the node fails */
	} rows[] = {
		{ __LINE__, "contains", "\"hello world\"", "\"hello\"", 1 },
		{ __LINE__, "contains", "\"hello world\"", "\"bye\"", 0 },
		{ __LINE__, "contains", "\"\"", "\"x\"", 0 },
		{ __LINE__, "contains", NULL, "\"x\"", 0 },
		{ __LINE__, "contains", "[\"a\",\"b\"]", "\"b\"", 1 },
		{ __LINE__, "contains", "[1,2]", "\"1\"", 0 },
		{ __LINE__, "contains", "[1,2]", "2", 1 },
		{ __LINE__, "contains", "5", "\"5\"", -1 },
		{ __LINE__, "not contains", "\"hello\"", "\"x\"", 1 },
		{ __LINE__, "not contains", "\"hello\"", "\"ell\"", 0 },
		{ __LINE__, "not contains", "\"\"", "\"x\"", 1 },
		{ __LINE__, "not contains", "[\"a\"]", "\"a\"", 0 },
		{ __LINE__, "not contains", "{\"a\":1}", "\"a\"", -1 },
		{ __LINE__, "start with", "\"hello\"", "\"he\"", 1 },
		{ __LINE__, "start with", "\"hello\"", "\"lo\"", 0 },
		{ __LINE__, "start with", "\"\"", "\"\"", 0 },
		{ __LINE__, "start with", "42", "\"4\"", -1 },
		{ __LINE__, "end with", "\"hello\"", "\"lo\"", 1 },
		{ __LINE__, "end with", "\"hello\"", "\"he\"", 0 },
		{ __LINE__, "end with", "\"lo\"", "\"hello\"", 0 },
		{ __LINE__, "end with", "[\"lo\"]", "\"lo\"", -1 },
		{ __LINE__, "is", "\"a\"", "\"a\"", 1 },
		{ __LINE__, "is", "\"a\"", "\"b\"", 0 },
		{ __LINE__, "is", NULL, "\"a\"", 0 },
		{ __LINE__, "is", "true", "true", 1 },
		{ __LINE__, "is", "1", "\"1\"", -1 },
		{ __LINE__, "is not", "\"a\"", "\"b\"", 1 },
		{ __LINE__, "is not", "\"a\"", "\"a\"", 0 },
		{ __LINE__, "is not", NULL, "\"a\"", 0 },
		{ __LINE__, "is not", "false", "true", 1 },
		{ __LINE__, "empty", "\"\"", NULL, 1 },
		{ __LINE__, "empty", "0", NULL, 1 },
		{ __LINE__, "empty", "[]", NULL, 1 },
		{ __LINE__, "empty", "{}", NULL, 1 },
		{ __LINE__, "empty", NULL, NULL, 1 },
		{ __LINE__, "empty", "false", NULL, 1 },
		{ __LINE__, "empty", "\"x\"", NULL, 0 },
		{ __LINE__, "not empty", "\"x\"", NULL, 1 },
		{ __LINE__, "not empty", "[0]", NULL, 1 },
		{ __LINE__, "not empty", "0", NULL, 0 },
		{ __LINE__, "=", "3", "\"3\"", 1 },
		{ __LINE__, "=", "3", "\" 3 \"", 1 },
		{ __LINE__, "=", "3", "3", 1 },
		{ __LINE__, "=", "3", "\"4\"", 0 },
		{ __LINE__, "=", "2.5", "\"2.5\"", 1 },
		{ __LINE__, "=", "3", "\"3.5\"", -1 },
		{ __LINE__, "=", "2.5", "\"x\"", -1 },
		{ __LINE__, "=", "true", "true", 1 },
		{ __LINE__, "=", "true", "\"\"", 0 },
		{ __LINE__, "=", NULL, "\"1\"", 0 },
		{ __LINE__, "=", "\"3\"", "\"3\"", -1 },
		{ __LINE__, "≠", "3", "\"4\"", 1 },
		{ __LINE__, "≠", "3", "\"3\"", 0 },
		{ __LINE__, "≠", NULL, "\"3\"", 0 },
		{ __LINE__, ">", "5", "\"3\"", 1 },
		{ __LINE__, ">", "3", "\"3\"", 0 },
		{ __LINE__, ">", "3.5", "\"3\"", 1 },
		{ __LINE__, ">", NULL, "\"3\"", 0 },
		{ __LINE__, ">", "\"5\"", "\"3\"", -1 },
		{ __LINE__, ">", "5", "\"abc\"", -1 },
		{ __LINE__, "<", "2", "\"3\"", 1 },
		{ __LINE__, "<", "3", "\"3\"", 0 },
		{ __LINE__, "≥", "3", "\"3\"", 1 },
		{ __LINE__, "≥", "2", "\"3\"", 0 },
		{ __LINE__, "≤", "3", "\"3\"", 1 },
		{ __LINE__, "≤", "4", "\"3\"", 0 },
		{ __LINE__, "≤", "2.9", "3", 1 },
		{ __LINE__, "null", NULL, NULL, 1 },
		{ __LINE__, "null", "\"\"", NULL, 0 },
		{ __LINE__, "not null", "0", NULL, 1 },
		{ __LINE__, "not null", NULL, NULL, 0 },
		{ __LINE__, "in", "\"b\"", "[\"a\",\"b\"]", 1 },
		{ __LINE__, "in", "\"c\"", "[\"a\",\"b\"]", 0 },
		{ __LINE__, "in", "\"\"", "[\"\"]", 0 },
		{ __LINE__, "in", "\"b\"", "\"abc\"", -1 },
		{ __LINE__, "not in", "\"c\"", "[\"a\",\"b\"]", 1 },
		{ __LINE__, "not in", "\"a\"", "[\"a\",\"b\"]", 0 },
		{ __LINE__, "not in", "\"\"", "[\"\"]", 1 },
		{ __LINE__, "all of", "[\"a\",\"b\",\"c\"]", "[\"a\",\"c\"]",
		  1 },
		{ __LINE__, "all of", "[\"a\",\"b\"]", "[\"a\",\"z\"]", 0 },
		{ __LINE__, "all of", "[]", "[\"a\"]", 0 },
		{ __LINE__, "all of", "\"abc\"", "[\"a\",\"c\"]", 1 },
		{ __LINE__, "all of", "[\"a\"]", "\"a\"", -1 },
		{ __LINE__, "exists", "{}", NULL, 1 },
		{ __LINE__, "exists", NULL, NULL, 0 },
		{ __LINE__, "not exists", NULL, NULL, 1 },
		{ __LINE__, "not exists", "1", NULL, 0 },
		{ __LINE__, "regex match", "\"a\"", "\"a\"", -1 },
	};
	json_object	*a, *x;
	char		 err[256];
	size_t		 i;
	int		 r;

	TEST("every if-else operator compares as Dify's does") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			a = rows[i].actual ?
			    json_tokener_parse(rows[i].actual) : NULL;
			x = rows[i].expected ?
			    json_tokener_parse(rows[i].expected) : NULL;
			err[0] = '\0';
			r = wf_cond_compare(rows[i].op, a, x, err, sizeof(err));
			CHECK_ROW(r == rows[i].result, rows[i].line);
			if (r != rows[i].result)
				printf("#   %s gave %d (%s)\n", rows[i].op, r,
				    err);
			if (r == -1)
				CHECK_ROW(err[0] != '\0', rows[i].line);
			json_object_put(a);
			json_object_put(x);
		}
	}
}

static int
case_of(struct wf_pool *wp, const char *conds, const char *op, char *err,
    json_object **inputs)
{
	struct pool	 p = { NULL };
	json_object	*c = json_tokener_parse(conds), *res;
	int		 r;

	*inputs = json_object_new_array();
	res = json_object_new_array();
	r = wf_cond_case(wp, &p, c, op, *inputs, res, err, 256);
	json_object_put(c);
	json_object_put(res);
	pool_free_all(&p);
	return r;
}

static void
test_cases(void)
{
	struct wf_pool	 wp;
	json_object	*in;
	char		 err[256];

	wf_pool_init(&wp);
	wf_pool_set(&wp, "s", "q", json_object_new_string("hello world"));
	wf_pool_set(&wp, "s", "n", json_object_new_int(3));
	wf_pool_set(&wp, "s", "flag", json_object_new_boolean(1));
	wf_pool_set(&wp, "s", "want", json_object_new_string("world"));
	wf_pool_set(&wp, "s", "files", json_tokener_parse("[{\"dify_model_"
	    "identity\":\"__dify__file__\",\"type\":\"image\",\"extension\":"
	    "\"png\"},{\"dify_model_identity\":\"__dify__file__\",\"type\":"
	    "\"document\",\"extension\":\".pdf\"}]"));
	TEST("and / or combine conditions with short-circuit") {
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"q\"],"
		    "\"comparison_operator\":\"contains\",\"value\":\"hello\"},"
		    "{\"variable_selector\":[\"s\",\"n\"],\"comparison_operato"
		    "r\":"
		    "\">\",\"value\":\"2\"}]", "and", err, &in) == 1);
		CHECK(json_object_array_length(in) == 2);
		json_object_put(in);
		/* the second is never evaluated, so its bad type is no error */
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"q\"],"
		    "\"comparison_operator\":\"contains\",\"value\":\"bye\"},"
		    "{\"variable_selector\":[\"s\",\"q\"],\"comparison_operato"
		    "r\":"
		    "\">\",\"value\":\"2\"}]", "and", err, &in) == 0);
		CHECK(json_object_array_length(in) == 1);
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"q\"],"
		    "\"comparison_operator\":\"contains\",\"value\":\"bye\"},"
		    "{\"variable_selector\":[\"s\",\"n\"],\"comparison_operato"
		    "r\":"
		    "\"=\",\"value\":\"3\"}]", "or", err, &in) == 1);
		json_object_put(in);
		CHECK(case_of(&wp, "[]", "and", err, &in) == 1);
		json_object_put(in);
		CHECK(case_of(&wp, "[]", "or", err, &in) == 0);
		json_object_put(in);
	}
	TEST("expected values are templates; booleans convert from text") {
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"q\"],"
		    "\"comparison_operator\":\"end with\",\"value\":"
		    "\"{{#s.want#}}\"}]", "and", err, &in) == 1);
		CHECK(STREQ(json_object_get_string(json_get(
		    json_object_array_get_idx(in, 0), "expected_value")),
		    "world"));
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"flag\"],"
		    "\"comparison_operator\":\"is\",\"value\":\"true\"}"
		    "]", "and",
		    err, &in) == 1);
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"flag\"],"
		    "\"comparison_operator\":\"=\",\"value\":\"0\"}]", "and",
		    err, &in) == 0);
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"flag\"],"
		    "\"comparison_operator\":\"is\",\"value\":\"yes\"}]", "and",
		    err, &in) == -1);
		json_object_put(in);
	}
	TEST("a variable that is not in the pool fails the condition") {
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"ghost\",\"x\"],"
		    "\"comparison_operator\":\"empty\"}]", "and", err,
		    &in) == -1);
		CHECK(STREQ(err, "Variable ['ghost', 'x'] not found"));
		json_object_put(in);
	}
	TEST("file arrays compare their attributes through sub-conditions") {
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"files\"],"
		    "\"comparison_operator\":\"contains\",\"sub_variable_"
		    "condition\":{\"logical_operator\":\"and\",\"conditions\":"
		    "[{\"key\":\"type\",\"comparison_operator\":\"is\",\"valu"
		    "e\":"
		    "\"image\"}]}}]", "and", err, &in) == 1);
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"files\"],"
		    "\"comparison_operator\":\"contains\",\"sub_variable_"
		    "condition\":{\"logical_operator\":\"and\",\"conditions\":"
		    "[{\"key\":\"extension\",\"comparison_operator\":\"is\","
		    "\"value\":\"png\"}]}}]", "and", err, &in) == 1);
		json_object_put(in);
		/* "not" operators need every file to match */
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"files\"],"
		    "\"comparison_operator\":\"not contains\",\"sub_variable_"
		    "condition\":{\"logical_operator\":\"and\",\"conditions\":"
		    "[{\"key\":\"type\",\"comparison_operator\":\"is not\","
		    "\"value\":\"image\"}]}}]", "and", err, &in) == 0);
		json_object_put(in);
		CHECK(case_of(&wp, "[{\"variable_selector\":[\"s\",\"files\"],"
		    "\"comparison_operator\":\"contains\"}]", "and", err,
		    &in) == -1);
		CHECK(STREQ(err, "Sub variable is required"));
		json_object_put(in);
	}
	wf_pool_free(&wp);
}

/* ---- running graphs ---- */

static int	flaky_failures;		/* "flaky" fails this many calls */

/*
 * The fake model: "echo" answers the last message, in pieces of three
 * bytes; "fixed" answers "mocked llm text"; "fail" fails; "flaky"
 * fails while flaky_failures > 0.
 */
static int
fake_chat(const struct llm_request *lr, struct llm_result *res)
{
	const char	*ans, *s;
	size_t		 n, k;

	if (strcmp(lr->model, "fail") == 0 || (strcmp(lr->model, "flaky") ==
	    0 && flaky_failures-- > 0)) {
		res->err = ERR_COMPLETION_REQUEST;
		snprintf(res->errmsg, sizeof(res->errmsg), "[fake] boom");
		return -1;
	}
	if (strcmp(lr->model, "echo") == 0)
		ans = lr->msgs[lr->nmsgs - 1].content;
	else if (strncmp(lr->model, "say-", 4) == 0)
		ans = lr->model + 4;
	else
		ans = "mocked llm text";
	n = strlen(ans);
	for (s = ans; s < ans + n; s += k) {
		k = ans + n - s < 3 ? (size_t)(ans + n - s) : 3;
		if (lr->on_tick != NULL && lr->on_tick(lr->arg) == -1)
			return 1;
		buf_append(&res->text, s, k);
		if (lr->on_delta(lr->arg, s, k) == -1)
			return 1;
	}
	res->prompt_tokens = 5;
	res->completion_tokens = 7;
	res->usage_known = 1;
	snprintf(res->finish_reason, sizeof(res->finish_reason), "stop");
	return 0;
}

struct out {
	struct buf	 log;		/* "event:node ..." */
	struct buf	 text;		/* chunks, joined */
	json_object	*finished;	/* node id -> node_finished data */
	json_object	*events;	/* every event, in order */
};

static int
sink_event(void *arg, const char *name, json_object *data)
{
	struct out	*o = arg;
	const char	*nid = json_str(data, "node_id");
	json_object	*ev;

	if (strcmp(name, "node_finished") == 0 || strcmp(name,
	    "node_retry") == 0)
		buf_printf(&o->log, "%s:%s:%s ", name, nid,
		    json_str(data, "status"));
	else
		buf_printf(&o->log, "%s%s%s ", name, nid ? ":" : "",
		    nid ? nid : "");
	if (strcmp(name, "node_finished") == 0)
		json_object_object_add(o->finished, nid, json_object_get(data));
	ev = json_object_new_object();
	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "data", data);
	json_object_array_add(o->events, ev);
	return 0;
}

static int
sink_chunk(void *arg, const char *text, size_t len, json_object *sel)
{
	struct out	*o = arg;

	buf_printf(&o->log, "text[%.*s]@%s ", (int)len, text,
	    json_compact(sel));
	buf_append(&o->text, text, len);
	return 0;
}

static void
out_init(struct out *o)
{
	buf_init(&o->log, 1 << 20);
	buf_init(&o->text, 1 << 20);
	o->finished = json_object_new_object();
	o->events = json_object_new_array();
}

static void
out_free(struct out *o)
{
	buf_free(&o->log);
	buf_free(&o->text);
	json_object_put(o->finished);
	json_object_put(o->events);
}

/* Run a graph (JSON text) with "inputs"; chatflow when query is set. */
static int
run(const char *graph, const char *inputs, const char *query,
    const char *conv_decls, struct out *o, struct wf_run *r, struct pool *p)
{
	int	rc;

	memset(r, 0, sizeof(*r));
	out_init(o);
	r->p = p;
	r->app_id = "app-1";
	r->workflow_id = "wf-1";
	r->task_id = "task-1";
	r->end_user_id = "eu-1";
	r->user = "abc-123";
	r->graph = json_tokener_parse(graph);
	r->inputs = json_tokener_parse(inputs ? inputs : "{}");
	r->chat = query != NULL;
	r->query = query;
	r->conversation_id = query ? "conv-1" : NULL;
	r->dialogue_count = 1;
	r->conv_decls = conv_decls ? json_tokener_parse(conv_decls) : NULL;
	r->env_decls = json_tokener_parse("[{\"name\":\"greeting\","
	    "\"value\":\"hey\",\"value_type\":\"string\"}]");
	r->started = now_mono();
	r->chat_fn = fake_chat;
	r->sink.arg = o;
	r->sink.event = sink_event;
	r->sink.chunk = sink_chunk;
	if (r->graph == NULL)
		printf("#   graph does not parse\n");
	rc = wf_run_graph(r);
	return rc;
}

static void
run_free(struct wf_run *r, struct out *o)
{
	json_object_put(r->graph);
	json_object_put(r->inputs);
	json_object_put(r->conv_decls);
	json_object_put(r->env_decls);
	wf_run_free(r);
	out_free(o);
}

/* node JSON helpers */
#define START(vars) "{\"id\":\"start\",\"data\":{\"type\":\"start\"," \
	"\"title\":\"Start\",\"variables\":[" vars "]}}"
#define EDGE(s, t) "{\"source\":\"" s "\",\"target\":\"" t "\"," \
	"\"sourceHandle\":\"source\"}"
#define EDGEH(s, h, t) "{\"source\":\"" s "\",\"target\":\"" t "\"," \
	"\"sourceHandle\":\"" h "\"}"
#define END1(id, var, sel) "{\"id\":\"" id "\",\"data\":{\"type\":\"end\"," \
	"\"title\":\"" id "\",\"outputs\":[{\"variable\":\"" var "\"," \
	"\"value_selector\":" sel "}]}}"
#define TT(id, tpl, vars) "{\"id\":\"" id "\",\"data\":{\"type\":" \
	"\"template-transform\",\"title\":\"" id "\",\"template\":\"" tpl \
	"\",\"variables\":[" vars "]}}"
#define LLM(id, model, text, extra) "{\"id\":\"" id "\",\"data\":{\"type\":" \
	"\"llm\",\"title\":\"" id "\",\"model\":{\"provider\":\"fake\"," \
	"\"name\":\"" model "\",\"mode\":\"chat\",\"completion_params\":{}}," \
	"\"prompt_template\":[{\"role\":\"user\",\"text\":\"" text "\"}]" \
	extra "}}"
#define ANSWER(id, a) "{\"id\":\"" id "\",\"data\":{\"type\":\"answer\"," \
	"\"title\":\"" id "\",\"answer\":\"" a "\"}}"
#define GRAPH(nodes, edges) "{\"nodes\":[" nodes "],\"edges\":[" edges "]}"

static const char *ifelse3 = GRAPH(
    START("{\"variable\":\"x\",\"label\":\"x\",\"type\":\"number\","
    "\"required\":true}") ","
    "{\"id\":\"if\",\"data\":{\"type\":\"if-else\",\"title\":\"IF\","
    "\"cases\":["
    "{\"case_id\":\"c1\",\"logical_operator\":\"and\",\"conditions\":"
    "[{\"variable_selector\":[\"start\",\"x\"],\"comparison_operator\":\"=\","
    "\"value\":\"1\"}]},"
    "{\"case_id\":\"c2\",\"logical_operator\":\"or\",\"conditions\":"
    "[{\"variable_selector\":[\"start\",\"x\"],\"comparison_operator\":\"=\","
    "\"value\":\"2\"},{\"variable_selector\":[\"start\",\"x\"],"
    "\"comparison_operator\":\"=\",\"value\":\"20\"}]}]}},"
    TT("t1", "one", "") "," TT("t2", "two", "") "," TT("t3", "else", "") ","
    END1("e1", "r", "[\"t1\",\"output\"]") ","
    END1("e2", "r", "[\"t2\",\"output\"]") ","
    END1("e3", "r", "[\"t3\",\"output\"]"),
    EDGE("start", "if") "," EDGEH("if", "c1", "t1") ","
    EDGEH("if", "c2", "t2") "," EDGEH("if", "false", "t3") ","
    EDGE("t1", "e1") "," EDGE("t2", "e2") "," EDGE("t3", "e3"));

static void
test_if_elif_else(void)
{
	static const struct {
		int		 line;
		const char	*inputs;
		const char	*out;
		const char	*log;
	} rows[] = {
		{ __LINE__, "{\"x\":1}", "one",
		  "workflow_started node_started:start "
		  "node_finished:start:succeeded node_started:if "
		  "node_finished:if:succeeded node_started:t1 "
		  "node_finished:t1:succeeded text[one]@[\"t1\",\"output\"] "
		  "node_started:e1 node_finished:e1:succeeded " },
		{ __LINE__, "{\"x\":20}", "two", NULL },
		{ __LINE__, "{\"x\":2.0}", "two", NULL },
		{ __LINE__, "{\"x\":3}", "else", NULL },
	};
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	size_t		 i;

	TEST("if / elif / else: the first true case's branch runs, the "
	    "others emit nothing") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			CHECK_ROW(run(ifelse3, rows[i].inputs, NULL, NULL, &o,
			    &r, &p) == 0, rows[i].line);
			CHECK_ROW(STREQ(r.status, "succeeded"), rows[i].line);
			CHECK_ROW(STREQ(json_str(r.outputs, "r"), rows[i].out),
			    rows[i].line);
			CHECK_ROW(r.total_steps == 4, rows[i].line);
			if (rows[i].log != NULL) {
				CHECK_ROW(STREQ(buf_cstr(&o.log), rows[i].log),
				    rows[i].line);
				if (!STREQ(buf_cstr(&o.log), rows[i].log))
					printf("#   %s\n", buf_cstr(&o.log));
			}
			run_free(&r, &o);
		}
	}
	TEST("if-else outputs the result, the case id and the conditions") {
		json_object	*d;

		run(ifelse3, "{\"x\":3}", NULL, NULL, &o, &r, &p);
		d = json_get(o.finished, "if");
		CHECK(STREQ(json_compact(json_get(d, "outputs")),
		    "{\"result\":false,\"selected_case_id\":\"false\"}"));
		CHECK(json_object_array_length(json_get(json_get(d,
		    "process_data"), "condition_results")) == 2);
		CHECK(json_object_array_length(json_get(json_get(d, "inputs"),
		    "conditions")) == 2);
		CHECK(strstr(buf_cstr(&o.log), "t1") == NULL &&
		    strstr(buf_cstr(&o.log), "t2") == NULL);
		run_free(&r, &o);
		run(ifelse3, "{\"x\":2}", NULL, NULL, &o, &r, &p);
		d = json_get(o.finished, "if");
		CHECK(STREQ(json_compact(json_get(d, "outputs")),
		    "{\"result\":true,\"selected_case_id\":\"c2\"}"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_legacy_if(void)
{
	const char	*g = GRAPH(START("{\"variable\":\"q\",\"type\":"
	    "\"text-input\",\"label\":\"q\"}") ","
	    "{\"id\":\"if\",\"data\":{\"type\":\"if-else\",\"title\":\"IF\","
	    "\"logical_operator\":\"and\",\"conditions\":[{\"variable_"
	    "selector\":[\"start\",\"q\"],\"comparison_operator\":\"contains\","
	    "\"value\":\"good\"}]}}," TT("yes", "positive", "") ","
	    TT("no", "negative", "") "," END1("e1", "r", "[\"yes\",\"output\"]")
	    "," END1("e2", "r", "[\"no\",\"output\"]"),
	    EDGE("start", "if") "," EDGEH("if", "true", "yes") ","
	    EDGEH("if", "false", "no") "," EDGE("yes", "e1") ","
	    EDGE("no", "e2"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };

	TEST("the legacy if-else form selects the handles true and false") {
		run(g, "{\"q\":\"so good\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "r"), "positive"));
		CHECK(STREQ(json_compact(json_get(json_get(o.finished, "if"),
		    "process_data")), "{\"condition_results\":[{\"group\":"
		    "\"default\",\"results\":[true],\"final_result\":true}]}"));
		run_free(&r, &o);
		run(g, "{\"q\":\"bad\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "r"), "negative"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_joins(void)
{
	/* both branches meet in one aggregator, then one end */
	const char	*join = GRAPH(START("{\"variable\":\"f\",\"type\":"
	    "\"text-input\",\"label\":\"f\"}") ","
	    "{\"id\":\"if\",\"data\":{\"type\":\"if-else\",\"title\":\"IF\","
	    "\"cases\":[{\"case_id\":\"y\",\"logical_operator\":\"and\","
	    "\"conditions\":[{\"variable_selector\":[\"start\",\"f\"],"
	    "\"comparison_operator\":\"is\",\"value\":\"y\"}]}]}},"
	    TT("a", "A:{{ f }}", "{\"variable\":\"f\",\"value_selector\":"
	    "[\"start\",\"f\"]}") "," TT("b", "B", "") "," TT("b2", "B2", "")
	    "," "{\"id\":\"agg\",\"data\":{\"type\":\"variable-aggregator\","
	    "\"title\":\"AGG\",\"variables\":[[\"a\",\"output\"],[\"b2\","
	    "\"output\"]]}}," END1("end", "r", "[\"agg\",\"output\"]"),
	    EDGE("start", "if") "," EDGEH("if", "y", "a") ","
	    EDGEH("if", "false", "b") "," EDGE("b", "b2") ","
	    EDGE("a", "agg") "," EDGE("b2", "agg") "," EDGE("agg", "end"));
	/* dify-complex-branch.yml: an answer fed by a branch and an LLM */
	const char	*complex = GRAPH(START("") ","
	    "{\"id\":\"if\",\"data\":{\"type\":\"if-else\",\"title\":\"IF\","
	    "\"cases\":[{\"case_id\":\"true\",\"logical_operator\":\"and\","
	    "\"conditions\":[{\"variable_selector\":[\"sys\",\"query\"],"
	    "\"comparison_operator\":\"contains\",\"value\":\"hello\"}]}]}},"
	    LLM("llm", "fixed", "{{#sys.query#}}", "") ","
	    ANSWER("a1", "contains 'hello'") "," ANSWER("a2", "{{#llm.text#}}"),
	    EDGE("start", "if") "," EDGE("start", "llm") ","
	    EDGEH("if", "true", "a1") "," EDGEH("if", "false", "a2") ","
	    EDGE("llm", "a2"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };

	TEST("a join after if / else runs once, after the untaken side is "
	    "skipped") {
		run(join, "{\"f\":\"y\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "r"), "A:y"));
		CHECK(strstr(strstr(buf_cstr(&o.log), "node_started:agg") + 1,
		    "node_started:agg") == NULL);
		CHECK(strstr(buf_cstr(&o.log), ":b ") == NULL &&
		    strstr(buf_cstr(&o.log), ":b2") == NULL);
		CHECK(r.total_steps == 5);
		run_free(&r, &o);
		run(join, "{\"f\":\"n\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "r"), "B2"));
		CHECK(strstr(buf_cstr(&o.log), "node_started:a ") == NULL);
		CHECK(r.total_steps == 6);
		run_free(&r, &o);
	}
	TEST("a node fed by a skipped branch and a taken edge still runs "
	    "(dify-complex-branch)") {
		run(complex, "{}", "hello world", NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(strstr(buf_cstr(&o.log), "node_finished:a1:succeeded") &&
		    strstr(buf_cstr(&o.log), "node_finished:a2:succeeded"));
		CHECK(strstr(buf_cstr(&o.text), "contains 'hello'") != NULL &&
		    strstr(buf_cstr(&o.text), "mocked llm text") != NULL);
		CHECK(strlen(json_str(r.outputs, "answer")) == o.text.len);
		run_free(&r, &o);
		run(complex, "{}", "goodbye world", NULL, &o, &r, &p);
		CHECK(STREQ(buf_cstr(&o.text), "mocked llm text"));
		CHECK(strstr(buf_cstr(&o.log), ":a1") == NULL);
		CHECK(STREQ(json_str(r.outputs, "answer"), "mocked llm text"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_streaming(void)
{
	/* dify-answer-order.yml */
	const char	*order = GRAPH(START("") ","
	    LLM("llm", "fixed", "{{#sys.query#}}", "") ","
	    ANSWER("a1", "--- answer 1 ---\\n\\nfoo\\n") ","
	    ANSWER("a2", "--- answer 2 ---\\n\\n{{#llm.text#}}\\n"),
	    EDGE("start", "llm") "," EDGE("llm", "a1") "," EDGE("a1", "a2"));
	/* two LLMs, the answer names the second first */
	const char	*par = GRAPH(START("") ","
	    LLM("l1", "say-first", "x", "") "," LLM("l2", "say-second", "y", "")
	    "," ANSWER("ans", "<{{#l2.text#}}|{{#l1.text#}}>"),
	    EDGE("start", "l1") "," EDGE("start", "l2") ","
	    EDGE("l1", "ans") "," EDGE("l2", "ans"));
	/* a workflow with two end outputs, one streamed, one not */
	const char	*ends = GRAPH(START("{\"variable\":\"query\",\"type\":"
	    "\"paragraph\",\"label\":\"q\"}") ","
	    LLM("llm", "echo", "{{#start.query#}}", "") ","
	    TT("tt", "T={{ v }}", "{\"variable\":\"v\",\"value_selector\":"
	    "[\"llm\",\"text\"]}") ","
	    "{\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\","
	    "\"outputs\":[{\"variable\":\"a\",\"value_selector\":[\"llm\","
	    "\"text\"]},{\"variable\":\"b\",\"value_selector\":[\"tt\","
	    "\"output\"]},{\"variable\":\"c\",\"value_selector\":[\"nope\","
	    "\"x\"]}]}}",
	    EDGE("start", "llm") "," EDGE("llm", "tt") "," EDGE("tt", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	const char	*log, *a, *b;

	TEST("answers stream in template order (dify-answer-order)") {
		run(order, "{}", "q", NULL, &o, &r, &p);
		CHECK(STREQ(buf_cstr(&o.text), "--- answer 1 ---\n\nfoo\n"
		    "--- answer 2 ---\n\nmocked llm text\n"));
		log = buf_cstr(&o.log);
		/* answer 1's text goes out before the LLM even starts */
		a = strstr(log, "text[--- answer 1");
		b = strstr(log, "node_started:llm");
		CHECK(a != NULL && b != NULL && a < b);
		CHECK(STREQ(json_str(r.outputs, "answer"), buf_cstr(&o.text)));
		run_free(&r, &o);
	}
	TEST("streams follow the template, not completion order") {
		run(par, "{}", "q", NULL, &o, &r, &p);
		CHECK(STREQ(buf_cstr(&o.text), "<second|first>"));
		/* l1 ran first, so its chunks waited in a buffer */
		log = buf_cstr(&o.log);
		a = strstr(log, "node_finished:l1");
		b = strstr(log, "text[fir]");
		CHECK(a != NULL && b != NULL && a < b);
		run_free(&r, &o);
	}
	TEST("end outputs stream with a newline between them, chunk by chunk "
	    "from the LLM, in one piece otherwise") {
		run(ends, "{\"query\":\"Hello there\"}", NULL, NULL, &o, &r,
		    &p);
		CHECK(STREQ(buf_cstr(&o.text), "Hello there\nT=Hello there\n"));
		log = buf_cstr(&o.log);
		CHECK(strstr(log, "text[Hel]@[\"llm\",\"text\"] text[lo ]") !=
		    NULL);
		CHECK(strstr(log, "text[]@[\"llm\",\"text\"] "
		    "text[\n]@[\"end\",\"answer\"] node_finished:llm") != NULL);
		CHECK(strstr(log, "text[T=Hello there]@[\"tt\",\"output\"]") !=
		    NULL);
		CHECK(STREQ(json_compact(r.outputs), "{\"a\":\"Hello there\","
		    "\"b\":\"T=Hello there\",\"c\":null}"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_variables(void)
{
	const char	*g = GRAPH(START("{\"variable\":\"name\",\"type\":"
	    "\"text-input\",\"label\":\"n\"}") ","
	    ANSWER("ans", "{{#env.greeting#}} {{#start.name#}}, you said "
	    "{{#sys.query#}} (turn {{#sys.dialogue_count#}}) {{#ghost.x#}}"),
	    EDGE("start", "ans"));
	const char	*wf = GRAPH(START("{\"variable\":\"q\",\"type\":"
	    "\"text-input\",\"label\":\"q\"}") ","
	    "{\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\","
	    "\"outputs\":[{\"variable\":\"u\",\"value_selector\":[\"sys\","
	    "\"user_id\"]},{\"variable\":\"app\",\"value_selector\":[\"sys\","
	    "\"app_id\"]},{\"variable\":\"q\",\"value_selector\":[\"start\","
	    "\"q\"]},{\"variable\":\"ts\",\"value_selector\":[\"start\","
	    "\"sys.timestamp\"]}]}}", EDGE("start", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	json_object	*d;

	TEST("sys, env and node variables render in answers") {
		run(g, "{\"name\":\"Ann\"}", "hi", NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "answer"), "hey Ann, you said "
		    "hi (turn 1) ghost.x"));
		/* the stream drops the unknown reference */
		CHECK(STREQ(buf_cstr(&o.text),
		    "hey Ann, you said hi (turn 1) "));
		CHECK(strstr(buf_cstr(&o.log),
		    "text[hi]@[\"sys\",\"query\"]") != NULL);
		run_free(&r, &o);
	}
	TEST("the start node publishes inputs and sys.* as outputs") {
		run(wf, "{\"q\":\"x\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_str(r.outputs, "u"), "abc-123") &&
		    STREQ(json_str(r.outputs, "app"), "app-1") &&
		    STREQ(json_str(r.outputs, "q"), "x") &&
		    json_object_get_int64(json_get(r.outputs, "ts")) ==
		    r.created_at);
		d = json_get(json_get(o.finished, "start"), "outputs");
		CHECK(STREQ(json_compact(d), pool_printf(&p, "{\"q\":\"x\","
		    "\"sys.files\":[],\"sys.user_id\":\"abc-123\",\"sys.app_i"
		    "d\":"
		    "\"app-1\",\"sys.workflow_id\":\"wf-1\",\"sys.workflow_run_"
		    "id\":\"%s\",\"sys.timestamp\":%lld}", r.run_id,
		    (long long)r.created_at)));
		/* workflow_started carries the inputs without the timestamp */
		d = json_get(json_object_array_get_idx(o.events, 0), "data");
		CHECK(json_get(json_get(d, "inputs"), "sys.timestamp") ==
		    NULL &&
		    STREQ(json_str(json_get(d, "inputs"), "q"), "x") &&
		    STREQ(json_str(d, "reason"), "initial"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_llm(void)
{
	const char	*g = GRAPH(START("{\"variable\":\"q\",\"type\":"
	    "\"text-input\",\"label\":\"q\"}") ","
	    "{\"id\":\"llm\",\"data\":{\"type\":\"llm\",\"title\":\"LLM\","
	    "\"model\":{\"provider\":\"fake\",\"name\":\"echo\",\"mode\":"
	    "\"chat\"},\"context\":{\"enabled\":true,\"variable_selector\":"
	    "[\"start\",\"q\"]},\"prompt_template\":["
	    "{\"role\":\"system\",\"text\":\"ctx={#context#}\"},"
	    "{\"role\":\"assistant\",\"text\":\"\"},"
	    "{\"role\":\"user\",\"edition_type\":\"jinja2\",\"jinja2_text\":"
	    "\"J:{{ q|upper }}\",\"text\":\"unused\"}],"
	    "\"prompt_config\":{\"jinja2_variables\":[{\"variable\":\"q\","
	    "\"value_selector\":[\"start\",\"q\"]}]}}},"
	    END1("end", "t", "[\"llm\",\"text\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "end"));
	const char	*missing = GRAPH(START("") ","
	    LLM("llm", "echo", "{{#nope.text#}}", "") ","
	    END1("end", "t", "[\"llm\",\"text\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	json_object	*d;

	TEST("llm prompts: roles, context, jinja2, empty messages left out") {
		run(g, "{\"q\":\"hi\"}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_str(r.outputs, "t"), "J:HI"));
		d = json_get(o.finished, "llm");
		CHECK(STREQ(json_compact(json_get(json_get(d, "process_data"),
		    "prompts")), "[{\"role\":\"system\",\"text\":\"ctx=hi\","
		    "\"files\":[]},{\"role\":\"user\",\"text\":\"J:HI\","
		    "\"files\":[]}]"));
		CHECK(STREQ(json_str(json_get(d, "inputs"), "#context#"),
		    "hi"));
		CHECK(json_object_get_int(json_get(json_get(json_get(d,
		    "outputs"), "usage"), "total_tokens")) == 12);
		CHECK(json_object_get_int(json_get(json_get(d,
		    "execution_metadata"), "total_tokens")) == 12);
		CHECK(STREQ(json_str(json_get(d, "outputs"), "finish_reason"),
		    "stop"));
		CHECK(r.total_tokens == 12);
		run_free(&r, &o);
	}
	TEST("a prompt variable that does not exist fails the llm node") {
		run(missing, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(STREQ(r.error, "Variable #nope.text# not found"));
		CHECK(strstr(buf_cstr(&o.log), "node_started:end") == NULL);
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_errors(void)
{
	const char	*none = GRAPH(START("") ","
	    LLM("llm", "fail", "x", "") "," END1("end", "t",
	    "[\"llm\",\"text\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "end"));
	const char	*dflt = GRAPH(START("") ","
	    LLM("llm", "fail", "x", ",\"error_strategy\":\"default-value\","
	    "\"default_value\":[{\"key\":\"text\",\"type\":\"string\","
	    "\"value\":\"fallback\"},{\"key\":\"n\",\"type\":\"number\","
	    "\"value\":\"42\"}]") ","
	    "{\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\","
	    "\"outputs\":[{\"variable\":\"t\",\"value_selector\":[\"llm\","
	    "\"text\"]},{\"variable\":\"n\",\"value_selector\":[\"llm\","
	    "\"n\"]},{\"variable\":\"e\",\"value_selector\":[\"llm\","
	    "\"error_message\"]}]}}",
	    EDGE("start", "llm") "," EDGE("llm", "end"));
	const char	*fb_fail = GRAPH(START("") ","
	    LLM("llm", "fail", "x", ",\"error_strategy\":\"fail-branch\"") ","
	    TT("ok", "ok path", "") "," TT("bad", "bad path: {{ e }}",
	    "{\"variable\":\"e\",\"value_selector\":[\"llm\",\"error_type\"]}")
	    "," END1("e1", "r", "[\"ok\",\"output\"]") ","
	    END1("e2", "r", "[\"bad\",\"output\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "ok") ","
	    EDGEH("llm", "fail-branch", "bad") "," EDGE("ok", "e1") ","
	    EDGE("bad", "e2"));
	const char	*fb_ok = GRAPH(START("") ","
	    LLM("llm", "fixed", "x", ",\"error_strategy\":\"fail-branch\"") ","
	    TT("ok", "ok path", "") "," TT("bad", "bad path", "") ","
	    END1("e1", "r", "[\"ok\",\"output\"]") ","
	    END1("e2", "r", "[\"bad\",\"output\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "ok") ","
	    EDGEH("llm", "fail-branch", "bad") "," EDGE("ok", "e1") ","
	    EDGE("bad", "e2"));
	const char	*retry = GRAPH(START("") ","
	    LLM("llm", "flaky", "x", ",\"retry_config\":{\"retry_enabled\":"
	    "true,\"max_retries\":3,\"retry_interval\":10}") ","
	    END1("end", "t", "[\"llm\",\"text\"]"),
	    EDGE("start", "llm") "," EDGE("llm", "end"));
	/* human-input: a Dify node type this server has no executor for */
	const char	*code = GRAPH(START("") ","
	    "{\"id\":\"code\",\"data\":{\"type\":\"human-input\",\"title\":\"Ask\","
	    "\"code_language\":\"python3\",\"code\":\"\",\"error_strategy\":"
	    "\"default-value\",\"default_value\":[{\"key\":\"result\","
	    "\"type\":\"object\",\"value\":\"{\\\"a\\\": 1}\"}]}},"
	    END1("end", "r", "[\"code\",\"result\"]"),
	    EDGE("start", "code") "," EDGE("code", "end"));
	const char	*badtpl = GRAPH(START("") "," TT("tt", "{% if %}", "")
	    "," END1("end", "r", "[\"tt\",\"output\"]"),
	    EDGE("start", "tt") "," EDGE("tt", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	json_object	*d;

	TEST("a failure without a strategy fails the run with its error") {
		run(none, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(STREQ(r.error, "[fake] boom"));
		CHECK(STREQ(buf_cstr(&o.log), "workflow_started "
		    "node_started:start node_finished:start:succeeded "
		    "node_started:llm node_finished:llm:failed "));
		d = json_get(o.finished, "llm");
		CHECK(STREQ(json_str(d, "error"), "[fake] boom"));
		CHECK(r.exceptions_count == 0);
		run_free(&r, &o);
	}
	TEST("default-value: the node ends in exception with its defaults "
	    "and the run goes on, partial-succeeded") {
		run(dflt, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "partial-succeeded"));
		CHECK(r.exceptions_count == 1);
		CHECK(STREQ(json_compact(r.outputs), "{\"t\":\"fallback\","
		    "\"n\":42,\"e\":\"[fake] boom\"}"));
		d = json_get(o.finished, "llm");
		CHECK(STREQ(json_str(d, "status"), "exception"));
		CHECK(STREQ(json_str(json_get(d, "outputs"), "error_type"),
		    "InvokeError"));
		CHECK(STREQ(json_str(json_get(d, "execution_metadata"),
		    "error_strategy"), "default-value"));
		run_free(&r, &o);
	}
	TEST("fail-branch: failure takes the fail-branch edge, success the "
	    "source edge") {
		run(fb_fail, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "partial-succeeded"));
		CHECK(STREQ(json_str(r.outputs, "r"), "bad path: InvokeError"));
		CHECK(strstr(buf_cstr(&o.log), ":ok") == NULL);
		CHECK(STREQ(json_compact(json_get(json_get(o.finished, "llm"),
		    "outputs")), "{\"error_message\":\"[fake] boom\","
		    "\"error_type\":\"InvokeError\"}"));
		run_free(&r, &o);
		run(fb_ok, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_str(r.outputs, "r"), "ok path"));
		CHECK(strstr(buf_cstr(&o.log), ":bad") == NULL);
		run_free(&r, &o);
	}
	TEST("retry: failed attempts are reported and counted, then the node "
	    "succeeds") {
		flaky_failures = 2;
		run(retry, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "partial-succeeded"));
		CHECK(r.exceptions_count == 2);
		CHECK(r.total_steps == 5);
		CHECK(strstr(buf_cstr(&o.log), "node_started:llm "
		    "node_retry:llm:retry node_retry:llm:retry text[moc]") !=
		    NULL);
		CHECK(STREQ(json_str(r.outputs, "t"), "mocked llm text"));
		run_free(&r, &o);
		flaky_failures = 10;
		run(retry, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(r.exceptions_count == 3);
		run_free(&r, &o);
		flaky_failures = 0;
	}
	TEST("a graph with a node type this server has no executor for is "
	    "refused before it runs, naming the node") {
		CHECK(run(code, "{}", NULL, NULL, &o, &r, &p) == -1);
		CHECK(STREQ(r.status, "failed"));
		CHECK(STREQ(r.error, "No class mapping found for node type: "
		    "human-input (node code)"));
		CHECK(o.finished == NULL || json_get(o.finished, "code") ==
		    NULL);
		run_free(&r, &o);
	}
	TEST("a template that does not parse fails its node") {
		run(badtpl, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(r.error != NULL && *r.error != '\0');
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_assigner(void)
{
	static const struct {
		int		 line;
		const char	*var;	/* declared conversation variable */
		const char	*type;
		const char	*init;
		const char	*op;
		const char	*input;	/* constant (JSON), or NULL */
		const char	*result; /* new value, or NULL: fails */
	} rows[] = {
		{ __LINE__, "s", "string", "\"a\"", "over-write", "\"b\"",
		  "\"b\"" },
		{ __LINE__, "s", "string", "\"a\"", "set", "\"b\"", "\"b\"" },
		{ __LINE__, "s", "string", "\"a\"", "set", "1", NULL },
		{ __LINE__, "s", "string", "\"a\"", "clear", NULL, "\"\"" },
		{ __LINE__, "n", "number", "5", "+=", "2", "7" },
		{ __LINE__, "n", "number", "5", "-=", "2", "3" },
		{ __LINE__, "n", "number", "5", "*=", "2", "10" },
		{ __LINE__, "n", "number", "5", "/=", "2", "2.5" },
		{ __LINE__, "n", "number", "5", "/=", "0", NULL },
		{ __LINE__, "n", "number", "1.5", "+=", "1", "2.5" },
		{ __LINE__, "n", "number", "5", "+=", "\"2\"", NULL },
		{ __LINE__, "n", "number", "5", "clear", NULL, "0" },
		{ __LINE__, "s", "string", "\"a\"", "+=", "1", NULL },
		{ __LINE__, "b", "boolean", "false", "set", "true", "true" },
		{ __LINE__, "b", "boolean", "true", "clear", NULL, "false" },
		{ __LINE__, "o", "object", "{\"a\":1}", "set", "{\"b\":2}",
		  "{\"b\":2}" },
		{ __LINE__, "o", "object", "{\"a\":1}", "clear", NULL, "{}" },
		{ __LINE__, "l", "array[string]", "[\"a\"]", "append", "\"b\"",
		  "[\"a\",\"b\"]" },
		{ __LINE__, "l", "array[string]", "[\"a\"]", "append", "1",
		  NULL },
		{ __LINE__, "l", "array[number]", "[1]", "extend", "[2,3]",
		  "[1,2,3]" },
		{ __LINE__, "l", "array[number]", "[1]", "extend", "[\"x\"]",
		  NULL },
		{ __LINE__, "l", "array[number]", "[1,2,3]", "remove-first",
		  NULL, "[2,3]" },
		{ __LINE__, "l", "array[number]", "[1,2,3]", "remove-last",
		  NULL, "[1,2]" },
		{ __LINE__, "l", "array[number]", "[]", "remove-last", NULL,
		  "[]" },
		{ __LINE__, "l", "array[object]", "[{}]", "clear", NULL, "[]" },
		{ __LINE__, "l", "array[string]", "[]", "+=", "1", NULL },
	};
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	struct buf	 g, decl;
	size_t		 i;
	json_object	*d, *upd;

	TEST("assigner v2 operations update conversation variables with "
	    "their type checks") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			buf_init(&g, 1 << 16);
			buf_init(&decl, 4096);
			buf_printf(&decl, "[{\"id\":\"v1\",\"name\":\"%s\","
			    "\"value_type\":\"%s\",\"value\":%s}]",
			    rows[i].var, rows[i].type, rows[i].init);
			buf_printf(&g, GRAPH(START("") ","
			    "{\"id\":\"as\",\"data\":{\"type\":\"assigner\","
			    "\"title\":\"A\",\"version\":\"2\",\"items\":[{"
			    "\"variable_selector\":[\"conversation\",\"%s\"],"
			    "\"input_type\":\"constant\",\"operation\":\"%s\","
			    "\"value\":%s}]}}"
			    "," ANSWER("ans", "[{{#conversation."
			    "%s#}}"
			    "]"), EDGE("start", "as") "," EDGE("as", "ans")),
			    rows[i].var, rows[i].op, rows[i].input ?
			    rows[i].input : "null", rows[i].var);
			run(buf_cstr(&g), "{}", "q", buf_cstr(&decl), &o, &r,
			    &p);
			d = json_get(o.finished, "as");
			if (rows[i].result == NULL) {
				CHECK_ROW(STREQ(r.status, "failed"),
				    rows[i].line);
			} else {
				CHECK_ROW(STREQ(r.status, "succeeded"),
				    rows[i].line);
				upd = json_object_array_get_idx(json_get(
				    json_get(d, "process_data"),
				    "updated_variables"), 0);
				CHECK_ROW(STREQ(json_compact(json_get(upd,
				    "new_value")), rows[i].result),
				    rows[i].line);
				CHECK_ROW(STREQ(json_str(upd, "value_type"),
				    rows[i].type), rows[i].line);
			}
			run_free(&r, &o);
			buf_free(&g);
			buf_free(&decl);
		}
	}
	TEST("assigner v1 write modes; answers read the new value only after "
	    "the assignment (dify-conv-var)") {
		const char	*v1 = GRAPH(START("") ","
		    "{\"id\":\"as\",\"data\":{\"type\":\"assigner\",\"title\":"
		    "\"A\",\"assigned_variable_selector\":[\"conversation\","
		    "\"str\"],\"write_mode\":\"over-write\","
		    "\"input_variable_selector\":[\"sys\",\"query\"]}},"
		    ANSWER("ans", "{{#conversation.str#}}"),
		    EDGE("start", "as") "," EDGE("as", "ans"));
		const char	*app = GRAPH(START("") ","
		    "{\"id\":\"as\",\"data\":{\"type\":\"assigner\",\"title\":"
		    "\"A\",\"assigned_variable_selector\":[\"conversation\","
		    "\"l\"],\"write_mode\":\"append\","
		    "\"input_variable_selector\":[\"sys\",\"query\"]}},"
		    ANSWER("ans", "{{#conversation.l#}}"),
		    EDGE("start", "as") "," EDGE("as", "ans"));
		const char	*missing = GRAPH(START("") ","
		    "{\"id\":\"as\",\"data\":{\"type\":\"assigner\",\"title\":"
		    "\"A\",\"assigned_variable_selector\":[\"conversation\","
		    "\"ghost\"],\"write_mode\":\"clear\"}}",
		    EDGE("start", "as"));

		run(v1, "{}", "the query", "[{\"name\":\"str\",\"value_type\":"
		    "\"string\",\"value\":\"default\"}]", &o, &r, &p);
		CHECK(STREQ(buf_cstr(&o.text), "the query"));
		run_free(&r, &o);
		run(app, "{}", "x", "[{\"name\":\"l\",\"value_type\":"
		    "\"array[string]\",\"value\":[\"w\"]}]", &o, &r, &p);
		CHECK(STREQ(buf_cstr(&o.text), "- w\n- x"));
		run_free(&r, &o);
		run(missing, "{}", "x", "[]", &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(STREQ(r.error, "Variable ['conversation', 'ghost'] not "
		    "found"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_aggregator_groups(void)
{
	/* dify-dual-switch-aggregator.yml, reduced */
	const char	*g = GRAPH(START("{\"variable\":\"s1\",\"type\":"
	    "\"number\",\"label\":\"s1\"},{\"variable\":\"s2\",\"type\":"
	    "\"number\",\"label\":\"s2\"}") ","
	    "{\"id\":\"if1\",\"data\":{\"type\":\"if-else\",\"title\":\"1\","
	    "\"cases\":[{\"case_id\":\"true\",\"logical_operator\":\"and\","
	    "\"conditions\":[{\"variable_selector\":[\"start\",\"s1\"],"
	    "\"comparison_operator\":\"=\",\"value\":\"1\"}]}]}},"
	    "{\"id\":\"if2\",\"data\":{\"type\":\"if-else\",\"title\":\"2\","
	    "\"cases\":[{\"case_id\":\"true\",\"logical_operator\":\"and\","
	    "\"conditions\":[{\"variable_selector\":[\"start\",\"s2\"],"
	    "\"comparison_operator\":\"=\",\"value\":\"1\"}]}]}},"
	    TT("on1", "switch 1 on", "") "," TT("off1", "switch 1 off", "") ","
	    TT("on2", "switch 2 on", "") "," TT("off2", "switch 2 off", "") ","
	    "{\"id\":\"agg\",\"data\":{\"type\":\"variable-aggregator\","
	    "\"title\":\"AGG\",\"advanced_settings\":{\"group_enabled\":true,"
	    "\"groups\":[{\"group_name\":\"group1\",\"variables\":[[\"on1\","
	    "\"output\"],[\"off1\",\"output\"]]},{\"group_name\":\"group2\","
	    "\"variables\":[[\"on2\",\"output\"],[\"off2\",\"output\"]]}]}}},"
	    "{\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\","
	    "\"outputs\":[{\"variable\":\"group1\",\"value_selector\":[\"agg\","
	    "\"group1\",\"output\"]},{\"variable\":\"group2\","
	    "\"value_selector\":[\"agg\",\"group2\",\"output\"]}]}}",
	    EDGE("start", "if1") "," EDGE("start", "if2") ","
	    EDGEH("if1", "true", "on1") "," EDGEH("if1", "false", "off1") ","
	    EDGEH("if2", "true", "on2") "," EDGEH("if2", "false", "off2") ","
	    EDGE("on1", "agg") "," EDGE("off1", "agg") "," EDGE("on2", "agg")
	    "," EDGE("off2", "agg") "," EDGE("agg", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };

	TEST("a grouped aggregator after two switches joins once with each "
	    "group's first existing value") {
		run(g, "{\"s1\":1,\"s2\":0}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"group1\":\"switch 1 "
		    "on\",\"group2\":\"switch 2 off\"}"));
		CHECK(strstr(strstr(buf_cstr(&o.log), "node_started:agg") + 1,
		    "node_started:agg") == NULL);
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_iteration(void)
{
#define ITER(extra, inner, out) GRAPH(START("") ","			\
	"{\"id\":\"it\",\"data\":{\"type\":\"iteration\",\"title\":"	\
	"\"IT\",\"iterator_selector\":[\"start\",\"xs\"],"		\
	"\"output_selector\":" out ",\"start_node_id\":\"itstart\""	\
	extra "}},{\"id\":\"itstart\",\"parentId\":\"it\",\"data\":"	\
	"{\"type\":\"iteration-start\",\"title\":\"\"}}," inner ","	\
	END1("end", "r", "[\"it\",\"output\"]"),			\
	EDGE("start", "it") "," EDGE("itstart", "in") "," EDGE("it", "end"))
#define INNER_TT "{\"id\":\"in\",\"parentId\":\"it\",\"data\":{\"type\":" \
	"\"template-transform\",\"title\":\"in\",\"template\":"	\
	"\"<{{ x }}:{{ i }}>\",\"variables\":[{\"variable\":\"x\","	\
	"\"value_selector\":[\"it\",\"item\"]},"			\
	"{\"variable\":\"i\",\"value_selector\":[\"it\",\"index\"]}]}}"
#define INNER_AGG "{\"id\":\"in\",\"parentId\":\"it\",\"data\":{\"type\":" \
	"\"variable-aggregator\",\"title\":\"in\",\"variables\":[[\"it\"," \
	"\"item\"]]}}"
#define INNER_FAIL "{\"id\":\"in\",\"parentId\":\"it\",\"data\":{\"type\":" \
	"\"llm\",\"title\":\"in\",\"model\":{\"provider\":\"fake\",\"name\":" \
	"\"fail\"},\"prompt_template\":[{\"role\":\"user\",\"text\":\"x\"}]}}"
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };

	TEST("iteration runs its graph once per item with item and index") {
		run(ITER("", INNER_TT, "[\"in\",\"output\"]"),
		    "{\"xs\":[\"a\",\"b\"]}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[\"<a:0>\","
		    "\"<b:1>\"]}"));
		CHECK(strstr(buf_cstr(&o.log), "node_finished:start:succeeded "
		    "iteration_started:it iteration_next:it node_started:in "
		    "node_finished:in:succeeded iteration_next:it node_started"
		    ":in "
		    "node_finished:in:succeeded iteration_completed:it "
		    "text[- <a:0>\n- <b:1>]@[\"it\",\"output\"] "
		    "node_started:end") != NULL);
		CHECK(STREQ(json_str(json_get(o.finished, "in"),
		    "iteration_id"), "it"));
		CHECK(json_object_get_int(json_get(json_get(json_get(o.finished,
		    "in"), "execution_metadata"), "iteration_index")) == 1);
		CHECK(r.total_steps == 3);
		run_free(&r, &o);
	}
	TEST("iteration outputs of lists flatten unless flatten_output is "
	    "false") {
		run(ITER("", INNER_AGG, "[\"in\",\"output\"]"),
		    "{\"xs\":[[1,2],[3]]}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[1,2,3]}"));
		run_free(&r, &o);
		run(ITER(",\"flatten_output\":false", INNER_AGG,
		    "[\"in\",\"output\"]"), "{\"xs\":[[1,2],[3]]}", NULL, NULL,
		    &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[[1,2],[3]]}"));
		run_free(&r, &o);
	}
	TEST("an empty iterator completes at once without iteration events") {
		run(ITER("", INNER_TT, "[\"in\",\"output\"]"), "{\"xs\":[]}",
		    NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[]}"));
		CHECK(strstr(buf_cstr(&o.log), "iteration") == NULL);
		run_free(&r, &o);
	}
	TEST("iteration error modes: terminated, continue-on-error, "
	    "remove-abnormal-output") {
		run(ITER("", INNER_FAIL, "[\"in\",\"text\"]"), "{\"xs\":[1,2]}",
		    NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed") &&
		    STREQ(r.error, "[fake] boom"));
		run_free(&r, &o);
		run(ITER(",\"error_handle_mode\":\"continue-on-error\"",
		    INNER_FAIL, "[\"in\",\"text\"]"), "{\"xs\":[1,2]}", NULL,
		    NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[null,null]}"));
		run_free(&r, &o);
		run(ITER(",\"error_handle_mode\":\"remove-abnormal-output\"",
		    INNER_FAIL, "[\"in\",\"text\"]"), "{\"xs\":[1,2]}", NULL,
		    NULL, &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":[]}"));
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_loop(void)
{
	/* dify-loop-answer.yml */
	const char	*answer = GRAPH(START("") ","
	    "{\"id\":\"loop\",\"data\":{\"type\":\"loop\",\"title\":\"Loop\","
	    "\"loop_count\":10,\"logical_operator\":\"and\",\"break_condition"
	    "s\":"
	    "[{\"variable_selector\":[\"loop\",\"i\"],\"comparison_operator\":"
	    "\"≥\",\"value\":\"2\"}],\"loop_variables\":[{\"label\":\"i\","
	    "\"var_type\":\"number\",\"value_type\":\"constant\",\"value\":"
	    "\"0\"}],\"start_node_id\":\"loopstart\"}},"
	    "{\"id\":\"loopstart\",\"parentId\":\"loop\",\"data\":{\"type\":"
	    "\"loop-start\",\"title\":\"\"}},"
	    "{\"id\":\"as\",\"parentId\":\"loop\",\"data\":{\"type\":"
	    "\"assigner\",\"title\":\"A\",\"version\":\"2\",\"items\":[{"
	    "\"variable_selector\":[\"loop\",\"i\"],\"input_type\":\"constan"
	    "t\","
	    "\"operation\":\"+=\",\"value\":1}]}},"
	    "{\"id\":\"in\",\"parentId\":\"loop\",\"data\":{\"type\":\"answe"
	    "r\","
	    "\"title\":\"in\",\"answer\":\"{{#loop.i#}}\\n\"}},"
	    ANSWER("after", "{{#sys.query#}} + {{#loop.i#}}"),
	    EDGE("start", "loop") "," EDGE("loopstart", "as") ","
	    EDGE("as", "in") "," EDGE("loop", "after"));
	/* a loop-end node after two rounds, by way of an if-else */
	const char	*end = GRAPH(START("") ","
	    "{\"id\":\"loop\",\"data\":{\"type\":\"loop\",\"title\":\"Loop\","
	    "\"loop_count\":5,\"loop_variables\":[{\"label\":\"n\",\"var_typ"
	    "e\":"
	    "\"number\",\"value_type\":\"constant\",\"value\":1}],"
	    "\"start_node_id\":\"ls\"}},"
	    "{\"id\":\"ls\",\"parentId\":\"loop\",\"data\":{\"type\":"
	    "\"loop-start\",\"title\":\"\"}},"
	    "{\"id\":\"dbl\",\"parentId\":\"loop\",\"data\":{\"type\":"
	    "\"assigner\",\"title\":\"A\",\"version\":\"2\",\"items\":[{"
	    "\"variable_selector\":[\"loop\",\"n\"],\"input_type\":\"constan"
	    "t\","
	    "\"operation\":\"*=\",\"value\":3}]}},"
	    "{\"id\":\"if\",\"parentId\":\"loop\",\"data\":{\"type\":\"if-els"
	    "e\","
	    "\"title\":\"IF\",\"cases\":[{\"case_id\":\"big\",\"logical_operat"
	    "or\":"
	    "\"and\",\"conditions\":[{\"variable_selector\":[\"loop\",\"n\"],"
	    "\"comparison_operator\":\">\",\"value\":\"5\"}]}]}},"
	    "{\"id\":\"stop\",\"parentId\":\"loop\",\"data\":{\"type\":"
	    "\"loop-end\",\"title\":\"Break\"}},"
	    END1("end", "n", "[\"loop\",\"n\"]"),
	    EDGE("start", "loop") "," EDGE("ls", "dbl") "," EDGE("dbl", "if")
	    "," EDGEH("if", "big", "stop") "," EDGE("loop", "end"));
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };

	TEST("a loop with a break condition streams its inner answer each "
	    "round (dify-loop-answer: 1\\n2\\n1 + 2)") {
		run(answer, "{}", "1", NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(buf_cstr(&o.text), "1\n2\n1 + 2"));
		CHECK(strstr(buf_cstr(&o.log), "loop_started:loop "
		    "node_started:as") != NULL);
		CHECK(strstr(buf_cstr(&o.log), "loop_next:loop") != NULL &&
		    strstr(buf_cstr(&o.log), "loop_completed:loop") != NULL);
		CHECK(STREQ(json_str(json_get(o.finished, "as"), "loop_id"),
		    "loop"));
		CHECK(r.total_steps == 3);
		run_free(&r, &o);
	}
	TEST("a loop-end node stops the loop; outputs are the loop variables "
	    "and loop_round") {
		json_object	*ev;
		size_t		 i;

		run(end, "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"n\":9}"));
		for (i = 0; i < json_object_array_length(o.events); i++) {
			ev = json_object_array_get_idx(o.events, i);
			if (!STREQ(json_str(ev, "event"), "loop_completed"))
				continue;
			CHECK(STREQ(json_compact(json_get(json_get(ev, "data"),
			    "outputs")), "{\"n\":9,\"loop_round\":2}"));
			CHECK(STREQ(json_str(json_get(json_get(ev, "data"),
			    "execution_metadata"), "completed_reason"),
			    "loop_break"));
			CHECK(json_object_get_int(json_get(json_get(ev, "data"),
			    "steps")) == 2);
		}
		run_free(&r, &o);
	}
	pool_free_all(&p);
}

static void
test_limits(void)
{
	struct buf	 g;
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p = { NULL };
	int		 i;

	TEST("a run past 500 steps fails") {
		buf_init(&g, 1 << 22);
		buf_puts(&g, "{\"nodes\":[" START(""));
		for (i = 0; i < 510; i++)
			buf_printf(&g, ",{\"id\":\"n%d\",\"data\":{\"type\":"
			    "\"template-transform\",\"title\":\"t\","
			    "\"template\":\"x\"}}", i);
		buf_puts(&g, "],\"edges\":[" EDGE("start", "n0"));
		for (i = 0; i + 1 < 510; i++)
			buf_printf(&g, ",{\"source\":\"n%d\",\"target\":"
			    "\"n%d\"}", i, i + 1);
		buf_puts(&g, "]}");
		run(buf_cstr(&g), "{}", NULL, NULL, &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		CHECK(STREQ(r.error, "Maximum execution steps exceeded: 501 > "
		    "500"));
		CHECK(r.total_steps == 500);
		run_free(&r, &o);
		buf_free(&g);
	}
	TEST("graph checks: a start node, known types, edges between nodes") {
		char		 err[256];
		json_object	*gj;

		gj = json_tokener_parse(GRAPH(TT("t", "x", ""), ""));
		CHECK(wf_graph_check(gj, err, sizeof(err)) == -1 &&
		    strstr(err, "start") != NULL);
		json_object_put(gj);
		gj = json_tokener_parse(GRAPH(START("") ",{\"id\":\"x\","
		    "\"data\":{\"type\":\"teleport\"}}", ""));
		CHECK(wf_graph_check(gj, err, sizeof(err)) == -1 &&
		    STREQ(err, "No class mapping found for node type: teleport "
		    "(node x)"));
		json_object_put(gj);
		gj = json_tokener_parse(GRAPH(START(""),
		    EDGE("start", "nope")));
		CHECK(wf_graph_check(gj, err, sizeof(err)) == -1);
		json_object_put(gj);
		gj = json_tokener_parse(GRAPH(START("") ",{\"id\":\"note\","
		    "\"type\":\"custom-note\",\"data\":{\"type\":\"\"}}", ""));
		CHECK(wf_graph_check(gj, err, sizeof(err)) == 0);
		json_object_put(gj);
	}
	TEST("the input form comes from the start node's variables") {
		json_object	*gj = json_tokener_parse(GRAPH(START(
		    "{\"variable\":\"a\",\"type\":\"select\",\"options\":"
		    "[\"x\"]},{\"variable\":\"b\",\"type\":\"number\"}"), ""));
		json_object	*f = wf_start_form(gj);

		CHECK(STREQ(json_compact(f), "[{\"select\":{\"variable\":\"a\","
		    "\"type\":\"select\",\"options\":[\"x\"]}},{\"number\":"
		    "{\"variable\":\"b\",\"type\":\"number\"}}]"));
		json_object_put(f);
		json_object_put(gj);
	}
	pool_free_all(&p);
}

int
main(void)
{
	if (config_load() == -1)
		return 1;
	test_values();
	test_pool();
	test_compare();
	test_cases();
	test_if_elif_else();
	test_legacy_if();
	test_joins();
	test_streaming();
	test_variables();
	test_llm();
	test_errors();
	test_assigner();
	test_aggregator_groups();
	test_iteration();
	test_loop();
	test_limits();
	UNIT_DONE();
}
