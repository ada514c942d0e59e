/*
 * test_wf_code.c: the code node, python3 and javascript, through the real
 * sandbox: a main() returning every output type, Dify's output checks and
 * messages, runtime errors, the limits (time, memory, result size) and
 * the isolation (no socket, no file outside the scratch directory, no
 * fork, no signal to the server).  Prints what the sandbox could apply
 * here and the cost of a run in each language.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../lib/wf_code.c"
#include "unit.h"

/* set: the engine is stopped before the node runs */
static int	stop_engine;

struct harness {
	struct pool	 p;
	struct wf_run	 r;
	struct wf_engine e;
	struct wf_node	 n;
	struct wf_exec	 x;
	json_object	*data;
};

/*
 * Run a code node: "outputs" the declared outputs (JSON, or NULL for
 * none), a variable for each key of "inputs" (a JSON object), bound to
 * start.<key>.  Returns what the executor returned.
 */
static int
run_code(struct harness *h, const char *lang, const char *code,
    const char *outputs, const char *inputs)
{
	json_object	*in, *vars;

	memset(h, 0, sizeof(*h));
	h->r.p = &h->p;
	h->r.started = now_mono();
	h->e.r = &h->r;
	h->e.pool = &h->e.own_pool;
	h->e.aborted = stop_engine;
	wf_pool_init(&h->e.own_pool);
	in = json_tokener_parse(inputs ? inputs : "{}");
	wf_pool_add(&h->e.own_pool, "start", in);
	h->data = json_object_new_object();
	json_object_object_add(h->data, "type", json_object_new_string("code"));
	json_object_object_add(h->data, "code_language",
	    json_object_new_string(lang));
	json_object_object_add(h->data, "code", json_object_new_string(code));
	json_object_object_add(h->data, "outputs", outputs ?
	    json_tokener_parse(outputs) : NULL);
	vars = json_object_new_array();
	json_object_object_foreach(in, k, v) {
		json_object	*it = json_object_new_object();
		json_object	*sel = json_object_new_array();

		(void)v;
		json_object_array_add(sel, json_object_new_string("start"));
		json_object_array_add(sel, json_object_new_string(k));
		json_object_object_add(it, "variable",
		    json_object_new_string(k));
		json_object_object_add(it, "value_selector", sel);
		json_object_array_add(vars, it);
	}
	json_object_object_add(h->data, "variables", vars);
	json_object_put(in);
	h->n.id = "code";
	h->n.type = "code";
	h->n.data = h->data;
	return wf_code_run(&h->e, &h->n, &h->x);
}

static void
harness_free(struct harness *h)
{
	json_object_put(h->x.inputs);
	json_object_put(h->x.outputs);
	json_object_put(h->x.process_data);
	json_object_put(h->x.metadata);
	json_object_put(h->data);
	wf_pool_free(&h->e.own_pool);
	pool_free_all(&h->p);
}

#define PY	"python3"
#define JS	"javascript"

