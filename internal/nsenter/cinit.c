/*
 * The container init in C: executes the plan the runtime compiled from a
 * config (internal/initproc/plan.go) and then the container process,
 * without ever starting the Go runtime in the container. Every decision is
 * the runtime's; this file only carries out operations, each of which
 * mirrors a step of the Go init (internal/initproc) and reports failures
 * in the same words.
 *
 * It runs in the process the constructor in nsenter.c leaves in the new
 * namespaces, when _PELAGOS_PLAN is set. The plan arrives on the sync
 * socket as one message of raw packets (flag byte 'm' or 'e' + payload,
 * as initproc.Conn frames them); messages back are 'e' + JSON.
 *
 * Paths inside the container are resolved with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) relative to a handle on the root, mounts are
 * built detached and attached onto handles (the new mount API), exactly
 * as internal/inroot and internal/initproc do: nothing is ever resolved
 * by joining a string to the root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "cinit.h"

/* New mount API and openat2 constants, defined here so that the build
 * does not depend on how new the C library's headers are. */
#define PL_OPEN_TREE_CLONE 1
#define PL_AT_RECURSIVE 0x8000
#define PL_MOVE_MOUNT_F_EMPTY_PATH 0x04
#define PL_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define PL_FSOPEN_CLOEXEC 1
#define PL_FSMOUNT_CLOEXEC 1
#define PL_FSCONFIG_SET_FLAG 0
#define PL_FSCONFIG_SET_STRING 1
#define PL_FSCONFIG_CMD_CREATE 6
#define PL_MOUNT_ATTR_RDONLY 0x1
#define PL_RESOLVE_NO_XDEV 0x01
#define PL_RESOLVE_NO_MAGICLINKS 0x02
#define PL_RESOLVE_NO_SYMLINKS 0x04
#define PL_RESOLVE_BENEATH 0x08
#define PL_RESOLVE_IN_ROOT 0x10
#define PL_CLOSE_RANGE_CLOEXEC (1U << 2)
#define PL_PROC_SUPER_MAGIC 0x9fa0
#define PL_SECCOMP_SET_MODE_FILTER 1
#define PL_KEYCTL_JOIN_SESSION_KEYRING 1
#define PL_CAP_VERSION_3 0x20080522
#define PL_PR_CAP_AMBIENT 47
#define PL_PR_CAP_AMBIENT_RAISE 2
#define PL_PR_CAP_AMBIENT_CLEAR_ALL 4

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct pl_open_how {
	uint64_t flags, mode, resolve;
};

struct pl_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

struct pl_cap_header {
	uint32_t version;
	int pid;
};

struct pl_cap_data {
	uint32_t effective, permitted, inheritable;
};

struct pl_sock_fprog {
	unsigned short len;
	void *filter;
};

#define NSLOTS PLAN_NSLOTS
#define MAXPATH 4096
#define MAXMSG 8192

/* The init's state: the plan, the fd slots, where errors go. */
static int conn = -1;	       /* where messages go: sync socket, then start */
static int slots[NSLOTS];      /* PLAN_SLOT_ROOT, PLAN_SLOT_PROC, ... */
static const char *step = "plan";
static const char *what = "";
static const unsigned char *pc, *end;
static char execpath[MAXPATH];
static char homeenv[MAXPATH + 8];
static int cwdpending;

/* ---- messages ---------------------------------------------------------- */

/* jsonstr appends s to buf (of size n, at *off) as a JSON string body. */
static void jsonstr(char *buf, size_t n, size_t *off, const char *s)
{
	for (; *s != '\0' && *off + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[(*off)++] = '\\';
			buf[(*off)++] = (char)c;
		} else if (c < 0x20) {
			*off += (size_t)snprintf(buf + *off, n - *off, "\\u%04x", c);
		} else {
			buf[(*off)++] = (char)c;
		}
	}
	buf[*off] = '\0';
}

/* send_msg sends {"type":type[,"step":st][,"error":text]} as one packet. */
static void send_msg(const char *type, const char *st, const char *text)
{
	char buf[MAXMSG];
	size_t off = 0;
	off += (size_t)snprintf(buf, sizeof(buf), "e{\"type\":\"%s\"", type);
	if (st != NULL) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",\"step\":\"");
		jsonstr(buf, sizeof(buf) - 4, &off, st);
		buf[off++] = '"';
	}
	if (text != NULL) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, ",\"error\":\"");
		jsonstr(buf, sizeof(buf) - 4, &off, text);
		buf[off++] = '"';
	}
	buf[off++] = '}';
	if (conn < 0 || send(conn, buf, off, MSG_NOSIGNAL) < 0) {
		/* nobody to tell: the runtime reads our exit status */
		if (write(2, buf + 1, off - 1) < 0) {
		}
	}
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* await_msg waits for the runtime's message of the given type; the
 * runtime gone, there is nothing left to do. */
