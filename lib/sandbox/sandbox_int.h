/*
 * sandbox_int.h: what the files of lib/sandbox/ share, and no other
 * folder may include: the job the server hands the child (written by
 * sandbox.c, read by sandbox_child.c), what the child could apply, and
 * the layers and runners the child calls, one file each.
 */
#ifndef SANDBOX_INT_H
#define SANDBOX_INT_H

#include <limits.h>
#include <stddef.h>

#include "core/core.h"

#define SANDBOX_ARGV0	"difycgi-sandbox"
#define PYTHON		"/usr/bin/python3"
#define HEADER_MAX	8192
#define HIDE_MAX	8
#define PAYLOAD_MAX	((size_t)64 << 20)	/* code and inputs, bytes */
#define NOTES_MAX	256

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The job header, as the child parsed it (sandbox_child.c). */
struct job {
	char	 lang[16];
	int	 timeout_ms, memory_mb, output_kb;
	long long ppid;
	char	 scratch[PATH_MAX];
	char	 hide[HIDE_MAX][PATH_MAX];
	int	 hidefile[HIDE_MAX];	/* a file, not a directory */
	int	 nhide;
};

/* What the child could apply, decided before the code runs. */
struct iso {
	int	mounts;		/* a mount namespace of its own */
	int	hidden;		/* every "hide" entry is covered */
	int	readonly;	/* every mount but the scratch is read-only */
	int	scratch;	/* the scratch directory is the capped tmpfs */
	long	landlock;	/* the Landlock ABI applied, 0 for none */
};

/* sandbox_child.c: the child's entry, run by the constructor */
int	 sandbox_child_main(void);
void	 sandbox_write_all(int fd, const void *p, size_t n);
void	 sandbox_child_say(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	 sandbox_child_die(const char *what);

/* sandbox_ns.c: namespaces, mounts and the user the code runs as */
int	 sandbox_path_within(const char *path, const char *dir);
void	 sandbox_drop_root(const struct job *j, struct iso *iso,
	    struct buf *notes);
void	 sandbox_user_ns(const struct job *j, struct iso *iso,
	    struct buf *notes);

/* sandbox_landlock.c: the file system and network rules */
long	 sandbox_landlock(const struct job *j, int python,
	    struct buf *notes);

/* sandbox_seccomp.c: the system call filter */
int	 sandbox_seccomp(int no_create);

/* sandbox_js.c: javascript in a Duktape heap */
int	 sandbox_js_main(const struct job *j);

/* sandbox_python.c: python3, exec'd */
extern const char *const sandbox_runtime[];
int	 sandbox_python_main(void);

#endif