/* Every output type, from both languages; the outputs as kept. */
static void
test_types(void)
{
	static const char *schema = "{\"s\":{\"type\":\"string\"},"
	    "\"n\":{\"type\":\"number\"},\"f\":{\"type\":\"number\"},"
	    "\"t\":{\"type\":\"boolean\"},\"o\":{\"type\":\"object\","
	    "\"children\":{\"k\":{\"type\":\"string\"}}},"
	    "\"free\":{\"type\":\"object\",\"children\":null},"
	    "\"as\":{\"type\":\"array[string]\"},"
	    "\"an\":{\"type\":\"array[number]\"},"
	    "\"ao\":{\"type\":\"array[object]\"},"
	    "\"ab\":{\"type\":\"array[boolean]\"},"
	    "\"none\":{\"type\":\"string\"}}";
	static const char *want = "{\"s\":\"hi é\",\"n\":3,\"f\":2.5,"
	    "\"t\":true,\"o\":{\"k\":\"v\"},\"free\":{\"x\":[1,2],\"y\":"
	    "{\"z\":null}},\"as\":[\"a\",\"b\"],\"an\":[1,2.5,-3],"
	    "\"ao\":[{\"q\":1}],\"ab\":[true,false],\"none\":null}";
	static const struct {
		int		 line;
		const char	*lang;
		const char	*code;
	} rows[] = {
		{ __LINE__, PY, "def main(a, b, c):\n"
		  "    return {'s': a, 'n': b, 'f': 2.5, 't': True,\n"
		  "        'o': {'k': 'v'},\n"
		  "        'free': {'x': [1, 2], 'y': {'z': None}},\n"
		  "        'as': ['a', 'b'], 'an': [1, 2.5, -3],\n"
		  "        'ao': [{'q': 1}],\n"
		  "        'ab': [True, False], 'none': c}\n" },
		{ __LINE__, JS, "function main({a, b, c}) {\n"
		  "    return {s: a, n: b, f: 2.5, t: true, o: {k: 'v'},\n"
		  "        free: {x: [1, 2], y: {z: null}}, as: ['a', 'b'],\n"
		  "        an: [1, 2.5, -3], ao: [{q: 1}], ab: [true, false],\n"
		  "        none: c}\n"
		  "}\n" },
	};
	struct harness	h;
	size_t		i;
	int		rc;

	TEST("a main() returning every output type, in python and "
	    "javascript, gives exactly those outputs") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			rc = run_code(&h, rows[i].lang, rows[i].code, schema,
			    "{\"a\":\"hi é\",\"b\":3,\"c\":null}");
			CHECK_ROW(rc == WF_OK, rows[i].line);
			CHECK_ROW(STREQ(json_compact(h.x.outputs), want),
			    rows[i].line);
			if (rc != WF_OK || !STREQ(json_compact(h.x.outputs),
			    want))
				printf("#   got %s: %s\n", json_compact(
				    h.x.outputs), h.x.error);
			CHECK_ROW(STREQ(json_compact(h.x.inputs),
			    "{\"a\":\"hi é\",\"b\":3,\"c\":null}"),
			    rows[i].line);
			harness_free(&h);
		}
	}
}

