/*
 * sandbox.h: the door of lib/sandbox/, running a code node's python3 or
 * javascript in a fresh confined process.  Stands on core only.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include "core/core.h"

/*
 * Run "code" in "lang" ("python3" or "javascript") on "input", the JSON
 * object of main()'s arguments, in a sandboxed child.  "out" gets what
 * main() returned as JSON text; "err" what the run wrote to stderr and
 * then the verdict lines dify-sandbox adds ("error: exit status 1",
 * "error: timeout"): the run failed when "err" is not empty.  "notes",
 * when not NULL, gets the isolation the child applied.  "tick" is called
 * every 100 ms at most; when it returns -1 the child is killed and 1 is
 * returned.  Returns 0 once the child is gone, or -1 when none could be
 * started (err says why).
 */
int	 sandbox_run(const char *lang, const char *code, const char *input,
	    int timeout_ms, int memory_mb, int output_kb, int (*tick)(void *),
	    void *arg, struct buf *out, struct buf *err, struct buf *notes);

#endif
