package seccomp

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func uintp(v uint) *uint { return &v }

// refDecide is an independent, direct reading of the documented semantics,
// against which the compiled BPF is checked.
func refDecide(t *testing.T, cfg *specs.LinuxSeccomp, native archID, d seccompData) uint32 {
	t.Helper()
	def, err := parseAction(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		t.Fatal(err)
	}
	// Which ABI made the call: the architecture, and for x86_64 bit 30.
	id, found := archID(-1), false
	for _, c := range compatArches[native] {
		if c != native && !slices.Contains(cfg.Architectures, arches[c].spec) {
			continue
		}
		if arches[c].audit != d.Arch {
			continue
		}
		if arches[c].audit == auditArchX8664 && (c == archX32) != (d.Nr >= x32SyscallBit) {
			continue
		}
		id, found = c, true
	}
	if !found {
		if d.Arch == auditArchX8664 && d.Nr == 0xffffffff {
			return def
		}
		return retKillThread
	}
	a := arches[id]
	top := ^uint64(0)
	if !a.is64 {
		top = 0xffffffff
	}
	holds := func(args []specs.LinuxSeccompArg) bool {
		for _, c := range args {
			x := d.Args[c.Index] & top
			v := c.Value & top
			ok := false
			switch c.Op {
			case specs.OpEqualTo:
				ok = x == v
			case specs.OpNotEqual:
				ok = x != v
			case specs.OpLessThan:
				ok = x < v
			case specs.OpLessEqual:
				ok = x <= v
			case specs.OpGreaterThan:
				ok = x > v
			case specs.OpGreaterEqual:
				ok = x >= v
			case specs.OpMaskedEqual:
				ok = x&v == c.ValueTwo&v
			}
			if !ok {
				return false
			}
		}
		return true
	}
	best := def
	found = false
	maxNr := int64(-1)
	for _, s := range cfg.Syscalls {
		ret, err := parseAction(s.Action, s.ErrnoRet)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range s.Names {
			nr, ok := SyscallNumber(a.spec, n)
			if ok {
				maxNr = max(maxNr, int64(nr))
			}
			match := ok && nr == d.Nr && holds(s.Args)
			if !match && id == archX86 && len(s.Args) == 0 {
				if sys, call, ok := muxCall(n); ok {
					mnr, _ := SyscallNumber(a.spec, sys)
					match = d.Nr == mnr && d.Args[0]&top == uint64(call)
				}
			}
			if match && (!found || stricter(ret, best)) {
				best, found = ret, true
			}
		}
	}
	if found {
		return best
	}
	stub := def&retActionMask != retAllow && def&retActionMask != retLog && def&retActionMask != retTrace
	if stub && maxNr >= 0 && int64(d.Nr) > maxNr {
		return enosysRet
	}
	return def
}

var interesting = []uint64{0, 1, 2, 3, 7, 0x10, 0xfffffffe, 0xffffffff, 0x100000000, 0x100000001,
	0x1ffffffff, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffff00000000, 0xfffffffffffffffe, 0xffffffffffffffff}

var ops = []specs.LinuxSeccompOperator{specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual,
	specs.OpEqualTo, specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual}

var acts = []specs.LinuxSeccompAction{specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify}

func randAction(r *rand.Rand) (specs.LinuxSeccompAction, *uint) {
	a := acts[r.IntN(len(acts))]
	if (a == specs.ActErrno || a == specs.ActTrace) && r.IntN(2) == 0 {
		return a, uintp(uint(r.IntN(200)))
	}
	return a, nil
}

