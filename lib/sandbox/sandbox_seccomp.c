/*
 * sandbox_seccomp.c: the child's system call filter, built as classic
 * BPF and installed last, just before the code runs.  It denies what
 * untrusted code never needs (socket(2), ptrace, process_vm_*, io_uring,
 * bpf, namespaces, mounts, keyrings; changes to a file's mode, owner,
 * times or extended attributes; inotify and fanotify; System V IPC and
 * message queues), lets calls that name a process reach only the child
 * itself, and, where the scratch directory could not be capped, forbids
 * creating any file.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "sandbox_int.h"

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
		sandbox_child_say("sandbox: seccomp filter too long");
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
int
sandbox_seccomp(int no_create)
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
		sandbox_child_die("seccomp");
	return 0;
#else
	(void)no_create;
	return -1;
#endif
}
