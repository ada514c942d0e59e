/*
 * sandbox_landlock.c: the child's Landlock rules, when the kernel has
 * Landlock: python may read the system library directories, execute the
 * interpreter and use the scratch directory, nothing else; javascript,
 * which needs no file, gets no access at all.  TCP is denied and, from
 * ABI 6, signals and abstract sockets that leave the sandbox.  Each ABI
 * handles what it knows of; an older kernel takes a prefix of the rules.
 */
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/landlock.h>

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "sandbox_int.h"

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
		sandbox_child_die("landlock rule");
	close(fd);
}

/*
 * The file system the code may see: python's installation read-only and
 * the scratch directory; javascript nothing.  Needs no_new_privs.
 */
long
sandbox_landlock(const struct job *j, int python, struct buf *notes)
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
		sandbox_child_die("landlock ruleset");
	if (python) {
		rx = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_READ_DIR;
		for (i = 0; sandbox_runtime[i] != NULL; i++)
			if (strcmp(sandbox_runtime[i], "/dev/null") != 0)
				ll_allow(rfd, rs.fs, sandbox_runtime[i], rx);
		ll_allow(rfd, rs.fs, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
		    LANDLOCK_ACCESS_FS_WRITE_FILE);
		all = rs.fs & ~LANDLOCK_ACCESS_FS_EXECUTE &
		    ~LANDLOCK_ACCESS_FS_MAKE_CHAR &
		    ~LANDLOCK_ACCESS_FS_MAKE_BLOCK &
		    ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
		ll_allow(rfd, rs.fs, j->scratch, all);
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1)
		sandbox_child_die("landlock");
	close(rfd);
	buf_printf(notes, " fs=landlock%ld", abi);
	return abi;
}
