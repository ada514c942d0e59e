/*
 * test_dsl.c: unit tests of lib/dsl/: YAML typed as PyYAML's safe_load
 * types it, the limits, every import problem and its message, the
 * editor's normalisations, the stored config, and export round trips.
 * Includes the source to reach its static helpers.
 */
#include <stdlib.h>

#include "../../lib/dsl/dsl_load.c"
#include "unit.h"

/* A YAML text as JSON, or NULL with the error in "err". */
static json_object *
yaml(const char *text, char *err, size_t errlen)
{
	return dsl_yaml_to_json(text, strlen(text), err, errlen);
}

static int
json_is(json_object *got, const char *want)
{
	json_object	*w = json_tokener_parse(want);
	int		 eq;

	if (w == NULL && strcmp(want, "null") != 0)
		return 0;
	eq = json_object_equal(got, w);
	json_object_put(w);
	return eq;
}

/* 12 bytes of 3-byte characters */
#define SPRING	"\xe6\x98\xa5\xe8\x81\x94\xe6\x98\xa5\xe8\x81\x94"

static void
test_scalars(void)
{
	static const struct {
		int		 line;
		const char	*text;		/* the value of key v */
		const char	*json;		/* NULL: an error */
	} rows[] = {
		{ __LINE__, "true", "true" },
		{ __LINE__, "True", "true" },
		{ __LINE__, "FALSE", "false" },
		{ __LINE__, "yes", "true" },
		{ __LINE__, "No", "false" },
		{ __LINE__, "on", "true" },
		{ __LINE__, "OFF", "false" },
		{ __LINE__, "y", "\"y\"" },
		{ __LINE__, "n", "\"n\"" },
		{ __LINE__, "tRUE", "\"tRUE\"" },
		{ __LINE__, "null", "null" },
		{ __LINE__, "Null", "null" },
		{ __LINE__, "~", "null" },
		{ __LINE__, "", "null" },
		{ __LINE__, "nul", "\"nul\"" },
		{ __LINE__, "'true'", "\"true\"" },
		{ __LINE__, "\"null\"", "\"null\"" },
		{ __LINE__, "''", "\"\"" },
		{ __LINE__, "'123'", "\"123\"" },
		{ __LINE__, "123", "123" },
		{ __LINE__, "-17", "-17" },
		{ __LINE__, "+5", "5" },
		{ __LINE__, "0", "0" },
		{ __LINE__, "-0", "0" },
		{ __LINE__, "0x1F", "31" },
		{ __LINE__, "-0x10", "-16" },
		{ __LINE__, "0b101", "5" },
		{ __LINE__, "017", "15" },
		{ __LINE__, "0_", "0" },
		{ __LINE__, "08", "\"08\"" },
		{ __LINE__, "0o17", "\"0o17\"" },
		{ __LINE__, "1_000", "1000" },
		{ __LINE__, "1:30", "90" },
		{ __LINE__, "1:60", "\"1:60\"" },
		{ __LINE__, "9223372036854775807", "9223372036854775807" },
		{ __LINE__, "-9223372036854775808", "-9223372036854775808" },
		{ __LINE__, "9223372036854775808", NULL },
		{ __LINE__, "0b_", NULL },
		{ __LINE__, "1.5", "1.5" },
		{ __LINE__, "1.", "1.0" },
		{ __LINE__, ".5", "0.5" },
		{ __LINE__, "-.5", "\"-.5\"" },
		{ __LINE__, "1e5", "\"1e5\"" },
		{ __LINE__, "1.0e5", "\"1.0e5\"" },
		{ __LINE__, "1.0e+5", "100000.0" },
		{ __LINE__, "-2.5E-3", "-0.0025" },
		{ __LINE__, "1_2.3_4", "12.34" },
		{ __LINE__, "1:30.5", "90.5" },
		{ __LINE__, ".inf", NULL },
		{ __LINE__, "-.Inf", NULL },
		{ __LINE__, ".nan", NULL },
		{ __LINE__, "1e400", "\"1e400\"" },
		{ __LINE__, "1.0e+400", NULL },
		{ __LINE__, "2001-12-14", "\"2001-12-14\"" },
		{ __LINE__, "2001-12-14 21:59:43.10 -5",
		  "\"2001-12-14 21:59:43.10 -5\"" },
		{ __LINE__, "0.6.0", "\"0.6.0\"" },
		{ __LINE__, "1711528708197", "1711528708197" },
		{ __LINE__, "'1711528708197'", "\"1711528708197\"" },
		{ __LINE__, "!!str 12", "\"12\"" },
		{ __LINE__, "!!str true", "\"true\"" },
		{ __LINE__, "!!int \"0x1F\"", "31" },
		{ __LINE__, "!!int abc", NULL },
		/* quoted in the error, cut at 40 bytes: not mid-character */
		{ __LINE__, "!!int \"" SPRING SPRING SPRING SPRING SPRING "\"",
		  NULL },
		{ __LINE__, "!!float 1", "1.0" },
		{ __LINE__, "!!float 0x10", NULL },
		{ __LINE__, "!!bool \"yes\"", "true" },
		{ __LINE__, "!!bool y", NULL },
		{ __LINE__, "!!null x", "null" },
		{ __LINE__, "! 123", "123" },
		{ __LINE__, "! \"123\"", "123" },
		{ __LINE__, "!foo 1", NULL },
		{ __LINE__, "!!binary aGk=", NULL },
		{ __LINE__, "=", NULL },
		{ __LINE__, "<<", NULL },
		{ __LINE__, "\"a\\0b\"", NULL },
		{ __LINE__, "\"\\U0001F916\"", "\"\xf0\x9f\xa4\x96\"" },
		{ __LINE__, "🤖", "\"\xf0\x9f\xa4\x96\"" },
		{ __LINE__, "|\n  a\n  b\n", "\"a\\nb\\n\"" },
		{ __LINE__, "|-\n  a\n", "\"a\"" },
		{ __LINE__, ">\n  a\n  b\n", "\"a b\\n\"" },
		{ __LINE__, "'it''s'", "\"it's\"" },
		{ __LINE__, "[1, \"2\", three, 4.0, no]",
		  "[1, \"2\", \"three\", 4.0, false]" },
		{ __LINE__, "{a: 1, b: [x]}", "{\"a\": 1, \"b\": [\"x\"]}" },
		{ __LINE__, "!!map {a: 1}", "{\"a\": 1}" },
		{ __LINE__, "!!omap [a: 1]", NULL },
		{ __LINE__, "!!set {a}", NULL },
	};
	json_object	*o;
	char		 text[256], err[256];
	size_t		 i;

	TEST("plain scalars are typed as PyYAML's safe_load types them") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			snprintf(text, sizeof(text), "v: %s\n", rows[i].text);
			o = yaml(text, err, sizeof(err));
			if (rows[i].json == NULL) {
				CHECK_ROW(o == NULL && err[0] != '\0',
				    rows[i].line);
				/* one line of whole characters, even cut */
				CHECK_ROW(utf8_valid(err, strlen(err)) &&
				    strchr(err, '\n') == NULL, rows[i].line);
			} else {
				CHECK_ROW(o != NULL, rows[i].line);
				CHECK_ROW(json_object_object_get_ex(o, "v",
				    NULL), rows[i].line);
				CHECK_ROW(json_is(json_get(o, "v"),
				    rows[i].json), rows[i].line);
			}
			json_object_put(o);
		}
	}
}

