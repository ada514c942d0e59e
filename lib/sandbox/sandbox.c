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
 */
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <duktape.h>

#include "sandbox/sandbox.h"
#include "core/core.h"

#define SANDBOX_ARGV0	"difycgi-sandbox"
#define PYTHON		"/usr/bin/python3"
#define HEADER_MAX	8192
#define HIDE_MAX	8
#define PAYLOAD_MAX	((size_t)64 << 20)	/* code and inputs, bytes */
#define STDERR_MAX	(64 * 1024)		/* kept of the child's stderr */
#define NOTES_MAX	256
#define FILE_MAX	(1 << 20)		/* RLIMIT_FSIZE */
#define FILES_MAX	64			/* RLIMIT_NOFILE */
#define SCRATCH_TMPFS	"size=8m,nr_inodes=256,mode=0700"
#define POLL_MS		100

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN	1
#endif
#endif

/* calls newer than the build's kernel headers (one number on every arch) */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2		452
#endif
#ifndef SYS_setxattrat
#define SYS_setxattrat		463
#endif
#ifndef SYS_removexattrat
#define SYS_removexattrat	466
#endif
#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr	467
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME		0x80
#endif

/* Landlock rights newer than the build's kernel headers */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)
#endif
#define LL_NET_BIND_TCP			(1ULL << 0)
#define LL_NET_CONNECT_TCP		(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX		(1ULL << 0)
#define LL_SCOPE_SIGNAL			(1ULL << 1)
#define LL_FILE_RIGHTS	(LANDLOCK_ACCESS_FS_EXECUTE | \
	LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE | \
	LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* struct landlock_ruleset_attr as of ABI 6; older kernels take a prefix */
struct ll_ruleset {
	uint64_t	fs;
	uint64_t	net;
	uint64_t	scoped;
};

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

/* ---- the child: what the constructor runs ---- */

struct job {
	char	 lang[16];
	int	 timeout_ms, memory_mb, output_kb;
	long long ppid;
	char	 scratch[PATH_MAX];
	char	 hide[HIDE_MAX][PATH_MAX];
	int	 hidefile[HIDE_MAX];	/* a file, not a directory */
	int	 nhide;
};

static void
write_all(int fd, const void *p, size_t n)
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

static void
child_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A line on stderr, which becomes the node's error. */
static void
child_say(const char *fmt, ...)
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
	write_all(2, line, (size_t)n);
}

static void
child_die(const char *what)
{
	child_say("sandbox: %s: %s", what, strerror(errno));
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

/* Whether "dir" is "path" or one of its parents. */
static int
path_within(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0');
}

/* What the child could apply, decided before the code runs. */
struct iso {
	int	mounts;		/* a mount namespace of its own */
	int	hidden;		/* every "hide" entry is covered */
	int	readonly;	/* every mount but the scratch is read-only */
	int	scratch;	/* the scratch directory is the capped tmpfs */
	long	landlock;	/* the Landlock ABI applied, 0 for none */
};

/*
 * Cover the directory "dir" with an empty read-only tmpfs.  When the
 * scratch directory is inside it (the data directory is /tmp, TMPDIR is
 * in the data directory) the tmpfs gets the path down to it, on which
 * the scratch tmpfs is mounted later.  0 when covered or absent.
 */
static int
cover_dir(const struct job *j, const char *dir)
{
	char		 path[PATH_MAX], *s;
	unsigned long	 ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (strcmp(dir, "/") == 0)
		return -1;	/* the root itself cannot be covered */
	if (!path_within(j->scratch, dir)) {
		if (mount("tmpfs", dir, "tmpfs", ro, "size=4k,nr_inodes=1,"
		    "mode=0555") == -1)
			return errno == ENOENT ? 0 : -1;
		return 0;
	}
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    "size=4k,nr_inodes=64,mode=0755") == -1)
		return errno == ENOENT ? 0 : -1;
	if (strlen(j->scratch) <= strlen(dir))
		return -1;
	memcpy(path, j->scratch, strlen(j->scratch) + 1);
	for (s = strchr(path + strlen(dir) + 1, '/'); s != NULL;
	    s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	return mount(NULL, dir, NULL, MS_REMOUNT | ro, "size=4k,"
	    "nr_inodes=64,mode=0755");
}

/*
 * In a mount namespace of its own: the server's files covered, every
 * mount read-only, the scratch directory a tmpfs of SCRATCH_TMPFS owned
 * by uid/gid.
 */
