package seccomp

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestKernelOperators checks every comparison operator on full 64-bit
// values: the values differ only in the high word, only in the low word, or
// in both, so a filter comparing one half would answer wrongly.
func TestKernelOperators(t *testing.T) {
	const v = 0x1_0000_0005
	xs := []uint64{0, 4, 5, 6, 0xffffffff, 0x1_0000_0004, v, 0x1_0000_0006, 0x2_0000_0005, 0x2_0000_0000, ^uint64(0)}
	tests := []struct {
		op       specs.LinuxSeccompOperator
		value    uint64
		valueTwo uint64
		holds    func(x uint64) bool
	}{
		{specs.OpEqualTo, v, 0, func(x uint64) bool { return x == v }},
		{specs.OpNotEqual, v, 0, func(x uint64) bool { return x != v }},
		{specs.OpLessThan, v, 0, func(x uint64) bool { return x < v }},
		{specs.OpLessEqual, v, 0, func(x uint64) bool { return x <= v }},
		{specs.OpGreaterThan, v, 0, func(x uint64) bool { return x > v }},
		{specs.OpGreaterEqual, v, 0, func(x uint64) bool { return x >= v }},
		// value is the mask, valueTwo the datum (libseccomp's order).
		{specs.OpMaskedEqual, 0x1_0000_00ff, 0x1_0000_0005, func(x uint64) bool { return x&0x1_0000_00ff == 0x1_0000_0005 }},
	}
	for _, tt := range tests {
		t.Run(string(tt.op), func(t *testing.T) {
			p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
				Names: []string{probeCall}, Action: specs.ActErrno, ErrnoRet: uintp(100),
				Args: []specs.LinuxSeccompArg{{Index: 1, Op: tt.op, Value: tt.value, ValueTwo: tt.valueTwo}}}}}
			var calls []call
			for _, x := range xs {
				calls = append(calls, call{Nr: sysnr(t, probeCall), Args: [6]uint64{0, x}})
			}
			o := runChild(t, job{Profile: p, Calls: calls})
			o.mustLoad(t)
			for i, x := range xs {
				want := syscall.Errno(0)
				if tt.holds(x) {
					want = 100
				}
				if got := syscall.Errno(o.calls[i].Errno); got != want {
					t.Errorf("arg1 = %#x: errno %d, want %d", x, got, want)
				}
			}
		})
	}
}

// TestKernelRuleCombinations: conditions in one rule are ANDed, rules for
// one syscall are ORed, and when rules with different actions match, the
// strictest wins, even against an unconditional ALLOW. libseccomp (and so
// runc) lets the unconditional rule absorb the conditional one: a profile
// that allows getpgid but denies getpgid(_, 5) would let the call through.
func TestKernelRuleCombinations(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(11), Args: []specs.LinuxSeccompArg{
			{Index: 0, Op: specs.OpEqualTo, Value: 1}, {Index: 2, Op: specs.OpGreaterThan, Value: 10}}},
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(15), Args: []specs.LinuxSeccompArg{
			{Index: 3, Op: specs.OpGreaterEqual, Value: 10}, {Index: 3, Op: specs.OpLessEqual, Value: 20}}},
		{Names: []string{"getpgrp"}, Action: specs.ActErrno, ErrnoRet: uintp(12), Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 1}}},
		{Names: []string{"getpgrp"}, Action: specs.ActErrno, ErrnoRet: uintp(12), Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 2}}},
		{Names: []string{"getpgid"}, Action: specs.ActAllow},
		{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: uintp(13), Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 5}}},
		{Names: []string{"getpgid"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpEqualTo, Value: 666}}},
	}}
	ppid, pgrp, pgid := sysnr(t, "getppid"), sysnr(t, "getpgrp"), sysnr(t, "getpgid")
	tests := []struct {
		c    call
		want syscall.Errno
	}{
		{call{Nr: ppid, Args: [6]uint64{1, 0, 11}}, 11},
		{call{Nr: ppid, Args: [6]uint64{1, 0, 10}}, 0}, // second condition false
		{call{Nr: ppid, Args: [6]uint64{2, 0, 11}}, 0}, // first condition false
		{call{Nr: ppid, Args: [6]uint64{0, 0, 0, 9}}, 0},
		{call{Nr: ppid, Args: [6]uint64{0, 0, 0, 10}}, 15},
		{call{Nr: ppid, Args: [6]uint64{0, 0, 0, 20}}, 15},
		{call{Nr: ppid, Args: [6]uint64{0, 0, 0, 21}}, 0},
		{call{Nr: pgrp, Args: [6]uint64{1, 0}}, 12},
		{call{Nr: pgrp, Args: [6]uint64{0, 2}}, 12},
		{call{Nr: pgrp, Args: [6]uint64{0, 0}}, 0},
		{call{Nr: pgid, Args: [6]uint64{0, 0}}, 0},
		{call{Nr: pgid, Args: [6]uint64{0, 5}}, 13},
	}
	var calls []call
	for _, tt := range tests {
		calls = append(calls, tt.c)
	}
	calls = append(calls, call{Nr: pgid, Args: [6]uint64{0, 666}})
	o := runChild(t, job{Profile: p, Calls: calls})
	o.mustLoad(t)
	for i, tt := range tests {
		if got := syscall.Errno(o.calls[i].Errno); got != tt.want {
			t.Errorf("call %d (nr %d, args %v): errno %d, want %d", i, tt.c.Nr, tt.c.Args, got, tt.want)
		}
	}
	if _, ok := o.calls[len(tests)]; ok || o.signal != unix.SIGSYS {
		t.Errorf("getpgid(0, 666): returned %v, child signal %v; want the KILL_PROCESS rule to win", ok, o.signal)
	}
}