static void await_msg(const char *type)
{
	char buf[256], want[64];
	ssize_t n;
	do
		n = recv(conn, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(1);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
	if (strstr(buf + 1, want) == NULL)
		die("expected %s from the runtime, got %.100s", type, buf + 1);
}

/* die reports the failed step: "<what>: <detail>" and exits. */
static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char detail[MAXMSG / 2], text[MAXMSG / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (what[0] != '\0')
		snprintf(text, sizeof(text), "%.1000s: %.3000s", what, detail);
	else
		snprintf(text, sizeof(text), "%s", detail);
	send_msg("error", step, text);
	_exit(1);
}

static void warn(const char *text)
{
	send_msg("warning", NULL, text);
}

/* errstr is Go's wording of an errno (syscall.Errno.Error). */
static const char *errstr(int err)
{
	switch (err) {
	case ENOENT:
		return "no such file or directory";
	case EACCES:
		return "permission denied";
	case EPERM:
		return "operation not permitted";
	case ENOTDIR:
		return "not a directory";
	case EISDIR:
		return "is a directory";
	case EEXIST:
		return "file exists";
	case EINVAL:
		return "invalid argument";
	case ELOOP:
		return "too many levels of symbolic links";
	case EXDEV:
		return "invalid cross-device link";
	case ENOEXEC:
		return "exec format error";
	default: {
		/* Go's errno texts are strerror's, starting in lower case. */
		static char buf[128];
		snprintf(buf, sizeof(buf), "%s", strerror(err));
		if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
			buf[0] = (char)(buf[0] - 'A' + 'a');
		return buf;
	}
	}
}

/* ---- plan decoding ----------------------------------------------------- */

static void need(size_t n)
{
	if ((size_t)(end - pc) < n)
		die("plan truncated");
}

static unsigned rd_u8(void)
{
	need(1);
	return *pc++;
}

static uint32_t rd_u32(void)
{
	uint32_t v;
	need(4);
	memcpy(&v, pc, 4);
	pc += 4;
	return v;
}

static uint64_t rd_u64(void)
{
	uint64_t v;
	need(8);
	memcpy(&v, pc, 8);
	pc += 8;
	return v;
}

/* rd_bytes returns a blob of the plan and its length. */
static const unsigned char *rd_bytes(uint32_t *len)
{
	const unsigned char *p;
	*len = rd_u32();
	need(*len);
	p = pc;
	pc += *len;
	return p;
}

/* rd_str returns a NUL-terminated string of the plan (the runtime sends
 * the terminator). */
static const char *rd_str(void)
{
	uint32_t len;
	const unsigned char *p = rd_bytes(&len);
	if (len == 0 || p[len - 1] != '\0')
		die("plan: malformed string");
	return (const char *)p;
}

static int rd_slot(void)
{
	unsigned s = rd_u8();
	if (s >= NSLOTS)
		die("plan: bad slot %u", s);
	return (int)s;
}

/* recv_plan reads one framed message from the sync socket. */
static void recv_plan(void)
{
	size_t cap = 1 << 16, len = 0;
	unsigned char *buf = malloc(cap), *pkt = malloc((1 << 16) + 2);
	if (buf == NULL || pkt == NULL)
		die("plan: out of memory");
	for (;;) {
		ssize_t n = recv(conn, pkt, (1 << 16) + 2, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recvmsg: %s", errstr(errno));
		if (n == 0)
			_exit(1); /* the runtime went away */
		if (len + (size_t)n > cap) {
			cap = 2 * (len + (size_t)n);
			buf = realloc(buf, cap);
			if (buf == NULL)
				die("plan: out of memory");
		}
		memcpy(buf + len, pkt + 1, (size_t)n - 1);
		len += (size_t)n - 1;
		if (pkt[0] == 'e')
			break;
	}
	free(pkt);
	pc = buf;
	end = buf + len;
	if (len < 4 || memcmp(pc, "PLN1", 4) != 0)
		die("plan: bad magic");
	pc += 4;
}

/* ---- resolution inside the root (internal/inroot) ---------------------- */

static int openat2_(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct pl_open_how how = {flags | O_CLOEXEC, 0, resolve};
	int i, fd;
	for (i = 0;; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd < 0 && (errno == EINTR || (errno == EAGAIN && i < 32)))
			continue;
		return fd;
	}
}

/* in_root opens path (absolute or relative) inside the root. */
static int in_root(const char *path, uint64_t flags)
{
	while (*path == '/')
		path++;
	if (*path == '\0')
		path = ".";
	return openat2_(slots[PLAN_SLOT_ROOT], path, flags, PL_RESOLVE_IN_ROOT | PL_RESOLVE_NO_MAGICLINKS);
}

/* clean writes the cleaned, relative form of "/" + in into out ("" for the
 * root), as filepath.Clean would. */
static void clean(const char *in, char *out)
{
	size_t n = 0;
	const char *p = in;
	while (*p != '\0') {
		const char *seg;
		size_t len;
		while (*p == '/')
			p++;
		seg = p;
		while (*p != '\0' && *p != '/')
			p++;
		len = (size_t)(p - seg);
		if (len == 0 || (len == 1 && seg[0] == '.'))
			continue;
		if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			continue;
		}
		if (n + len + 2 >= MAXPATH)
			break;
		if (n > 0)
			out[n++] = '/';
		memcpy(out + n, seg, len);
		n += len;
	}
	out[n] = '\0';
}

/* mkdir_all makes sure path exists inside the root as a directory and
 * returns an O_PATH handle on it; a dangling symlink on the way is
 * followed inside the root and its target created (inroot.MkdirAll). */
static int mkdir_all(const char *path, mode_t mode, int links)
{
	char rel[MAXPATH], prefix[MAXPATH];
	char *part;
	int cur;
	size_t plen = 0;
	if (links > 40) {
		errno = ELOOP;
		return -1;
	}
	clean(path, rel);
	cur = in_root(".", O_PATH);
	if (cur < 0 || rel[0] == '\0')
		return cur;
	prefix[0] = '\0';
	part = rel;
	while (part != NULL && *part != '\0') {
		char *slash = strchr(part, '/');
		int next;
		if (slash != NULL)
			*slash = '\0';
		if (plen > 0)
			prefix[plen++] = '/';
		memcpy(prefix + plen, part, strlen(part) + 1);
		plen += strlen(part);
		next = in_root(prefix, O_PATH | O_DIRECTORY);
		if (next < 0 && errno == ENOENT) {
			char target[MAXPATH], joined[2 * MAXPATH + 2];
			ssize_t tn = readlinkat(cur, part, target, sizeof(target) - 1);
			if (tn >= 0) {
				/* dangling symlink: create where it points */
				target[tn] = '\0';
				close(cur);
				if (target[0] == '/')
					snprintf(joined, sizeof(joined), "%s", target);
				else {
					prefix[plen - strlen(part)] = '\0';
					snprintf(joined, sizeof(joined), "/%s/%s", prefix, target);
				}
				if (slash != NULL) {
					size_t jl = strlen(joined);
					snprintf(joined + jl, sizeof(joined) - jl, "/%s", slash + 1);
				}
				return mkdir_all(joined, mode, links + 1);
			}
			if (mkdirat(cur, part, mode) < 0 && errno != EEXIST) {
				int e = errno;
				close(cur);
				errno = e;
				return -1;
			}
			next = in_root(prefix, O_PATH | O_DIRECTORY);
		}
		close(cur);
		if (next < 0)
			return -1;
		cur = next;
		part = slash != NULL ? slash + 1 : NULL;
	}
	return cur;
}