/* Results and what Dify makes of them: outputs or the exact error. */
static void
test_checks(void)
{
	static const struct {
		int		 line;
		const char	*lang;
		const char	*code;
		const char	*outputs;
		const char	*want;		/* outputs, or NULL */
		const char	*error;		/* exact message */
		const char	*type;
	} rows[] = {
		{ __LINE__, PY, "def main():\n    return {'x': 1}",
		  "{\"x\":{\"type\":\"string\"}}", NULL,
		  "Output x must be a string, got int instead",
		  "OutputValidationError" },
		{ __LINE__, JS, "function main() { return {x: [1]} }",
		  "{\"x\":{\"type\":\"string\"}}", NULL,
		  "Output x must be a string, got list instead",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 'a'}",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Output x is not a number, got <class 'str'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': True}",
		  "{\"x\":{\"type\":\"number\"}}", "{\"x\":1}", NULL, NULL },
		{ __LINE__, PY, "def main():\n    return {'x': [1, 'a']}",
		  "{\"x\":{\"type\":\"array[number]\"}}", NULL,
		  "The element at index 1 of output variable `x` must be a "
		  "number.", "OutputValidationError" },
		{ __LINE__, JS, "function main() { return {x: 'a'} }",
		  "{\"x\":{\"type\":\"array[string]\"}}", NULL,
		  "Output x is not an array, got <class 'str'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': [1]}",
		  "{\"x\":{\"type\":\"array[object]\"}}", NULL,
		  "Output x[0] is not an object, got <class 'int'> instead at "
		  "index 0.", "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': [1]}",
		  "{\"x\":{\"type\":\"array[boolean]\"}}", NULL,
		  "Output x[0] is not a boolean, got <class 'int'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 5}",
		  "{\"x\":{\"type\":\"object\"}}", NULL,
		  "Output x is not an object, got <class 'int'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': {'y': 'z'}}",
		  "{\"x\":{\"type\":\"object\",\"children\":{\"y\":"
		  "{\"type\":\"number\"}}}}", NULL,
		  "Output .x.y is not a number, got <class 'str'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 1}",
		  "{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"string\"}}",
		  NULL, "Output y is missing.", "OutputValidationError" },
		{ __LINE__, JS, "function main() { return {x: 1, extra: 2} }",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Not all output parameters are validated.", "CodeNodeError" },
		{ __LINE__, PY, "def main():\n    return {'x': 'a' * 400001}",
		  "{\"x\":{\"type\":\"string\"}}", NULL,
		  "The length of output variable `x` must be less than 400000 "
		  "characters", "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 'é' * 400000}",
		  "{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"string\"}}",
		  NULL, "Output x is not a number, got <class 'str'> instead.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 'a\\x00b'}",
		  "{\"x\":{\"type\":\"string\"}}", "{\"x\":\"ab\"}", NULL,
		  NULL },
		{ __LINE__, PY, "def main():\n    return {'x': 2 ** 63}",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Output variable `x` is out of range, it must be between "
		  "-9223372036854775807 and 9223372036854775807.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': -10 ** 30}",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Output variable `x` is out of range, it must be between "
		  "-9223372036854775807 and 9223372036854775807.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 2 ** 63 - 1}",
		  "{\"x\":{\"type\":\"number\"}}",
		  "{\"x\":9223372036854775807}", NULL, NULL },
		{ __LINE__, JS, "function main() { return {x: 1e300} }",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Output variable `x` is out of range, it must be between "
		  "-9223372036854775807 and 9223372036854775807.",
		  "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': 1e-21}",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Output variable `x` has too high precision, it must be less "
		  "than 20 digits.", "OutputValidationError" },
		{ __LINE__, JS, "function main() { return {x: 0.1 + 0.2} }",
		  "{\"x\":{\"type\":\"number\"}}",
		  "{\"x\":0.30000000000000004}", NULL, NULL },
		{ __LINE__, PY, "def main():\n"
		  "    return {'x': list(range(1001))}",
		  "{\"x\":{\"type\":\"array[number]\"}}", NULL,
		  "The length of output variable `x` must be less than 1000 "
		  "elements.", "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': ['a'] * 31}",
		  "{\"x\":{\"type\":\"array[string]\"}}", NULL,
		  "The length of output variable `x` must be less than 30 "
		  "elements.", "OutputValidationError" },
		{ __LINE__, JS, "function main() { var a = []; for (var i = 0; "
		  "i < 31; i++) a.push({}); return {x: a} }",
		  "{\"x\":{\"type\":\"array[object]\"}}", NULL,
		  "The length of output variable `x` must be less than 30 "
		  "elements.", "OutputValidationError" },
		{ __LINE__, PY, "def main():\n"
		  "    return {'x': {'a': {'b': {'c': {'d': {'e': 1}}}}}}",
		  "{\"x\":{\"type\":\"object\"}}", NULL,
		  "Depth limit 5 reached, object too deep.",
		  "DepthLimitError" },
		{ __LINE__, PY, "def main():\n"
		  "    return {'x': {'a': {'b': {'c': {'d': 1}}}}}",
		  "{\"x\":{\"type\":\"object\"}}",
		  "{\"x\":{\"a\":{\"b\":{\"c\":{\"d\":1}}}}}", NULL, NULL },
		{ __LINE__, PY, "def main():\n"
		  "    return {'x': {'l': [1, 'a']}}",
		  "{\"x\":{\"type\":\"object\"}}", NULL,
		  "Output .x.l is not a valid array. make sure all elements "
		  "are of the same type.", "OutputValidationError" },
		{ __LINE__, PY, "def main():\n    return {'x': '1e+5'}",
		  "{\"x\":{\"type\":\"number\"}}", "{\"x\":100000.0}", NULL,
		  NULL },
		{ __LINE__, PY, "def main():\n    return [1]",
		  "{\"x\":{\"type\":\"number\"}}", NULL,
		  "Result must be a dict, got list", "WorkflowNodeError" },
		{ __LINE__, PY, "def main():\n    return None",
		  "{}", NULL, "Result must be a dict, got NoneType",
		  "WorkflowNodeError" },
		{ __LINE__, JS, "function main() { }", "{}", NULL,
		  "Failed to parse JSON response: Expecting value: line 1 "
		  "column 1 (char 0).", "WorkflowNodeError" },
		{ __LINE__, PY, "def main():\n    return {}", "{}", "{}", NULL,
		  NULL },
		{ __LINE__, PY, "def main():\n    return {'a': 1, 'b': [2]}",
		  NULL, "{\"a\":1,\"b\":[2]}", NULL, NULL },
		{ __LINE__, "php", "<?php", "{}", NULL,
		  "Unsupported code language: php", "CodeNodeError" },
		{ __LINE__, PY, "def main():\n    return {'x': 'y'}",
		  "{\"x\":{\"type\":\"file\"}}", NULL,
		  "Output type file is not supported.",
		  "OutputValidationError" },
		/* what the code prints goes nowhere, as in Dify */
		{ __LINE__, PY, "def main():\n    print('noise')\n"
		  "    return {'x': 'ok'}", "{\"x\":{\"type\":\"string\"}}",
		  "{\"x\":\"ok\"}", NULL, NULL },
		{ __LINE__, JS, "function main() { console.log('noise'); "
		  "return {x: 'ok'} }", "{\"x\":{\"type\":\"string\"}}",
		  "{\"x\":\"ok\"}", NULL, NULL },
		/* javascript written for node.js: main's destructuring, let */
		{ __LINE__, JS, "function main({ a, d = 40, c: cc }) {\n"
		  "    let s = a + d;\n    const t = cc === null;\n"
		  "    return { result: s, t: t,\n"
		  "        re: /a\\/let x/.test('a/let x') }\n}",
		  NULL, "{\"result\":42,\"t\":true,\"re\":true}", NULL, NULL },
		{ __LINE__, JS, "function main({a} = {}) { return {r: a} }",
		  NULL, "{\"r\":2}", NULL, NULL },
	};
	struct harness	h;
	size_t		i;
	int		rc;

	TEST("results are checked as Dify checks them, with its messages "
	    "and error types") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			rc = run_code(&h, rows[i].lang, rows[i].code,
			    rows[i].outputs, strcmp(rows[i].lang, JS) == 0 ?
			    "{\"a\":2,\"b\":null,\"c\":null}" : NULL);
			if (rows[i].want != NULL) {
				CHECK_ROW(rc == WF_OK, rows[i].line);
				CHECK_ROW(STREQ(json_compact(h.x.outputs),
				    rows[i].want), rows[i].line);
			} else {
				CHECK_ROW(rc == WF_FAIL, rows[i].line);
				CHECK_ROW(STREQ(h.x.error, rows[i].error),
				    rows[i].line);
				CHECK_ROW(STREQ(h.x.error_type, rows[i].type),
				    rows[i].line);
			}
			if (rows[i].want ? !STREQ(json_compact(h.x.outputs),
			    rows[i].want) : !STREQ(h.x.error, rows[i].error))
				printf("#   line %d: rc %d outputs %s error "
				    "%s: %s\n", rows[i].line, rc, json_compact(
				    h.x.outputs), h.x.error_type, h.x.error);
			harness_free(&h);
		}
	}
}