static void
test_documents(void)
{
	static const struct {
		int		 line;
		const char	*text;
		const char	*json;		/* NULL: an error */
		const char	*err;		/* part of it */
	} rows[] = {
		{ __LINE__, "a: &x [1, 2]\nb: *x\n",
		  "{\"a\": [1, 2], \"b\": [1, 2]}", NULL },
		{ __LINE__, "a: &x 1.5\nb: *x\n", "{\"a\": 1.5, \"b\": 1.5}",
		  NULL },
		{ __LINE__, "a: &k key\n*k : v\n", "{\"a\": \"key\", \"key\": "
		  "\"v\"}", NULL },
		{ __LINE__, "b: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
		  "{\"b\": {\"x\": 1, \"y\": 2}, \"m\": {\"x\": 1, \"y\": 3}}",
		  NULL },
		{ __LINE__, "m:\n  y: 3\n  <<: {x: 1, y: 2}\n",
		  "{\"m\": {\"x\": 1, \"y\": 3}}", NULL },
		{ __LINE__, "m:\n  <<: [{x: 1}, {x: 2, z: 2}]\n",
		  "{\"m\": {\"x\": 1, \"z\": 2}}", NULL },
		{ __LINE__, "m:\n  <<: 1\n", NULL, "merging" },
		{ __LINE__, "'<<': 1\n", "{\"<<\": 1}", NULL },
		{ __LINE__, "1: a\ntrue: b\n~: c\n1.5: d\n0x10: e\n",
		  "{\"1\": \"a\", \"true\": \"b\", \"null\": \"c\", "
		  "\"1.5\": \"d\", \"16\": \"e\"}", NULL },
		{ __LINE__, "a: 1\na: 2\n", "{\"a\": 2}", NULL },
		{ __LINE__, "? [1]\n: 2\n", NULL, "unhashable key" },
		{ __LINE__, "a: &x 1\nb: &x 2\n", NULL, "duplicate anchor" },
		{ __LINE__, "a: *y\n", NULL, "undefined alias" },
		{ __LINE__, "a: &x [1, *x]\n", NULL, "recursive alias" },
		{ __LINE__, "---\na: 1\n---\nb: 2\n", NULL, "single document" },
		{ __LINE__, "a: [1, 2\n", NULL, "line 2" },
		{ __LINE__, "a: b: c\n", NULL, "line 1, column 5" },
		{ __LINE__, "\ta: 1\n", NULL, "line 1" },
		{ __LINE__, "[1]\n", "[1]", NULL },
		{ __LINE__, "--- plain\n", "\"plain\"", NULL },
	};
	json_object	*o;
	char		 err[256];
	size_t		 i;

	TEST("aliases, merge keys, non-string keys and document errors") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			o = yaml(rows[i].text, err, sizeof(err));
			if (rows[i].json == NULL)
				CHECK_ROW(o == NULL && strstr(err,
				    rows[i].err) != NULL, rows[i].line);
			else
				CHECK_ROW(o != NULL && json_is(o,
				    rows[i].json), rows[i].line);
			json_object_put(o);
		}
	}
	TEST("an empty document is null, without an error") {
		o = yaml("# nothing\n", err, sizeof(err));
		CHECK(o == NULL && err[0] == '\0');
		o = yaml("", err, sizeof(err));
		CHECK(o == NULL && err[0] == '\0');
	}
}

static void
test_limits(void)
{
	struct buf	 b;
	json_object	*o;
	char		 err[256], *big;
	int		 i, j;

	TEST("nesting is capped at DSL_MAX_DEPTH levels") {
		buf_init(&b, 1 << 20);
		for (i = 0; i < DSL_MAX_DEPTH; i++)
			buf_puts(&b, "[");
		for (i = 0; i < DSL_MAX_DEPTH; i++)
			buf_puts(&b, "]");
		o = yaml(buf_cstr(&b), err, sizeof(err));
		CHECK(o != NULL);
		json_object_put(o);
		buf_reset(&b);
		for (i = 0; i <= DSL_MAX_DEPTH; i++)
			buf_puts(&b, "[");
		for (i = 0; i <= DSL_MAX_DEPTH; i++)
			buf_puts(&b, "]");
		o = yaml(buf_cstr(&b), err, sizeof(err));
		CHECK(o == NULL &&
		    strstr(err, "nested deeper than 32") != NULL);
		buf_free(&b);
	}
	TEST("a billion laughs stops at DSL_MAX_ALIASED") {
		buf_init(&b, 1 << 20);
		buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
		for (i = 1; i < 10; i++) {
			buf_printf(&b, "a%d: &a%d [", i, i);
			for (j = 0; j < 10; j++)
				buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
			buf_puts(&b, "]\n");
		}
		o = yaml(buf_cstr(&b), err, sizeof(err));
		CHECK(o == NULL && strstr(err, "aliases expand to more than "
		    "100000 values") != NULL);
		buf_free(&b);
	}
	TEST("a document stops at DSL_MAX_VALUES values") {
		buf_init(&b, 4 << 20);
		buf_puts(&b, "[1");
		for (i = 0; i < DSL_MAX_VALUES; i++)
			buf_puts(&b, ",1");
		buf_puts(&b, "]");
		o = yaml(buf_cstr(&b), err, sizeof(err));
		CHECK(o == NULL && strstr(err, "more than 1000000 values") !=
		    NULL);
		buf_free(&b);
	}
	TEST("a billion laughs of long strings stops at DSL_MAX_TEXT") {
		buf_init(&b, 1 << 22);
		buf_puts(&b, "a0: &a0 '");
		for (i = 0; i < 1000000; i++)
			buf_puts(&b, "x");
		buf_puts(&b, "'\n");
		for (i = 1; i < 4; i++) {
			buf_printf(&b, "a%d: &a%d [", i, i);
			for (j = 0; j < 10; j++)
				buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
			buf_puts(&b, "]\n");
		}
		o = yaml(buf_cstr(&b), err, sizeof(err));
		CHECK(o == NULL && strstr(err, "more than 41943040 bytes of "
		    "text") != NULL);
		buf_free(&b);
	}
	TEST("files over DSL_MAX_BYTES are refused before parsing") {
		big = xmalloc(DSL_MAX_BYTES + 1);
		memset(big, ' ', DSL_MAX_BYTES + 1);
		o = dsl_yaml_to_json(big, DSL_MAX_BYTES + 1, err, sizeof(err));
		CHECK(o == NULL && strstr(err, "larger than") != NULL);
		free(big);
	}
}

static void
test_repr(void)
{
	static const struct {
		int		 line;
		double		 d;
		const char	*repr;
	} rows[] = {
		{ __LINE__, 0.0, "0.0" },
		{ __LINE__, -0.0, "-0.0" },
		{ __LINE__, 1.0, "1.0" },
		{ __LINE__, 0.1, "0.1" },
		{ __LINE__, 0.7, "0.7" },
		{ __LINE__, 0.1 + 0.2, "0.30000000000000004" },
		{ __LINE__, 123.456, "123.456" },
		{ __LINE__, 100.0, "100.0" },
		{ __LINE__, 1e15, "1000000000000000.0" },
		{ __LINE__, 1e16, "1e+16" },
		{ __LINE__, 1.5e300, "1.5e+300" },
		{ __LINE__, 1e-4, "0.0001" },
		{ __LINE__, 1e-5, "1e-05" },
		{ __LINE__, -2.5e-7, "-2.5e-07" },
		{ __LINE__, 5e-324, "5e-324" },
	};
	char	r[40];
	size_t	i;

	TEST("doubles are written as Python's repr() writes them") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			dsl_py_repr(rows[i].d, r);
			CHECK_ROW(strcmp(r, rows[i].repr) == 0, rows[i].line);
		}
	}
}

