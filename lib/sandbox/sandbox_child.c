/*
 * sandbox_child.c: the child's side of a code run, from the job on
 * descriptor 0 to the runner: it reads the header the server wrote
 * (sandbox.c's job_text()), applies the layers in their order
 * (namespaces, no_new_privs, Landlock, rlimits, seccomp), writes the
 * account of them as the first line of descriptor 3, and hands the rest
 * of the job to javascript or python3.  Everything here runs in the
 * fresh image the constructor in sandbox.c catches, single-threaded.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "sandbox_int.h"

#define FILE_MAX	(1 << 20)		/* RLIMIT_FSIZE */
#define FILES_MAX	64			/* RLIMIT_NOFILE */

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN	1
#endif
#endif

/* Write all "n" bytes to "fd"; an error ends it silently (none to tell). */
void
sandbox_write_all(int fd, const void *p, size_t n)
{
	const char	*s = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, s, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* A line on stderr, which becomes the node's error. */
void
sandbox_child_say(const char *fmt, ...)
{
	char	line[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	sandbox_write_all(2, line, (size_t)n);
}

/* The step that failed and why on stderr, then exit status 1. */
void
sandbox_child_die(const char *what)
{
	sandbox_child_say("sandbox: %s: %s", what, strerror(errno));
	_exit(1);
}

/* Read exactly n bytes; -1 on a short read. */
static int
read_full(int fd, void *p, size_t n)
{
	char	*s = p;
	ssize_t	 r;

	while (n > 0) {
		r = read(fd, s, n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
header_int(const char *v, long long min, long long max, int *out)
{
	long long	n;

	if (parse_int(v, min, max, &n) == -1)
		return -1;
	*out = (int)n;
	return 0;
}

/*
 * The job header: "%08x\n" and that many bytes of "key value" lines.  It
 * comes from the server, not from the user; the code and inputs follow
 * it unread (python reads them itself).
 */
static int
read_header(struct job *j)
{
	char		 len[9], text[HEADER_MAX + 1], *line, *nl, *v;
	long long	 n;

	memset(j, 0, sizeof(*j));
	if (read_full(0, len, sizeof(len)) == -1 || len[8] != '\n')
		return -1;
	len[8] = '\0';
	n = strtoll(len, &v, 16);
	if (*v != '\0' || n <= 0 || n > HEADER_MAX ||
	    read_full(0, text, (size_t)n) == -1)
		return -1;
	text[n] = '\0';
	for (line = text; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			return -1;
		*nl = '\0';
		if ((v = strchr(line, ' ')) == NULL)
			return -1;
		*v++ = '\0';
		if (strcmp(line, "lang") == 0 &&
		    strlen(v) < sizeof(j->lang))
			memcpy(j->lang, v, strlen(v) + 1);
		else if (strcmp(line, "timeout_ms") == 0) {
			if (header_int(v, 1, INT_MAX, &j->timeout_ms) == -1)
				return -1;
		} else if (strcmp(line, "memory_mb") == 0) {
			if (header_int(v, 1, 1 << 20, &j->memory_mb) == -1)
				return -1;
		} else if (strcmp(line, "output_kb") == 0) {
			if (header_int(v, 1, 1 << 22, &j->output_kb) == -1)
				return -1;
		} else if (strcmp(line, "ppid") == 0) {
			if (parse_int(v, 1, INT_MAX, &j->ppid) == -1)
				return -1;
		} else if (strcmp(line, "scratch") == 0 &&
		    strlen(v) < sizeof(j->scratch))
			memcpy(j->scratch, v, strlen(v) + 1);
		else if ((strcmp(line, "hide") == 0 ||
		    strcmp(line, "hidefile") == 0) && j->nhide < HIDE_MAX &&
		    v[0] == '/' && strlen(v) < sizeof(j->hide[0])) {
			j->hidefile[j->nhide] = line[4] == 'f';
			memcpy(j->hide[j->nhide++], v, strlen(v) + 1);
		}
	}
	return j->lang[0] && j->scratch[0] && j->timeout_ms && j->memory_mb &&
	    j->output_kb && j->ppid ? 0 : -1;
}

/* Whether a "hide" entry is, or holds, or is inside what python reads. */
static int
runtime_overlaps(const char *path)
{
	int	i;

	for (i = 0; sandbox_runtime[i] != NULL; i++)
		if (sandbox_path_within(path, sandbox_runtime[i]) ||
		    sandbox_path_within(sandbox_runtime[i], path))
			return 1;
	return 0;
}

static void
limit(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit	rl;

	rl.rlim_cur = soft;
	rl.rlim_max = hard;
	if (setrlimit(res, &rl) == -1)
		sandbox_child_die("setrlimit");
}

/* The process's current address space, bytes (0 if unknown). */
static size_t
vm_size(void)
{
	char		 text[64], *end;
	long long	 pages;
	ssize_t		 n;
	int		 fd;

	if ((fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	pages = strtoll(text, &end, 10);
	return pages > 0 ? (size_t)pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static void
rlimits(const struct job *j, int python, size_t vm)
{
	rlim_t	cpu = (rlim_t)(j->timeout_ms + 999) / 1000 + 1;
	rlim_t	mem = (rlim_t)j->memory_mb << 20;

	limit(RLIMIT_CPU, cpu, cpu + 1);
	limit(RLIMIT_FSIZE, FILE_MAX, FILE_MAX);
	limit(RLIMIT_NOFILE, FILES_MAX, FILES_MAX);
	limit(RLIMIT_CORE, 0, 0);
	limit(RLIMIT_NPROC, 0, 0);
	if (python)
		limit(RLIMIT_AS, mem, mem);
#ifndef UNDER_ASAN
	else if (vm > 0)	/* a backstop: the allocator has the cap */
		limit(RLIMIT_AS, vm + 2 * mem + ((rlim_t)64 << 20),
		    vm + 2 * mem + ((rlim_t)64 << 20));
#else
	(void)vm;	/* ASan's shadow mappings exceed any sane limit */
#endif
}

/*
 * The child, as the constructor in sandbox.c runs it: the exit status
 * of a run that did not exec python3.
 */
int
sandbox_child_main(void)
{
	struct job	 j;
	struct iso	 iso;
	struct buf	 notes;
	const char	*refuse = NULL;
	size_t		 vm;
	int		 python, i, no_create;

	if (read_header(&j) == -1) {
		sandbox_child_say("sandbox: bad job header");
		return 1;
	}
	python = strcmp(j.lang, "python3") == 0;
	/* the server's thread may be gone before we got here */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != j.ppid)
		return 1;
	memset(&iso, 0, sizeof(iso));
	buf_init(&notes, NOTES_MAX);
	buf_puts(&notes, "sandbox:");
	if (geteuid() == 0)
		sandbox_drop_root(&j, &iso, &notes);
	else
		sandbox_user_ns(&j, &iso, &notes);
	buf_puts(&notes, iso.readonly ? " mounts=readonly" : iso.mounts ?
	    " mounts=private" : " mounts=shared");
	if (chdir(j.scratch) == -1)
		sandbox_child_die("chdir scratch");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		sandbox_child_die("no_new_privs");
	vm = python ? 0 : vm_size();
	iso.landlock = sandbox_landlock(&j, python, &notes);
	/*
	 * The server's files must be out of reach: covered in the mount
	 * namespace, or else outside what Landlock lets the code open.
	 */
	if (!iso.hidden) {
		if (iso.landlock == 0)
			refuse = "no mount namespace and no Landlock";
		for (i = 0; python && refuse == NULL && i < j.nhide; i++)
			if (runtime_overlaps(j.hide[i]))
				refuse = "they are where python's files are";
	}
	/* writes go only to the capped scratch tmpfs, or nowhere */
	no_create = !(iso.scratch && (iso.readonly || iso.landlock > 0));
	buf_puts(&notes, no_create ? " scratch=none" : " scratch=tmpfs");
	rlimits(&j, python, vm);
	if (refuse == NULL && sandbox_seccomp(no_create) == -1)
		refuse = "no seccomp filter for this architecture";
	buf_puts(&notes, refuse == NULL ? " seccomp=on" : " refused");
	buf_puts(&notes, "\n");
	sandbox_write_all(3, notes.p, notes.len);
	buf_free(&notes);
	if (refuse != NULL) {
		sandbox_child_say("sandbox: the server's files cannot be "
		    "hidden from the code here (%s)", refuse);
		return 1;
	}
	if (!python)
		return sandbox_js_main(&j);
	return sandbox_python_main();
}