/*
 * Runs that fail or that the sandbox stops: the error contains every
 * "want" piece and none of "not".
 */
static void
test_failures(const char *dbfile)
{
	char		 read_db[512], environ_of[256];
	static const struct {
		int		 line;
		const char	*lang;
		const char	*code;	/* %s: the database file, or a pid */
		const char	*want[3];
	} rows[] = {
		{ __LINE__, PY, "def main():\n    return {'x': 1 / 0}",
		  { "Traceback (most recent call last):",
		    "ZeroDivisionError: division by zero",
		    "error: exit status 1\n" } },
		{ __LINE__, PY, "def main(:\n", { "SyntaxError",
		    "error: exit status 1\n", NULL } },
		{ __LINE__, PY, "x = 1\n", { "NameError: name 'main' is not "
		    "defined", NULL, NULL } },
		{ __LINE__, JS, "function main() { throw new Error('boom') }",
		  { "Error: boom", "error: exit status 1\n", NULL } },
		{ __LINE__, JS, "function main() { return {x: (}", {
		    "SyntaxError", "error: exit status 1\n", NULL } },
		{ __LINE__, JS, "function main() { console.error('to stderr'); "
		  "return {} }", { "to stderr\n", NULL, NULL } },
		{ __LINE__, PY, "def main():\n    while True:\n        pass",
		  { "error: timeout\nerror: signal: killed\n", NULL, NULL } },
		{ __LINE__, JS, "function main() { for (;;) {} }",
		  { "error: timeout\nerror: signal: killed\n", NULL, NULL } },
		{ __LINE__, PY, "def main():\n    x = 'a' * (512 << 20)\n"
		  "    return {'x': len(x)}", { "MemoryError",
		    "error: exit status 1\n", NULL } },
		{ __LINE__, PY, "def main():\n    x = []\n    while True:\n"
		  "        x.append(' ' * 1000000)", { "MemoryError",
		    "error: exit status 1\n", NULL } },
		{ __LINE__, JS, "function main() { var s = 'x'; for (;;) "
		  "s = s + s; }", { "Error: alloc failed",
		    "error: exit status 1\n", NULL } },
		{ __LINE__, PY, "import socket\ndef main():\n"
		  "    socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
		  { "PermissionError: [Errno 1] Operation not permitted",
		    NULL, NULL } },
		{ __LINE__, PY, "import socket\ndef main():\n"
		  "    socket.create_connection(('127.0.0.1', 80), 1)",
		  { "PermissionError", NULL, NULL } },
		{ __LINE__, PY, "import socket\ndef main():\n"
		  "    socket.socket(socket.AF_UNIX).connect('/run/x')",
		  { "PermissionError", NULL, NULL } },
		{ __LINE__, PY, "def main():\n"
		  "    open('/tmp/x', 'w').write('x')",
		  { "Error: [Errno", "'/tmp/x'", NULL } },
		{ __LINE__, PY, "import os\ndef main():\n    os.fork()",
		  { "BlockingIOError", "Resource temporarily unavailable",
		    NULL } },
		{ __LINE__, PY, "import subprocess\ndef main():\n"
		  "    subprocess.run(['/bin/true'])", { "Error", NULL,
		    NULL } },
		{ __LINE__, PY, "import os, signal\ndef main():\n"
		  "    os.kill(os.getppid(), signal.SIGTERM)",
		  { "PermissionError", NULL, NULL } },
		{ __LINE__, PY, "import ctypes, os\ndef main():\n"
		  "    libc = ctypes.CDLL(None)\n"
		  "    raise SystemExit(libc.ptrace(16, os.getppid(), 0, 0))",
		  { "error: exit status", NULL, NULL } },
		{ __LINE__, PY, "def main():\n    open('big', 'w').write('x' * "
		  "(2 << 20))", { "OSError: [Errno 27] File too large", NULL,
		    NULL } },
		{ __LINE__, PY, "import sys\ndef main():\n"
		  "    print('warn', file=sys.stderr)\n    return {}",
		  { "warn\n", NULL, NULL } },
	};
	struct harness	h;
	size_t		i, k;
	int		rc;

	setenv("DIFYCGI_CODE_TIMEOUT_MS", "1500", 1);
	setenv("DIFYCGI_CODE_MEMORY_MB", "128", 1);
	TEST("failed runs fail the node with the sandbox's text: tracebacks, "
	    "exit status, timeouts, memory, no network, files, fork, signals") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			double	t0 = now_mono();

			rc = run_code(&h, rows[i].lang, rows[i].code, "{}",
			    NULL);
			CHECK_ROW(rc == WF_FAIL, rows[i].line);
			CHECK_ROW(STREQ(h.x.error_type, "CodeExecutionError"),
			    rows[i].line);
			for (k = 0; k < 3 && rows[i].want[k] != NULL; k++)
				CHECK_ROW(strstr(h.x.error, rows[i].want[k]) !=
				    NULL, rows[i].line);
			CHECK_ROW(now_mono() - t0 < 4, rows[i].line);
			if (rc != WF_FAIL || strstr(h.x.error,
			    rows[i].want[0]) == NULL)
				printf("#   line %d: %s\n", rows[i].line,
				    h.x.error);
			harness_free(&h);
		}
	}
	snprintf(read_db, sizeof(read_db), "def main():\n"
	    "    return {'x': open('%s', 'rb').read(16).decode()}", dbfile);
	snprintf(environ_of, sizeof(environ_of), "import os\ndef main():\n"
	    "    return {'x': open('/proc/%ld/environ').read()}",
	    (long)getpid());
	TEST("python cannot read the database file nor the server's "
	    "environment") {
		rc = run_code(&h, PY, read_db, "{\"x\":{\"type\":\"string\"}}",
		    NULL);
		CHECK(rc == WF_FAIL);
		CHECK(strstr(h.x.error, "PermissionError") != NULL ||
		    strstr(h.x.error, "FileNotFoundError") != NULL);
		CHECK(strstr(h.x.error, "SQLite") == NULL);
		harness_free(&h);
		rc = run_code(&h, PY, environ_of, "{\"x\":{\"type\":"
		    "\"string\"}}", NULL);
		CHECK(rc == WF_FAIL);
		CHECK(strstr(h.x.error, "DIFYCGI") == NULL);
		harness_free(&h);
	}
	TEST("a result over DIFYCGI_CODE_OUTPUT_KB fails the node") {
		setenv("DIFYCGI_CODE_OUTPUT_KB", "1", 1);
		rc = run_code(&h, PY, "def main():\n"
		    "    return {'x': 'a' * 2000}",
		    "{\"x\":{\"type\":\"string\"}}", NULL);
		CHECK(rc == WF_FAIL);
		CHECK(STREQ(h.x.error, "error: the result exceeds 1 KB\n"
		    "error: signal: killed\n"));
		harness_free(&h);
		rc = run_code(&h, JS, "function main() { return {x: new "
		    "Array(2000).join('a')} }", "{\"x\":{\"type\":\"string\"}}",
		    NULL);
		CHECK(rc == WF_FAIL);
		CHECK(strstr(h.x.error, "exceeds 1 KB") != NULL);
		harness_free(&h);
		unsetenv("DIFYCGI_CODE_OUTPUT_KB");
	}
	unsetenv("DIFYCGI_CODE_TIMEOUT_MS");
	unsetenv("DIFYCGI_CODE_MEMORY_MB");
}