func randProfile(r *rand.Rand, pool []string) *specs.LinuxSeccomp {
	cfg := &specs.LinuxSeccomp{Architectures: []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchARM}}
	if r.IntN(3) == 0 {
		cfg.Architectures = nil
	}
	cfg.DefaultAction, cfg.DefaultErrnoRet = randAction(r)
	for range 1 + r.IntN(12) {
		s := specs.LinuxSyscall{}
		s.Action, s.ErrnoRet = randAction(r)
		for range 1 + r.IntN(3) {
			s.Names = append(s.Names, pool[r.IntN(len(pool))])
		}
		if r.IntN(3) == 0 {
			// Equality chains: one EQ test on one argument.
			s.Args = []specs.LinuxSeccompArg{{Index: uint(r.IntN(2)), Op: specs.OpEqualTo, Value: interesting[r.IntN(len(interesting))]}}
			cfg.Syscalls = append(cfg.Syscalls, s)
			continue
		}
		for range r.IntN(4) {
			s.Args = append(s.Args, specs.LinuxSeccompArg{
				Index:    uint(r.IntN(3)),
				Op:       ops[r.IntN(len(ops))],
				Value:    interesting[r.IntN(len(interesting))],
				ValueTwo: interesting[r.IntN(len(interesting))],
			})
		}
		cfg.Syscalls = append(cfg.Syscalls, s)
	}
	return cfg
}

// TestCompileMatchesReference compiles random profiles and checks the BPF,
// run in a userspace interpreter, against refDecide for every ABI.
func TestCompileMatchesReference(t *testing.T) {
	pool := []string{"read", "write", "openat", "socket", "connect", "socketcall", "ipc", "semget",
		"personality", "rt_sigaction", "ioctl", "_llseek", "cacheflush", "clone", "mount", "no_such_call"}
	r := rand.New(rand.NewPCG(1, 2))
	for _, native := range []archID{archX8664, archAARCH64} {
		for iter := range 400 {
			cfg := randProfile(r, pool)
			prog, err := compile(cfg, native)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for _, id := range compatArches[native] {
				nrs := []uint32{0xffffffff, x32SyscallBit, x32SyscallBit + 5000, 999999, 0x80000000}
				for _, n := range pool {
					if nr, ok := SyscallNumber(arches[id].spec, n); ok {
						nrs = append(nrs, nr, nr+1)
					}
				}
				for _, nr := range nrs {
					for range 12 {
						d := seccompData{Nr: nr, Arch: arches[id].audit}
						for i := range 3 {
							d.Args[i] = interesting[r.IntN(len(interesting))]
						}
						got, _, err := Evaluate(prog.Filter, d)
						if err != nil {
							t.Fatalf("run: %v", err)
						}
						if want := refDecide(t, cfg, native, d); got != want {
							t.Fatalf("iter %d native %v abi %v nr %#x args %#x: got %#x, want %#x\nprofile: %+v", iter, native, id, nr, d.Args[:3], got, want, cfg)
						}
					}
				}
			}
			// An architecture the filter does not cover is killed.
			got, _, err := Evaluate(prog.Filter, seccompData{Nr: 0, Arch: 0x12345678})
			if err != nil || got != retKillThread {
				t.Fatalf("unknown arch: got %#x, %v", got, err)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  specs.LinuxSeccomp
		want string // substring of the error
	}{
		{"unknown default action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, `defaultAction: unknown action "SCMP_ACT_NOPE"`},
		{"empty default action", specs.LinuxSeccomp{}, `defaultAction: unknown action ""`},
		{"unknown rule action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow},
			{Names: []string{"mount", "umount2"}, Action: "SCMP_ACT_EXPLODE"}}},
			`syscalls[1] [mount umount2]: unknown action "SCMP_ACT_EXPLODE"`},
		{"no names", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActErrno}}},
			`syscalls[0] []: names is empty`},
		{"empty name", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read", ""}, Action: specs.ActErrno}}},
			`syscalls[0] [read ]: empty syscall name`},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_SORTA"}}}}}, `syscalls[0] [kill]: args[0]: unknown operator "SCMP_CMP_SORTA"`},
		{"arg index", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, `syscalls[0] [kill]: args[0]: index 6`},
		{"errnoRet on allow", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActAllow, ErrnoRet: uintp(5)}}},
			`syscalls[0] [kill]: errnoRet 5 given for SCMP_ACT_ALLOW`},
		{"defaultErrnoRet on kill", specs.LinuxSeccomp{DefaultAction: specs.ActKill, DefaultErrnoRet: uintp(1)}, `defaultAction: errnoRet 1 given for SCMP_ACT_KILL`},
		{"errnoRet too big", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uintp(70000)}, `errnoRet 70000 does not fit`},
		{"bad arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, `unknown architecture "SCMP_ARCH_Z80"`},
		{"bad flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"wait killable without notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, `needs an SCMP_ACT_NOTIFY rule`},
		{"metadata without path", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"}, `listenerMetadata is set without listenerPath`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(&tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile() error = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidProfile) {
				t.Errorf("Compile() error %v does not wrap ErrInvalidProfile", err)
			}
		})
	}
	if _, err := Compile(nil); !errors.Is(err, ErrInvalidProfile) {
		t.Errorf("Compile(nil) = %v, want ErrInvalidProfile", err)
	}
}

