/*
 * test_wf_code.c: the code node, python3 and javascript, through the real
 * sandbox: a main() returning every output type, Dify's output checks and
 * messages, runtime errors, the limits (time, memory, result size) and
 * the isolation (no socket, no file outside the scratch directory, no
 * fork, no signal to the server).  Prints what the sandbox could apply
 * here and the cost of a run in each language.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../lib/workflow/wf_code.c"
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

/* ---- the sandbox in each mode it can run in ---- */

/*
 * Attacks on the server's data directory (d) and database (db) from the
 * code, through every call that changes a file's metadata and the calls
 * that reach other processes of the server's user.  Each must fail the
 * node with the error in "want" (alternatives separated by "|").
 */
#define EPERM_TEXT	"PermissionError: [Errno 1]"
#define ANY_ERRNO	"Error: [Errno"
#define PY_SYSCALL	"import ctypes, os, platform\n" \
	"libc = ctypes.CDLL(None, use_errno=True)\n" \
	"X86 = platform.machine() == 'x86_64'\n" \
	"def ck(r):\n" \
	"    if r == -1:\n" \
	"        e = ctypes.get_errno()\n" \
	"        raise OSError(e, os.strerror(e))\n" \
	"    return r\n" \
	"def sc(nr, *a):\n" \
	"    return ck(libc.syscall(nr, *a))\n"