static void
test_isolation(void)
{
	struct harness	h;
	int		rc;

	TEST("python runs with an empty environment, in a scratch directory "
	    "it may write") {
		rc = run_code(&h, PY, "import os, sys\ndef main():\n"
		    "    open('f', 'w').write('x')\n"
		    "    return {'env': ' '.join(os.environ),\n"
		    "        'cwd': os.getcwd(),\n"
		    "        'read': open('f').read()}", NULL, NULL);
		CHECK(rc == WF_OK);
		/* python's C locale coercion sets LC_CTYPE itself */
		CHECK(STREQ(json_str(h.x.outputs, "env"), "") ||
		    STREQ(json_str(h.x.outputs, "env"), "LC_CTYPE"));
		CHECK(strncmp(json_str(h.x.outputs, "cwd") ?
		    json_str(h.x.outputs, "cwd") : "", "/tmp/difycgi-code-",
		    18) == 0);
		CHECK(STREQ(json_str(h.x.outputs, "read"), "x"));
		if (rc != WF_OK)
			printf("#   %s\n", h.x.error);
		harness_free(&h);
	}
	TEST("the scratch directory is gone after the run") {
		rc = run_code(&h, PY, "import os\ndef main():\n"
		    "    return {'cwd': os.getcwd()}", NULL, NULL);
		CHECK(rc == WF_OK);
		CHECK(access(json_str(h.x.outputs, "cwd") ?
		    json_str(h.x.outputs, "cwd") : "/", F_OK) == -1);
		harness_free(&h);
	}
	if (geteuid() == 0)
		TEST("as root, the code runs as nobody, in no group") {
			rc = run_code(&h, PY, "import os\ndef main():\n"
			    "    return {'uid': os.getuid(), 'gid': "
			    "os.getgid(), 'groups': os.getgroups()}", NULL,
			    NULL);
			CHECK(rc == WF_OK);
			CHECK(json_object_get_int(json_get(h.x.outputs,
			    "uid")) != 0);
			CHECK(json_object_get_int(json_get(h.x.outputs,
			    "gid")) != 0);
			CHECK(STREQ(json_compact(json_get(h.x.outputs,
			    "groups")), "[]"));
			if (rc != WF_OK)
				printf("#   %s\n", h.x.error);
			harness_free(&h);
		}
	TEST("a stopped run kills the child and aborts the node") {
		double	t0 = now_mono();

		stop_engine = 1;
		rc = run_code(&h, PY, "def main():\n    while True: pass",
		    NULL, NULL);
		stop_engine = 0;
		CHECK(rc == WF_ABORT);
		CHECK(now_mono() - t0 < 1);
		harness_free(&h);
	}
}

