/*
 * sandbox_python.c: the child's python3 runner.  The child execs
 * "/usr/bin/python3 -I -S -B -c WRAPPER" with an empty environment; the
 * wrapper reads the rest of the job from descriptor 0 itself.  Also what
 * python reads and executes of the system, which Landlock allows it
 * (sandbox_landlock.c) and which the server's files may not overlap.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sandbox_int.h"

/*
 * The python3 side: reads "<code length>\n<code><inputs JSON>" from stdin,
 * runs the code as a module of its own, calls main(**inputs) and writes
 * the result as JSON to descriptor 3.  A traceback starts at the user's
 * code, named "<code>", whose lines it can quote; traceback is imported
 * only then (json alone costs python's start 10 ms more).  Modules the
 * system has installed (python3-* packages) can be imported; -S keeps
 * site.py, .pth files and the user's site directory out.
 */
static const char py_wrapper[] =
"import sys\n"
"sys.path.append('/usr/lib/python3/dist-packages')\n"
"def _run():\n"
"    import json, os\n"
"    data = sys.stdin.buffer.read()\n"
"    nl = data.index(b'\\n')\n"
"    n = int(data[:nl])\n"
"    src = data[nl + 1:nl + 1 + n].decode('utf-8')\n"
"    inputs = json.loads(data[nl + 1 + n:])\n"
"    del data\n"
"    res = open(3, 'w', encoding='utf-8')\n"
"    g = {'__name__': '__main__', '__builtins__': __builtins__}\n"
"    try:\n"
"        exec(compile(src, '<code>', 'exec'), g)\n"
"        if 'main' not in g:\n"
"            raise NameError(\"name 'main' is not defined\")\n"
"        text = json.dumps(g['main'](**inputs), ensure_ascii=False)\n"
"    except SystemExit:\n"
"        raise\n"
"    except BaseException as e:\n"
"        import linecache, traceback\n"
"        linecache.cache['<code>'] = (len(src), None,\n"
"            src.splitlines(True), '<code>')\n"
"        tb = e.__traceback__\n"
"        while tb is not None and tb.tb_frame.f_code.co_filename != "
"'<code>':\n"
"            tb = tb.tb_next\n"
"        traceback.print_exception(type(e), e, tb)\n"
"        sys.stderr.flush()\n"
"        os._exit(1)\n"
"    res.write(text)\n"
"    res.close()\n"
"_run()\n";

/* What python reads and executes; "/" and its parents are system ones. */
const char *const sandbox_runtime[] = { PYTHON, "/usr/lib", "/usr/lib64",
    "/lib", "/lib64", "/usr/share/zoneinfo", "/etc/ld.so.cache",
    "/etc/localtime", "/dev/urandom", "/dev/null", NULL };

/* Exec python3 on the wrapper: returns only when that fails, with 1. */
int
sandbox_python_main(void)
{
	static char *const py_argv[] = { "python3", "-I", "-S", "-B", "-c",
	    (char *)py_wrapper, NULL };
	static char *const no_env[] = { NULL };

	execve(PYTHON, py_argv, no_env);
	sandbox_child_say("sandbox: %s: %s", PYTHON, strerror(errno));
	return 1;
}