static const struct attack {
	int		 line;
	const char	*code;
	const char	*want;
} attacks[] = {
	{ __LINE__, "import os\ndef main(d, db):\n    os.chmod(d, 0)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n    os.chmod(db, 0)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    fd = os.open(d, os.O_PATH)\n"
	  "    os.chmod('dify.db', 0, dir_fd=fd)", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"	/* fchmodat2 */
	  "    sc(452, -100, db.encode(), 0, 0)", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n    os.fchmod(3, 0o600)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.chown(d, os.getuid(), os.getgid())", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.chown(db, -1, os.getgid())", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.lchown(db, os.getuid(), -1)", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    fd = os.open(d, os.O_PATH)\n"
	  "    os.chown('dify.db', os.getuid(), -1, dir_fd=fd)", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.fchown(3, os.getuid(), -1)", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n    os.utime(d, (0, 0))",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n    os.utime(db)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    fd = os.open(d, os.O_PATH)\n"
	  "    os.utime(fd, (0, 0))", EPERM_TEXT },
	/* x86_64's older calls: chmod chown lchown utime utimes futimesat */
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    b = db.encode()\n"
	  "    if not X86:\n"
	  "        raise PermissionError(1, 'not x86_64')\n"
	  "    for nr, a in ((90, (b, 0)), (92, (b, os.getuid(), -1)),\n"
	  "            (94, (b, os.getuid(), -1)), (132, (b, None)),\n"
	  "            (235, (b, None)), (261, (-100, b, None))):\n"
	  "        try:\n"
	  "            sc(nr, *a)\n"
	  "        except PermissionError:\n"
	  "            continue\n"
	  "        raise SystemExit('syscall %d allowed' % nr)\n"
	  "    raise PermissionError(1, 'all denied')", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.setxattr(db, 'user.x', b'1')", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.setxattr(d, 'user.x', b'1', follow_symlinks=False)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.removexattr(db, 'user.x')", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.removexattr(d, 'user.x', follow_symlinks=False)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.setxattr(3, 'user.x', b'1')", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"	/* setxattrat */
	  "    sc(463, -100, db.encode(), 0, b'user.x', None, 0)",
	  EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"	/* removexattrat */
	  "    sc(466, -100, db.encode(), 0, b'user.x')", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    ck(libc.inotify_init1(0))", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    ck(libc.inotify_add_watch(0, d.encode(), 0xfff))", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    if X86:\n"
	  "        sc(253)\n"				/* inotify_init */
	  "    raise PermissionError(1, 'not x86_64')", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    ck(libc.fanotify_mark(0, 1, ctypes.c_uint64(0x3b), -100,\n"
	  "        d.encode()))", EPERM_TEXT },
	/* the rest of what a path can do, outside the scratch directory */
	{ __LINE__, "import os\ndef main(d, db):\n    os.truncate(db, 0)",
	  ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n    os.link(db, 'x')",
	  ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n    os.rename(db, 'x')",
	  ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n    os.unlink(db)",
	  ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n    os.rmdir(d + '/sock')",
	  ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.mkfifo(d + '/fifo')", ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.mknod(d + '/node')", ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.symlink('/', d + '/link')", ANY_ERRNO },
	{ __LINE__, "import os\ndef main(d, db):\n    os.mkdir(d + '/m')",
	  ANY_ERRNO },
	{ __LINE__, "def main(d, db):\n    open(d + '/new', 'w')",
	  ANY_ERRNO },
	{ __LINE__, "def main(d, db):\n    open(db, 'r+b').write(b'x')",
	  ANY_ERRNO },
	/* the server's processes, which may run as the same user */
	{ __LINE__, "import os, resource\ndef main(d, db):\n"
	  "    resource.prlimit(os.getppid(), resource.RLIMIT_CORE)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    p = os.getpriority(os.PRIO_PROCESS, os.getppid())\n"
	  "    os.setpriority(os.PRIO_PROCESS, os.getppid(), p)",
	  EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    g = os.getpgid(os.getppid())\n"
	  "    os.setpriority(os.PRIO_PGRP, g, os.getpriority(os.PRIO_PGRP, "
	  "g))", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.sched_setaffinity(os.getppid(),\n"
	  "        os.sched_getaffinity(os.getppid()))", EPERM_TEXT },
	{ __LINE__, "import os\ndef main(d, db):\n"
	  "    os.sched_setscheduler(os.getppid(), os.SCHED_OTHER,\n"
	  "        os.sched_param(0))", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"	/* ioprio_set */
	  "    sc(251 if X86 else 30, 3, os.getuid(), 0)", EPERM_TEXT },
	{ __LINE__, "import fcntl, os\ndef main(d, db):\n"
	  "    fcntl.fcntl(3, fcntl.F_SETOWN, os.getppid())", EPERM_TEXT },
	/* objects that outlive the run */
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    i = libc.shmget(0, 4096, 0o1600)\n"
	  "    if i == -1:\n"
	  "        e = ctypes.get_errno()\n"
	  "        raise OSError(e, os.strerror(e))\n"
	  "    libc.shmctl(i, 0, None)", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    i = libc.msgget(0, 0o1600)\n"
	  "    if i == -1:\n"
	  "        e = ctypes.get_errno()\n"
	  "        raise OSError(e, os.strerror(e))\n"
	  "    libc.msgctl(i, 0, None)", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    i = libc.semget(0, 1, 0o1600)\n"
	  "    if i == -1:\n"
	  "        e = ctypes.get_errno()\n"
	  "        raise OSError(e, os.strerror(e))\n"
	  "    libc.semctl(i, 0, 0)", EPERM_TEXT },
	{ __LINE__, PY_SYSCALL "def main(d, db):\n"
	  "    ck(libc.mq_open(b'/difycgi-test', os.O_CREAT | os.O_RDWR,\n"
	  "        0o600, None))\n"
	  "    libc.mq_unlink(b'/difycgi-test')", EPERM_TEXT },
};

/*
 * What a run may write: its scratch directory, capped in bytes, files and
 * the size of one file.  Each row tries to go past a cap; the node must
 * fail with "want" and the scratch directory (printed first, on stderr)
 * be gone afterwards.
 */
static const struct attack scratch_rows[] = {
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    for i in range(5000):\n"
	  "        open('f%d' % i, 'w').write('x')",
	  "OSError: [Errno 28] No space left on device|" EPERM_TEXT },
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    for i in range(5000):\n"
	  "        os.mkdir('d%d' % i)",
	  "OSError: [Errno 28] No space left on device|" EPERM_TEXT },
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    open('big', 'wb').write(b'x' * (64 << 20))",
	  "OSError: [Errno 27] File too large|" EPERM_TEXT },
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    for i in range(64):\n"
	  "        open('m%d' % i, 'wb').write(b'x' * (1 << 20))",
	  "OSError: [Errno 28] No space left on device|" EPERM_TEXT },
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    fd = os.open('.', os.O_TMPFILE | os.O_WRONLY)\n"
	  "    for i in range(64):\n"
	  "        os.write(fd, b'x' * (1 << 20))",
	  "OSError: [Errno 27] File too large|" EPERM_TEXT },
	{ __LINE__, "import os, sys\ndef main(d, db):\n"
	  "    print(os.getcwd(), file=sys.stderr)\n"
	  "    for p in ('/tmp', '/var/tmp', '/dev/shm', d):\n"
	  "        try:\n"
	  "            open(p + '/difycgi-x', 'w')\n"
	  "        except OSError:\n"
	  "            continue\n"
	  "        raise SystemExit(p + ' is writable')\n"
	  "    raise PermissionError(1, 'nowhere to write')", EPERM_TEXT },
};

