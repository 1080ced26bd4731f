package seccomp

import (
	"errors"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalidProfile is wrapped by every error Compile returns for a profile
// that is malformed: an unknown action, operator, flag or architecture, a
// rule without names, an argument index past 5, and so on.
var ErrInvalidProfile = errors.New("invalid seccomp profile")

// Seccomp return values (include/uapi/linux/seccomp.h).
const (
	retKillProcess uint32 = 0x80000000
	retKillThread  uint32 = 0x00000000
	retTrap        uint32 = 0x00030000
	retErrno       uint32 = 0x00050000
	retUserNotif   uint32 = 0x7fc00000
	retTrace       uint32 = 0x7ff00000
	retLog         uint32 = 0x7ffc0000
	retAllow       uint32 = 0x7fff0000

	retActionMask uint32 = 0xffff0000
	retDataMask   uint32 = 0x0000ffff
)

// seccomp(2) filter flags.
const (
	flagTSync            = 1 << 0
	flagLog              = 1 << 1
	flagSpecAllow        = 1 << 2
	flagNewListener      = 1 << 3
	flagTSyncESRCH       = 1 << 4
	flagWaitKillableRecv = 1 << 5
)

const (
	errnoEPERM  = 1
	errnoENOSYS = 38
)

// stricter reports whether return value a takes precedence over b. The
// kernel ranks actions by their value read as a signed 32-bit number, lowest
// first (kernel/seccomp.c, seccomp_run_filters): KILL_PROCESS, KILL_THREAD,
// TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW.
func stricter(a, b uint32) bool {
	return int32(a&retActionMask) < int32(b&retActionMask)
}

// ActionValue returns the seccomp return value (SECCOMP_RET_* with its
// data) an OCI action and errnoRet stand for, as the filter returns it and
// as libseccomp's SCMP_ACT_* values encode it.
func ActionValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	r, err := parseAction(act, errnoRet)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidProfile, err)
	}
	return r, nil
}

// parseAction resolves an OCI action name and its errnoRet to a return
// value. errnoRet is only meaningful for ERRNO and TRACE; the spec requires
// an error for any other action.
func parseAction(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	var base uint32
	switch act {
	case specs.ActKill, specs.ActKillThread:
		base = retKillThread
	case specs.ActKillProcess:
		base = retKillProcess
	case specs.ActTrap:
		base = retTrap
	case specs.ActErrno:
		base = retErrno
	case specs.ActTrace:
		base = retTrace
	case specs.ActAllow:
		base = retAllow
	case specs.ActLog:
		base = retLog
	case specs.ActNotify:
		base = retUserNotif
	default:
		return 0, fmt.Errorf("unknown action %q", act)
	}
	if base != retErrno && base != retTrace {
		if errnoRet != nil {
			return 0, fmt.Errorf("errnoRet %d given for %s, which returns no errno", *errnoRet, act)
		}
		return base, nil
	}
	data := uint(errnoEPERM)
	if errnoRet != nil {
		data = *errnoRet
	}
	if data > uint(retDataMask) {
		return 0, fmt.Errorf("errnoRet %d does not fit in 16 bits", data)
	}
	return base | uint32(data), nil
}

type cmpOp int

const (
	opNE cmpOp = iota
	opLT
	opLE
	opEQ
	opGE
	opGT
	opMaskedEQ
)

// parseOp is a switch, not a map: package-level maps are built at init.
func parseOp(op specs.LinuxSeccompOperator) (cmpOp, bool) {
	switch op {
	case specs.OpNotEqual:
		return opNE, true
	case specs.OpLessThan:
		return opLT, true
	case specs.OpLessEqual:
		return opLE, true
	case specs.OpEqualTo:
		return opEQ, true
	case specs.OpGreaterEqual:
		return opGE, true
	case specs.OpGreaterThan:
		return opGT, true
	case specs.OpMaskedEqual:
		return opMaskedEQ, true
	}
	return 0, false
}

// cond is one argument comparison. For opMaskedEQ, mask is the OCI "value"
// and val the OCI "valueTwo" (libseccomp's order): (arg & mask) == (val & mask).
type cond struct {
	arg  int
	op   cmpOp
	val  uint64
	mask uint64
}

