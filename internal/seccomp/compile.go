package seccomp

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Program is a compiled seccomp filter.
type Program struct {
	// Filter is the classic BPF program.
	Filter []Instruction
	// Flags are the seccomp(2) SECCOMP_FILTER_FLAG_* bits Load passes,
	// NEW_LISTENER included when the profile uses SCMP_ACT_NOTIFY.
	Flags uint
	// UnknownSyscalls are names in the profile that no Linux architecture
	// has (as far as this build knows): most likely a mistake in the
	// profile. Compile skips them; callers decide (pelagos refuses them).
	UnknownSyscalls []string
	// ForeignSyscalls are names that exist only on Linux architectures this
	// package does not filter (riscv_hwprobe, s390_runtime_instr, ...):
	// skipped, as they cannot be called here.
	ForeignSyscalls []string
	// IgnoredArches are valid architectures in the profile whose code cannot
	// run on this machine (SCMP_ARCH_PPC64LE on amd64, say). They are left
	// out; a process of such an architecture would hit the bad-architecture
	// action anyway.
	IgnoredArches []specs.Arch

	// rets are the distinct return values the filter can produce, for
	// diagnosing a load the kernel refuses.
	rets []uint32
}

// Notify reports whether the program has SCMP_ACT_NOTIFY rules, so that
// Load returns a listener fd.
func (p *Program) Notify() bool { return p.Flags&flagNewListener != 0 }

// Compile validates cfg and compiles it for the architecture this binary
// runs on (GOARCH) and its compat ABIs.
func Compile(cfg *specs.LinuxSeccomp) (*Program, error) {
	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	return compile(cfg, native)
}

// sysRule is one rule as it applies to one syscall number on one
// architecture: conditions adjusted to the ABI's argument width.
type sysRule struct {
	ret   uint32
	order int
	conds []cond
}

// archPlan is everything one architecture's part of the filter needs.
type archPlan struct {
	id    archID
	calls map[uint32][]sysRule // syscall number (with x32 bit) -> rules
	maxNr int64                // largest number named by the profile; -1 if none
}

func compile(cfg *specs.LinuxSeccomp, native archID) (*Program, error) {
	p, err := parseProfile(cfg)
	if err != nil {
		return nil, err
	}
	prog := &Program{Flags: p.flags}
	ids, err := selectArches(p.arches, native, prog)
	if err != nil {
		return nil, err
	}
	names := 0
	for _, r := range p.rules {
		names += len(r.names)
	}
	plans := make([]*archPlan, len(ids))
	for i, id := range ids {
		plans[i] = &archPlan{id: id, calls: make(map[uint32][]sysRule, names), maxNr: -1}
	}
	unknown := map[string]bool{}
	for _, r := range p.rules {
		for _, name := range r.names {
			e, ok := lookupSyscall(name)
			if !ok {
				if !unknown[name] {
					unknown[name] = true
					if isForeign(name) {
						prog.ForeignSyscalls = append(prog.ForeignSyscalls, name)
					} else {
						prog.UnknownSyscalls = append(prog.UnknownSyscalls, name)
					}
				}
				continue
			}
			for _, pl := range plans {
				pl.add(e, r)
			}
		}
	}
	g := newGenerator(p, plans)
	if prog.Filter, err = g.generate(); err != nil {
		return nil, err
	}
	prog.rets = g.rets()
	if len(prog.Filter) > maxInsns {
		return nil, fmt.Errorf("seccomp: compiled filter has %d instructions, more than the kernel's limit of %d", len(prog.Filter), maxInsns)
	}
	return prog, nil
}

