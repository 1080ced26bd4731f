// Command seccomp benchmarks compiling and loading Docker's default seccomp
// profile with pelagos (pure Go) against libseccomp driven the way runc
// drives it, in one run on one machine. Each sample is a fresh process, so
// filters never stack; the two sides are interleaved and medians reported.
//
//	go run ./bench/seccomp [-rounds 21]
//
// It needs gcc and libseccomp-dev (scripts/install-test-deps.sh installs
// them) to build the libseccomp side from libseccomp/scmpbench.c.
package main

import (
	"flag"
	"fmt"
	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pelagos-go/pelagos/internal/seccomp"
	"golang.org/x/sys/unix"
)

// dockerCaps is Docker's default capability set (moby oci/caps/defaults.go).
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

const loops = 200000

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-child" {
		os.Exit(child())
	}
	rounds := flag.Int("rounds", 21, "samples per side")
	flag.Parse()
	if err := run(*rounds); err != nil {
		log.Fatal(err)
	}
}

func run(rounds int) error {
	dir, err := os.MkdirTemp("", "pelagos-seccomp-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		return err
	}
	rules := filepath.Join(dir, "rules")
	if err := WriteRules(rules, p); err != nil {
		return err
	}
	helper, err := BuildHelper(dir)
	if err != nil {
		return err
	}
	var pel, lib, base []sample
	for range rounds {
		s, err := measure(exec.Command(os.Args[0], "-child"))
		if err != nil {
			return fmt.Errorf("pelagos: %w", err)
		}
		pel = append(pel, s)
		if s, err = measure(exec.Command(helper, "load", rules)); err != nil {
			return fmt.Errorf("libseccomp: %w", err)
		}
		lib = append(lib, s)
		if s, err = measure(exec.Command(helper, "none")); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base = append(base, s)
	}
	report(rounds, pel, lib, base)
	return nil
}

// sample is one process's measurements, in nanoseconds.
type sample struct {
	build, load, insns, sys, sysBefore int64
}

func measure(cmd *exec.Cmd) (sample, error) {
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return sample{}, err
	}
	var s sample
	f := strings.Fields(string(out))
	switch len(f) {
	case 1:
		_, err = fmt.Sscan(f[0], &s.sys)
	case 4:
		_, err = fmt.Sscan(strings.Join(f, " "), &s.build, &s.load, &s.insns, &s.sys)
	case 5:
		_, err = fmt.Sscan(strings.Join(f, " "), &s.build, &s.load, &s.insns, &s.sys, &s.sysBefore)
	default:
		err = fmt.Errorf("unexpected output %q", out)
	}
	return s, err
}

func median(xs []sample, f func(sample) int64) time.Duration {
	v := make([]int64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return time.Duration(v[len(v)/2])
}

func report(rounds int, pel, lib, base []sample) {
	total := func(s sample) int64 { return s.build + s.load }
	pt, lt := median(pel, total), median(lib, total)
	fmt.Printf("Docker default profile (moby/profiles/seccomp v0.3.0, Docker's default capabilities), %s, %d interleaved samples, medians\n\n", runtime.GOARCH, rounds)
	fmt.Printf("%-28s %14s %14s %8s\n", "", "pelagos", "libseccomp", "ratio")
	row := func(name string, a, b time.Duration) {
		fmt.Printf("%-28s %14v %14v %7.2fx\n", name, a, b, float64(b)/float64(a))
	}
	row("build (compile)", median(pel, func(s sample) int64 { return s.build }), median(lib, func(s sample) int64 { return s.build }))
	row("load (seccomp(2))", median(pel, func(s sample) int64 { return s.load }), median(lib, func(s sample) int64 { return s.load }))
	row("build + load", pt, lt)
	fmt.Printf("%-28s %14d %14d\n", "BPF instructions", pel[0].insns, lib[0].insns)
	b := median(base, func(s sample) int64 { return s.sys })
	ps, ls := median(pel, func(s sample) int64 { return s.sys }), median(lib, func(s sample) int64 { return s.sys })
	pb := median(pel, func(s sample) int64 { return s.sysBefore })
	fmt.Printf("%-28s %14v %14v\n", "getppid() under the filter", ps, ls)
	fmt.Printf("%-28s %14v %14v\n", "getppid() with no filter", pb, b)
	fmt.Printf("\nlibseccomp: build = seccomp_init + rules as runc adds them; load = seccomp_load (generates the BPF, then loads).\n")
	fmt.Printf("pelagos: build = seccomp.Compile; load = Program.Load. libseccomp's count excludes runc's ENOSYS stub (a few more instructions per arch).\n")
}

// child compiles and loads the profile in this fresh process and times a
// syscall loop under it.
func child() int {
	p, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		log.Print(err)
		return 1
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		log.Print(err)
		return 1
	}
	before := syscallLoop()
	t0 := time.Now()
	prog, err := seccomp.Compile(p)
	if err != nil {
		log.Print(err)
		return 1
	}
	t1 := time.Now()
	if _, err := prog.Load(); err != nil {
		log.Print(err)
		return 1
	}
	t2 := time.Now()
	fmt.Println(t1.Sub(t0).Nanoseconds(), t2.Sub(t1).Nanoseconds(), len(prog.Filter), syscallLoop(), before)
	return 0
}

// syscallLoop returns the mean cost of getppid(), which Docker's profile
// allows, in nanoseconds.
func syscallLoop() int64 {
	s0 := time.Now()
	for range loops {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	return time.Since(s0).Nanoseconds() / loops
}

// libseccomp's enum scmp_compare.
func scmpOp(op specs.LinuxSeccompOperator) (int, error) {
	switch op {
	case specs.OpNotEqual:
		return 1, nil
	case specs.OpLessThan:
		return 2, nil
	case specs.OpLessEqual:
		return 3, nil
	case specs.OpEqualTo:
		return 4, nil
	case specs.OpGreaterEqual:
		return 5, nil
	case specs.OpGreaterThan:
		return 6, nil
	case specs.OpMaskedEqual:
		return 7, nil
	}
	return 0, fmt.Errorf("unknown operator %q", op)
}

// scmpArch maps OCI architecture names to libseccomp's.
func scmpArch(a specs.Arch) string {
	return strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_"))
}

// WriteRules writes p in scmpbench's rule format.
func WriteRules(path string, p *specs.LinuxSeccomp) error {
	var b strings.Builder
	def, err := seccomp.ActionValue(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return err
	}
	fmt.Fprintf(&b, "default %d\n", def)
	for _, a := range p.Architectures {
		fmt.Fprintf(&b, "arch %s\n", scmpArch(a))
	}
	for _, s := range p.Syscalls {
		ret, err := seccomp.ActionValue(s.Action, s.ErrnoRet)
		if err != nil {
			return err
		}
		for _, n := range s.Names {
			fmt.Fprintf(&b, "rule %d %s %d", ret, n, len(s.Args))
			for _, a := range s.Args {
				op, err := scmpOp(a.Op)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, " %d %d %d %d", a.Index, op, a.Value, a.ValueTwo)
			}
			b.WriteString("\n")
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// BuildHelper compiles libseccomp/scmpbench.c into dir.
func BuildHelper(dir string) (string, error) {
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "libseccomp", "scmpbench.c")
	out := filepath.Join(dir, "scmpbench")
	cmd := exec.Command("gcc", "-O2", "-o", out, src, "-lseccomp")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s (needs gcc and libseccomp-dev): %w\n%s", src, err, msg)
	}
	return out, nil
}