/* mkfile makes sure path exists inside the root as a non-directory
 * (inroot.MkFile). */
static int mkfile(const char *path, mode_t mode)
{
	char rel[MAXPATH], dir[MAXPATH];
	const char *base;
	char *slash;
	int parent, fd;
	struct stat st;
	clean(path, rel);
	if (rel[0] == '\0')
		die("the root itself is not a file");
	memcpy(dir, rel, strlen(rel) + 1);
	slash = strrchr(dir, '/');
	if (slash != NULL) {
		*slash = '\0';
		base = rel + (slash - dir) + 1;
	} else {
		dir[0] = '\0';
		base = rel;
	}
	parent = mkdir_all(dir, 0755, 0);
	if (parent < 0)
		return -1;
	if (mknodat(parent, base, S_IFREG | mode, 0) < 0 && errno != EEXIST) {
		int e = errno;
		close(parent);
		errno = e;
		return -1;
	}
	close(parent);
	fd = in_root(rel, O_PATH);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		die("/%s: is a directory, a file was expected", rel);
	}
	return fd;
}

/* is_symlink reports whether the last component of path inside the root
 * is a symlink (inroot.IsSymlink); -1 with errno if it cannot tell. */
static int is_symlink(const char *path)
{
	char rel[MAXPATH];
	char *slash;
	const char *base;
	struct stat st;
	int parent, r;
	clean(path, rel);
	if (rel[0] == '\0')
		return 0;
	slash = strrchr(rel, '/');
	if (slash != NULL) {
		*slash = '\0';
		base = slash + 1;
		parent = in_root(rel, O_PATH);
	} else {
		base = rel;
		parent = in_root(".", O_PATH);
	}
	if (parent < 0)
		return -1;
	r = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW);
	close(parent);
	if (r < 0)
		return -1;
	return S_ISLNK(st.st_mode);
}

/* ---- mounts (internal/initproc/mountapi_linux.go) ---------------------- */

static void setslot(int s, int fd)
{
	if (slots[s] >= 0)
		close(slots[s]);
	slots[s] = fd;
}

static void fs_fail(int fsfd, const char *opt, int err)
{
	char msgs[1024], line[256];
	size_t off = 0;
	ssize_t n;
	msgs[0] = '\0';
	while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
			line[--n] = '\0';
		off += (size_t)snprintf(msgs + off, sizeof(msgs) - off, "%s%s", off ? "; " : "", line);
		if (off >= sizeof(msgs))
			break;
	}
	if (msgs[0] != '\0')
		die("fsconfig %s: %s (%s)", opt, errstr(err), msgs);
	die("fsconfig %s: %s", opt, errstr(err));
}

static void op_fsmount(void)
{
	int out = rd_slot(), fsfd, mfd;
	const char *fstype = rd_str(), *source = rd_str();
	uint32_t nflags, ndata, i;
	uint64_t attrs;
	fsfd = (int)syscall(SYS_fsopen, fstype, PL_FSOPEN_CLOEXEC);
	if (fsfd < 0)
		die("fsopen %s: %s", fstype, errstr(errno));
	if (source[0] != '\0' &&
	    syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_STRING, "source", source, 0) < 0) {
		char opt[MAXPATH];
		snprintf(opt, sizeof(opt), "source=%s", source);
		fs_fail(fsfd, opt, errno);
	}
	nflags = rd_u32();
	for (i = 0; i < nflags; i++) {
		const char *f = rd_str();
		if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_FLAG, f, NULL, 0) < 0)
			fs_fail(fsfd, f, errno);
	}
	ndata = rd_u32();
	for (i = 0; i < ndata; i++) {
		const char *opt = rd_str(), *key = rd_str(), *val = rd_str();
		unsigned hasval = rd_u8();
		long r = hasval ? syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_STRING, key, val, 0)
				: syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_FLAG, key, NULL, 0);
		if (r < 0)
			fs_fail(fsfd, opt, errno);
	}
	attrs = rd_u64();
	if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fs_fail(fsfd, "create", errno);
	mfd = (int)syscall(SYS_fsmount, fsfd, PL_FSMOUNT_CLOEXEC, (unsigned)attrs);
	if (mfd < 0)
		die("fsmount %s: %s", fstype, errstr(errno));
	close(fsfd);
	setslot(out, mfd);
}