// TestKernelInt80 makes syscalls through the 32-bit entry point from a
// 64-bit process: the kernel reports AUDIT_ARCH_I386 and i386 numbers.
// A filter that ignored the architecture, or used x86_64 numbers for such
// calls, would let them through.
func TestKernelInt80(t *testing.T) {
	if !haveInt80 {
		t.Skip("the 32-bit entry point (int $0x80) is an x86_64 feature; this is " + nativeSpecName())
	}
	// Some kernels boot with IA32 emulation off (ia32_emulation=0, or a
	// hypervisor that disables it): int $0x80 then faults and i386 binaries
	// fail with ENOEXEC, so there is no 32-bit entry to filter.
	probe := runChild(t, job{NoFilter: true, Calls: []call{{Nr: 20 /* i386 getpid */, Int80: true}}})
	if _, ok := probe.calls[0]; !ok {
		t.Skip("this kernel has no 32-bit syscall entry (IA32 emulation disabled): int $0x80 faults; the x86 part of filters is checked by TestCompileMatchesReference only")
	}
	i386 := func(name string) uint64 {
		nr, ok := SyscallNumber(specs.ArchX86, name)
		if !ok {
			t.Fatalf("no i386 %s", name)
		}
		return uint64(nr)
	}
	rules := []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActErrno, ErrnoRet: uintp(21)},
		{Names: []string{"mount"}, Action: specs.ActErrno, ErrnoRet: uintp(22)},
		{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: uintp(23), Args: []specs.LinuxSeccompArg{
			{Index: 1, Op: specs.OpEqualTo, Value: 0x1_0000_0007}}},
	}
	t.Run("x86 listed", func(t *testing.T) {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}, Syscalls: rules}
		tests := []struct {
			c    call
			want syscall.Errno
		}{
			{call{Nr: i386("getppid"), Int80: true}, 21},
			{call{Nr: i386("mount"), Int80: true}, 22},
			{call{Nr: sysnr(t, "getppid")}, 21},
			{call{Nr: i386("getpid"), Int80: true}, 0},
			// 110 is getppid on x86_64 but iopl on i386: the x86_64 rule
			// must not apply to it.
			{call{Nr: 110, Int80: true}, 0},
			// On a 32-bit ABI only the low word of an argument exists:
			// 0x1_0000_0007 compares as 7, as in libseccomp.
			{call{Nr: i386("getpgid"), Int80: true, Args: [6]uint64{0, 7}}, 23},
			{call{Nr: i386("getpgid"), Int80: true, Args: [6]uint64{0, 8}}, 0},
		}
		var calls []call
		for _, tt := range tests {
			calls = append(calls, tt.c)
		}
		o := runChild(t, job{Profile: p, Calls: calls})
		o.mustLoad(t)
		for i, tt := range tests {
			r, ok := o.calls[i]
			if !ok {
				t.Fatalf("call %d: no result (signal %v, thread gone %v)", i, o.signal, o.threadGone)
			}
			if got := syscall.Errno(r.Errno); got != tt.want {
				t.Errorf("call %d (nr %d int80 %v): errno %d, want %d", i, tt.c.Nr, tt.c.Int80, got, tt.want)
			}
		}
	})
	t.Run("x86 not listed", func(t *testing.T) {
		// An architecture the profile does not list gets libseccomp's
		// bad-architecture action: the thread is killed.
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64}, Syscalls: rules}
		o := runChild(t, job{Profile: p, Calls: []call{{Nr: sysnr(t, "getpid")}, {Nr: i386("getpid"), Int80: true}}})
		o.mustLoad(t)
		if _, ok := o.calls[0]; !ok {
			t.Fatal("native getpid did not return")
		}
		if _, ok := o.calls[1]; ok || !o.threadGone {
			t.Errorf("int $0x80 getpid returned %v, thread gone %v; want the thread killed", ok, o.threadGone)
		}
	})
}