static void
view(const struct job *j, uid_t uid, gid_t gid, struct iso *iso)
{
	struct mount_attr	 ma;
	char			 opts[128];
	int			 i;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		child_die("mount private");
	iso->mounts = 1;
	iso->hidden = 1;
	for (i = 0; i < j->nhide; i++) {
		if (!j->hidefile[i]) {
			if (cover_dir(j, j->hide[i]) == -1)
				iso->hidden = 0;
		} else if (mount("/dev/null", j->hide[i], NULL, MS_BIND,
		    NULL) == -1 && errno != ENOENT)
			iso->hidden = 0;
	}
	memset(&ma, 0, sizeof(ma));
	ma.attr_set = MOUNT_ATTR_RDONLY;
	iso->readonly = mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ma,
	    sizeof(ma)) == 0;
	snprintf(opts, sizeof(opts), "%s,uid=%u,gid=%u", SCRATCH_TMPFS,
	    (unsigned)uid, (unsigned)gid);
	if (mount("tmpfs", j->scratch, "tmpfs", MS_NOSUID | MS_NODEV, opts) ==
	    -1)
		child_die("mount scratch");
	iso->scratch = 1;
}

/*
 * Root: a network and a mount namespace of its own, then uid/gid
 * "nobody", in no group.
 */
static void
drop_root(const struct job *j, struct iso *iso, struct buf *notes)
{
	struct passwd	*pw = getpwnam("nobody");
	uid_t		 uid = pw ? pw->pw_uid : 65534;
	gid_t		 gid = pw ? pw->pw_gid : 65534;

	buf_puts(notes, unshare(CLONE_NEWNET) == 0 ? " net=netns" :
	    " net=seccomp");
	if (unshare(CLONE_NEWNS) == 0)
		view(j, uid, gid, iso);
	else if (chown(j->scratch, uid, gid) == -1)
		child_die("chown scratch");
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1)
		child_die("become nobody");
	if (setuid(0) != -1) {
		child_say("sandbox: still root");
		_exit(1);
	}
	buf_puts(notes, " uid=nobody");
}

static int
write_text(const char *path, const char *text)
{
	int	fd, rc;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	return close(fd) == 0 ? rc : -1;
}

/*
 * A service user: a user namespace where it keeps its own uid and gid,
 * so that it may have a network and a mount namespace of its own like
 * root's sandbox; then no capability is left.  Without user namespaces
 * (a container, a sysctl) nothing changes.
 */
static void
user_ns(const struct job *j, struct iso *iso, struct buf *notes)
{
	struct __user_cap_header_struct	 ch;
	struct __user_cap_data_struct	 cd[2];
	char				 map[64];
	uid_t				 uid = getuid();
	gid_t				 gid = getgid();

	if (unshare(CLONE_NEWUSER) == -1) {
		buf_puts(notes, " net=seccomp");
		goto out;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_text("/proc/self/uid_map", map) == -1 ||
	    write_text("/proc/self/setgroups", "deny") == -1) {
		buf_puts(notes, " net=seccomp");
		goto out;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (write_text("/proc/self/gid_map", map) == -1) {
		buf_puts(notes, " net=seccomp");
		goto out;
	}
	buf_puts(notes, unshare(CLONE_NEWNET) == 0 ? " net=netns" :
	    " net=seccomp");
	if (unshare(CLONE_NEWNS) == 0)
		view(j, uid, gid, iso);
	memset(&ch, 0, sizeof(ch));
	memset(cd, 0, sizeof(cd));
	ch.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capset, &ch, cd) == -1)
		child_die("drop capabilities");
	buf_puts(notes, " userns=on");
out:
	buf_puts(notes, " uid=server");
}

/* What python reads and executes; "/" and its parents are system ones. */
static const char *const runtime[] = { PYTHON, "/usr/lib", "/usr/lib64",
    "/lib", "/lib64", "/usr/share/zoneinfo", "/etc/ld.so.cache",
    "/etc/localtime", "/dev/urandom", "/dev/null", NULL };

/* Whether a "hide" entry is, or holds, or is inside what python reads. */
static int
runtime_overlaps(const char *path)
{
	int	i;

	for (i = 0; runtime[i] != NULL; i++)
		if (path_within(path, runtime[i]) ||
		    path_within(runtime[i], path))
			return 1;
	return 0;
}

static void
ll_allow(int rfd, uint64_t handled, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr	pb;
	struct stat				st;
	int					fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return;	/* absent on this system: nothing to allow */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LL_FILE_RIGHTS;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 && syscall(SYS_landlock_add_rule, rfd,
	    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == -1)
		child_die("landlock rule");
	close(fd);
}

