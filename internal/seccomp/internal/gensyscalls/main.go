// Command gensyscalls writes internal/seccomp/zsyscalls.go: the syscall
// name→number tables for every architecture pelagos compiles seccomp filters
// for (x86_64, x86, x32, aarch64, arm).
//
// Sources, both pinned by this module's go.mod:
//
//   - golang.org/x/sys/unix zsysnum_linux_{amd64,386,arm64,arm}.go, which the
//     x/sys maintainers generate from the kernel's UAPI headers (asm/unistd.h).
//     These tables agree name for name and number for number with libseccomp's
//     src/syscalls.csv (checked against its v7.1 kernel column), which is what
//     runc resolves names with.
//   - For x32, which x/sys does not cover: the Linux x86_64 syscall table
//     (arch/x86/entry/syscalls/syscall_64.tbl). x32 shares every "common" entry
//     with x86_64 (number | 0x40000000), lacks the entries marked "64", and has
//     its own entries 512-547. The two short lists below are those "64" and
//     "x32" rows; every row added since Linux 4.x is "common".
//   - ARM's private syscalls (__ARM_NR_*, arch/arm/include/uapi/asm/unistd.h),
//     which x/sys leaves out.
//
// Run it from the module root: go generate ./internal/seccomp
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Architecture column order; must match the arch* constants in arch.go.
var columns = []string{"x86_64", "x86", "x32", "aarch64", "arm"}

var xsysFiles = map[string]string{
	"x86_64":  "zsysnum_linux_amd64.go",
	"x86":     "zsysnum_linux_386.go",
	"aarch64": "zsysnum_linux_arm64.go",
	"arm":     "zsysnum_linux_arm.go",
}

// notSyscalls are SYS_* constants x/sys emits that name no syscall: they
// are range markers in the kernel headers.
var notSyscalls = map[string]bool{
	"syscall_mask":          true, // arm: __NR_SYSCALL_MASK
	"arch_specific_syscall": true, // arm64: __NR_arch_specific_syscall
}

// x86_64Only are the syscall_64.tbl rows with ABI "64": x32 does not have
// them at these numbers.
var x86_64Only = []string{
	"rt_sigaction", "rt_sigreturn", "ioctl", "readv", "writev", "recvfrom",
	"sendmsg", "recvmsg", "setsockopt", "getsockopt", "execve", "ptrace",
	"rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack",
	"uselib", "_sysctl", "create_module", "get_kernel_syms", "query_module",
	"nfsservctl", "set_thread_area", "io_setup", "io_submit", "get_thread_area",
	"epoll_ctl_old", "epoll_wait_old", "timer_create", "vserver", "mq_notify",
	"kexec_load", "waitid", "set_robust_list", "get_robust_list", "vmsplice",
	"move_pages", "preadv", "pwritev", "rt_tgsigqueueinfo", "recvmmsg",
	"sendmmsg", "process_vm_readv", "process_vm_writev", "execveat",
	"preadv2", "pwritev2",
}

// x32Own are the syscall_64.tbl rows with ABI "x32", numbered from 512.
var x32Own = []string{
	"rt_sigaction", "rt_sigreturn", "ioctl", "readv", "writev", "recvfrom",
	"sendmsg", "recvmsg", "execve", "ptrace", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack", "timer_create",
	"mq_notify", "kexec_load", "waitid", "set_robust_list", "get_robust_list",
	"vmsplice", "move_pages", "preadv", "pwritev", "rt_tgsigqueueinfo",
	"recvmmsg", "sendmmsg", "process_vm_readv", "process_vm_writev",
	"setsockopt", "getsockopt", "io_setup", "io_submit", "execveat",
	"preadv2", "pwritev2",
}

// armPrivate are __ARM_NR_BASE (0x0f0000) + n.
var armPrivate = map[string]int{
	"breakpoint": 0x0f0001, "cacheflush": 0x0f0002, "usr26": 0x0f0003,
	"usr32": 0x0f0004, "set_tls": 0x0f0005, "get_tls": 0x0f0006,
}

var sysRE = regexp.MustCompile(`(?m)^\s*SYS_(\w+)\s*=\s*(\d+)\s*$`)

