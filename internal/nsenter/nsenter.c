/*
 * The only C in pelagos. It runs as a constructor, before the Go runtime
 * starts its threads, in every process of our binary, and does nothing
 * unless the parent asked for it through the environment.
 *
 * Why C: setns(2) into a user, mount or time namespace requires a
 * single-threaded caller (user, time) or one that shares no filesystem
 * state with other threads (mount), and a Go program is multi-threaded
 * before main runs. Every other namespace is joined by the Go parent from
 * a locked OS thread before it clones the child.
 *
 * _PELAGOS_NSENTER   comma-separated fds of namespace files to join, in
 *                    order (user first); may be empty.
 * _PELAGOS_UNSHARE   clone flags (decimal) to unshare after joining.
 * _PELAGOS_INITPIPE  fd of the sync socket (SOCK_SEQPACKET); errors are
 *                    written there as one protocol packet ('e' + JSON, see
 *                    internal/initproc/protocol.go), then we exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void fail(const char *what, long arg, int err)
{
	char buf[256];
	const char *pipe = getenv("_PELAGOS_INITPIPE");
	int fd = pipe ? atoi(pipe) : 2;
	int n = snprintf(buf, sizeof(buf),
			 "e{\"type\":\"error\",\"step\":\"nsenter\",\"error\":\"%s %ld: %s\"}",
			 what, arg, strerror(err));
	if (n > 0 && write(fd, buf, (size_t)n) < 0) {
		/* nothing left to report to */
	}
	_exit(1);
}

__attribute__((constructor)) static void pelagos_nsenter(void)
{
	const char *list = getenv("_PELAGOS_NSENTER");
	const char *unshare_flags = getenv("_PELAGOS_UNSHARE");
	char *end;

	if (list == NULL)
		return;

	/*
	 * Until execve, this process holds the runtime's state and file
	 * descriptors: the container must not ptrace it, read its memory or
	 * open /proc/<pid>/exe (CVE-2019-5736). execve resets this.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE", 0, errno);

	while (*list != '\0') {
		long fd = strtol(list, &end, 10);
		if (end == list || fd < 0)
			fail("bad _PELAGOS_NSENTER fd list at offset", (long)(end - list), EINVAL);
		if (setns((int)fd, 0) < 0)
			fail("setns fd", fd, errno);
		close((int)fd);
		list = (*end == ',') ? end + 1 : end;
	}

	if (unshare_flags != NULL && *unshare_flags != '\0') {
		long flags = strtol(unshare_flags, &end, 10);
		if (unshare((int)flags) < 0)
			fail("unshare flags", flags, errno);
	}
}