/* Whether "err" contains one of the '|'-separated pieces of "want". */
static int
has_any(const char *err, const char *want)
{
	char	 piece[256];
	size_t	 n;

	while (err != NULL && *want != '\0') {
		n = strcspn(want, "|");
		snprintf(piece, sizeof(piece), "%.*s", (int)n, want);
		if (strstr(err, piece) != NULL)
			return 1;
		want += n;
		if (*want == '|')
			want++;
	}
	return 0;
}

struct sbx_mode {
	const char	*name;
	int		 unpriv;	/* run as an unprivileged user */
	int		 no_ns;		/* the kernel refuses namespaces */
	int		 no_landlock;	/* the kernel has no Landlock */
};

/*
 * A seccomp filter on this process, inherited by every sandbox it starts:
 * unshare(2) fails (a container that allows no namespaces) and Landlock
 * is missing (an older kernel), as asked.
 */
static int
deny_features(int no_ns, int no_landlock)
{
	struct sock_filter	 f[8];
	struct sock_fprog	 prog;
	unsigned short		 n = 0;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	if (no_ns) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, SYS_unshare, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | EPERM);
	}
	if (no_landlock) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, SYS_landlock_create_ruleset, 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    SECCOMP_RET_ERRNO | ENOSYS);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	prog.len = n;
	prog.filter = f;
	if (n == 2)
		return 0;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1 ? -1 : 0;
}