func main() {
	out := flag("-o", "internal/seccomp/zsyscalls.go")
	dir, version := xsysDir()
	tables := map[string]map[string]int{}
	for arch, file := range xsysFiles {
		t, err := parseXsys(filepath.Join(dir, "unix", file))
		if err != nil {
			log.Fatal(err)
		}
		tables[arch] = t
	}
	for name, nr := range armPrivate {
		tables["arm"][name] = nr
	}
	tables["x32"] = deriveX32(tables["x86_64"])
	foreign, err := foreignNames(filepath.Join(dir, "unix"), tables)
	if err != nil {
		log.Fatal(err)
	}
	src := render(tables, foreign, version)
	if err := os.WriteFile(out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

func flag(name, def string) string {
	for i, a := range os.Args {
		if a == name && i+1 < len(os.Args) {
			return os.Args[i+1]
		}
	}
	return def
}

func xsysDir() (dir, version string) {
	b, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "golang.org/x/sys").Output()
	if err != nil {
		log.Fatalf("go list golang.org/x/sys: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		log.Fatalf("go list golang.org/x/sys: unexpected output %q", b)
	}
	return f[0], f[1]
}

func parseXsys(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := map[string]int{}
	for _, m := range sysRE.FindAllSubmatch(b, -1) {
		name := strings.ToLower(string(m[1]))
		if notSyscalls[name] {
			continue
		}
		nr, err := strconv.Atoi(string(m[2]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, m[0], err)
		}
		t[name] = nr
	}
	if len(t) < 300 {
		return nil, fmt.Errorf("%s: only %d syscalls found", path, len(t))
	}
	return t, nil
}

// deriveX32 returns x32 numbers without the 0x40000000 bit (the compiler
// adds it).
func deriveX32(x8664 map[string]int) map[string]int {
	only := map[string]bool{}
	for _, n := range x86_64Only {
		if _, ok := x8664[n]; !ok {
			log.Fatalf("x86_64-only syscall %q missing from the x86_64 table", n)
		}
		only[n] = true
	}
	t := map[string]int{}
	for n, nr := range x8664 {
		if !only[n] {
			t[n] = nr
		}
	}
	for i, n := range x32Own {
		t[n] = 512 + i
	}
	return t
}

// foreignNames lists the syscalls of every other Linux architecture x/sys
// knows (riscv64, s390x, ppc64, mips, loong64, ...) that none of our
// tables has: a profile may name them (Docker's does) and they are then
// simply not ours to filter, unlike a name no Linux has, which is a
// mistake in the profile.
func foreignNames(dir string, tables map[string]map[string]int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "zsysnum_linux_*.go"))
	if err != nil {
		return nil, err
	}
	ours := map[string]bool{}
	for _, f := range xsysFiles {
		ours[f] = true
	}
	known := map[string]bool{}
	for _, t := range tables {
		for n := range t {
			known[n] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		if ours[filepath.Base(f)] {
			continue
		}
		t, err := parseXsys(f)
		if err != nil {
			return nil, err
		}
		for n := range t {
			if !known[n] && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func render(tables map[string]map[string]int, foreign []string, version string) []byte {
	names := map[string]bool{}
	for _, t := range tables {
		for n := range t {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/seccomp/internal/gensyscalls from golang.org/x/sys %s\n", version)
	b.WriteString("// and the Linux x86_64 syscall table (x32 rows); DO NOT EDIT.\n\n")
	b.WriteString("package seccomp\n\n")
	fmt.Fprintf(&b, "// sysTable holds every syscall name known to pelagos, sorted, with its number\n")
	fmt.Fprintf(&b, "// per architecture (columns: %s); -1 where the\n", strings.Join(columns, ", "))
	b.WriteString("// architecture lacks it. x32 numbers are stored without the x32 bit.\n")
	b.WriteString("// It is static data: no init-time work.\n")
	b.WriteString("var sysTable = [...]sysEntry{\n")
	for _, n := range sorted {
		nums := make([]string, len(columns))
		for i, c := range columns {
			nums[i] = "-1"
			if nr, ok := tables[c][n]; ok {
				nums[i] = strconv.Itoa(nr)
			}
		}
		fmt.Fprintf(&b, "\t{%q, [numArches]int32{%s}},\n", n, strings.Join(nums, ", "))
	}
	b.WriteString("}\n\n")
	b.WriteString("// foreignSyscalls are the syscalls of other Linux architectures that none of\n")
	b.WriteString("// the tables above has, sorted.\n")
	b.WriteString("var foreignSyscalls = [...]string{\n")
	for _, n := range foreign {
		fmt.Fprintf(&b, "\t%q,\n", n)
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatalf("format: %v", err)
	}
	return src
}
