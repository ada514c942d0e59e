/*
 * sandbox_ns.c: the child's namespaces and the user it runs the code as.
 * Root takes a network and a mount namespace directly, then becomes
 * "nobody"; a service user takes them inside a user namespace of its own
 * (keeping its uid and gid), then drops every capability.  In the mount
 * namespace the server's files the job names are covered, every mount
 * is made read-only and the scratch directory becomes a capped tmpfs.
 * What could be done goes to struct iso and the notes; what is missing
 * the child makes up for (sandbox_child.c) or refuses to run.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "sandbox_int.h"

#define SCRATCH_TMPFS	"size=8m,nr_inodes=256,mode=0700"

/* Whether "dir" is "path" or one of its parents. */
int
sandbox_path_within(const char *path, const char *dir)
{
	size_t	n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' ||
	    path[n] == '\0');
}

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
	if (!sandbox_path_within(j->scratch, dir)) {
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
		sandbox_child_die("mount private");
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
		sandbox_child_die("mount scratch");
	iso->scratch = 1;
}

/*
 * Root: a network and a mount namespace of its own, then uid/gid
 * "nobody", in no group.
 */
void
sandbox_drop_root(const struct job *j, struct iso *iso, struct buf *notes)
{
	struct passwd	*pw = getpwnam("nobody");
	uid_t		 uid = pw ? pw->pw_uid : 65534;
	gid_t		 gid = pw ? pw->pw_gid : 65534;

	buf_puts(notes, unshare(CLONE_NEWNET) == 0 ? " net=netns" :
	    " net=seccomp");
	if (unshare(CLONE_NEWNS) == 0)
		view(j, uid, gid, iso);
	else if (chown(j->scratch, uid, gid) == -1)
		sandbox_child_die("chown scratch");
	if (setgroups(0, NULL) == -1 || setgid(gid) == -1 ||
	    setuid(uid) == -1)
		sandbox_child_die("become nobody");
	if (setuid(0) != -1) {
		sandbox_child_say("sandbox: still root");
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
void
sandbox_user_ns(const struct job *j, struct iso *iso, struct buf *notes)
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
		sandbox_child_die("drop capabilities");
	buf_puts(notes, " userns=on");
out:
	buf_puts(notes, " uid=server");
}
