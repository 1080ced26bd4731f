/*
 * The plan the runtime compiles for the C init (cinit.c). The Go side
 * (plan.go) takes these numbers from here through cgo, so the two cannot
 * disagree.
 *
 * A plan is "PLN1" followed by operations: one opcode byte, then the
 * operands in order. Integers are little-endian u8/u32/u64; a string is a
 * u32 length that counts its NUL terminator, then the bytes; a slot is a
 * u8 index into the init's table of descriptors.
 */
#ifndef PELAGOS_CINIT_H
#define PELAGOS_CINIT_H

/* Fixed slots. */
#define PLAN_SLOT_ROOT 0    /* the container's root directory */
#define PLAN_SLOT_PROC 1    /* the host's procfs, opened before any mount */
#define PLAN_SLOT_DEVNULL 2 /* the host's /dev/null, the masking source */
#define PLAN_SLOT_FREE 3    /* first scratch slot */
#define PLAN_NSLOTS 16

enum {
	PLAN_CTX = 1,	     /* str step, str what: names the failure context */
	PLAN_UNSHARE,	     /* u64 clone flags */
	PLAN_SLAVE_ROOT,     /* make / a recursive slave */
	PLAN_BIND_ROOTFS,    /* str rootfs: bind it onto itself, root slot */
	PLAN_OPEN_HOST,	     /* proc and /dev/null slots */
	PLAN_NOT_SYMLINK,    /* str dest: refuse a symlink there */
	PLAN_MKDIR,	     /* slot, str path, u32 mode: mkdir -p in root */
	PLAN_MKFILE,	     /* slot, str path, u32 mode: a file in root */
	PLAN_FSMOUNT,	     /* slot, str type, str source, u32 n, n*str flag,
			      * u32 m, m*(str opt, str key, str value, u8 hasvalue),
			      * u64 mount attrs */
	PLAN_CLONE_PATH,     /* slot, str host path, u8 recursive */
	PLAN_SETATTR,	     /* slot, u64 set, u64 clr, u8 recursive */
	PLAN_PROPAGATE,	     /* slot, u64 MS_ propagation flag, u8 recursive */
	PLAN_ATTACH,	     /* slot mount, slot target */
	PLAN_CLOSE,	     /* slot */
	PLAN_SYMLINK,	     /* slot dir, str target, str name, u8 existing ok */
	PLAN_MKNOD,	     /* str path, u32 mode, u64 rdev, u32 uid, u32 gid,
			      * u8 default device (bind the host's on EPERM) */
	PLAN_MASK,	     /* str path */
	PLAN_READONLY,	     /* str path */
	PLAN_HOOKS,	     /* ask the runtime for its hooks, wait */
	PLAN_PIVOT,	     /* u64 rootfsPropagation flag */
	PLAN_MOVEROOT,	     /* u64 rootfsPropagation flag (--no-pivot) */
	PLAN_READONLY_ROOT,  /* */
	PLAN_HOSTNAME,	     /* str */
	PLAN_DOMAINNAME,     /* str */
	PLAN_WRITEPROC,	     /* str path under /proc, str value */
	PLAN_KEYRING,	     /* str name */
	PLAN_FINDEXEC,	     /* str args[0], str cwd, str PATH */
	PLAN_SETHOME,	     /* u32 uid */
	PLAN_READY,	     /* */
	PLAN_WAITSTART,	     /* u32 listening fd */
	PLAN_ENTERCWD,	     /* str cwd */
	PLAN_CLOSERANGE,     /* u32 first fd marked close-on-exec */
	PLAN_RLIMIT,	     /* u32 resource, u64 soft, u64 hard, str name */
	PLAN_SECCOMP,	     /* u32 flags, bytes program */
	PLAN_DROPBOUND,	     /* u64 keep, u32 last cap, u32 n, n*str names */
	PLAN_KEEPCAPS,	     /* u8 */
	PLAN_SETGROUPS,	     /* u32 n, n*u32 */
	PLAN_SETRESGID,	     /* u32 */
	PLAN_SETRESUID,	     /* u32 */
	PLAN_CWDPENDING,     /* str cwd */
	PLAN_CAPS,	     /* u64 eff, perm, inh, amb, u32 last, u32 n, n*str */
	PLAN_NNP,	     /* */
	PLAN_EXEC,	     /* u32 umask, u32 argc, argc*str, u32 envc, envc*str */
	PLAN_WARN,	     /* str: a warning for the runtime to log */
	PLAN_CONSOLE,	     /* u32 console socket fd, u8 has size, u32 rows,
			      * u32 cols, u8 bind /dev/console: the pty, stdio */
	PLAN_OPEN_ROOT,	     /* the root slot: "/" (exec, after setns) */
	PLAN_PERSONALITY,    /* u64 persona */
	PLAN_SCHED,	     /* bytes struct sched_attr */
	PLAN_IOPRIO,	     /* u32 ioprio value (class << 13 | level) */
	PLAN_AWAIT_CGROUP,   /* wait for the runtime's word that the init is
			      * in its cgroup */
};

/* pelagos_cinit runs the plan read from syncfd; it does not return. */
void pelagos_cinit(int syncfd) __attribute__((noreturn));

#endif