static void
test_node_types(void)
{
	static const char *const dify[] = { "start", "end", "answer", "llm",
	    "knowledge-retrieval", "question-classifier", "if-else", "code",
	    "template-transform", "http-request", "tool",
	    "variable-aggregator", "variable-assigner", "assigner",
	    "parameter-extractor", "iteration", "iteration-start", "loop",
	    "loop-start", "loop-end", "list-operator", "document-extractor",
	    "agent", NULL };
	static const char *const unknown[] = { "human-input", "datasource",
	    "knowledge-index", "trigger-webhook", "note", "", "Start", NULL };
	const char	*t;
	size_t		 i, j;

	TEST("the node type table holds Dify's types, each once") {
		for (i = 0; dify[i] != NULL; i++)
			CHECK(dsl_node_type_known(dify[i]));
		for (i = 0; unknown[i] != NULL; i++)
			CHECK(!dsl_node_type_known(unknown[i]) &&
			    !dsl_node_type_runnable(unknown[i]));
		for (i = 0; (t = dsl_node_type_at(i)) != NULL; i++) {
			CHECK(t[0] != '\0' && dsl_node_type_known(t));
			for (j = 0; j < i; j++)
				CHECK(strcmp(dsl_node_type_at(j), t) != 0);
		}
		CHECK(i == sizeof(node_types) / sizeof(node_types[0]) &&
		    i == 23);
	}
}

/* A workflow file: "nodes" and "edges" are YAML flow lists. */
static char *
wf_doc(const char *mode, const char *nodes, const char *edges)
{
	struct buf	b;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "app: {name: t, mode: %s}\nworkflow:\n  graph:\n"
	    "    nodes: %s\n    edges: %s\n", mode, nodes, edges);
	return b.p;	/* malloc'd; the caller frees it */
}

#define START	"{id: s, data: {type: start, title: S, variables: []}}"
#define END	"{id: e, data: {type: end, title: E, outputs: []}}"
#define ANSWER	"{id: a, data: {type: answer, title: A, answer: hi}}"

static int
has_message(json_object *list, const char *want)
{
	size_t	i;

	for (i = 0; i < json_object_array_length(list); i++)
		if (strcmp(json_object_get_string(
		    json_object_array_get_idx(list, i)), want) == 0)
			return 1;
	return 0;
}

static void
dump(json_object *list)
{
	size_t	i;

	for (i = 0; i < json_object_array_length(list); i++)
		printf("#     %s\n", json_object_get_string(
		    json_object_array_get_idx(list, i)));
}