static int clone_tree(int dirfd, const char *path, int recursive)
{
	unsigned flags = PL_OPEN_TREE_CLONE | O_CLOEXEC;
	if (path[0] == '\0')
		flags |= AT_EMPTY_PATH;
	if (recursive)
		flags |= PL_AT_RECURSIVE;
	return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

static void setattr_(int fd, uint64_t set, uint64_t clr, int recursive)
{
	struct pl_mount_attr a = {set, clr, 0, 0};
	if (set == 0 && clr == 0)
		return;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? PL_AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
		die("mount_setattr: %s", errstr(errno));
}

static void attach(int mnt, int target)
{
	if (syscall(SYS_move_mount, mnt, "", target, "", PL_MOVE_MOUNT_F_EMPTY_PATH | PL_MOVE_MOUNT_T_EMPTY_PATH) < 0)
		die("move_mount: %s", errstr(errno));
}

/* mask covers path: an empty read-only tmpfs over a directory, our
 * /dev/null handle over anything else (maskPath). */
static void op_mask(void)
{
	const char *path = rd_str();
	struct stat st;
	int target = in_root(path, O_PATH), mnt;
	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0)
		die("openat2 %s: %s", path, errstr(errno));
	if (fstat(target, &st) < 0)
		die("fstat %s: %s", path, errstr(errno));
	if (S_ISDIR(st.st_mode)) {
		int fsfd = (int)syscall(SYS_fsopen, "tmpfs", PL_FSOPEN_CLOEXEC);
		if (fsfd < 0)
			die("fsopen tmpfs: %s", errstr(errno));
		if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_STRING, "source", "tmpfs", 0) < 0)
			fs_fail(fsfd, "source=tmpfs", errno);
		if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_STRING, "size", "0", 0) < 0)
			fs_fail(fsfd, "size=0", errno);
		if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_SET_STRING, "mode", "755", 0) < 0)
			fs_fail(fsfd, "mode=755", errno);
		if (syscall(SYS_fsconfig, fsfd, PL_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			fs_fail(fsfd, "create", errno);
		mnt = (int)syscall(SYS_fsmount, fsfd, PL_FSMOUNT_CLOEXEC, PL_MOUNT_ATTR_RDONLY);
		close(fsfd);
		if (mnt < 0)
			die("fsmount tmpfs: %s", errstr(errno));
	} else {
		mnt = clone_tree(slots[PLAN_SLOT_DEVNULL], "", 0);
		if (mnt < 0)
			die("open_tree /dev/null: %s", errstr(errno));
	}
	attach(mnt, target);
	close(mnt);
	close(target);
}

/* readonly makes path a read-only bind of itself (readonlyPath). */
static void op_readonly(void)
{
	const char *path = rd_str();
	int target = in_root(path, O_PATH), mnt;
	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0)
		die("openat2 %s: %s", path, errstr(errno));
	mnt = clone_tree(target, "", 1);
	if (mnt < 0)
		die("open_tree %s: %s", path, errstr(errno));
	setattr_(mnt, PL_MOUNT_ATTR_RDONLY, 0, 1);
	attach(mnt, target);
	close(mnt);
	close(target);
}

/* ---- devices (internal/initproc/dev_linux.go) -------------------------- */

static void bind_device(const char *path)
{
	int target = mkfile(path, 0644), mnt;
	if (target < 0)
		die("%s: %s", path, errstr(errno));
	mnt = clone_tree(AT_FDCWD, path, 0);
	if (mnt < 0)
		die("device %s: no mknod in a user namespace and no host node to bind: open_tree %s: %s",
		    path, path, errstr(errno));
	attach(mnt, target);
	close(mnt);
	close(target);
}

static void op_mknod(void)
{
	const char *path = rd_str();
	uint32_t mode = rd_u32();
	uint64_t rdev = rd_u64();
	uint32_t uid = rd_u32(), gid = rd_u32();
	unsigned isdefault = rd_u8();
	char rel[MAXPATH], *slash;
	const char *name;
	int parent;
	clean(path, rel);
	slash = strrchr(rel, '/');
	if (slash != NULL) {
		*slash = '\0';
		name = slash + 1;
		parent = mkdir_all(rel, 0755, 0);
	} else {
		name = rel;
		parent = mkdir_all("", 0755, 0);
	}
	if (parent < 0)
		die("%s: %s", path, errstr(errno));
	unlinkat(parent, name, 0);
	if (mknodat(parent, name, mode, (dev_t)rdev) < 0) {
		int e = errno;
		close(parent);
		if (isdefault && e == EPERM) {
			bind_device(path);
			return;
		}
		die("mknod %s: %s", path, errstr(e));
	}
	if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		die("chown %s: %s", path, errstr(errno));
	close(parent);
}

/* ---- root ----------------------------------------------------------- */

static void op_bind_rootfs(void)
{
	const char *rootfs = rd_str();
	int fd;
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind rootfs %s: %s", rootfs, errstr(errno));
	fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", rootfs, errstr(errno));
	setslot(PLAN_SLOT_ROOT, fd);
}

