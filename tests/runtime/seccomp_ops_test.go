package runtime_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// Every comparison operator and every action but NOTIFY (see
// TestSeccompNotifyAgent), seen from a process inside a container. Each
// operator guards its own harmless syscall with its own errno, and each
// call is made once with an argument that matches and once with one that
// does not. internal/seccomp's kernel tests cover the same ground
// exhaustively outside containers; this shows the runtime installs the
// filter as written.
func TestSeccompOperatorsAndActionsInContainer(t *testing.T) {
	r := newRuntime(t)
	type opCase struct {
		name           string
		nr             int
		op             specs.LinuxSeccompOperator
		value, value2  uint64
		match, nomatch uint64
	}
	ops := []opCase{
		{"EQ", 121 /* getpgid */, specs.OpEqualTo, 7, 0, 7, 8},
		{"NE", 124 /* getsid */, specs.OpNotEqual, 7, 0, 8, 7},
		{"LT", 145 /* sched_getscheduler */, specs.OpLessThan, 7, 0, 6, 7},
		{"LE", 146 /* sched_get_priority_max */, specs.OpLessEqual, 7, 0, 7, 8},
		{"GT", 147 /* sched_get_priority_min */, specs.OpGreaterThan, 7, 0, 8, 7},
		{"GE", 95 /* umask */, specs.OpGreaterEqual, 7, 0, 7, 6},
		{"MASKED_EQ", 32 /* dup */, specs.OpMaskedEqual, 0xf0, 0x30, 0x35, 0x45},
	}
	errnoFor := func(i int) uint { return uint(40 + i) }
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getcpu"}, Action: specs.ActTrap},
			{Names: []string{"sync"}, Action: specs.ActKillThread},
			{Names: []string{"getitimer"}, Action: specs.ActTrace},
			{Names: []string{"times"}, Action: specs.ActLog},
		},
	}
	var script []string
	for i, o := range ops {
		e := errnoFor(i)
		sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{
			Names: []string{syscallName(o.nr)}, Action: specs.ActErrno, ErrnoRet: &e,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: o.value, ValueTwo: o.value2, Op: o.op}},
		})
		script = append(script,
			fmt.Sprintf("/bin/attack syscall %d %d", o.nr, o.match),
			fmt.Sprintf("/bin/attack syscall %d %d", o.nr, o.nomatch))
	}
	script = append(script,
		"/bin/attack syscall 309 2>&1 | head -n 1", // TRAP: SIGSYS reaches the Go runtime, which reports it
		"sync; echo killed $?",                     // KILL_THREAD: busybox's only thread dies of SIGSYS
		"/bin/attack syscall 36 0 0",               // TRACE without a tracer: ENOSYS
		"/bin/attack syscall 100 0",                // LOG: allowed (and logged)
	)
	b := newBundle(t, withSeccomp(sc), bundle.Args("sh", "-c", strings.Join(script, "; ")))
	out, errs, err := r.run("run", "--bundle", b.Dir, "seccompops")
	if err != nil {
		t.Fatalf("run: %v: %s", err, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2*len(ops)+4 {
		t.Fatalf("%d lines of output, want %d:\n%s", len(lines), 2*len(ops)+4, out)
	}
	for i, o := range ops {
		want := syscall.Errno(errnoFor(i)).Error()
		if got := lines[2*i]; got != want {
			t.Errorf("%s: argument %#x matches, got %q, want the rule's errno %q", o.name, o.match, got, want)
		}
		if got := lines[2*i+1]; got == want {
			t.Errorf("%s: argument %#x does not match, but the rule's errno came back", o.name, o.nomatch)
		}
	}
	rest := lines[2*len(ops):]
	checks := []struct{ action, got, want string }{
		{"TRAP", rest[0], "SIGSYS: bad system call"},
		{"KILL_THREAD", rest[1], fmt.Sprintf("killed %d", 128+int(syscall.SIGSYS))},
		{"TRACE", rest[2], syscall.ENOSYS.Error()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.action, c.got, c.want)
		}
	}
	if !strings.HasPrefix(rest[3], "ok ") {
		t.Errorf("LOG: times() gave %q, want it allowed", rest[3])
	}
}

// syscallName names the few x86_64 syscalls the operator test uses.
func syscallName(nr int) string {
	return map[int]string{121: "getpgid", 124: "getsid", 145: "sched_getscheduler",
		146: "sched_get_priority_max", 147: "sched_get_priority_min", 95: "umask", 32: "dup"}[nr]
}