static void
test_problems(void)
{
	static const struct {
		int		 line;
		const char	*text;		/* a whole file, or NULL */
		const char	*mode;		/* else a graph of this mode */
		const char	*nodes;
		const char	*edges;
		const char	*problem;	/* exactly one of them */
	} rows[] = {
		{ __LINE__, "[1, 2]\n", NULL, NULL, NULL,
		  "Invalid YAML format: content must be a mapping" },
		{ __LINE__, "# empty\n", NULL, NULL, NULL,
		  "Invalid YAML format: content must be a mapping" },
		{ __LINE__, "a: [\n", NULL, NULL, NULL,
		  "invalid YAML: line 2, column 1: while parsing a flow node: "
		  "did not find expected node content" },
		{ __LINE__, "kind: app\n", NULL, NULL, NULL,
		  "app: missing (Missing app data in YAML content)" },
		{ __LINE__, "app: {name: x}\n", NULL, NULL, NULL,
		  "app.mode: missing" },
		{ __LINE__, "app: {name: x, mode: robot}\n", NULL, NULL, NULL,
		  "app.mode: unknown mode \"robot\" (expected workflow, "
		  "advanced-chat, chat, agent-chat or completion)" },
		{ __LINE__, "app: {mode: chat}\nmodel_config: {}\n", NULL,
		  NULL, NULL, "app.name: missing (or give a name)" },
		{ __LINE__, "app: {name: '', mode: chat}\nmodel_config: {}\n",
		  NULL, NULL, NULL, "app.name: missing (or give a name)" },
		{ __LINE__, "app: {name: 5, mode: chat}\nmodel_config: {}\n",
		  NULL, NULL, NULL, "app.name: must be a string" },
		{ __LINE__, "app: {name: x, mode: chat, icon: 1}\n"
		  "model_config: {}\n", NULL, NULL, NULL,
		  "app.icon: must be a string" },
		{ __LINE__, "version: 0.1\napp: {name: x, mode: chat}\n"
		  "model_config: {}\n", NULL, NULL, NULL,
		  "version: must be a string such as '0.6.0' (quote it)" },
		{ __LINE__, "version: x.y\napp: {name: x, mode: chat}\n"
		  "model_config: {}\n", NULL, NULL, NULL,
		  "version: \"x.y\" is not a version number" },
		{ __LINE__, "app: {name: x, mode: chat}\n", NULL, NULL, NULL,
		  "model_config: missing (Missing model_config for "
		  "chat/agent-chat/completion app)" },
		{ __LINE__, "app: {name: x, mode: workflow}\n", NULL, NULL,
		  NULL, "workflow: missing (Missing workflow data for "
		  "workflow/advanced chat app)" },
		{ __LINE__, "app: {name: x, mode: workflow}\nworkflow: {}\n",
		  NULL, NULL, NULL, "workflow.graph.nodes: missing" },
		{ __LINE__, "app: {name: x, mode: workflow}\nworkflow:\n"
		  "  features: []\n  graph: {nodes: [" START ", " END "]}\n",
		  NULL, NULL, NULL, "workflow.features: must be a mapping" },
		{ __LINE__, "app: {name: x, mode: workflow}\nworkflow:\n"
		  "  environment_variables: [{name: k, value_type: string}]\n"
		  "  graph: {nodes: [" START ", " END "]}\n", NULL, NULL, NULL,
		  "environment_variables[0] \"k\": missing value" },
		{ __LINE__, "app: {name: x, mode: workflow}\nworkflow:\n"
		  "  conversation_variables: [{value: 1, value_type: number}]\n"
		  "  graph: {nodes: [" START ", " END "]}\n", NULL, NULL, NULL,
		  "conversation_variables[0]: missing name" },
		{ __LINE__, NULL, "workflow", "[" END "]", "[]",
		  "graph: no start node" },
		{ __LINE__, NULL, "workflow", "[" START "]", "[]",
		  "graph: no end node (a workflow app needs one)" },
		{ __LINE__, NULL, "advanced-chat", "[" START ", " END "]", "[]",
		  "graph: no answer node (an advanced-chat app needs one)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: "
		  "'1718', data: {type: robot, title: Code 2}}]", "[]",
		  "node \"1718\": \"Code 2\" (robot): unknown node type" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: h, "
		  "data: {type: human-input, title: H}}]", "[]",
		  "node \"h\": \"H\" (human-input): unknown node type" },
		{ __LINE__, NULL, "workflow", "[" START ", {data: {type: llm, "
		  "title: X}}, " END "]", "[]",
		  "node #2: \"X\" (llm): missing id" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: 17, data: "
		  "{type: llm, title: X}}, " END "]", "[]",
		  "node #2: \"X\" (llm): id must be a string (quote it)" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: n, data: "
		  "{title: X}}, " END "]", "[]",
		  "node \"n\": \"X\": missing data.type" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: n}, " END "]",
		  "[]", "node \"n\": missing data" },
		{ __LINE__, NULL, "workflow", "[" START ", 7, " END "]", "[]",
		  "node #2: not a mapping" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: s, data: "
		  "{type: start, title: S2}}, " END "]", "[]",
		  "node \"s\": \"S2\" (start): duplicate id (node #1 has it "
		  "too)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END "]",
		  "[{id: e1, source: s}]",
		  "edge \"e1\" (from node \"s\": \"S\" (start)): missing "
		  "target" },
		{ __LINE__, NULL, "workflow", "[" START ", " END "]",
		  "[{id: e1, source: zz, target: e}]",
		  "edge \"e1\" (to node \"e\": \"E\" (end)): source \"zz\" is "
		  "not a node" },
		{ __LINE__, NULL, "workflow", "[" START ", " END "]",
		  "[{source: s, target: zz}]",
		  "edge #1 (from node \"s\": \"S\" (start)): target \"zz\" is "
		  "not a node" },
		{ __LINE__, NULL, "workflow", "[" START ", " END "]", "[x]",
		  "edge #1: not a mapping" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: e, data: "
		  "{type: end, title: E, outputs: [{variable: o, "
		  "value_selector: [gone, text]}]}}]", "[]",
		  "node \"e\": \"E\" (end): refers to node \"gone\", which "
		  "does not exist (in outputs)" },
		{ __LINE__, NULL, "advanced-chat", "[" START ", {id: a, data: "
		  "{type: answer, title: A, answer: 'x {{#gone.text#}} "
		  "{{#gone.other#}}'}}]", "[]",
		  "node \"a\": \"A\" (answer): refers to node \"gone\", which "
		  "does not exist (in answer)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: v, "
		  "data: {type: variable-aggregator, title: V, variables: "
		  "[[s, x], [gone, y]]}}]", "[]",
		  "node \"v\": \"V\" (variable-aggregator): refers to node "
		  "\"gone\", which does not exist (in variables)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: t, "
		  "data: {type: tool, title: T, tool_parameters: {q: {type: "
		  "variable, value: [gone, q]}}}}]", "[]",
		  "node \"t\": \"T\" (tool): refers to node \"gone\", which "
		  "does not exist (in tool_parameters)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: x, "
		  "data: {type: assigner, title: X, version: '2', items: "
		  "[{input_type: variable, value: [gone, q], "
		  "variable_selector: [conversation, c]}]}}]", "[]",
		  "node \"x\": \"X\" (assigner): refers to node \"gone\", "
		  "which does not exist (in items)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: p, "
		  "data: {type: parameter-extractor, title: P, query: [gone, "
		  "q]}}]", "[]",
		  "node \"p\": \"P\" (parameter-extractor): refers to node "
		  "\"gone\", which does not exist (in query)" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: c, "
		  "parentId: gone, data: {type: code, title: C}}]", "[]",
		  "node \"c\": \"C\" (code): parentId \"gone\" is not a node" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: a, "
		  "data: {type: code, title: A}}, {id: b, data: {type: code, "
		  "title: B}}]", "[{source: s, target: a}, {source: a, target: "
		  "b}, {source: b, target: a}, {source: b, target: e}]",
		  "node \"a\": \"A\" (code): in a cycle: \"a\" -> \"b\" -> "
		  "\"a\"" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: a, "
		  "data: {type: code, title: A}}]", "[{source: a, target: a}]",
		  "node \"a\": \"A\" (code): in a cycle: \"a\" -> \"a\"" },
		{ __LINE__, NULL, "workflow", "[" START ", " END ", {id: i, "
		  "data: {type: iteration, title: I, start_node_id: zz}}]",
		  "[]", "node \"i\": \"I\" (iteration): start_node_id "
		  "\"zz\" is not a node" },
		{ __LINE__, NULL, "workflow", "[" START ", {id: \"x\\ny\", "
		  "data: {type: robot, title: \"\\e[31m\"}}, " END "]", "[]",
		  "node \"x\\ny\": \"\\x1b[31m\" (robot): unknown node type" },
	};
	struct dsl_app	 a;
	char		*text;
	size_t		 i;
	int		 rc;

	TEST("each import problem is reported with its node and nothing "
	    "else") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			text = rows[i].text ? xstrdup(rows[i].text) :
			    wf_doc(rows[i].mode, rows[i].nodes,
			    rows[i].edges);
			rc = dsl_load(text, strlen(text), NULL, &a);
			CHECK_ROW(rc == -1, rows[i].line);
			CHECK_ROW(has_message(a.problems, rows[i].problem),
			    rows[i].line);
			CHECK_ROW(json_object_array_length(a.problems) == 1 &&
			    a.nproblems == 1, rows[i].line);
			if (!has_message(a.problems, rows[i].problem) ||
			    json_object_array_length(a.problems) != 1)
				dump(a.problems);
			dsl_app_free(&a);
			free(text);
		}
	}
}

static void
test_accepted(void)
{
	static const struct {
		int		 line;
		const char	*mode;
		const char	*nodes;
		const char	*edges;
	} rows[] = {
		/* sys, env and conversation are not nodes */
		{ __LINE__, "advanced-chat", "[" START ", {id: a, data: {type: "
		  "answer, title: A, answer: '{{#sys.query#}} {{#env.k#}} "
		  "{{#conversation.c#}}'}}]", "[{source: s, target: a}]" },
		/* a child reads its container's item; a loop its variable */
		{ __LINE__, "workflow", "[" START ", " END ", {id: it, data: "
		  "{type: iteration, title: I, start_node_id: itstart, "
		  "iterator_selector: [s, list], output_selector: [c, out]}}, "
		  "{id: itstart, type: custom-iteration-start, parentId: it, "
		  "data: {type: iteration-start, title: ''}}, {id: c, "
		  "parentId: it, data: {type: template-transform, title: C, "
		  "template: x, variables: [{variable: i, value_selector: "
		  "[it, item]}]}}]",
		  "[{source: s, target: it}, {source: it, target: e}, "
		  "{source: itstart, target: c}]" },
		/* not templates: a hyphen, no dot, too long a segment */
		{ __LINE__, "advanced-chat", "[" START ", {id: a, data: {type: "
		  "answer, title: A, answer: '{{#a-b.c#}} {{#context#}} "
		  "{{#x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa#}} {{ jinja }}'}}]",
		  "[]" },
		/* a code node's source and titles are not scanned */
		{ __LINE__, "workflow", "[" START ", " END ", {id: c, data: "
		  "{type: code, title: '{{#t.x#}}', desc: '{{#d.x#}}', code: "
		  "'return \"{{#c.x#}}\"'}}]", "[]" },
		/* empty selectors and unconnected nodes are fine */
		{ __LINE__, "workflow", "[" START ", {id: e, data: {type: end, "
		  "title: E, outputs: [{variable: o, value_selector: []}]}}]",
		  "[]" },
		/* container children: edges inside are not outer cycles */
		{ __LINE__, "workflow", "[" START ", " END ", {id: l, data: "
		  "{type: loop, title: L, start_node_id: lstart, loop_count: "
		  "3}}, {id: lstart, type: custom-loop-start, parentId: l, "
		  "data: {type: loop-start}}, {id: c, parentId: l, data: "
		  "{type: assigner, title: C, version: '2', items: "
		  "[{variable_selector: [l, i], operation: +=, input_type: "
		  "constant, value: 1}]}}]",
		  "[{source: s, target: l}, {source: l, target: e}, {source: "
		  "lstart, target: c}]" },
		/* an editor note is dropped, not checked */
		{ __LINE__, "workflow", "[" START ", " END ", {id: note, "
		  "type: custom-note, data: {type: '', text: "
		  "'{{#gone.x#}}'}}]", "[]" },
	};
	struct dsl_app	 a;
	char		*text;
	size_t		 i;

	TEST("sound graphs are accepted") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			text = wf_doc(rows[i].mode, rows[i].nodes,
			    rows[i].edges);
			CHECK_ROW(dsl_load(text, strlen(text), NULL, &a) == 0,
			    rows[i].line);
			dump(a.problems);
			dsl_app_free(&a);
			free(text);
		}
	}
}