static int
make_file(const char *path, const char *text, mode_t mode)
{
	int	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	return close(fd) == 0 && chmod(path, mode) == 0 ? 0 : -1;
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	    a->st_gid == b->st_gid && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int
entries(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/*
 * In a child process of the test (a mode of its own): a data directory
 * with a database and a socket directory, owned by whoever runs it, then
 * every attack and every scratch cap.  Returns the failures.
 */
static int
mode_child(const struct sbx_mode *m)
{
	char		 d[] = "/tmp/test-wf-code-data-XXXXXX";
	char		 db[64], sock[64];
	char		 inputs[256], name[512], first[sizeof(
			    ((struct wf_exec *)0)->error)], *nl;
	struct stat	 d0, db0, sock0, st;
	struct harness	 h;
	struct buf	 out, err, notes;
	size_t		 i;
	int		 rc, refused;

	if (deny_features(m->no_ns, m->no_landlock) == -1 ||
	    mkdtemp(d) == NULL || chmod(d, 0755) == -1)
		return 1;
	snprintf(db, sizeof(db), "%s/dify.db", d);
	snprintf(sock, sizeof(sock), "%s/sock", d);
	if (make_file(db, "SQLite format 3", 0644) == -1 ||
	    mkdir(sock, 0700) == -1)
		return 1;
	setenv("DIFYCGI_DATA_DIR", d, 1);
	setenv("DIFYCGI_DB", db, 1);
	setenv("DIFYCGI_CODE_TIMEOUT_MS", "5000", 1);
	if (config_load() == -1)
		return 1;
	stat(d, &d0);
	stat(db, &db0);
	stat(sock, &sock0);
	buf_init(&out, 1 << 20);
	buf_init(&err, 1 << 20);
	buf_init(&notes, 1024);
	rc = sandbox_run(PY, "def main():\n    return {}", "{}", 5000, 256,
	    64, NULL, NULL, &out, &err, &notes);
	printf("# sandbox %s:%s\n", m->name, buf_cstr(&notes));
	refused = m->no_ns && m->no_landlock;
	if (refused) {
		snprintf(name, sizeof(name), "%s: code is refused, the "
		    "server's files could not be hidden from it", m->name);
		TEST(name) {
			rc = run_code(&h, PY, "def main():\n    return {}",
			    "{}", NULL);
			CHECK(rc == WF_FAIL);
			CHECK(strstr(h.x.error, "sandbox: ") != NULL);
			printf("#   %s\n", h.x.error);
			harness_free(&h);
			rc = run_code(&h, JS, "function main() { return {} }",
			    "{}", NULL);
			CHECK(rc == WF_FAIL);
			CHECK(strstr(h.x.error, "sandbox: ") != NULL);
			harness_free(&h);
		}
		goto out;
	}
	snprintf(inputs, sizeof(inputs), "{\"d\":\"%s\",\"db\":\"%s\"}", d, db);
	snprintf(name, sizeof(name), "%s: the code cannot change the data "
	    "directory, the database or the server's processes", m->name);
	TEST(name) {
		CHECK(rc == 0 && err.len == 0);
		for (i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
			rc = run_code(&h, PY, attacks[i].code, "{}", inputs);
			CHECK_ROW(rc == WF_FAIL, attacks[i].line);
			CHECK_ROW(has_any(h.x.error, attacks[i].want),
			    attacks[i].line);
			if (rc != WF_FAIL || !has_any(h.x.error,
			    attacks[i].want))
				printf("#   line %d: %s\n", attacks[i].line,
				    rc == WF_FAIL ? h.x.error : "succeeded");
			harness_free(&h);
		}
		CHECK(stat(d, &st) == 0 && same_stat(&st, &d0));
		CHECK(stat(db, &st) == 0 && same_stat(&st, &db0));
		CHECK(stat(sock, &st) == 0 && same_stat(&st, &sock0));
		CHECK(entries(d) == 2);
		CHECK(getxattr(db, "user.x", NULL, 0) == -1 &&
		    errno == ENODATA);
	}
	snprintf(name, sizeof(name), "%s: javascript runs%s", m->name,
	    m->no_ns ? "" : "; the data directory and the database are "
	    "hidden from python (no such file)");
	TEST(name) {
		rc = run_code(&h, JS, "function main() { return {} }", "{}",
		    NULL);
		CHECK(rc == WF_OK);
		harness_free(&h);
		rc = run_code(&h, PY, "import os\ndef main(d, db):\n"
		    "    os.stat(db)\n    return {}", "{}", inputs);
		CHECK(m->no_ns ? rc == WF_OK : rc == WF_FAIL &&
		    strstr(h.x.error, "FileNotFoundError") != NULL);
		harness_free(&h);
		rc = run_code(&h, PY, "import os\ndef main(d, db):\n"
		    "    os.stat(d + '/sock')\n    return {}", "{}", inputs);
		CHECK(m->no_ns ? rc == WF_OK : rc == WF_FAIL &&
		    strstr(h.x.error, "FileNotFoundError") != NULL);
		harness_free(&h);
	}
	snprintf(name, sizeof(name), "%s: the scratch directory's caps "
	    "hold (files, bytes, one file's size) and it is removed",
	    m->name);
	TEST(name) {
		for (i = 0; i < sizeof(scratch_rows) / sizeof(scratch_rows[0]);
		    i++) {
			rc = run_code(&h, PY, scratch_rows[i].code, "{}",
			    inputs);
			CHECK_ROW(rc == WF_FAIL, scratch_rows[i].line);
			CHECK_ROW(has_any(h.x.error, scratch_rows[i].want),
			    scratch_rows[i].line);
			if (rc != WF_FAIL || !has_any(h.x.error,
			    scratch_rows[i].want))
				printf("#   line %d: %s\n",
				    scratch_rows[i].line, rc == WF_FAIL ?
				    h.x.error : "succeeded");
			/* the first line is the scratch directory */
			memcpy(first, h.x.error, sizeof(first));
			first[sizeof(first) - 1] = '\0';
			if ((nl = strchr(first, '\n')) != NULL)
				*nl = '\0';
			CHECK_ROW(strncmp(first, "/tmp/difycgi-code-", 18) == 0,
			    scratch_rows[i].line);
			CHECK_ROW(access(first, F_OK) == -1,
			    scratch_rows[i].line);
			harness_free(&h);
		}
	}
out:
	buf_free(&out);
	buf_free(&err);
	buf_free(&notes);
	chmod(d, 0755);
	chmod(db, 0644);
	unlink(db);
	rmdir(sock);
	rmdir(d);
	return unit_failed_total;
}

/*
 * Root only: a data directory directly under "/" and a database in a
 * directory of its own, also directly under "/", are hidden from the code
 * (they exist, the code sees no such file).
 */
static int
root_dirs_child(void)
{
	char		 d[] = "/difycgi-test-XXXXXX";
	char		 dbd[] = "/difycgi-test-db-XXXXXX";
	char		 secret[64], db[64], inputs[256];
	struct harness	 h;
	int		 rc, fd;

	if (mkdtemp(d) == NULL || mkdtemp(dbd) == NULL ||
	    chmod(d, 0755) == -1 || chmod(dbd, 0755) == -1)
		return 1;
	snprintf(secret, sizeof(secret), "%s/secret", d);
	snprintf(db, sizeof(db), "%s/dify.db", dbd);
	if (make_file(secret, "secret", 0644) == -1 ||
	    make_file(db, "SQLite format 3", 0644) == -1)
		return 1;
	setenv("DIFYCGI_DATA_DIR", d, 1);
	setenv("DIFYCGI_DB", db, 1);
	if (config_load() == -1)
		return 1;
	snprintf(inputs, sizeof(inputs), "{\"s\":\"%s\",\"db\":\"%s\"}",
	    secret, db);
	TEST("as root, a data directory and a database directory directly "
	    "under / are hidden from the code") {
		rc = run_code(&h, PY, "import os\ndef main(s, db):\n"
		    "    os.stat(s)", "{}", inputs);
		CHECK(rc == WF_FAIL);
		CHECK(strstr(h.x.error, "FileNotFoundError") != NULL);
		if (rc != WF_FAIL || strstr(h.x.error, "FileNotFoundError") ==
		    NULL)
			printf("#   %s: %s\n", d, rc == WF_FAIL ? h.x.error :
			    "visible");
		harness_free(&h);
		rc = run_code(&h, PY, "import os\ndef main(s, db):\n"
		    "    os.stat(db)", "{}", inputs);
		CHECK(rc == WF_FAIL);
		CHECK(strstr(h.x.error, "FileNotFoundError") != NULL);
		harness_free(&h);
	}
	unlink(db);
	/* a database directly in "/", which cannot be covered: the file is */
	snprintf(db, sizeof(db), "/difycgi-test-XXXXXX");
	if ((fd = mkstemp(db)) == -1 || write(fd, "SQLite", 6) != 6 ||
	    close(fd) == -1)
		return 1;
	setenv("DIFYCGI_DB", db, 1);
	if (config_load() == -1)
		return 1;
	snprintf(inputs, sizeof(inputs), "{\"s\":\"%s\",\"db\":\"%s\"}",
	    secret, db);
	TEST("as root, a database file directly in / is covered by an empty "
	    "file") {
		rc = run_code(&h, PY, "import os, stat\ndef main(s, db):\n"
		    "    return {'x': stat.S_ISCHR(os.stat(db).st_mode)}",
		    "{\"x\":{\"type\":\"boolean\"}}", inputs);
		CHECK(rc == WF_OK);
		CHECK(STREQ(json_compact(h.x.outputs), "{\"x\":true}"));
		harness_free(&h);
	}
	unlink(secret);
	unlink(db);
	rmdir(d);
	rmdir(dbd);
	return unit_failed_total;
}

/* Become www-data (or nobody), as a service would run. */
static int
become_unprivileged(void)
{
	struct passwd	*pw = getpwnam("www-data");

	if (pw == NULL)
		pw = getpwnam("nobody");
	if (pw == NULL)
		return -1;
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		return -1;
	/* LeakSanitizer's tracer needs a dumpable process */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 0;
}

/*
 * Every mode the sandbox can find itself in: as root and as a service
 * user, with and without namespaces, with and without Landlock, each in a
 * child process of its own (its own configuration and seccomp filter).
 */
static void
test_modes(void)
{
	static const struct sbx_mode modes[] = {
		{ "as this user", 0, 0, 0 },
		{ "as this user without namespaces", 0, 1, 0 },
		{ "as this user without namespaces or Landlock", 0, 1, 1 },
		{ "unprivileged", 1, 0, 0 },
		{ "unprivileged without namespaces", 1, 1, 0 },
		{ "unprivileged without namespaces or Landlock", 1, 1, 1 },
	};
	size_t	i;
	pid_t	pid;
	int	status;

	for (i = 0; i <= sizeof(modes) / sizeof(modes[0]); i++) {
		if (i < sizeof(modes) / sizeof(modes[0]) ?
		    modes[i].unpriv && geteuid() != 0 : geteuid() != 0)
			continue;
		fflush(stdout);
		if ((pid = fork()) == 0) {
			if (i == sizeof(modes) / sizeof(modes[0]))
				_exit(root_dirs_child() ? 1 : 0);
			if (modes[i].unpriv && become_unprivileged() == -1)
				_exit(1);
			_exit(mode_child(&modes[i]) ? 1 : 0);
		}
		if (pid == -1 || waitpid(pid, &status, 0) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			printf("# mode %zu: the test's child failed (%d)\n", i,
			    status);
			unit_failed_total++;
		}
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
	test_modes();
	report();
	unlink(db);
	rmdir(dir);
	UNIT_DONE();
}
