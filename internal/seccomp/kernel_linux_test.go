package seccomp

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func nativeSpec(t *testing.T) specs.Arch {
	t.Helper()
	id, err := nativeArch()
	if err != nil {
		t.Skip(err)
	}
	return arches[id].spec
}

func sysnr(t *testing.T, name string) uint64 {
	t.Helper()
	nr, ok := SyscallNumber(nativeSpec(t), name)
	if !ok {
		t.Fatalf("no syscall %q here", name)
	}
	return uint64(nr)
}

// allowAllBut is an allow rule for every syscall this ABI has except the
// named ones, so a deny-by-default profile leaves the Go runtime working
// and applies its default only to the calls under test.
func allowAllBut(t *testing.T, except ...string) specs.LinuxSyscall {
	id, _ := nativeArch()
	var names []string
	for _, e := range sysTable {
		if e.nr[id] >= 0 && !slices.Contains(except, e.name) {
			names = append(names, e.name)
		}
	}
	return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
}

// getppid has no arguments: the kernel ignores whatever is in the argument
// registers, but the filter sees all six, so it can carry any test values.
const probeCall = "getppid"

func TestKernelActions(t *testing.T) {
	ppid := uint64(unix.Getpid()) // the child's parent is this process
	rule := func(a specs.LinuxSeccompAction, errno *uint) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{probeCall}, Action: a, ErrnoRet: errno}}}
	}
	deny := func(a specs.LinuxSeccompAction, errno *uint) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: a, DefaultErrnoRet: errno, Syscalls: []specs.LinuxSyscall{allowAllBut(t, probeCall)}}
	}
	type want struct {
		errno      syscall.Errno
		ret        uint64 // checked when errno is 0
		threadGone bool
		signal     syscall.Signal
		trapped    bool
	}
	tests := []struct {
		name    string
		profile *specs.LinuxSeccomp
		want    want
	}{
		{"ERRNO errnoRet", rule(specs.ActErrno, uintp(42)), want{errno: 42}},
		{"ERRNO default EPERM", rule(specs.ActErrno, nil), want{errno: unix.EPERM}},
		{"ALLOW", rule(specs.ActAllow, nil), want{ret: ppid}},
		{"LOG", rule(specs.ActLog, nil), want{ret: ppid}},
		// With no tracer attached the kernel fails the call with ENOSYS.
		{"TRACE", rule(specs.ActTrace, uintp(7)), want{errno: unix.ENOSYS}},
		{"KILL_PROCESS", rule(specs.ActKillProcess, nil), want{signal: unix.SIGSYS}},
		{"KILL_THREAD", rule(specs.ActKillThread, nil), want{threadGone: true}},
		{"KILL", rule(specs.ActKill, nil), want{threadGone: true}},
		{"TRAP", rule(specs.ActTrap, nil), want{trapped: true}},
		{"defaultAction ERRNO defaultErrnoRet", deny(specs.ActErrno, uintp(55)), want{errno: 55}},
		{"defaultAction ERRNO", deny(specs.ActErrno, nil), want{errno: unix.EPERM}},
		{"defaultAction TRACE", deny(specs.ActTrace, uintp(9)), want{errno: unix.ENOSYS}},
		{"defaultAction KILL_PROCESS", deny(specs.ActKillProcess, nil), want{signal: unix.SIGSYS}},
		{"defaultAction KILL_THREAD", deny(specs.ActKillThread, nil), want{threadGone: true}},
		{"defaultAction TRAP", deny(specs.ActTrap, nil), want{trapped: true}},
		{"defaultAction LOG", deny(specs.ActLog, nil), want{ret: ppid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := runChild(t, job{Profile: tt.profile, Calls: []call{{Nr: sysnr(t, probeCall)}}})
			o.mustLoad(t)
			r, called := o.calls[0]
			switch {
			case tt.want.signal != 0:
				if o.signal != tt.want.signal || called {
					t.Errorf("child signal %v, call returned %v; want death by %v before the call returns", o.signal, called, tt.want.signal)
				}
			case tt.want.threadGone:
				if !o.threadGone || called || o.signal != 0 {
					t.Errorf("thread gone %v, call returned %v, signal %v; want only the calling thread killed", o.threadGone, called, o.signal)
				}
			case tt.want.trapped:
				// The Go runtime receives the SIGSYS (si_code SYS_SECCOMP)
				// and, with no handler registered, dies reporting it.
				if o.exitCode != 2 || !strings.Contains(o.stderr, "SIGSYS: bad system call") || called {
					t.Errorf("exit %d, call returned %v, stderr %q; want the Go runtime to report a trapped SIGSYS", o.exitCode, called, o.stderr)
				}
			default:
				if !called {
					t.Fatalf("no result for the call (signal %v, thread gone %v, stderr %q)", o.signal, o.threadGone, o.stderr)
				}
				if syscall.Errno(r.Errno) != tt.want.errno || (tt.want.errno == 0 && r.Ret != tt.want.ret) {
					t.Errorf("%s() = %d, errno %v; want %d, errno %v", probeCall, r.Ret, syscall.Errno(r.Errno), tt.want.ret, tt.want.errno)
				}
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