static void
test_every_problem(void)
{
	struct dsl_app	 a;
	char		*text;

	text = wf_doc("workflow", "[{id: s, data: {type: start}}, "
	    "{id: x, data: {type: robot, title: X}}, {id: s, data: {type: "
	    "end}}, {id: a, data: {type: code, title: A, variables: "
	    "[{value_selector: [gone, v]}]}}, {id: b, data: {type: code}}]",
	    "[{source: a, target: b}, {source: b, target: a}, {source: a, "
	    "target: nowhere}]");
	TEST("every problem is listed, not only the first") {
		CHECK(dsl_load(text, strlen(text), NULL, &a) == -1);
		CHECK(has_message(a.problems,
		    "node \"x\": \"X\" (robot): unknown node type"));
		CHECK(has_message(a.problems,
		    "node \"s\" (end): duplicate id (node #1 has it too)"));
		CHECK(has_message(a.problems, "node \"a\": \"A\" (code): "
		    "refers to node \"gone\", which does not exist (in "
		    "variables)"));
		CHECK(has_message(a.problems, "node \"a\": \"A\" (code): in a "
		    "cycle: \"a\" -> \"b\" -> \"a\""));
		CHECK(has_message(a.problems, "edge #3 (from node \"a\": \"A\" "
		    "(code)): target \"nowhere\" is not a node"));
		CHECK(has_message(a.problems,
		    "graph: no end node (a workflow app needs one)") == 0);
		CHECK(json_object_array_length(a.problems) == 5);
		if (json_object_array_length(a.problems) != 5)
			dump(a.problems);
	}
	dsl_app_free(&a);
	free(text);
}

static void
test_many_problems(void)
{
	struct dsl_app	 a;
	struct buf	 b;
	int		 i;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "app: {name: x, mode: workflow}\nworkflow:\n  graph:\n"
	    "    nodes:\n    - {id: s, data: {type: start}}\n"
	    "    - {id: e, data: {type: end}}\n");
	for (i = 0; i < 250; i++)
		buf_printf(&b, "    - {id: n%d, data: {type: robot}}\n", i);
	TEST("at most 200 problems are listed, then how many more") {
		CHECK(dsl_load(b.p, b.len, NULL, &a) == -1);
		CHECK(json_object_array_length(a.problems) == SAY_MAX + 1);
		CHECK(has_message(a.problems, "and 50 more problems"));
		CHECK(a.nproblems == 250);
		CHECK(has_message(a.problems,
		    "node \"n199\" (robot): unknown node type"));
	}
	dsl_app_free(&a);
	buf_free(&b);
}

static void
test_warnings(void)
{
	struct dsl_app	 a;
	char		*text;
	char		 nodes[256], want[256];
	const char	*t = NULL;
	size_t		 i;
	int		 runs = 0;

	/* whichever types the engine does not run yet, at this commit */
	for (i = 0; dsl_node_type_at(i) != NULL; i++) {
		if (!dsl_node_type_runnable(dsl_node_type_at(i))) {
			t = dsl_node_type_at(i);
			break;
		}
		runs++;
	}
	if (t != NULL) {
		snprintf(nodes, sizeof(nodes), "[" START ", " END ", {id: x, "
		    "data: {type: %s, title: X}}, {id: y, data: {type: %s}}]",
		    t, t);
		text = wf_doc("workflow", nodes, "[]");
		TEST("known node types the engine cannot run import with a "
		    "warning for each node") {
			CHECK(dsl_load(text, strlen(text), NULL, &a) == 0);
			snprintf(want, sizeof(want), "node \"x\": \"X\" (%s): "
			    "the engine cannot run %s nodes yet: runs fail "
			    "when they reach it", t, t);
			CHECK(has_message(a.warnings, want));
			snprintf(want, sizeof(want), "node \"y\" (%s): the "
			    "engine cannot run %s nodes yet: runs fail when "
			    "they reach it", t, t);
			CHECK(has_message(a.warnings, want));
			CHECK(json_object_array_length(a.warnings) == 2);
		}
		dsl_app_free(&a);
		free(text);
	} else
		printf("# every known node type runs: no warning to test\n");
	text = wf_doc("workflow", "[" START ", " END "]", "[]");
	TEST("node types the engine runs import without a warning") {
		CHECK(dsl_load(text, strlen(text), NULL, &a) == 0);
		CHECK(json_object_array_length(a.warnings) == 0);
		CHECK(runs >= 2);
	}
	dsl_app_free(&a);
	free(text);
	text = xstrdup("version: 9.0.0\napp: {name: x, mode: chat}\n"
	    "model_config: {}\n");
	TEST("a newer version and a missing model are warnings") {
		CHECK(dsl_load(text, strlen(text), NULL, &a) == 0);
		CHECK(has_message(a.warnings, "version \"9.0.0\" is newer than "
		    "0.6.0, the newest this importer knows"));
		CHECK(has_message(a.warnings, "model_config.model: missing; "
		    "the app cannot answer until it has a model"));
	}
	dsl_app_free(&a);
	free(text);
}

/* The stored node with this id. */
static json_object *
node_by_id(json_object *graph, const char *id)
{
	json_object	*nodes = json_get(graph, "nodes"), *n;
	size_t		 i;

	for (i = 0; i < json_object_array_length(nodes); i++) {
		n = json_object_array_get_idx(nodes, i);
		if (STREQ(json_str(n, "id"), id))
			return n;
	}
	return NULL;
}

static json_object *
edge_by_id(json_object *graph, const char *id)
{
	json_object	*edges = json_get(graph, "edges"), *e;
	size_t		 i;

	for (i = 0; i < json_object_array_length(edges); i++) {
		e = json_object_array_get_idx(edges, i);
		if (STREQ(json_str(e, "id"), id))
			return e;
	}
	return NULL;
}

