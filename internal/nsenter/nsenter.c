/*
 * The only C in pelagos. It runs as a constructor, before the Go runtime
 * starts its threads, in every process of our binary, and does nothing
 * unless the parent asked for it through the environment.
 *
 * Why C:
 *  - setns(2) into a user, mount or time namespace and unshare(2) of a user
 *    namespace require a single-threaded caller (or one sharing no
 *    filesystem state), and a Go program is multi-threaded before main.
 *  - The init must be executed *before* it enters a new user namespace:
 *    the kernel records the user namespace at execve as the owner of the
 *    process's memory, and a non-dumpable process can be ptraced by anyone
 *    with CAP_SYS_PTRACE in that namespace, container root included. So the
 *    parent executes the init in its own namespaces and the namespaces are
 *    created here, after execve.
 *
 * Environment (all unset afterwards by the Go side):
 *
 * _PELAGOS_NSENTER   comma-separated fds of namespace files to join, in
 *                    order (user first); may be empty. An unprivileged
 *                    runtime joining a container's user namespace passes
 *                    every namespace here: only from inside that user
 *                    namespace may it join the ones the namespace owns.
 *                    Joining a pid namespace places only children in it,
 *                    so then we fork, as for a new one (below).
 * _PELAGOS_UNSHARE   clone flags (decimal) of the namespaces to create,
 *                    after joining. A new user namespace is created first;
 *                    the parent writes its id maps while we wait, then we
 *                    become its root. A new pid namespace is entered by a
 *                    fork (CLONE_PARENT, so the runtime stays the parent):
 *                    the child goes on to the Go runtime as pid 1, this
 *                    process reports its pid and exits.
 * _PELAGOS_INITPIPE  fd of the sync socket (SOCK_SEQPACKET). Messages are
 *                    one packet each, 'e' + JSON (see
 *                    internal/initproc/protocol.go).
 * _PELAGOS_PLAN      set: the process that carries on in the namespaces
 *                    does not return to the Go runtime; it runs the plan
 *                    the runtime sends (cinit.c) and executes the
 *                    container process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cinit.h"

static int syncfd = 2;

static void sendmsg_json(const char *json)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "e%s", json);
	if (n > 0 && write(syncfd, buf, (size_t)n) < 0) {
		/* nothing left to report to */
	}
}

static void fail(const char *what, long arg, int err)
{
	char buf[200];
	snprintf(buf, sizeof(buf),
		 "{\"type\":\"error\",\"step\":\"nsenter\",\"error\":\"%s %ld: %s\"}",
		 what, arg, strerror(err));
	sendmsg_json(buf);
	_exit(1);
}

/* newuser creates a user namespace and becomes its root once the parent
 * has written the id maps. */
static void newuser(void)
{
	char ack[64];
	int rootless = geteuid() != 0;
	if (unshare(CLONE_NEWUSER) < 0)
		fail("unshare user namespace", 0, errno);
	/*
	 * An unprivileged parent (and newuidmap) can write our maps only while
	 * /proc/<pid> is ours, i.e. while we are dumpable. Nothing from the
	 * container exists yet; we are non-dumpable again right after.
	 */
	if (rootless && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail("prctl PR_SET_DUMPABLE", 1, errno);
	sendmsg_json("{\"type\":\"userns\"}");
	if (read(syncfd, ack, sizeof(ack)) <= 0)
		fail("wait for the id maps", 0, errno);
	if (setresgid(0, 0, 0) < 0)
		fail("setresgid", 0, errno);
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail("setgroups", 0, errno);
	if (setresuid(0, 0, 0) < 0)
		fail("setresuid", 0, errno);
	/* The credential change made us dumpable again. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* forkinto forks the process that lives in the pid namespace we have
 * entered or created (CLONE_PARENT, so the runtime stays its parent); it
 * goes on to the Go runtime, this process reports its pid and exits. */
static void forkinto(void)
{
	char buf[64];
	long pid;
	pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		fail("fork into the pid namespace", 0, errno);
	if (pid == 0)
		return;
	snprintf(buf, sizeof(buf), "{\"type\":\"pid\",\"pid\":%ld}", pid);
	sendmsg_json(buf);
	_exit(0);
}

/* newpid enters a new pid namespace: only children are placed in it. */
static void newpid(void)
{
	if (unshare(CLONE_NEWPID) < 0)
		fail("unshare pid namespace", 0, errno);
	forkinto();
}

__attribute__((constructor)) static void pelagos_nsenter(void)
{
	const char *list = getenv("_PELAGOS_NSENTER");
	const char *unshare_env = getenv("_PELAGOS_UNSHARE");
	const char *pipe = getenv("_PELAGOS_INITPIPE");
	long flags = 0;
	int joinedpid = 0;
	char *end;

	if (list == NULL)
		return;
	if (pipe != NULL)
		syncfd = atoi(pipe);

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
		if (ioctl((int)fd, NS_GET_NSTYPE) == CLONE_NEWPID)
			joinedpid = 1;
		if (setns((int)fd, 0) < 0)
			fail("setns fd", fd, errno);
		close((int)fd);
		list = (*end == ',') ? end + 1 : end;
	}

	if (unshare_env != NULL && *unshare_env != '\0')
		flags = strtol(unshare_env, &end, 10);
	if (flags & CLONE_NEWUSER)
		newuser();
	if ((flags & ~(CLONE_NEWUSER | CLONE_NEWPID)) != 0 &&
	    unshare((int)(flags & ~(CLONE_NEWUSER | CLONE_NEWPID))) < 0)
		fail("unshare flags", flags, errno);
	if (flags & CLONE_NEWPID)
		newpid();
	else if (joinedpid)
		forkinto();
	if (getenv("_PELAGOS_PLAN") != NULL)
		pelagos_cinit(syncfd);
}
