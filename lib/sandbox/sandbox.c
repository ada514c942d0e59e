/*
 * sandbox.c: runs untrusted code, the code node's python3 and javascript,
 * in a child process that gets nothing of the server but the code and its
 * inputs.  Plays the part of dify-sandbox: a locked-down process per run,
 * whose stderr and exit status become the error text Dify shows
 * ("Traceback ...", "error: exit status 1", "error: timeout").
 *
 * Process model.  The server thread posix_spawn()s /proc/self/exe with
 * argv[0] "difycgi-sandbox", an empty environment, a session of its own
 * and four descriptors: 0 the job (a socket: header, then code and inputs),
 * 1 /dev/null (what the code prints is dropped, as Dify drops it), 2 the
 * captured stderr, 3 the result.  A constructor in this file recognises
 * that argv[0] before main() runs, so the child is a fresh image: no
 * configuration, key, database handle or request of the server was ever in
 * its memory.  Still single-threaded and early, it locks itself in:
 *
 *   - namespaces: as root directly, as a service user inside a user
 *     namespace of its own (which keeps its uid and gid, then drops every
 *     capability): a network namespace (only a down loopback) and a mount
 *     namespace in which the server's data directory, the database's
 *     directory and the configuration file's directory (or, when that is
 *     a system directory like /etc, the files themselves) are covered,
 *     whatever their depth, every mount is read-only, and the scratch
 *     directory is a tmpfs of 8 MB and 256 inodes; root then becomes
 *     "nobody";
 *   - Landlock, when the kernel has it: python may read the system library
 *     directories, execute the interpreter, and use the scratch directory,
 *     nothing else; javascript, which needs no file, gets no access at all;
 *     TCP is denied and, from ABI 6, signals and abstract sockets that
 *     leave the sandbox;
 *   - rlimits: CPU seconds, address space, 1 MB per file, 64 open files
 *     and no new process (RLIMIT_NPROC 0);
 *   - a seccomp filter: no socket(2), ptrace, process_vm_*, io_uring, bpf,
 *     namespaces, mounts, keyrings; no change to a file's mode, owner,
 *     times or extended attributes, no inotify or fanotify, no System V
 *     IPC or message queue; calls that name a process (signals, rlimits,
 *     priorities, affinity, scheduling, SIGIO owner) reach only itself;
 *   - the scratch directory as working directory.
 *
 * Where no mount namespace can be had (a container that forbids it, user
 * namespaces turned off) the scratch directory cannot be capped, so the
 * filter also forbids creating any file; where neither a mount namespace
 * nor Landlock hides the server's files (or Landlock would have to let
 * python read them) the child refuses to run the code: its error says
 * why, and the server logs it once.
 *
 * Then javascript runs in a Duktape heap (Debian's build has no execution
 * timeout hook, hence the process) whose allocator has a cap, and python3
 * is exec'd as "/usr/bin/python3 -I -S -B -c WRAPPER".  The server polls
 * the child, calls the engine's tick, kills the child at the wall-clock
 * limit, on a stop, or when the result outgrows its cap, and reaps it.
 * Which layers applied is the first line the child writes to descriptor 3;
 * a missing one is logged once per process.
 *
 * The files: this one is the server's side (sandbox_run() and the job it
 * sends) and the constructor; sandbox_child.c is the child, which
 * applies sandbox_ns.c (namespaces, mounts, the user), sandbox_landlock.c,
 * its rlimits and sandbox_seccomp.c, then hands the job to sandbox_js.c
 * or sandbox_python.c; sandbox_int.h is what they share.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "core/core.h"
#include "sandbox_int.h"

#define STDERR_MAX	(64 * 1024)		/* kept of the child's stderr */
#define POLL_MS		100

/*
 * The child's entry: argv[0] "difycgi-sandbox" and an empty environment,
 * as sandbox_run() spawns it, run before main() of whichever program this
 * library is linked into.  glibc passes argc, argv and envp.  It lives
 * beside sandbox_run() so that the archive links it into every program
 * that can start a child, and the child's files with it.
 */