static const char normalise_doc[] =
    "app: {name: n, mode: workflow}\n"
    "workflow:\n"
    "  graph:\n"
    "    viewport: {x: 0, y: 0, zoom: 1}\n"
    "    nodes:\n"
    "    - {id: s, data: {type: start, title: S, variables: []}}\n"
    "    - {id: e, type: custom, data: {type: end, title: E}}\n"
    "    - {id: note, type: custom-note, data: {type: '', text: hi}}\n"
    "    - id: if\n"
    "      data: {type: if-else, title: IF, logical_operator: and,\n"
    "        conditions: [{variable_selector: [s, q],\n"
    "        comparison_operator: is, value: x}]}\n"
    "    - id: it\n"
    "      data: {type: iteration, title: IT, start_node_id: c,\n"
    "        iterator_selector: [s, l], parallel_nums: 0}\n"
    "    - {id: c, parentId: it, data: {type: llm, title: C,\n"
    "        isInIteration: true}}\n"
    "    - {id: it2, data: {type: iteration, title: IT2}}\n"
    "    - {id: lp, data: {type: loop, title: LP, start_node_id: d}}\n"
    "    - {id: d, parentId: lp, data: {type: code, title: D}}\n"
    "    - {id: h, data: {type: http-request, title: H}}\n"
    "    - {id: h2, data: {type: http-request, title: H2,\n"
    "        retry_config: {retry_enabled: false}}}\n"
    "    - id: t\n"
    "      data: {type: tool, title: T, tool_configurations:\n"
    "        {a: 1, b: null, c: {type: mixed, value: x}, d: [1]}}\n"
    "    - {id: t2, data: {type: tool, title: T2, tool_node_version: '2',\n"
    "        tool_configurations: {a: 1}}}\n"
    "    edges:\n"
    "    - {id: e1, source: s, target: if}\n"
    "    - {id: e2, source: if, sourceHandle: 'true', target: it,\n"
    "       type: weird, data: {sourceType: if-else}}\n"
    "    - {id: e3, source: it, target: e, targetHandle: ''}\n";

static void
test_normalise(void)
{
	struct dsl_app	 a;
	json_object	*g, *n, *e, *v;
	struct buf	 out;
	struct dsl_app	 b;

	TEST("the editor's normalisations are applied") {
		CHECK(dsl_load(normalise_doc, strlen(normalise_doc), NULL,
		    &a) == 0);
		dump(a.problems);
		g = a.graph;
		CHECK(json_object_object_length(g) == 2 &&
		    json_get(g, "viewport") == NULL);
		CHECK(node_by_id(g, "note") == NULL);
		/* legacy if-else: one case "true", the old keys gone */
		n = json_get(node_by_id(g, "if"), "data");
		CHECK(json_is(json_get(n, "cases"), "[{\"case_id\": \"true\", "
		    "\"logical_operator\": \"and\", \"conditions\": "
		    "[{\"variable_selector\": [\"s\", \"q\"], "
		    "\"comparison_operator\": \"is\", \"value\": \"x\"}]}]"));
		CHECK(json_get(n, "conditions") == NULL &&
		    json_get(n, "logical_operator") == NULL);
		CHECK(STREQ(json_str(node_by_id(g, "if"), "type"), "custom"));
		/* old iteration: a start node before its first child */
		n = json_get(node_by_id(g, "it"), "data");
		CHECK(STREQ(json_str(n, "start_node_id"), "itstart0"));
		CHECK(json_is(json_get(n, "is_parallel"), "false"));
		CHECK(json_is(json_get(n, "parallel_nums"), "10"));
		CHECK(STREQ(json_str(n, "error_handle_mode"), "terminated"));
		CHECK(json_is(node_by_id(g, "itstart0"), "{\"id\": "
		    "\"itstart0\", \"type\": \"custom-iteration-start\", "
		    "\"data\": {\"title\": \"\", \"desc\": \"\", \"type\": "
		    "\"iteration-start\", \"isInIteration\": true}, "
		    "\"position\": {\"x\": 24, \"y\": 68}, \"targetPosition\": "
		    "\"left\", \"sourcePosition\": \"right\", \"zIndex\": "
		    "1002, \"parentId\": \"it\", \"selectable\": false, "
		    "\"draggable\": false}"));
		CHECK(json_is(edge_by_id(g, "itstart0-source-c-target"),
		    "{\"id\": \"itstart0-source-c-target\", \"type\": "
		    "\"custom\", \"source\": \"itstart0\", \"sourceHandle\": "
		    "\"source\", \"target\": \"c\", \"targetHandle\": "
		    "\"target\", \"data\": {\"sourceType\": "
		    "\"iteration-start\", \"targetType\": \"llm\", "
		    "\"isInIteration\": true, \"iteration_id\": \"it\", "
		    "\"isInLoop\": false}, \"zIndex\": 1002}"));
		/* an iteration naming no start node gets one, numbered on */
		n = json_get(node_by_id(g, "it2"), "data");
		CHECK(STREQ(json_str(n, "start_node_id"), "it2start1"));
		CHECK(node_by_id(g, "it2start1") != NULL);
		/* loops too, numbered apart from iterations */
		n = json_get(node_by_id(g, "lp"), "data");
		CHECK(STREQ(json_str(n, "start_node_id"), "lpstart0"));
		CHECK(STREQ(json_str(n, "error_handle_mode"), "terminated"));
		n = node_by_id(g, "lpstart0");
		CHECK(STREQ(json_str(n, "type"), "custom-loop-start") &&
		    STREQ(json_str(json_get(n, "data"), "type"), "loop-start"));
		e = edge_by_id(g, "lpstart0-source-d-target");
		CHECK(e != NULL && json_is(json_get(json_get(e, "data"),
		    "isInLoop"), "true") && STREQ(json_str(json_get(e, "data"),
		    "loop_id"), "lp"));
		/* http-request retries; an explicit setting stays */
		CHECK(json_is(json_get(json_get(node_by_id(g, "h"), "data"),
		    "retry_config"), "{\"retry_enabled\": true, "
		    "\"max_retries\": 3, \"retry_interval\": 100}"));
		CHECK(json_is(json_get(json_get(node_by_id(g, "h2"), "data"),
		    "retry_config"), "{\"retry_enabled\": false}"));
		/* tools without a version: scalar configurations wrapped */
		n = json_get(node_by_id(g, "t"), "data");
		CHECK(STREQ(json_str(n, "tool_node_version"), "2"));
		CHECK(json_is(json_get(n, "tool_configurations"), "{\"a\": "
		    "{\"type\": \"constant\", \"value\": 1}, \"b\": {\"type\": "
		    "\"constant\", \"value\": null}, \"c\": {\"type\": "
		    "\"mixed\", \"value\": \"x\"}, \"d\": [1]}"));
		n = json_get(node_by_id(g, "t2"), "data");
		CHECK(json_is(json_get(n, "tool_configurations"),
		    "{\"a\": 1}"));
		/* edges: type, handles and end types filled in */
		CHECK(json_is(edge_by_id(g, "e1"), "{\"id\": \"e1\", "
		    "\"source\": \"s\", \"target\": \"if\", \"type\": "
		    "\"custom\", \"sourceHandle\": \"source\", "
		    "\"targetHandle\": \"target\", \"data\": {\"sourceType\": "
		    "\"start\", \"targetType\": \"if-else\"}}"));
		e = edge_by_id(g, "e2");
		CHECK(STREQ(json_str(e, "type"), "custom") &&
		    STREQ(json_str(e, "sourceHandle"), "true"));
		CHECK(STREQ(json_str(edge_by_id(g, "e3"), "targetHandle"),
		    "target"));
	}
	TEST("normalising is idempotent: an export imports to the same "
	    "graph") {
		buf_init(&out, 1 << 24);
		CHECK(dsl_export(&a, 0, &out) == 0);
		CHECK(dsl_load(out.p, out.len, NULL, &b) == 0);
		CHECK(json_object_equal(a.graph, b.graph));
		v = json_get(json_get(b.doc, "workflow"), "graph");
		CHECK(json_object_equal(json_get(v, "nodes"),
		    json_get(a.graph, "nodes")));
		dsl_app_free(&b);
		buf_free(&out);
	}
	dsl_app_free(&a);
}

