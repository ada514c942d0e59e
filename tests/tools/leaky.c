/*
 * leaky.c: a FastCGI program with defects on purpose, always built with
 * ASan and UBSan, for tests/e2e/010-harness.sh: it proves that the
 * harness fails a script on any sanitizer report, including the leak
 * reports a program writes when it exits after its web server.
 *
 *   /v1/leak	 leaks a copy of the path (found at exit, like a real leak)
 *   /v1/ubsan	 a signed overflow (a UBSan report, no ASan one)
 *   /v1/stubborn ignores SIGTERM from then on (a program that never exits)
 *   anything else answers {"ok":true}
 *
 * SIGTERM ends the accept loop and main returns, so that LeakSanitizer
 * runs as it does in our programs.
 */
#include <fcgiapp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char	*kept;

static void
on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

static void __attribute__((noinline))
leak_on_purpose(const char *path)
{
	char	*p = strdup(path);

	if (p == NULL)
		abort();
	kept = p;	/* overwritten by the next one: the first is lost */
	kept = NULL;
}

static int __attribute__((noinline))
overflow_on_purpose(int n)
{
	return n + INT_MAX;
}

int
main(void)
{
	struct sigaction	 sa;
	FCGX_Request		 r;
	const char		*path;
	volatile int		 sink = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: accept returns */
	FCGX_Init();
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		path = FCGX_GetParam("REQUEST_URI", r.envp);
		if (path == NULL)
			path = "";
		if (strstr(path, "/leak") != NULL)
			leak_on_purpose(path);
		else if (strstr(path, "/ubsan") != NULL)
			sink = overflow_on_purpose((int)strlen(path));
		else if (strstr(path, "/stubborn") != NULL)
			signal(SIGTERM, SIG_IGN);
		FCGX_FPrintF(r.out, "Status: 200 OK\r\nContent-Type: "
		    "application/json\r\n\r\n{\"ok\":true,\"n\":%d}\n", sink);
		FCGX_Finish_r(&r);
	}
	return 0;
}