// selectArches returns the ABIs the filter covers: the native one, always
// (as libseccomp adds it), then each listed one that can run here.
func selectArches(listed []specs.Arch, native archID, prog *Program) ([]archID, error) {
	ids := []archID{native}
	for _, a := range listed {
		if !slices.Contains(ociArches, a) {
			return nil, fmt.Errorf("%w: architectures: unknown architecture %q", ErrInvalidProfile, a)
		}
		found := false
		for _, id := range compatArches[native] {
			if arches[id].spec == a {
				found = true
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
		if !found && !slices.Contains(prog.IgnoredArches, a) {
			prog.IgnoredArches = append(prog.IgnoredArches, a)
		}
	}
	return ids, nil
}

// x86 multiplexes socket and SysV IPC calls through socketcall(2) and
// ipc(2), whose first argument selects the call (include/uapi/linux/net.h,
// ipc/syscall.c). As libseccomp does, a rule for one of these names also
// applies to the multiplexed form on x86 — but only when the rule has no
// argument conditions, since the real arguments are then in user memory
// where a filter cannot read them.
func muxCall(name string) (sys string, call uint32, ok bool) {
	switch name {
	case "socket":
		return "socketcall", 1, true
	case "bind":
		return "socketcall", 2, true
	case "connect":
		return "socketcall", 3, true
	case "listen":
		return "socketcall", 4, true
	case "accept":
		return "socketcall", 5, true
	case "getsockname":
		return "socketcall", 6, true
	case "getpeername":
		return "socketcall", 7, true
	case "socketpair":
		return "socketcall", 8, true
	case "send":
		return "socketcall", 9, true
	case "recv":
		return "socketcall", 10, true
	case "sendto":
		return "socketcall", 11, true
	case "recvfrom":
		return "socketcall", 12, true
	case "shutdown":
		return "socketcall", 13, true
	case "setsockopt":
		return "socketcall", 14, true
	case "getsockopt":
		return "socketcall", 15, true
	case "sendmsg":
		return "socketcall", 16, true
	case "recvmsg":
		return "socketcall", 17, true
	case "accept4":
		return "socketcall", 18, true
	case "recvmmsg":
		return "socketcall", 19, true
	case "sendmmsg":
		return "socketcall", 20, true
	case "semop":
		return "ipc", 1, true
	case "semget":
		return "ipc", 2, true
	case "semctl":
		return "ipc", 3, true
	case "semtimedop":
		return "ipc", 4, true
	case "msgsnd":
		return "ipc", 11, true
	case "msgrcv":
		return "ipc", 12, true
	case "msgget":
		return "ipc", 13, true
	case "msgctl":
		return "ipc", 14, true
	case "shmat":
		return "ipc", 21, true
	case "shmdt":
		return "ipc", 22, true
	case "shmget":
		return "ipc", 23, true
	case "shmctl":
		return "ipc", 24, true
	}
	return "", 0, false
}

// add records rule r for syscall e on this architecture, if it has it.
func (pl *archPlan) add(e *sysEntry, r rule) {
	a := arches[pl.id]
	if nr := e.nr[pl.id]; nr >= 0 {
		n := uint32(nr) | a.sysBase
		pl.maxNr = max(pl.maxNr, int64(n))
		if conds, ok := adjustConds(r.conds, a.is64); ok {
			pl.calls[n] = append(pl.calls[n], sysRule{ret: r.ret, order: r.index, conds: conds})
		}
	}
	if pl.id != archX86 || len(r.conds) != 0 {
		return
	}
	if sys, call, ok := muxCall(e.name); ok {
		m, _ := lookupSyscall(sys)
		n := uint32(m.nr[archX86])
		c := []cond{{arg: 0, op: opEQ, val: uint64(call), mask: ^uint64(0)}}
		pl.calls[n] = append(pl.calls[n], sysRule{ret: r.ret, order: r.index, conds: c})
	}
}

// adjustConds fits conditions to an ABI: on a 32-bit one only the low word
// of values and masks counts (libseccomp's behaviour, and the kernel's: it
// reads 32 bits). Conditions that always hold are dropped; ok is false when
// one can never hold, so the rule never matches.
func adjustConds(in []cond, is64 bool) (out []cond, ok bool) {
	top := ^uint64(0)
	if !is64 {
		top = 0xffffffff
	}
	for _, c := range in {
		c.val &= top
		c.mask &= top
		if c.op == opMaskedEQ {
			c.val &= c.mask
		}
		switch {
		case c.op == opMaskedEQ && c.mask == 0,
			c.op == opGE && c.val == 0,
			c.op == opLE && c.val == top:
			continue // always true
		case c.op == opLT && c.val == 0,
			c.op == opGT && c.val == top:
			return nil, false // never true
		}
		out = append(out, c)
	}
	// Group comparisons by argument so a loaded word can be reused.
	slices.SortStableFunc(out, func(a, b cond) int { return cmp.Compare(a.arg, b.arg) })
	return out, true
}

// isForeign reports whether name is a syscall of another Linux architecture.
func isForeign(name string) bool {
	i := sort.SearchStrings(foreignSyscalls[:], name)
	return i < len(foreignSyscalls) && foreignSyscalls[i] == name
}