static void
test_config(void)
{
	static const char wf[] =
	    "app: {name: c, mode: advanced-chat, icon: x, icon_type: emoji,\n"
	    "  icon_background: '#FFF', description: d,\n"
	    "  use_icon_as_answer_icon: true}\n"
	    "workflow:\n"
	    "  features: {opening_statement: hello, suggested_questions: [q],\n"
	    "    file_upload: {enabled: true}}\n"
	    "  environment_variables:\n"
	    "  - {name: k, value_type: secret, value: s3cret, id: '1'}\n"
	    "  conversation_variables:\n"
	    "  - {name: c, value_type: number, value: 0, id: '2'}\n"
	    "  graph:\n"
	    "    nodes:\n"
	    "    - id: s\n"
	    "      data:\n"
	    "        type: start\n"
	    "        title: S\n"
	    "        variables:\n"
	    "        - {variable: city, label: City, type: text-input,\n"
	    "           required: true, max_length: 48, options: []}\n"
	    "        - {variable: n, label: N, type: number, required: false}\n"
	    "    - {id: q, data: {type: question-classifier, title: Q,\n"
	    "        model: {provider: p0, name: m0}}}\n"
	    "    - {id: l1, data: {type: llm, title: L1,\n"
	    "        model: {provider: p1, name: m1, mode: chat,\n"
	    "        completion_params: {temperature: 0.7}}}}\n"
	    "    - {id: l2, data: {type: llm, title: L2,\n"
	    "        model: {provider: p2, name: m2}}}\n"
	    "    - {id: a, data: {type: answer, title: A, answer: x}}\n"
	    "    edges: []\n";
	static const char chat[] =
	    "app: {name: c, mode: chat}\n"
	    "model_config:\n"
	    "  model: {provider: openai, name: gpt-4o, mode: chat,\n"
	    "    completion_params: {temperature: 0.2}}\n"
	    "  pre_prompt: 'You are {{name}}'\n"
	    "  user_input_form: [{text-input: {variable: name, label: N,\n"
	    "    required: true}}]\n"
	    "  opening_statement: ''\n"
	    "  agent_mode: {enabled: false, tools: []}\n";
	struct dsl_app	 a;
	json_object	*c;

	TEST("workflow modes: features, the start form and the first llm "
	    "model make the config") {
		CHECK(dsl_load(wf, strlen(wf), NULL, &a) == 0);
		c = a.config;
		CHECK(json_is(c, "{\"opening_statement\": \"hello\", "
		    "\"suggested_questions\": [\"q\"], \"file_upload\": "
		    "{\"enabled\": true}, \"user_input_form\": "
		    "[{\"text-input\": {\"variable\": \"city\", \"label\": "
		    "\"City\", \"type\": \"text-input\", \"required\": true, "
		    "\"max_length\": 48, \"options\": []}}, {\"number\": "
		    "{\"variable\": \"n\", \"label\": \"N\", \"type\": "
		    "\"number\", \"required\": false}}], \"model\": "
		    "{\"provider\": \"p1\", \"name\": \"m1\", \"mode\": "
		    "\"chat\", \"completion_params\": {\"temperature\": "
		    "0.7}}}"));
		CHECK(strstr(json_compact(c), "\"temperature\":0.7}") != NULL);
		CHECK(json_is(a.features, "{\"opening_statement\": \"hello\", "
		    "\"suggested_questions\": [\"q\"], \"file_upload\": "
		    "{\"enabled\": true}}"));
		CHECK(json_is(a.env, "[{\"name\": \"k\", \"value_type\": "
		    "\"secret\", \"value\": \"s3cret\", \"id\": \"1\"}]"));
		CHECK(json_is(a.conv, "[{\"name\": \"c\", \"value_type\": "
		    "\"number\", \"value\": 0, \"id\": \"2\"}]"));
		CHECK(STREQ(a.name, "c") && STREQ(a.mode, "advanced-chat") &&
		    STREQ(a.icon, "x") && STREQ(a.icon_type, "emoji") &&
		    STREQ(a.icon_background, "#FFF") &&
		    STREQ(a.description, "d") && a.use_icon_as_answer_icon);
		CHECK(STREQ(a.version, "0.1.0"));
	}
	dsl_app_free(&a);
	TEST("--name replaces app.name") {
		CHECK(dsl_load(wf, strlen(wf), "other", &a) == 0);
		CHECK(STREQ(a.name, "other"));
	}
	dsl_app_free(&a);
	TEST("an empty name is no name") {
		CHECK(dsl_load(wf, strlen(wf), "", &a) == -1);
		CHECK(has_message(a.problems,
		    "app.name: missing (or give a name)"));
	}
	dsl_app_free(&a);
	TEST("other modes: model_config is the config, as written") {
		CHECK(dsl_load(chat, strlen(chat), NULL, &a) == 0);
		CHECK(json_object_equal(a.config,
		    json_get(a.doc, "model_config")));
		CHECK(a.graph == NULL && a.features == NULL && a.env == NULL);
		CHECK(json_object_array_length(a.warnings) == 0);
	}
	dsl_app_free(&a);
}