static void op_open_host(void)
{
	struct statfs sfs;
	struct stat st;
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), null;
	if (proc < 0)
		die("open /proc: %s", errstr(errno));
	if (fstatfs(proc, &sfs) < 0 || sfs.f_type != PL_PROC_SUPER_MAGIC)
		die("/proc: unexpected filesystem type %#lx", (unsigned long)sfs.f_type);
	setslot(PLAN_SLOT_PROC, proc);
	null = open("/dev/null", O_PATH | O_CLOEXEC);
	if (null < 0)
		die("open /dev/null: %s", errstr(errno));
	if (fstat(null, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
		die("/dev/null: not the character device 1:3");
	setslot(PLAN_SLOT_DEVNULL, null);
}

static void enter_root(uint64_t prop)
{
	int fd;
	if (chdir("/") < 0)
		die("chdir /: %s", errstr(errno));
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open /: %s", errstr(errno));
	setslot(PLAN_SLOT_ROOT, fd);
	if (prop != 0 && mount("", "/", NULL, (unsigned long)prop, NULL) < 0)
		die("rootfsPropagation: %s", errstr(errno));
}

static void op_pivot(void)
{
	uint64_t prop = rd_u64();
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		die("open /: %s", errstr(errno));
	if (fchdir(slots[PLAN_SLOT_ROOT]) < 0)
		die("fchdir: %s", errstr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root: %s", errstr(errno));
	if (fchdir(oldroot) < 0)
		die("fchdir: %s", errstr(errno));
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		die("make old root a slave: %s", errstr(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die("detach old root: %s", errstr(errno));
	close(oldroot);
	enter_root(prop);
}

static void op_moveroot(void)
{
	uint64_t prop = rd_u64();
	if (fchdir(slots[PLAN_SLOT_ROOT]) < 0)
		die("fchdir: %s", errstr(errno));
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		die("move rootfs to /: %s", errstr(errno));
	if (chroot(".") < 0)
		die("chroot: %s", errstr(errno));
	enter_root(prop);
}

/* ---- kernel settings ---------------------------------------------------- */

/* write_proc writes through our own procfs handle without crossing mounts
 * or following links (CVE-2025-52881). */
static void op_writeproc(void)
{
	const char *path = rd_str(), *value = rd_str();
	int fd = openat2_(slots[PLAN_SLOT_PROC], path, O_WRONLY,
			  PL_RESOLVE_BENEATH | PL_RESOLVE_NO_XDEV | PL_RESOLVE_NO_MAGICLINKS);
	if (fd < 0)
		die("open /proc/%s: %s", path, errstr(errno));
	if (write(fd, value, strlen(value)) < 0)
		die("write /proc/%s: %s", path, errstr(errno));
	close(fd);
}

/* ---- the process (internal/initproc/process_linux.go) ------------------ */

/* check_exec is checkExecutable: 0 or the reason. */
static const char *check_exec(const char *path)
{
	struct stat st;
	static char why[MAXPATH + 64];
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return "no such file or directory";
		snprintf(why, sizeof(why), "stat %s: %s", path, errstr(errno));
		return why;
	}
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if ((st.st_mode & 0111) == 0)
		return "permission denied";
	return NULL;
}

static void joinpath(char *out, const char *cwd, const char *dir, const char *name)
{
	char tmp[2 * MAXPATH + 4];
	if (dir[0] == '/')
		snprintf(tmp, sizeof(tmp), "%s/%s", dir, name);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s/%s", cwd, dir, name);
	clean(tmp, out + 1);
	out[0] = '/';
}

static void op_findexec(void)
{
	const char *name = rd_str(), *cwd = rd_str(), *pathenv = rd_str();
	char dir[MAXPATH];
	const char *p = pathenv;
	if (strchr(name, '/') != NULL) {
		/* Checked where it is, executed by the name given (relative
		 * to process.cwd, which is entered before execve). */
		char abs[MAXPATH];
		const char *why;
		if (name[0] == '/')
			snprintf(abs, sizeof(abs), "%s", name);
		else
			joinpath(abs, cwd, ".", name);
		why = check_exec(abs);
		if (why != NULL)
			die("exec: \"%s\": %s", name, why);
		snprintf(execpath, sizeof(execpath), "%s", name);
		return;
	}
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (len >= sizeof(dir))
			len = sizeof(dir) - 1;
		memcpy(dir, p, len);
		dir[len] = '\0';
		if (dir[0] == '\0')
			strcpy(dir, ".");
		joinpath(execpath, cwd, dir, name);
		if (check_exec(execpath) == NULL)
			return;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	die("exec: \"%s\": executable file not found in $PATH", name);
}

/* op_sethome finds HOME in the container's /etc/passwd (setHome). */
static void op_sethome(void)
{
	uint32_t uid = rd_u32();
	char buf[65536], want[16];
	const char *home = "/";
	ssize_t n = 0;
	int fd = in_root("/etc/passwd", O_RDONLY);
	snprintf(want, sizeof(want), "%u", uid);
	if (fd >= 0) {
		ssize_t r;
		while (n < (ssize_t)sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
			n += r;
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	for (char *line = buf; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n'), *f[7];
		int nf = 0;
		if (next != NULL)
			*next++ = '\0';
		f[nf++] = line;
		for (char *c = line; *c != '\0' && nf < 7; c++)
			if (*c == ':') {
				*c = '\0';
				f[nf++] = c + 1;
			}
		if (nf >= 6 && strcmp(f[2], want) == 0) {
			home = f[5];
			break;
		}
		line = next;
	}
	snprintf(homeenv, sizeof(homeenv), "HOME=%s", home);
}

static void check_cwd(const char *cwd)
{
	char wd[MAXPATH];
	if (getcwd(wd, sizeof(wd)) == NULL || wd[0] != '/')
		die("process.cwd %s is outside the container's root", cwd);
}

static void op_entercwd(void)
{
	const char *cwd = rd_str();
	int fd = in_root(cwd, O_PATH | O_DIRECTORY);
	if (fd < 0) {
		if (errno == EACCES) {
			cwdpending = 1;
			return;
		}
		die("process.cwd %s: openat2 %s: %s", cwd, cwd, errstr(errno));
	}
	if (fchdir(fd) < 0) {
		if (errno == EACCES) {
			cwdpending = 1;
			close(fd);
			return;
		}
		die("process.cwd %s: %s", cwd, errstr(errno));
	}
	close(fd);
	check_cwd(cwd);
}

static void op_cwdpending(void)
{
	const char *cwd = rd_str();
	if (!cwdpending)
		return;
	if (chdir(cwd) < 0)
		die("process.cwd %s: %s", cwd, errstr(errno));
	check_cwd(cwd);
}

static void op_waitstart(void)
{
	int lfd = (int)rd_u32(), fd;
	char buf[256];
	ssize_t n;
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	close(lfd);
	if (fd < 0)
		die("accept: %s", errstr(errno));
	do
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		die("read the start message: %s", n == 0 ? "EOF" : errstr(errno));
	buf[n] = '\0';
	if (buf[0] != 'e' || strstr(buf, "\"type\":\"start\"") == NULL)
		die("protocol: got %s on the start socket", buf + 1);
	/* From here failures go to start, not to the (gone) create. */
	close(conn);
	conn = fd;
}

static void op_seccomp(void)
{
	uint32_t flags = rd_u32(), len;
	const unsigned char *prog = rd_bytes(&len);
	struct pl_sock_fprog fprog;
	void *copy;
	long r;
	if (len == 0 || len % 8 != 0)
		die("seccomp: bad program");
	copy = malloc(len);
	if (copy == NULL)
		die("seccomp: out of memory");
	memcpy(copy, prog, len);
	fprog.len = (unsigned short)(len / 8);
	fprog.filter = copy;
	r = syscall(SYS_seccomp, PL_SECCOMP_SET_MODE_FILTER, flags, &fprog);
	if (r < 0) {
		if (errno == EACCES)
			die("seccomp: load filter: %s (set no_new_privs first, or hold CAP_SYS_ADMIN)", errstr(errno));
		die("seccomp: load filter: %s", errstr(errno));
	}
	if (r > 0)
		die("seccomp: load filter: thread %ld has a diverging filter and cannot be synchronized", r);
}

static void op_dropbound(void)
{
	uint64_t keep = rd_u64();
	uint32_t last = rd_u32(), n, i;
	const char **names;
	n = rd_u32();
	names = calloc(n + 1, sizeof(*names));
	for (i = 0; i < n; i++)
		names[i] = rd_str();
	for (i = 0; i <= last && i < 64; i++) {
		if (keep & (1ULL << i))
			continue;
		if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
			die("drop %s from the bounding set: %s", i < n ? names[i] : "?", errstr(errno));
	}
	free(names);
}

/* caps_keep leaves out of *want what have lacks, with a warning each. */
static void caps_keep(uint64_t *want, uint64_t have, const char *set, const char **names, uint32_t n)
{
	uint32_t i;
	for (i = 0; i < n && i < 64; i++) {
		if ((*want & (1ULL << i)) && !(have & (1ULL << i))) {
			char w[256];
			snprintf(w, sizeof(w), "%s capability %s cannot be granted (the runtime does not hold it): left out",
				 set, names[i]);
			warn(w);
		}
	}
	*want &= have;
}

/* op_caps is caps.SetProcess: what cannot be granted is left out with a
 * warning, as the runtime-spec asks. */
static void op_caps(void)
{
	uint64_t eff = rd_u64(), perm = rd_u64(), inh = rd_u64(), amb = rd_u64();
	uint32_t last = rd_u32(), n = rd_u32(), i;
	struct pl_cap_header hdr = {PL_CAP_VERSION_3, 0};
	struct pl_cap_data cur[2], data[2];
	uint64_t held, inheritable, bounding = 0;
	const char **names = calloc(n + 1, sizeof(*names));
	char notraised[2048];
	size_t off = 0;
	for (i = 0; i < n; i++)
		names[i] = rd_str();
	if (syscall(SYS_capget, &hdr, cur) < 0)
		die("capget: %s", errstr(errno));
	held = (uint64_t)cur[0].permitted | (uint64_t)cur[1].permitted << 32;
	for (i = 0; i <= last && i < 64; i++)
		if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
			bounding |= 1ULL << i;
	inheritable = (uint64_t)cur[0].inheritable | (uint64_t)cur[1].inheritable << 32 | bounding;
	caps_keep(&perm, held, "permitted", names, n);
	caps_keep(&eff, perm, "effective", names, n);
	caps_keep(&inh, inheritable, "inheritable", names, n);
	for (i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(perm >> (32 * i));
		data[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		die("capset: %s", errstr(errno));
	if (prctl(PL_PR_CAP_AMBIENT, PL_PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die("clear ambient capabilities: %s", errstr(errno));
	notraised[0] = '\0';
	for (i = 0; i <= last && i < 64; i++) {
		if (!(amb & (1ULL << i)))
			continue;
		if (prctl(PL_PR_CAP_AMBIENT, PL_PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0 && off < sizeof(notraised))
			off += (size_t)snprintf(notraised + off, sizeof(notraised) - off, "%s%s", off ? ", " : "",
						i < n ? names[i] : "?");
	}
	if (notraised[0] != '\0') {
		char w[2200];
		snprintf(w, sizeof(w), "ambient capabilities not raised (each must also be permitted and inheritable): %s",
			 notraised);
		warn(w);
	}
	free(names);
}

static void op_setgroups(void)
{
	uint32_t n = rd_u32(), i;
	gid_t *gids = calloc(n + 1, sizeof(gid_t));
	for (i = 0; i < n; i++)
		gids[i] = rd_u32();
	if (syscall(SYS_setgroups, n, gids) < 0) {
		char list[1024];
		size_t off = 0;
		list[0] = '\0';
		for (i = 0; i < n && off < sizeof(list); i++)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%u", i ? " " : "", gids[i]);
		die("setgroups [%s]: %s", list, errstr(errno));
	}
	free(gids);
}

static void op_exec(void)
{
	uint32_t umask_ = rd_u32(), argc = rd_u32(), envc, i;
	char **argv = calloc(argc + 1, sizeof(char *)), **envp;
	for (i = 0; i < argc; i++)
		argv[i] = (char *)rd_str();
	envc = rd_u32();
	envp = calloc(envc + 2, sizeof(char *));
	for (i = 0; i < envc; i++)
		envp[i] = (char *)rd_str();
	if (homeenv[0] != '\0')
		envp[envc++] = homeenv;
	umask((mode_t)umask_);
	execve(execpath, argv, envp);
	die("exec %s: %s", execpath, errstr(errno));
}

/* ---- the console (internal/initproc/console_linux.go) ------------------ */

/* bind_console makes /dev/console the pty slave; a symlink planted there
 * is refused and the target must be a file or character device
 * (CVE-2025-52565). */
static void bind_console(int slave)
{
	struct stat st;
	int target, mnt, link = is_symlink("/dev/console");
	if (link == 1)
		die("/dev/console is a symlink in the rootfs: refusing to follow it");
	target = mkfile("/dev/console", 0666);
	if (target < 0)
		die("/dev/console: %s", errstr(errno));
	if (fstat(target, &st) < 0)
		die("fstat /dev/console: %s", errstr(errno));
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		die("/dev/console is not a file or character device (mode %#o)", st.st_mode);
	mnt = clone_tree(slave, "", 0);
	if (mnt < 0)
		die("open_tree: %s", errstr(errno));
	attach(mnt, target);
	close(mnt);
	close(target);
}

static void op_console(void)
{
	int sock = (int)rd_u32(), master, slave, n, zero = 0, fd;
	unsigned hassize = rd_u8();
	uint32_t rows = rd_u32(), cols = rd_u32();
	unsigned bind = rd_u8();
	struct stat st;
	char name[64];
	struct msghdr msg = {0};
	struct iovec iov;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct cmsghdr *c;
	master = in_root("/dev/ptmx", O_RDWR | O_NOCTTY);
	if (master < 0)
		die("open the container's /dev/ptmx (is /dev/pts mounted?): openat2 /dev/ptmx: %s", errstr(errno));
	if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
		die("/dev/ptmx: not the character device 5:2");
	if (ioctl(master, TIOCSPTLCK, &zero) < 0)
		die("unlockpt: %s", errstr(errno));
	if (ioctl(master, TIOCGPTN, &n) < 0)
		die("ptsname: %s", errstr(errno));
	/* TIOCGPTPEER opens the slave through the master: no path lookup. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		die("TIOCGPTPEER: %s", errstr(errno));
	if (fchmod(slave, 0620) < 0)
		die("fchmod: %s", errstr(errno));
	if (hassize) {
		struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			die("TIOCSWINSZ: %s", errstr(errno));
	}
	if (bind)
		bind_console(slave);
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	iov.iov_base = name;
	iov.iov_len = strlen(name);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, 0) < 0)
		die("send the pty master to the console socket: %s", errstr(errno));
	close(sock);
	close(master);
	if (setsid() < 0)
		die("setsid: %s", errstr(errno));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		die("TIOCSCTTY: %s", errstr(errno));
	for (fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0)
			die("dup3: %s", errstr(errno));
	close(slave);
}

/* ---- the interpreter ---------------------------------------------------- */

struct pl_kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

/* reset_signals gives the container process what a fresh process has: no
 * signal blocked, every disposition the default. The runtime that started
 * us (and whatever started it) may block or ignore signals, and a mask and
 * ignored signals survive execve: a container whose SIGTERM stays blocked
 * cannot be stopped. */
static void reset_signals(void)
{
	uint64_t none = 0;
	struct pl_kernel_sigaction dfl = {SIG_DFL, 0, NULL, 0};
	int sig;
	for (sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(uint64_t));
}

void pelagos_cinit(int syncfd)
{
	int i;
	conn = syncfd;
	reset_signals();
	for (i = 0; i < NSLOTS; i++)
		slots[i] = -1;
	recv_plan();
	umask(0);
	while (pc < end) {
		unsigned op = rd_u8();
		switch (op) {
		case PLAN_CTX:
			step = rd_str();
			what = rd_str();
			break;
		case PLAN_UNSHARE: {
			uint64_t flags = rd_u64();
			if (unshare((int)flags) < 0)
				die("unshare(%#llx): %s", (unsigned long long)flags, errstr(errno));
			break;
		}
		case PLAN_SLAVE_ROOT:
			if (mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
				die("make / a slave mount: %s", errstr(errno));
			break;
		case PLAN_BIND_ROOTFS:
			op_bind_rootfs();
			break;
		case PLAN_OPEN_HOST:
			op_open_host();
			break;
		case PLAN_NOT_SYMLINK: {
			const char *dest = rd_str();
			int r = is_symlink(dest);
			if (r < 0 && errno != ENOENT)
				die("%s: %s", dest, errstr(errno));
			if (r == 1)
				die("%s is a symlink in the rootfs: refusing to mount over it", dest);
			break;
		}
		case PLAN_MKDIR: {
			int s = rd_slot();
			const char *path = rd_str();
			uint32_t mode = rd_u32();
			int fd = mkdir_all(path, mode, 0);
			if (fd < 0) {
				if (errno == ENOTDIR)
					die("%s: not a directory", path);
				die("mkdirat %s: %s", path, errstr(errno));
			}
			setslot(s, fd);
			break;
		}
		case PLAN_MKFILE: {
			int s = rd_slot();
			const char *path = rd_str();
			uint32_t mode = rd_u32();
			int fd = mkfile(path, mode);
			if (fd < 0)
				die("mknodat %s: %s", path, errstr(errno));
			setslot(s, fd);
			break;
		}
		case PLAN_FSMOUNT:
			op_fsmount();
			break;
		case PLAN_CLONE_PATH: {
			int s = rd_slot();
			const char *path = rd_str();
			unsigned rec = rd_u8();
			int fd = clone_tree(AT_FDCWD, path, (int)rec);
			if (fd < 0)
				die("open_tree %s: %s", path, errstr(errno));
			setslot(s, fd);
			break;
		}
		case PLAN_SETATTR: {
			int s = rd_slot();
			uint64_t set = rd_u64(), clr = rd_u64();
			unsigned rec = rd_u8();
			setattr_(slots[s], set, clr, (int)rec);
			break;
		}
		case PLAN_PROPAGATE: {
			int s = rd_slot();
			uint64_t prop = rd_u64();
			unsigned rec = rd_u8();
			struct pl_mount_attr a = {0, 0, prop, 0};
			if (syscall(SYS_mount_setattr, slots[s], "", AT_EMPTY_PATH | (rec ? PL_AT_RECURSIVE : 0), &a,
				    sizeof(a)) < 0)
				die("mount_setattr propagation: %s", errstr(errno));
			break;
		}
		case PLAN_ATTACH: {
			int m = rd_slot(), t = rd_slot();
			attach(slots[m], slots[t]);
			break;
		}
		case PLAN_CLOSE:
			setslot(rd_slot(), -1);
			break;
		case PLAN_SYMLINK: {
			int d = rd_slot();
			const char *target = rd_str(), *name = rd_str();
			unsigned soft = rd_u8();
			if (symlinkat(target, slots[d], name) < 0 && !(soft && errno == EEXIST))
				die("symlink %s: %s", name, errstr(errno));
			break;
		}
		case PLAN_MKNOD:
			op_mknod();
			break;
		case PLAN_MASK:
			op_mask();
			break;
		case PLAN_READONLY:
			op_readonly();
			break;
		case PLAN_HOOKS:
			send_msg("hooks", NULL, NULL);
			await_msg("hooks-done");
			break;
		case PLAN_AWAIT_CGROUP:
			await_msg("cgroup");
			break;
		case PLAN_PIVOT:
			op_pivot();
			break;
		case PLAN_MOVEROOT:
			op_moveroot();
			break;
		case PLAN_READONLY_ROOT:
			setattr_(slots[PLAN_SLOT_ROOT], PL_MOUNT_ATTR_RDONLY, 0, 0);
			break;
		case PLAN_HOSTNAME: {
			const char *h = rd_str();
			if (sethostname(h, strlen(h)) < 0)
				die("sethostname: %s", errstr(errno));
			break;
		}
		case PLAN_DOMAINNAME: {
			const char *d = rd_str();
			if (setdomainname(d, strlen(d)) < 0)
				die("setdomainname: %s", errstr(errno));
			break;
		}
		case PLAN_WRITEPROC:
			op_writeproc();
			break;
		case PLAN_KEYRING: {
			const char *name = rd_str();
			if (syscall(SYS_keyctl, PL_KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS)
				die("%s", errstr(errno));
			break;
		}
		case PLAN_FINDEXEC:
			op_findexec();
			break;
		case PLAN_SETHOME:
			op_sethome();
			break;
		case PLAN_READY:
			send_msg("ready", NULL, NULL);
			break;
		case PLAN_WAITSTART:
			op_waitstart();
			break;
		case PLAN_ENTERCWD:
			op_entercwd();
			break;
		case PLAN_CLOSERANGE: {
			uint32_t first = rd_u32();
			if (syscall(SYS_close_range, first, ~0U, PL_CLOSE_RANGE_CLOEXEC) < 0)
				die("close_range: %s", errstr(errno));
			break;
		}
		case PLAN_RLIMIT: {
			uint32_t res = rd_u32();
			uint64_t soft = rd_u64(), hard = rd_u64();
			const char *name = rd_str();
			struct rlimit rl = {soft, hard};
			if (prlimit(0, (int)res, &rl, NULL) < 0)
				die("rlimit %s (soft %llu, hard %llu): %s", name, (unsigned long long)soft,
				    (unsigned long long)hard, errstr(errno));
			break;
		}
		case PLAN_SECCOMP:
			op_seccomp();
			break;
		case PLAN_DROPBOUND:
			op_dropbound();
			break;
		case PLAN_KEEPCAPS:
			if (prctl(PR_SET_KEEPCAPS, rd_u8(), 0, 0, 0) < 0)
				die("prctl(PR_SET_KEEPCAPS): %s", errstr(errno));
			break;
		case PLAN_SETGROUPS:
			op_setgroups();
			break;
		case PLAN_SETRESGID: {
			uint32_t g = rd_u32();
			if (syscall(SYS_setresgid, g, g, g) < 0)
				die("setresgid %u: %s", g, errstr(errno));
			break;
		}
		case PLAN_SETRESUID: {
			uint32_t u = rd_u32();
			if (syscall(SYS_setresuid, u, u, u) < 0)
				die("setresuid %u: %s", u, errstr(errno));
			break;
		}
		case PLAN_CWDPENDING:
			op_cwdpending();
			break;
		case PLAN_CAPS:
			op_caps();
			break;
		case PLAN_NNP:
			if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
				die("prctl(PR_SET_NO_NEW_PRIVS): %s", errstr(errno));
			break;
		case PLAN_EXEC:
			op_exec();
			break;
		case PLAN_WARN:
			warn(rd_str());
			break;
		case PLAN_CONSOLE:
			op_console();
			break;
		case PLAN_PERSONALITY: {
			uint64_t persona = rd_u64();
			if (syscall(SYS_personality, (unsigned long)persona) < 0)
				die("personality: %s", errstr(errno));
			break;
		}
		case PLAN_SCHED: {
			uint32_t len;
			const unsigned char *attr = rd_bytes(&len);
			void *copy = malloc(len);
			if (copy == NULL)
				die("sched_setattr: out of memory");
			memcpy(copy, attr, len);
			if (syscall(SYS_sched_setattr, 0, copy, 0) < 0)
				die("sched_setattr: %s", errstr(errno));
			free(copy);
			break;
		}
		case PLAN_IOPRIO: {
			uint32_t prio = rd_u32();
			if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, prio) < 0)
				die("ioprio_set: %s", errstr(errno));
			break;
		}
		case PLAN_OPEN_ROOT: {
			int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				die("open /: %s", errstr(errno));
			setslot(PLAN_SLOT_ROOT, fd);
			break;
		}
		default:
			die("plan: unknown operation %u", op);
		}
	}
	die("plan ended without executing the process");
}