/*
 * The file system the code may see: python's installation read-only and
 * the scratch directory; javascript nothing.  Needs no_new_privs.
 */
static long
landlock(const struct job *j, int python, struct buf *notes)
{
	struct ll_ruleset	 rs;
	uint64_t		 rx, all;
	size_t			 size = sizeof(rs.fs);
	long			 abi;
	int			 rfd, i;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		buf_puts(notes, " fs=unrestricted");
		return 0;
	}
	memset(&rs, 0, sizeof(rs));
	rs.fs = (1ULL << 13) - 1;		/* ABI 1: EXECUTE .. MAKE_SYM */
	if (abi >= 2)
		rs.fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rs.fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rs.fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 4) {
		rs.net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset, scoped);
	}
	if (abi >= 6) {
		rs.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(rs);
	}
	rfd = (int)syscall(SYS_landlock_create_ruleset, &rs, size, 0);
	if (rfd == -1)
		child_die("landlock ruleset");
	if (python) {
		rx = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_READ_DIR;
		for (i = 0; runtime[i] != NULL; i++)
			if (strcmp(runtime[i], "/dev/null") != 0)
				ll_allow(rfd, rs.fs, runtime[i], rx);
		ll_allow(rfd, rs.fs, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE);
		all = rs.fs & ~LANDLOCK_ACCESS_FS_EXECUTE &
		    ~LANDLOCK_ACCESS_FS_MAKE_CHAR &
		    ~LANDLOCK_ACCESS_FS_MAKE_BLOCK &
		    ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
		ll_allow(rfd, rs.fs, j->scratch, all);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		child_die("landlock");
	close(rfd);
	buf_printf(notes, " fs=landlock%ld", abi);
	return abi;
}

static void
limit(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit	rl;

	rl.rlim_cur = soft;
	rl.rlim_max = hard;
	if (setrlimit(res, &rl) == -1)
		child_die("setrlimit");
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
 * seccomp: the calls untrusted code never needs.  Besides what reaches
 * the kernel's internals, everything that changes a file without opening
 * it (modes, owners, times, extended attributes: Landlock does not cover
 * them, and a service user owns the data directory), that watches files,
 * and that leaves an object behind after the run (System V IPC, message
 * queues), each failing with EPERM.
 */
static const int denied[] = {
	SYS_socket, SYS_socketpair, SYS_ptrace, SYS_process_vm_readv,
	SYS_process_vm_writev, SYS_io_uring_setup, SYS_io_uring_enter,
	SYS_io_uring_register, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,
	SYS_keyctl, SYS_add_key, SYS_request_key, SYS_mount, SYS_umount2,
	SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns, SYS_pidfd_open,
	SYS_pidfd_getfd, SYS_pidfd_send_signal, SYS_kcmp, SYS_process_madvise,
	SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_fanotify_init,
	SYS_fanotify_mark, SYS_init_module, SYS_finit_module,
	SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load, SYS_reboot,
	SYS_swapon, SYS_swapoff, SYS_acct, SYS_syslog, SYS_quotactl,
	SYS_quotactl_fd, SYS_mount_setattr, SYS_move_mount, SYS_open_tree,
	SYS_open_tree_attr, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
	SYS_migrate_pages, SYS_move_pages,
	/* a file's metadata */
	SYS_fchmod, SYS_fchmodat, SYS_fchmodat2, SYS_fchown, SYS_fchownat,
	SYS_utimensat, SYS_setxattr, SYS_lsetxattr, SYS_fsetxattr,
	SYS_setxattrat, SYS_removexattr, SYS_lremovexattr, SYS_fremovexattr,
	SYS_removexattrat, SYS_truncate, SYS_mknodat,
#ifdef SYS_chmod
	SYS_chmod, SYS_chown, SYS_lchown, SYS_utime, SYS_utimes,
	SYS_futimesat, SYS_mknod,
#endif
	/* watching files */
	SYS_inotify_init1, SYS_inotify_add_watch,
#ifdef SYS_inotify_init
	SYS_inotify_init,
#endif
	/* objects that outlive the run */
	SYS_shmget, SYS_shmat, SYS_shmctl, SYS_shmdt, SYS_semget, SYS_semop,
	SYS_semtimedop, SYS_semctl, SYS_msgget, SYS_msgsnd, SYS_msgrcv,
	SYS_msgctl, SYS_mq_open, SYS_mq_unlink, SYS_mq_timedsend,
	SYS_mq_timedreceive, SYS_mq_notify, SYS_mq_getsetattr
};

/*
 * Without a capped scratch tmpfs (no mount namespace) no file may be
 * created at all: the scratch directory is then a directory of the real
 * file system, where bytes and files could not be counted.
 */
static const int creating[] = {
	SYS_mkdirat, SYS_linkat, SYS_symlinkat, SYS_renameat, SYS_renameat2,
	SYS_openat2,
#ifdef SYS_mkdir
	SYS_creat, SYS_mkdir, SYS_link, SYS_symlink, SYS_rename,
#endif
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#if defined(__x86_64__)
#define SECCOMP_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH	AUDIT_ARCH_AARCH64
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(i)	(offsetof(struct seccomp_data, args[0]) + 8 * (i))
#else
#define ARG_LOW(i)	(offsetof(struct seccomp_data, args[0]) + 8 * (i) + 4)
#endif

#define FILTER_MAX	512
#define RET_ERRNO	(SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define NEW_NS		(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWNET | \
	CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP | \
	CLONE_NEWTIME)
#define ANY		UINT32_MAX	/* no "which" argument */
/* O_TMPFILE without the O_DIRECTORY it includes */
#define TMPFILE_BIT	((uint32_t)(O_TMPFILE & ~O_DIRECTORY))

struct bpf {
	struct sock_filter	f[FILTER_MAX];
	unsigned int		n;
};

static void
op(struct bpf *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	if (b->n >= FILTER_MAX) {
		child_say("sandbox: seccomp filter too long");
		_exit(1);
	}
	b->f[b->n].code = code;
	b->f[b->n].jt = jt;
	b->f[b->n].jf = jf;
	b->f[b->n++].k = k;
}

/*
 * Each block starts with the call's number in the accumulator; one that
 * matches ends in a return, one that does not jumps past itself.
 */
static void
deny(struct bpf *b, int nr, int err)
{
	op(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1);
	op(b, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)err, 0, 0);
}