static void
test_export(void)
{
	static const char *const strings[] = { "true", "True", "yes", "No",
	    "on", "null", "~", "", "123", "0x1F", "017", "1_000", "1:30",
	    "1.5", "1e5", ".inf", ".nan", "2001-12-14", "<<", "=", "- a",
	    ": x", "a: b", "# c", "a #b", "[x]", "{y}", "@at", "`bt", "%p",
	    "!tag", "&anchor", "*alias", "|", ">", "'q'", "\"dq\"", "a\nb",
	    "trailing \n", "  lead\nx", "x\n\n", "\n", "\n\nx", "tab\there",
	    " ", "end ", "\xf0\x9f\x98\x80 \xe6\x98\xa5\xe8\x81\x94", "a\\b",
	    "{{#123.text#}}", "line1\r\nline2", "\xc2\x85nel",
	    "x\xe2\x80\xa8y", "---", "...", "? k",
	    "a very long line of words that goes on and on well past the "
	    "eighty columns at which the emitter folds long scalars, to "
	    "check that folding keeps every space exactly where it was", };
	struct dsl_app	 a, b;
	struct buf	 out;
	json_object	*data, *obj, *nodes, *node, *env, *e;
	char		 key[32];
	size_t		 i;

	memset(&a, 0, sizeof(a));
	a.name = "yes";
	a.mode = "workflow";
	a.description = "multi\nline";
	a.icon = "\xf0\x9f\xa4\x96";
	a.icon_background = "#FFEAD5";
	a.use_icon_as_answer_icon = 1;
	data = json_object_new_object();
	obj = json_object_new_object();
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		snprintf(key, sizeof(key), "s%02zu", i);
		json_object_object_add(data, key,
		    json_object_new_string(strings[i]));
		json_object_object_add(obj, strings[i],
		    json_object_new_int((int)i));
	}
	json_object_object_add(data, "keys", obj);
	json_object_object_add(data, "type", json_object_new_string("start"));
	json_object_object_add(data, "numbers", json_tokener_parse(
	    "[0, -1, 9223372036854775807, 0.5, 0.7, 1e16, 1.0, -0.0, 1e-07, "
	    "true, false, null, [], {}]"));
	node = json_object_new_object();
	json_object_object_add(node, "id", json_object_new_string("123"));
	json_object_object_add(node, "type", json_object_new_string("custom"));
	json_object_object_add(node, "data", data);
	nodes = json_object_new_array();
	json_object_array_add(nodes, node);
	node = json_tokener_parse("{\"id\": \"t\", \"type\": \"custom\", "
	    "\"data\": {\"type\": \"tool\", \"title\": \"T\", "
	    "\"tool_node_version\": \"2\", \"credential_id\": \"cred-1\"}}");
	json_object_array_add(nodes, node);
	node = json_tokener_parse("{\"id\": \"g\", \"type\": \"custom\", "
	    "\"data\": {\"type\": \"agent\", \"title\": \"G\", "
	    "\"agent_parameters\": {\"tools\": {\"value\": [{\"name\": "
	    "\"x\", \"credential_id\": \"cred-2\"}]}}}}");
	json_object_array_add(nodes, node);
	node = json_tokener_parse("{\"id\": \"e\", \"type\": \"custom\", "
	    "\"data\": {\"type\": "
	    "\"end\", \"title\": \"End\"}}");
	json_object_array_add(nodes, node);
	a.graph = json_object_new_object();
	json_object_object_add(a.graph, "nodes", nodes);
	json_object_object_add(a.graph, "edges", json_object_new_array());
	a.features = json_tokener_parse("{\"opening_statement\": \"no\"}");
	a.env = json_tokener_parse("[{\"name\": \"k\", \"value_type\": "
	    "\"secret\", \"value\": \"s3cret\"}, {\"name\": \"p\", "
	    "\"value_type\": \"string\", \"value\": \"plain\"}]");
	a.conv = json_object_new_array();
	buf_init(&out, 1 << 24);
	TEST("an export reads back to the same JSON, whatever the strings") {
		CHECK(dsl_export(&a, 1, &out) == 0);
		CHECK(dsl_load(out.p, out.len, NULL, &b) == 0);
		dump(b.problems);
		CHECK(json_object_equal(a.graph, b.graph));
		CHECK(json_object_equal(a.features, b.features));
		CHECK(STREQ(b.name, "yes") && STREQ(b.description,
		    "multi\nline") && STREQ(b.icon, a.icon) &&
		    b.icon_type == NULL && b.use_icon_as_answer_icon);
		CHECK(STREQ(b.version, "0.6.0"));
		CHECK(STREQ(json_str(b.doc, "kind"), "app"));
		CHECK(json_is(json_get(b.doc, "dependencies"), "[]"));
		CHECK(json_is(json_get(json_get(b.doc, "workflow"),
		    "conversation_variables"), "[]"));
		/* numbers keep their type and are spelled as Python does */
		CHECK(strstr(out.p, "- 0.7\n") != NULL);
		CHECK(strstr(out.p, "- 1.0e+16\n") != NULL);
		CHECK(strstr(out.p, "- 1.0e-07\n") != NULL);
		CHECK(strstr(out.p, "\nversion: 0.6.0\n") != NULL);
		CHECK(strstr(out.p, "\nkind: app\n") != NULL);
		CHECK(strstr(out.p, "  name: 'yes'\n") != NULL);
		if (!json_object_equal(a.graph, b.graph))
			printf("#   %s\n#   %s\n", json_compact(a.graph),
			    json_compact(b.graph));
	}
	dsl_app_free(&b);
	buf_reset(&out);
	TEST("secret environment values and tool credentials are left out") {
		CHECK(dsl_export(&a, 0, &out) == 0);
		CHECK(dsl_load(out.p, out.len, NULL, &b) == 0);
		CHECK(strstr(out.p, "s3cret") == NULL);
		CHECK(strstr(out.p, "cred-") == NULL);
		CHECK(json_get(json_get(node_by_id(b.graph, "t"), "data"),
		    "credential_id") == NULL);
		CHECK(json_get(json_get(node_by_id(a.graph, "t"), "data"),
		    "credential_id") != NULL);
		env = b.env;
		e = json_object_array_get_idx(env, 0);
		CHECK(STREQ(json_str(e, "value"), "") &&
		    STREQ(json_str(e, "value_type"), "secret"));
		CHECK(STREQ(json_str(json_object_array_get_idx(env, 1),
		    "value"), "plain"));
	}
	dsl_app_free(&b);
	buf_reset(&out);
	TEST("--include-secret writes them") {
		CHECK(dsl_export(&a, 1, &out) == 0);
		CHECK(strstr(out.p, "value: s3cret\n") != NULL);
		CHECK(strstr(out.p, "credential_id: cred-1\n") != NULL);
		CHECK(strstr(out.p, "credential_id: cred-2\n") != NULL);
	}
	TEST("keys come sorted, as Dify's yaml.dump writes them") {
		buf_reset(&out);
		CHECK(dsl_export(&a, 0, &out) == 0);
		CHECK(strncmp(out.p, "app:\n  description: ", 20) == 0);
		CHECK(strstr(out.p, "dependencies: []\nkind: app\nversion: "
		    "0.6.0\nworkflow:\n  conversation_variables: []\n  "
		    "environment_variables:\n") != NULL);
	}
	buf_free(&out);
	dsl_app_free(&a);
	memset(&a, 0, sizeof(a));
	a.name = "c";
	a.mode = "completion";
	a.config = json_tokener_parse("{\"pre_prompt\": \"null\", "
	    "\"model\": {\"name\": \"m\", \"completion_params\": "
	    "{\"temperature\": 0.3}}, \"agent_mode\": {\"tools\": "
	    "[{\"tool_name\": \"t\", \"credential_id\": \"c\"}]}}");
	buf_init(&out, 1 << 24);
	TEST("other modes export model_config, without tool credentials") {
		CHECK(dsl_export(&a, 1, &out) == 0);
		CHECK(dsl_load(out.p, out.len, NULL, &b) == 0);
		CHECK(json_get(json_object_array_get_idx(json_get(json_get(
		    b.config, "agent_mode"), "tools"), 0), "credential_id") ==
		    NULL);
		json_object_object_del(json_object_array_get_idx(json_get(
		    json_get(a.config, "agent_mode"), "tools"), 0),
		    "credential_id");
		CHECK(json_object_equal(a.config, b.config));
		CHECK(json_get(b.doc, "workflow") == NULL);
	}
	dsl_app_free(&b);
	buf_free(&out);
	dsl_app_free(&a);
}

int
main(void)
{
	test_scalars();
	test_documents();
	test_limits();
	test_repr();
	test_node_types();
	test_problems();
	test_accepted();
	test_every_problem();
	test_many_problems();
	test_warnings();
	test_normalise();
	test_config();
	test_export();
	UNIT_DONE();
}
