// scmpbench: the libseccomp side of the pelagos seccomp benchmark. It
// builds a filter the way runc's libcontainer/seccomp does (libseccomp
// API, x86/x32 added, rules equal to the default skipped, unknown names
// skipped, binary-tree optimization for long rule sets, no_new_privs set
// by the caller) from a rule file written by main.go, then loads it and
// times a syscall loop under it.
//
//   scmpbench load FILE    print: build_ns load_ns insns syscall_ns
//   scmpbench export FILE  write the raw BPF (struct sock_filter[]) to stdout
//   scmpbench none         print the syscall loop time with no filter
//
// Rule file lines: "default RET", "arch NAME", "rule RET NAME NARGS
// [IDX OP V1 V2]...", OP being libseccomp's enum scmp_compare value.
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOOPS 200000

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int rc) {
	fprintf(stderr, "scmpbench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static scmp_filter_ctx build(FILE *f) {
	char kw[16], name[64];
	uint32_t def = 0;
	scmp_filter_ctx ctx = NULL;
	int nrules = 0;
	uint32_t arches[8] = {seccomp_arch_native()};
	int narches = 1;
	while (fscanf(f, "%15s", kw) == 1) {
		if (!strcmp(kw, "default")) {
			if (fscanf(f, "%u", &def) != 1) die("parse default", EINVAL);
			ctx = seccomp_init(def);
			if (!ctx) die("seccomp_init", EINVAL);
			seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
		} else if (!strcmp(kw, "arch")) {
			if (fscanf(f, "%63s", name) != 1) die("parse arch", EINVAL);
			uint32_t a = seccomp_arch_resolve_name(name);
			int rc = seccomp_arch_add(ctx, a);
			if (rc < 0 && rc != -EEXIST) die("seccomp_arch_add", rc);
			if (rc == 0 && narches < 8) arches[narches++] = a;
		} else if (!strcmp(kw, "rule")) {
			uint32_t act;
			unsigned n;
			struct scmp_arg_cmp args[6];
			if (fscanf(f, "%u %63s %u", &act, name, &n) != 3 || n > 6) die("parse rule", EINVAL);
			for (unsigned i = 0; i < n; i++) {
				unsigned idx, op;
				unsigned long long v1, v2;
				if (fscanf(f, "%u %u %llu %llu", &idx, &op, &v1, &v2) != 4) die("parse arg", EINVAL);
				args[i] = (struct scmp_arg_cmp){idx, op, v1, v2};
			}
			nrules++;
			if (act == def) continue;               // runc: redundant rule
			int nr = seccomp_syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR) {             // runc: unknown name, skipped
				fprintf(stderr, "skip %s\n", name);
				continue;
			}
			// Report the ABIs whose table in this libseccomp lacks the name.
			for (int i = 0; i < narches; i++)
				if (seccomp_syscall_resolve_name_arch(arches[i], name) < 0)
					fprintf(stderr, "skiparch %u %s\n", arches[i], name);
			int rc = seccomp_rule_add_array(ctx, act, nr, n, args);
			if (rc < 0) die(name, rc);
		}
	}
	if (nrules > 32) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); // as runc
	return ctx;
}

static int64_t syscall_loop(void) {
	int64_t t0 = now_ns();
	for (int i = 0; i < LOOPS; i++) syscall(SYS_getppid);
	return (now_ns() - t0) / LOOPS;
}

int main(int argc, char **argv) {
	if (argc == 2 && !strcmp(argv[1], "none")) {
		printf("%lld\n", (long long)syscall_loop());
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: scmpbench load|export FILE | none\n");
		return 2;
	}
	FILE *f = fopen(argv[2], "r");
	if (!f) die(argv[2], errno);
	if (!strcmp(argv[1], "export")) {
		scmp_filter_ctx ctx = build(f);
		int rc = seccomp_export_bpf(ctx, 1);
		if (rc < 0) die("seccomp_export_bpf", rc);
		return 0;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("no_new_privs", errno);
	// The file is read before timing; build and load are timed.
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int c;
	while ((c = fgetc(f)) != EOF) fputc(c, mem);
	fclose(mem);
	FILE *in = fmemopen(buf, len, "r");
	int64_t t0 = now_ns();
	scmp_filter_ctx ctx = build(in);
	int64_t t1 = now_ns();
	int rc = seccomp_load(ctx);
	int64_t t2 = now_ns();
	if (rc < 0) die("seccomp_load", rc);
	int mfd = memfd_create("bpf", 0);
	seccomp_export_bpf(ctx, mfd);
	struct stat st;
	fstat(mfd, &st);
	printf("%lld %lld %lld %lld\n", (long long)(t1 - t0), (long long)(t2 - t1), (long long)(st.st_size / 8), (long long)syscall_loop());
	return 0;
}