// rule is one syscalls[] entry of the profile, validated.
type rule struct {
	index int // position in the profile, for messages and ordering
	names []string
	ret   uint32
	conds []cond
}

// profile is a validated LinuxSeccomp.
type profile struct {
	defRet uint32
	rules  []rule
	flags  uint
	notify bool
	arches []specs.Arch
}

func parseProfile(cfg *specs.LinuxSeccomp) (*profile, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no profile", ErrInvalidProfile)
	}
	p := &profile{arches: cfg.Architectures}
	var err error
	if p.defRet, err = parseAction(cfg.DefaultAction, cfg.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("%w: defaultAction: %w", ErrInvalidProfile, err)
	}
	p.notify = p.defRet == retUserNotif
	for i := range cfg.Syscalls {
		r, err := parseRule(i, &cfg.Syscalls[i])
		if err != nil {
			return nil, err
		}
		p.notify = p.notify || r.ret == retUserNotif
		p.rules = append(p.rules, r)
	}
	if cfg.ListenerMetadata != "" && cfg.ListenerPath == "" {
		return nil, fmt.Errorf("%w: listenerMetadata is set without listenerPath", ErrInvalidProfile)
	}
	if p.flags, err = parseFlags(cfg.Flags, p.notify); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProfile, err)
	}
	return p, nil
}

func parseRule(i int, s *specs.LinuxSyscall) (rule, error) {
	r := rule{index: i, names: s.Names}
	fail := func(format string, a ...any) (rule, error) {
		return rule{}, fmt.Errorf("%w: syscalls[%d] %s: %s", ErrInvalidProfile, i, describeNames(s.Names), fmt.Sprintf(format, a...))
	}
	if len(s.Names) == 0 {
		return fail("names is empty")
	}
	for _, n := range s.Names {
		if n == "" {
			return fail("empty syscall name")
		}
	}
	var err error
	if r.ret, err = parseAction(s.Action, s.ErrnoRet); err != nil {
		return fail("%v", err)
	}
	for j, a := range s.Args {
		op, ok := parseOp(a.Op)
		if !ok {
			return fail("args[%d]: unknown operator %q", j, a.Op)
		}
		if a.Index > 5 {
			return fail("args[%d]: index %d: syscalls have at most 6 arguments (0-5)", j, a.Index)
		}
		c := cond{arg: int(a.Index), op: op, val: a.Value, mask: ^uint64(0)}
		if op == opMaskedEQ {
			c.mask, c.val = a.Value, a.ValueTwo
		}
		r.conds = append(r.conds, c)
	}
	return r, nil
}

// describeNames renders a rule's names for an error message, shortened
// when the list is long.
func describeNames(names []string) string {
	if len(names) <= 4 {
		return "[" + strings.Join(names, " ") + "]"
	}
	return fmt.Sprintf("[%s ... (%d names)]", strings.Join(names[:3], " "), len(names))
}

// flagTSyncName is in the spec's list but has no constant in specs-go.
const flagTSyncName specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

func parseFlag(name specs.LinuxSeccompFlag) (uint, bool) {
	switch name {
	case flagTSyncName:
		return flagTSync, true
	case specs.LinuxSeccompFlagLog:
		return flagLog, true
	case specs.LinuxSeccompFlagSpecAllow:
		return flagSpecAllow, true
	case specs.LinuxSeccompFlagWaitKillableRecv:
		return flagWaitKillableRecv, true
	}
	return 0, false
}

func parseFlags(flags []specs.LinuxSeccompFlag, notify bool) (uint, error) {
	var f uint
	for _, name := range flags {
		bit, ok := parseFlag(name)
		if !ok {
			return 0, fmt.Errorf("unknown flag %q", name)
		}
		f |= bit
	}
	if notify {
		f |= flagNewListener
		if f&flagTSync != 0 {
			// With TSYNC the kernel returns a thread id on failure, which
			// collides with the listener fd unless TSYNC_ESRCH is set.
			f |= flagTSyncESRCH
		}
	}
	if f&flagWaitKillableRecv != 0 && !notify {
		return 0, fmt.Errorf("flag %s needs an SCMP_ACT_NOTIFY rule: the kernel accepts it only with a notification listener", specs.LinuxSeccompFlagWaitKillableRecv)
	}
	return f, nil
}