__attribute__((constructor)) static void
sandbox_entry(int argc, char **argv, char **envp)
{
	if (argc == 1 && argv != NULL && argv[0] != NULL &&
	    strcmp(argv[0], SANDBOX_ARGV0) == 0 && envp != NULL &&
	    envp[0] == NULL)
		_exit(sandbox_child_main());
}

/* ---- the server's side ---- */

/* Set once a child reported a missing layer, so it is logged once. */
static atomic_int	warned;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

static void
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
close_fd(int *fd)
{
	if (*fd != -1)
		close(*fd);
	*fd = -1;
}

/*
 * Read what is there from *fd into "b", keeping at most "keep" bytes of it
 * in all (the rest is read and dropped); EOF closes *fd.  -1 when "b"'s
 * own cap is passed.
 */
static int
drain(int *fd, struct buf *b, size_t keep)
{
	char	chunk[16384];
	ssize_t	r;
	size_t	n;

	while (*fd != -1) {
		r = read(*fd, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			break;
		if (r == 0) {
			close_fd(fd);
			break;
		}
		n = b->len >= keep ? 0 : keep - b->len;
		if (n > (size_t)r)
			n = (size_t)r;
		if (buf_append(b, chunk, n) == -1)
			return -1;
	}
	return 0;
}

/* Go's names for the signals a child dies of, as dify-sandbox prints them. */
static const char *
signal_name(int sig)
{
	switch (sig) {
	case SIGKILL: return "killed";
	case SIGSEGV: return "segmentation fault";
	case SIGABRT: return "aborted";
	case SIGXCPU: return "CPU time limit exceeded";
	case SIGXFSZ: return "file size limit exceeded";
	case SIGBUS: return "bus error";
	case SIGFPE: return "floating point exception";
	case SIGILL: return "illegal instruction";
	case SIGTERM: return "terminated";
	case SIGPIPE: return "broken pipe";
	default: return "unknown signal";
	}
}

/* Whether the directory "dir" is "/" or holds what python needs. */
static int
system_dir(const char *dir)
{
	int	i;

	for (i = 0; sandbox_runtime[i] != NULL; i++)
		if (sandbox_path_within(sandbox_runtime[i], dir))
			return 1;
	return 0;
}

struct hides {
	char	path[HIDE_MAX][PATH_MAX];
	int	file[HIDE_MAX];
	int	n;
};

/* Add "path" (absolute, as it is: it may not exist) unless there. */
static void
hide_one(struct hides *h, const char *path, int file)
{
	int	i;

	if (strlen(path) >= PATH_MAX || strchr(path, '\n') != NULL)
		path = "/";	/* cannot be sent: nothing may rely on it */
	for (i = 0; i < h->n; i++)
		if (strcmp(h->path[i], path) == 0)
			return;
	if (h->n >= HIDE_MAX)
		return;
	memcpy(h->path[h->n], path, strlen(path) + 1);
	h->file[h->n++] = file;
}

/*
 * What the sandbox must hide of "path", the data directory or (file) the
 * database or configuration file: a directory wherever it is, "/" too
 * (which the child cannot cover, so it relies on Landlock or refuses);
 * a file's directory, or, when that is a system directory ("/", "/etc"),
 * the file itself and, for the database, SQLite's files beside it.  A
 * relative path is taken from the server's working directory, symbolic
 * links resolved.
 */
static void
add_hide(struct hides *h, const char *path, int file, int sqlite)
{
	static const char *const side[] = { "-wal", "-shm", "-journal" };
	char	 real[PATH_MAX], dir[PATH_MAX], name[PATH_MAX + 16], *slash;
	size_t	 i;

	if (path == NULL || path[0] == '\0')
		return;
	if (realpath(path, real) == NULL) {
		/* not there (the server could not start): as it is */
		if (path[0] != '/' || strlen(path) >= sizeof(real))
			path = "/";
		memcpy(real, path, strlen(path) + 1);
	}
	if (!file) {
		hide_one(h, real, 0);
		return;
	}
	memcpy(dir, real, strlen(real) + 1);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	if (!system_dir(dir)) {
		hide_one(h, dir, 0);
		return;
	}
	hide_one(h, real, 1);
	for (i = 0; sqlite && i < NELEM(side); i++) {
		snprintf(name, sizeof(name), "%s%s", real, side[i]);
		hide_one(h, name, 1);
	}
}

/* The job header and payload the child reads from its stdin. */
static void
job_text(struct buf *job, const char *lang, const char *code,
    const char *input, int timeout_ms, int memory_mb, int output_kb,
    const char *scratch)
{
	struct hides		*hides;
	struct buf		 h;
	int			 i;

	/* where the server keeps its database, files and configuration */
	hides = xmalloc(sizeof(*hides));
	memset(hides, 0, sizeof(*hides));
	add_hide(hides, cfg->data_dir, 0, 0);
	add_hide(hides, cfg->db_path, 1, 1);
	add_hide(hides, config_get("DIFYCGI_CONFIG"), 1, 0);
	buf_init(&h, HEADER_MAX);
	buf_printf(&h, "lang %s\ntimeout_ms %d\nmemory_mb %d\noutput_kb %d\n"
	    "ppid %ld\nscratch %s\n", lang, timeout_ms, memory_mb, output_kb,
	    (long)getpid(), scratch);
	for (i = 0; i < hides->n; i++)
		buf_printf(&h, "%s %s\n", hides->file[i] ? "hidefile" : "hide",
		    hides->path[i]);
	free(hides);
	buf_printf(job, "%08zx\n", h.len);
	buf_append(job, h.p, h.len);
	buf_printf(job, "%zu\n", strlen(code));
	buf_puts(job, code);
	buf_puts(job, input);
	buf_free(&h);
}

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
int
sandbox_run(const char *lang, const char *code, const char *input,
    int timeout_ms, int memory_mb, int output_kb, int (*tick)(void *),
    void *arg, struct buf *out, struct buf *err, struct buf *notes)
{
	static char *const	 argv[] = { SANDBOX_ARGV0, NULL };
	static char *const	 envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 sa;
	sigset_t		 none, all;
	struct buf		 job, res;
	struct pollfd		 pf[4];
	const char		*tmp = config_get("TMPDIR"), *verdict = NULL;
	char			 scratch[PATH_MAX], *nl;
	int			 sv[2] = { -1, -1 }, rp[2] = { -1, -1 };
	int			 ep[2] = { -1, -1 }, status = 0, rc = -1;
	int			 np, ti, stopped = 0, exited = 0, pidfd = -1;
	size_t			 off = 0, cap = (size_t)output_kb * 1024;
	double			 deadline, now;
	ssize_t			 r;
	pid_t			 pid = -1;

	buf_init(&job, PAYLOAD_MAX + HEADER_MAX + 64);
	buf_init(&res, cap + NOTES_MAX + 1);
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > PATH_MAX - 32)
		tmp = "/tmp";
	snprintf(scratch, sizeof(scratch), "%s/difycgi-code-XXXXXX", tmp);
	if (mkdtemp(scratch) == NULL) {
		buf_printf(err, "error: scratch directory: %s\n",
		    strerror(errno));
		scratch[0] = '\0';
		goto out;
	}
	if (strlen(code) + strlen(input) > PAYLOAD_MAX) {
		buf_printf(err, "error: the code and inputs exceed %zu MB\n",
		    PAYLOAD_MAX >> 20);
		goto out;
	}
	job_text(&job, lang, code, input, timeout_ms, memory_mb, output_kb,
	    scratch);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    pipe2(rp, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1) {
		buf_printf(err, "error: %s\n", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	posix_spawn_file_actions_adddup2(&fa, rp[1], 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_init(&sa);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &all);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
	errno = posix_spawn(&pid, "/proc/self/exe", &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (errno != 0) {
		buf_printf(err, "error: cannot start the sandbox: %s\n",
		    strerror(errno));
		pid = -1;
		goto out;
	}
	close_fd(&sv[1]);
	close_fd(&rp[1]);
	close_fd(&ep[1]);
	set_nonblock(sv[0]);
	set_nonblock(rp[0]);
	set_nonblock(ep[0]);
	/* readable when the child exits (Linux 5.3); else poll more often */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	deadline = now_mono() + timeout_ms / 1000.0;
	for (;;) {
		if (tick != NULL && tick(arg) == -1) {
			stopped = 1;
			break;
		}
		now = now_mono();
		if (now >= deadline) {
			verdict = "error: timeout\nerror: signal: killed\n";
			break;
		}
		if (exited && rp[0] == -1 && ep[0] == -1)
			break;
		np = 0;
		if (sv[0] != -1) {
			pf[np].fd = sv[0];
			pf[np++].events = POLLOUT;
		}
		if (rp[0] != -1) {
			pf[np].fd = rp[0];
			pf[np++].events = POLLIN;
		}
		if (ep[0] != -1) {
			pf[np].fd = ep[0];
			pf[np++].events = POLLIN;
		}
		if (!exited && pidfd != -1) {
			pf[np].fd = pidfd;
			pf[np++].events = POLLIN;
		}
		ti = (int)((deadline - now) * 1000) + 1;
		if (ti > POLL_MS)
			ti = POLL_MS;
		if (!exited && pidfd == -1 && rp[0] == -1 && ep[0] == -1 &&
		    ti > 2)
			ti = 2;
		if (poll(pf, (nfds_t)np, ti) == -1 && errno != EINTR) {
			verdict = "error: poll failed\n";
			break;
		}
		if (sv[0] != -1 && off < job.len) {
			r = send(sv[0], job.p + off, job.len - off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0)
				off += (size_t)r;
			else if (r == -1 && errno != EAGAIN && errno != EINTR)
				close_fd(&sv[0]);	/* it stopped reading */
		}
		if (sv[0] != -1 && off == job.len)
			close_fd(&sv[0]);
		if (drain(&rp[0], &res, SIZE_MAX) == -1) {
			buf_printf(err, "error: the result exceeds %d KB\n",
			    output_kb);
			verdict = "error: signal: killed\n";
			break;
		}
		drain(&ep[0], err, STDERR_MAX);
		if (!exited) {
			r = waitpid(pid, &status, WNOHANG);
			exited = r == pid || (r == -1 && errno == ECHILD);
		}
	}
	if (!exited) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	}
	if (stopped) {
		rc = 1;
		goto out;
	}
	if (verdict != NULL)
		buf_puts(err, verdict);
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		buf_printf(err, "error: exit status %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		buf_puts(err, "error: operation not permitted\n");
	else if (WIFSIGNALED(status))
		buf_printf(err, "error: signal: %s\n",
		    signal_name(WTERMSIG(status)));
	/* the first line is the child's account of its isolation */
	nl = res.len > 0 ? memchr(res.p, '\n', res.len) : NULL;
	if (nl != NULL && strncmp(res.p, "sandbox:", 8) == 0) {
		*nl = '\0';
		if (notes != NULL)
			buf_puts(notes, res.p + 9);
		if (strstr(res.p, " refused") != NULL &&
		    atomic_exchange(&warned, 1) == 0)
			log_warn("code sandbox: %s: code nodes cannot run "
			    "here (the server's files could not be hidden "
			    "from them)", res.p + 9);
		else if (strstr(res.p, "scratch=none") != NULL &&
		    atomic_exchange(&warned, 1) == 0)
			log_warn("code sandbox: %s (no mount namespace: the "
			    "code may create no file)", res.p + 9);
		buf_append(out, nl + 1, res.len - (size_t)(nl + 1 - res.p));
	} else
		buf_append(out, res.p ? res.p : "", res.len);
	rc = 0;
out:
	close_fd(&pidfd);
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	close_fd(&rp[0]);
	close_fd(&rp[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	if (scratch[0] != '\0')
		nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	buf_free(&job);
	buf_free(&res);
	return rc;
}