/*
 * Call "nr" only on the sandbox itself: argument "arg" is its pid (or 0,
 * "myself", when zero_ok), and argument "which", unless ANY, is
 * "which_is" (PRIO_PROCESS, IOPRIO_WHO_PROCESS).
 */
static void
self_only(struct bpf *b, int nr, uint32_t which, uint32_t which_is,
    unsigned int arg, int zero_ok, uint32_t self)
{
	uint8_t	len = (uint8_t)(4 + (which != ANY ? 2 : 0) + (zero_ok ? 1 : 0));

	op(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, len);
	if (which != ANY) {
		op(b, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LOW(which), 0,
		    0);
		op(b, BPF_JMP | BPF_JEQ | BPF_K, which_is, 0,
		    (uint8_t)(zero_ok ? 3 : 2));
	}
	op(b, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LOW(arg), 0, 0);
	if (zero_ok)
		op(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0);
	op(b, BPF_JMP | BPF_JEQ | BPF_K, self, 1, 0);
	op(b, BPF_RET | BPF_K, RET_ERRNO, 0, 0);
	op(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
}

/* Call "nr" unless argument "arg" has a bit of "mask". */
static void
without_bits(struct bpf *b, int nr, unsigned int arg, uint32_t mask)
{
	op(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4);
	op(b, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LOW(arg), 0, 0);
	op(b, BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1);
	op(b, BPF_RET | BPF_K, RET_ERRNO, 0, 0);
	op(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
}

/* Call "nr" unless argument "arg" is one of the n "values". */
static void
not_values(struct bpf *b, int nr, unsigned int arg, const uint32_t *values,
    unsigned int n)
{
	unsigned int	i;

	op(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, (uint8_t)(n + 3));
	op(b, BPF_LD | BPF_W | BPF_ABS, (uint32_t)ARG_LOW(arg), 0, 0);
	for (i = 0; i < n; i++)
		op(b, BPF_JMP | BPF_JEQ | BPF_K, values[i],
		    (uint8_t)(n - i), 0);
	op(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	op(b, BPF_RET | BPF_K, RET_ERRNO, 0, 0);
}

/*
 * The filter.  Calls that name a process reach only the sandbox itself,
 * since a service user's sandbox shares its uid with the server (and
 * root's "nobody" with other sandboxes): signals, rlimits, priorities,
 * CPU affinity and scheduling, I/O priority, SIGIO ownership.  No new
 * namespace by clone(2); clone3(2), whose flags it cannot read, says
 * ENOSYS so that the C library falls back to clone(2).  "no_create" adds
 * the ban on creating files.  Returns -1 when this architecture has no
 * filter.
 */
static int
seccomp(int no_create)
{
#ifdef SECCOMP_ARCH
	static const uint32_t	 fown[] = { F_SETOWN, F_SETOWN_EX, F_SETSIG };
	static struct bpf	 b;
	struct sock_fprog	 prog;
	uint32_t		 self = (uint32_t)getpid();
	unsigned int		 i;

	b.n = 0;
	op(&b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch),
	    0, 0);
	op(&b, BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
	op(&b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
	op(&b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr),
	    0, 0);
#if defined(__x86_64__)
	/* the x32 ABI's numbers alias others: none of them */
	op(&b, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
	op(&b, BPF_RET | BPF_K, RET_ERRNO, 0, 0);
#endif
	for (i = 0; i < NELEM(denied); i++)
		deny(&b, denied[i], EPERM);
	deny(&b, SYS_clone3, ENOSYS);
	without_bits(&b, SYS_clone, 0, NEW_NS);
	self_only(&b, SYS_kill, ANY, 0, 0, 0, self);
	self_only(&b, SYS_tkill, ANY, 0, 0, 0, self);
	self_only(&b, SYS_tgkill, ANY, 0, 0, 0, self);
	self_only(&b, SYS_rt_sigqueueinfo, ANY, 0, 0, 0, self);
	self_only(&b, SYS_rt_tgsigqueueinfo, ANY, 0, 0, 0, self);
	self_only(&b, SYS_prlimit64, ANY, 0, 0, 1, self);
	self_only(&b, SYS_setpriority, 0, PRIO_PROCESS, 1, 1, self);
	self_only(&b, SYS_ioprio_set, 0, 1 /* IOPRIO_WHO_PROCESS */, 1, 1,
	    self);
	self_only(&b, SYS_sched_setaffinity, ANY, 0, 0, 1, self);
	self_only(&b, SYS_sched_setscheduler, ANY, 0, 0, 1, self);
	self_only(&b, SYS_sched_setparam, ANY, 0, 0, 1, self);
	self_only(&b, SYS_sched_setattr, ANY, 0, 0, 1, self);
	not_values(&b, SYS_fcntl, 1, fown, NELEM(fown));
	if (no_create) {
		for (i = 0; i < NELEM(creating); i++)
			deny(&b, creating[i], EPERM);
		without_bits(&b, SYS_openat, 2, O_CREAT | TMPFILE_BIT);
#ifdef SYS_open
		without_bits(&b, SYS_open, 1, O_CREAT | TMPFILE_BIT);
#endif
	}
	op(&b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
	prog.len = (unsigned short)b.n;
	prog.filter = b.f;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1)
		child_die("seccomp");
	return 0;
#else
	(void)no_create;
	return -1;
#endif
}

/* ---- javascript: Duktape in the child ---- */

struct jsmem {
	size_t	used, cap;
};

/* Each block carries its size in a header that keeps malloc's alignment. */
#define JS_HDR	16

static void *
js_alloc(void *ud, duk_size_t size)
{
	struct jsmem	*m = ud;
	unsigned char	*p;

	if (size > m->cap - m->used)
		return NULL;	/* Duktape collects and retries, then throws */
	if ((p = malloc(size + JS_HDR)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	m->used += size;
	return p + JS_HDR;
}

static void
js_free(void *ud, void *ptr)
{
	struct jsmem	*m = ud;
	unsigned char	*p;
	size_t		 size;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - JS_HDR;
	memcpy(&size, p, sizeof(size));
	m->used -= size;
	free(p);
}

static void *
js_realloc(void *ud, void *ptr, duk_size_t size)
{
	struct jsmem	*m = ud;
	unsigned char	*p;
	size_t		 old;

	if (ptr == NULL)
		return js_alloc(ud, size);
	if (size == 0) {
		js_free(ud, ptr);
		return NULL;
	}
	p = (unsigned char *)ptr - JS_HDR;
	memcpy(&old, p, sizeof(old));
	if (size > old && size - old > m->cap - m->used)
		return NULL;
	if ((p = realloc(p, size + JS_HDR)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	m->used = m->used - old + size;
	return p + JS_HDR;
}

static void
js_fatal(void *ud, const char *msg)
{
	(void)ud;
	child_say("FATAL: %s", msg ? msg : "Duktape fatal error");
	_exit(1);
}

/* console.warn and console.error write to stderr, as node's do. */
static duk_ret_t
js_console_err(duk_context *ctx)
{
	duk_idx_t	i, n = duk_get_top(ctx);
	const char	*s;

	for (i = 0; i < n; i++) {
		s = duk_safe_to_string(ctx, i);
		if (i > 0)
			write_all(2, " ", 1);
		write_all(2, s, strlen(s));
	}
	write_all(2, "\n", 1);
	return 0;
}

/* console.log, info, debug: stdout, which Dify drops. */
static duk_ret_t
js_console_out(duk_context *ctx)
{
	(void)ctx;
	return 0;
}

static duk_ret_t
js_decode(duk_context *ctx, void *ud)
{
	(void)ud;
	duk_json_decode(ctx, -1);
	return 1;
}

static duk_ret_t
js_encode(duk_context *ctx, void *ud)
{
	(void)ud;
	duk_json_encode(ctx, -1);
	return 1;
}

/* An uncaught error: its stack (or text) on stderr, exit status 1. */
static int
js_uncaught(duk_context *ctx)
{
	const char	*s = duk_safe_to_stacktrace(ctx, -1);

	write_all(2, s, strlen(s));
	write_all(2, "\n", 1);
	return 1;
}

static int
is_ident(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

static size_t
ident_end(const char *s, size_t n, size_t i)
{
	while (i < n && is_ident((unsigned char)s[i]))
		i++;
	return i;
}

/* The end of a quoted string or template starting at s[i]. */
static size_t
quoted_end(const char *s, size_t n, size_t i)
{
	char	q = s[i++];

	while (i < n && s[i] != q) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '\n' && q != '`')
			break;
		i++;
	}
	return i < n ? i + 1 : n;
}

/* A default value's text: up to a ',' or '}' outside brackets. */
static size_t
default_end(const char *s, size_t n, size_t i)
{
	int	depth = 0;

	while (i < n) {
		if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
			i = quoted_end(s, n, i);
			continue;
		}
		if (s[i] == '(' || s[i] == '[' || s[i] == '{')
			depth++;
		else if (s[i] == ')' || s[i] == ']' || s[i] == '}') {
			if (depth == 0)
				break;
			depth--;
		} else if (s[i] == ',' && depth == 0)
			break;
		i++;
	}
	return i;
}

/*
 * "function main({a, b = 1, c: d})" at s[i] (just past "main"), the
 * signature of Dify's javascript template, which Duktape (ES5 with parts
 * of ES6) cannot parse: rewritten as "function main(__dify_args) {var a =
 * __dify_args["a"]; ...", keeping the line count.  Returns the index after
 * the body's "{", or 0 when the text is not of that shape.
 */
static size_t
js_main_params(const char *s, size_t n, size_t i, struct buf *out)
{
	struct buf	 decl;
	size_t		 k0, k1, a0, a1, d0, d1, start = i;
	int		 lines = 0;

	i = skip_ws(s, n, i);
	if (i >= n || s[i] != '(')
		return 0;
	i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] != '{')
		return 0;
	buf_init(&decl, n + 4096);
	for (i++;;) {
		i = skip_ws(s, n, i);
		if (i < n && s[i] == '}')
			break;
		k0 = i;
		k1 = ident_end(s, n, i);
		if (k1 == k0)
			goto fail;	/* nested patterns, "...rest" */
		a0 = k0;
		a1 = k1;
		i = skip_ws(s, n, k1);
		if (i < n && s[i] == ':') {
			a0 = skip_ws(s, n, i + 1);
			a1 = ident_end(s, n, a0);
			if (a1 == a0)
				goto fail;
			i = skip_ws(s, n, a1);
		}
		d0 = d1 = 0;
		if (i < n && s[i] == '=') {
			d0 = i + 1;
			d1 = i = default_end(s, n, d0);
		}
		buf_printf(&decl, "var %.*s = __dify_args[\"%.*s\"]", (int)(a1 -
		    a0), s + a0, (int)(k1 - k0), s + k0);
		if (d1 > d0)
			buf_printf(&decl, " === undefined ? (%.*s) : "
			    "__dify_args[\"%.*s\"]", (int)(d1 - d0), s + d0,
			    (int)(k1 - k0), s + k0);
		buf_puts(&decl, "; ");
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i++;
		else if (i >= n || s[i] != '}')
			goto fail;
	}
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '=') {	/* "= {}" for the whole argument */
		i = skip_ws(s, n, i + 1);
		if (i >= n || s[i] != '{')
			goto fail;
		i = skip_ws(s, n, i + 1);
		if (i >= n || s[i] != '}')
			goto fail;
		i = skip_ws(s, n, i + 1);
	}
	if (i >= n || s[i] != ')')
		goto fail;
	i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] != '{')
		goto fail;
	i++;
	for (k0 = start; k0 < i; k0++)
		lines += s[k0] == '\n';
	buf_puts(out, "(__dify_args) {");
	buf_append(out, decl.p ? decl.p : "", decl.len);
	while (lines-- > 0)
		buf_puts(out, "\n");
	buf_free(&decl);
	return i;
fail:
	buf_free(&decl);
	return 0;
}

/*
 * What Duktape needs to run code written for Dify's node.js sandbox:
 * main's destructured parameter, and "let" as "var".  Strings, comments,
 * templates and regular expressions are copied untouched.
 */
static void
js_rewrite(const char *s, size_t n, struct buf *out)
{
	static const char *const before_regex[] = { "return", "typeof",
	    "instanceof", "in", "of", "new", "delete", "void", "throw",
	    "case", "do", "else", "yield", "await", NULL };
	size_t	i = 0, e, k;
	int	regex_ok = 1, t;

	while (i < n) {
		unsigned char	c = (unsigned char)s[i];

		if (c == '"' || c == '\'' || c == '`') {
			e = quoted_end(s, n, i);
			regex_ok = 0;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
			for (e = i; e < n && s[e] != '\n'; e++)
				;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			for (e = i + 2; e + 1 < n && !(s[e] == '*' &&
			    s[e + 1] == '/'); e++)
				;
			e = e + 2 < n ? e + 2 : n;
		} else if (c == '/' && regex_ok) {
			for (e = i + 1, t = 0; e < n && s[e] != '\n' &&
			    (s[e] != '/' || t); e++) {
				if (s[e] == '\\')
					e++;
				else if (s[e] == '[')
					t = 1;
				else if (s[e] == ']')
					t = 0;
			}
			e = e < n ? e + 1 : n;
			regex_ok = 0;
		} else if (is_ident(c) && !(c >= '0' && c <= '9')) {
			e = ident_end(s, n, i);
			k = skip_ws(s, n, e);
			if (e - i == 3 && memcmp(s + i, "let", 3) == 0 &&
			    k > e && k < n && (is_ident((unsigned char)s[k]) ||
			    s[k] == '[' || s[k] == '{')) {
				buf_puts(out, "var");
				i = e;
				regex_ok = 1;
				continue;
			}
			if (e - i == 8 && memcmp(s + i, "function", 8) == 0 &&
			    k + 4 <= n && memcmp(s + k, "main", 4) == 0 &&
			    ident_end(s, n, k) == k + 4) {
				buf_append(out, s + i, k + 4 - i);
				if ((e = js_main_params(s, n, k + 4, out)) == 0)
					e = k + 4;
				i = e;
				regex_ok = 1;
				continue;
			}
			regex_ok = 0;
			for (t = 0; before_regex[t] != NULL; t++)
				if (strlen(before_regex[t]) == e - i &&
				    memcmp(before_regex[t], s + i, e - i) == 0)
					regex_ok = 1;
		} else if (c >= '0' && c <= '9') {
			e = ident_end(s, n, i);
			regex_ok = 0;
		} else {
			e = i + 1;
			if (c == ')' || c == ']')
				regex_ok = 0;
			else if (c != ' ' && c != '\t' && c != '\n' &&
			    c != '\r')
				regex_ok = 1;
		}
		buf_append(out, s + i, e - i);
		i = e;
	}
}

/* Run "code" with "inputs" (JSON text); the result goes to fd 3. */
static int
js_run(const struct job *j, const char *code, size_t clen,
    const char *inputs, size_t ilen)
{
	static const duk_function_list_entry console[] = {
		{ "log", js_console_out, DUK_VARARGS },
		{ "info", js_console_out, DUK_VARARGS },
		{ "debug", js_console_out, DUK_VARARGS },
		{ "warn", js_console_err, DUK_VARARGS },
		{ "error", js_console_err, DUK_VARARGS },
		{ NULL, NULL, 0 }
	};
	struct jsmem	 m;
	struct buf	 src;
	duk_context	*ctx;
	const char	*res;
	duk_size_t	 rlen;

	m.used = 0;
	m.cap = (size_t)j->memory_mb << 20;
	buf_init(&src, clen * 2 + 65536);
	js_rewrite(code, clen, &src);
	ctx = duk_create_heap(js_alloc, js_realloc, js_free, &m, js_fatal);
	if (ctx == NULL) {
		child_say("sandbox: no javascript heap");
		return 1;
	}
	duk_push_global_object(ctx);
	duk_push_object(ctx);
	duk_put_function_list(ctx, -1, console);
	duk_put_prop_string(ctx, -2, "console");
	duk_pop(ctx);
	duk_push_string(ctx, "code.js");
	if (duk_pcompile_lstring_filename(ctx, 0, src.p ? src.p : "",
	    src.len) != 0 || duk_pcall(ctx, 0) != 0)
		return js_uncaught(ctx);
	duk_pop(ctx);
	if (!duk_get_global_string(ctx, "main") || !duk_is_function(ctx, -1)) {
		child_say("ReferenceError: identifier 'main' undefined");
		return 1;
	}
	duk_push_lstring(ctx, inputs, ilen);
	if (duk_safe_call(ctx, js_decode, NULL, 1, 1) != 0 ||
	    duk_pcall(ctx, 1) != 0 ||
	    duk_safe_call(ctx, js_encode, NULL, 1, 1) != 0)
		return js_uncaught(ctx);
	/* JSON.stringify(undefined) is undefined, which Dify cannot parse */
	res = duk_is_string(ctx, -1) ? duk_get_lstring(ctx, -1, &rlen) :
	    "undefined";
	if (!duk_is_string(ctx, -1))
		rlen = strlen(res);
	write_all(3, res, rlen);
	return 0;
}

/* The rest of the job: "<code length>\n<code><inputs>". */
static int
js_main(const struct job *j)
{
	struct buf	 p;
	char		 chunk[65536], *nl;
	long long	 clen;
	ssize_t		 r;

	buf_init(&p, PAYLOAD_MAX);
	for (;;) {
		r = read(0, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_append(&p, chunk, (size_t)r) == -1) {
			child_say("sandbox: the code and inputs are too large");
			return 1;
		}
	}
	if (p.len == 0 || (nl = memchr(p.p, '\n', p.len)) == NULL) {
		child_say("sandbox: no job");
		return 1;
	}
	*nl = '\0';
	if (parse_int(p.p, 0, (long long)(p.len - (size_t)(nl + 1 - p.p)),
	    &clen) == -1) {
		child_say("sandbox: bad job");
		return 1;
	}
	return js_run(j, nl + 1, (size_t)clen, nl + 1 + clen,
	    p.len - (size_t)(nl + 1 - p.p) - (size_t)clen);
}

static int
child_main(void)
{
	static char *const py_argv[] = { "python3", "-I", "-S", "-B", "-c",
	    (char *)py_wrapper, NULL };
	static char *const no_env[] = { NULL };
	struct job	 j;
	struct iso	 iso;
	struct buf	 notes;
	const char	*refuse = NULL;
	size_t		 vm;
	int		 python, i, no_create;

	if (read_header(&j) == -1) {
		child_say("sandbox: bad job header");
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
		drop_root(&j, &iso, &notes);
	else
		user_ns(&j, &iso, &notes);
	buf_puts(&notes, iso.readonly ? " mounts=readonly" : iso.mounts ?
	    " mounts=private" : " mounts=shared");
	if (chdir(j.scratch) == -1)
		child_die("chdir scratch");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		child_die("no_new_privs");
	vm = python ? 0 : vm_size();
	iso.landlock = landlock(&j, python, &notes);
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
	if (refuse == NULL && seccomp(no_create) == -1)
		refuse = "no seccomp filter for this architecture";
	buf_puts(&notes, refuse == NULL ? " seccomp=on" : " refused");
	buf_puts(&notes, "\n");
	write_all(3, notes.p, notes.len);
	buf_free(&notes);
	if (refuse != NULL) {
		child_say("sandbox: the server's files cannot be hidden from "
		    "the code here (%s)", refuse);
		return 1;
	}
	if (!python)
		return js_main(&j);
	execve(PYTHON, py_argv, no_env);
	child_say("sandbox: %s: %s", PYTHON, strerror(errno));
	return 1;
}

/*
 * The child's entry: argv[0] "difycgi-sandbox" and an empty environment,
 * as sandbox_run() spawns it, run before main() of whichever program this
 * library is linked into.  glibc passes argc, argv and envp.
 */
__attribute__((constructor)) static void
sandbox_entry(int argc, char **argv, char **envp)
{
	if (argc == 1 && argv != NULL && argv[0] != NULL &&
	    strcmp(argv[0], SANDBOX_ARGV0) == 0 && envp != NULL &&
	    envp[0] == NULL)
		_exit(child_main());
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

	for (i = 0; runtime[i] != NULL; i++)
		if (path_within(runtime[i], dir))
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