func nativeSpecName() string {
	id, err := nativeArch()
	if err != nil {
		return err.Error()
	}
	return string(arches[id].spec)
}

func TestKernelFlags(t *testing.T) {
	for _, f := range []specs.LinuxSeccompFlag{flagTSyncName, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, specs.LinuxSeccompFlagWaitKillableRecv} {
		if err := FlagSupported(f); err != nil {
			t.Errorf("FlagSupported(%s) = %v; this kernel (6.x) has it", f, err)
		}
	}
	if err := probeFlag(1 << 20); !errors.Is(err, ErrUnsupported) {
		t.Errorf("probeFlag(1<<20) = %v, want ErrUnsupported", err)
	}
	if err := FlagSupported("SECCOMP_FILTER_FLAG_BOGUS"); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("FlagSupported(bogus) = %v, want ErrInvalidProfile", err)
	}
	for _, a := range acts {
		if err := ActionSupported(a); err != nil {
			t.Errorf("ActionSupported(%s) = %v", a, err)
		}
	}

	rule := specs.LinuxSyscall{Names: []string{probeCall}, Action: specs.ActErrno, ErrnoRet: uintp(31)}
	for _, tt := range []struct {
		flags      []specs.LinuxSeccompFlag
		allThreads bool
	}{
		{nil, false},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, false},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}, false},
		{[]specs.LinuxSeccompFlag{flagTSyncName}, true},
	} {
		t.Run(fmt.Sprint(tt.flags), func(t *testing.T) {
			p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: tt.flags, Syscalls: []specs.LinuxSyscall{rule}}
			o := runChild(t, job{Profile: p, CheckThreads: true, Calls: []call{{Nr: sysnr(t, probeCall)}}})
			o.mustLoad(t)
			if got := syscall.Errno(o.calls[0].Errno); got != 31 {
				t.Errorf("errno %d, want 31", got)
			}
			filtered := 0
			for _, m := range o.modes {
				if m == "2" {
					filtered++
				}
			}
			if len(o.modes) < 2 || filtered == 0 {
				t.Fatalf("thread modes %v: want several threads, some filtered", o.modes)
			}
			if all := filtered == len(o.modes); all != tt.allThreads {
				t.Errorf("thread modes %v: every thread filtered = %v, want %v", o.modes, all, tt.allThreads)
			}
		})
	}
}

// TestKernelNeedsNoNewPrivs: without no_new_privs and without
// CAP_SYS_ADMIN the kernel refuses a filter, and the error says why.
func TestKernelNeedsNoNewPrivs(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root: the test drops CAP_SYS_ADMIN from a root child to see the refusal")
	}
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{probeCall}, Action: specs.ActErrno}}}
	o := runChild(t, job{Profile: p, NoNNP: true, DropSysAdmin: true})
	if o.loaded || !containsAll(o.loadErr, "permission denied", "no_new_privs") {
		t.Errorf("load without no_new_privs or CAP_SYS_ADMIN: loaded %v, error %q", o.loaded, o.loadErr)
	}
	o = runChild(t, job{Profile: p, NoNNP: true, Calls: []call{{Nr: sysnr(t, probeCall)}}})
	o.mustLoad(t)
	if got := syscall.Errno(o.calls[0].Errno); got != unix.EPERM {
		t.Errorf("with CAP_SYS_ADMIN: errno %d, want EPERM", got)
	}
}