/* The isolation applied here, and the cost of a run in each language. */
static void
report(void)
{
	struct harness	 h;
	struct buf	 out, err, notes;
	double		 t0, ms[2];
	int		 i, l, n = 20, rc;

	buf_init(&out, 1 << 20);
	buf_init(&err, 1 << 20);
	buf_init(&notes, 1024);
	rc = sandbox_run(PY, "def main():\n    return {}", "{}", 5000, 256,
	    64, NULL, NULL, &out, &err, &notes);
	printf("# sandbox (python3):%s\n", buf_cstr(&notes));
	buf_reset(&notes);
	buf_reset(&out);
	rc |= sandbox_run(JS, "function main() { return {} }", "{}", 5000,
	    256, 64, NULL, NULL, &out, &err, &notes);
	printf("# sandbox (javascript):%s\n", buf_cstr(&notes));
	TEST("the sandbox reports the isolation it applied") {
		CHECK(rc == 0 && err.len == 0);
		CHECK(strstr(buf_cstr(&notes), "seccomp=on") != NULL);
	}
	for (l = 0; l < 2; l++) {
		t0 = now_mono();
		for (i = 0; i < n; i++) {
			run_code(&h, l ? JS : PY, l ? "function main({a}) "
			    "{ return {r: a + 1} }" : "def main(a):\n"
			    "    return {'r': a + 1}", "{\"r\":{\"type\":"
			    "\"number\"}}", "{\"a\":1}");
			harness_free(&h);
		}
		ms[l] = (now_mono() - t0) * 1000 / n;
	}
	printf("# cost of a run: python3 %.1f ms, javascript %.1f ms\n",
	    ms[0], ms[1]);
	buf_free(&out);
	buf_free(&err);
	buf_free(&notes);
}

int
main(void)
{
	char	dir[] = "/tmp/test-wf-code-XXXXXX", db[64];
	int	fd;

	if (config_load() == -1)
		return 1;
	/* a database file anyone could read, where the server keeps it */
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		return 1;
	snprintf(db, sizeof(db), "%s/dify.db", dir);
	if ((fd = open(db, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, "SQLite format 3\n", 16) != 16 || close(fd) == -1)
		return 1;
	chmod(db, 0644);
	test_types();
	test_checks();
	test_failures(db);
	test_isolation();
	report();
	unlink(db);
	rmdir(dir);
	UNIT_DONE();
}