// Names no table knows are skipped and reported, as runc skips them;
// valid architectures foreign to this machine are reported too.
func TestCompileUnknownNamesAndArches(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchPPC64LE, specs.ArchS390X},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mount", "frobnicate", "s390_runtime_instr"}, Action: specs.ActErrno},
			{Names: []string{"frobnicate", "cacheflush"}, Action: specs.ActKill},
		},
	}
	prog, err := compile(cfg, archX8664)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"frobnicate"}, prog.UnknownSyscalls); diff != "" {
		t.Errorf("UnknownSyscalls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"s390_runtime_instr"}, prog.ForeignSyscalls); diff != "" {
		t.Errorf("ForeignSyscalls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]specs.Arch{specs.ArchPPC64LE, specs.ArchS390X}, prog.IgnoredArches); diff != "" {
		t.Errorf("IgnoredArches (-want +got):\n%s", diff)
	}
	// mount is still denied: the unknown names did not drop the rule.
	got, _, _ := Evaluate(prog.Filter, seccompData{Nr: 165, Arch: auditArchX8664})
	if got != retErrno|errnoEPERM {
		t.Errorf("mount: got %#x, want ERRNO(EPERM)", got)
	}
}

func TestSyscallTables(t *testing.T) {
	tests := []struct {
		arch specs.Arch
		name string
		want uint32
	}{
		{specs.ArchX86_64, "read", 0},
		{specs.ArchX86_64, "mount", 165},
		{specs.ArchX86_64, "rseq_slice_yield", 471},
		{specs.ArchX86, "socketcall", 102},
		{specs.ArchX86, "_llseek", 140},
		{specs.ArchX86, "keyctl", 288},
		{specs.ArchX32, "read", 0x40000000},
		{specs.ArchX32, "ioctl", 0x40000000 + 514},
		{specs.ArchX32, "execveat", 0x40000000 + 545},
		{specs.ArchAARCH64, "openat", 56},
		{specs.ArchARM, "cacheflush", 0xf0002},
		{specs.ArchARM, "arm_fadvise64_64", 270},
	}
	for _, tt := range tests {
		got, ok := SyscallNumber(tt.arch, tt.name)
		if !ok || got != tt.want {
			t.Errorf("SyscallNumber(%s, %q) = %d, %v; want %d", tt.arch, tt.name, got, ok, tt.want)
		}
	}
	for _, tt := range []struct {
		arch specs.Arch
		name string
	}{{specs.ArchX86_64, "socketcall"}, {specs.ArchX32, "uselib"}, {specs.ArchAARCH64, "open"}, {specs.ArchX86_64, "nope"}} {
		if got, ok := SyscallNumber(tt.arch, tt.name); ok {
			t.Errorf("SyscallNumber(%s, %q) = %d, want absent", tt.arch, tt.name, got)
		}
	}
	if !slices.IsSortedFunc(sysTable[:], func(a, b sysEntry) int { return strings.Compare(a.name, b.name) }) {
		t.Error("sysTable is not sorted")
	}
}
