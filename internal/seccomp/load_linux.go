package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Load installs the filter and returns the user-notification listener fd
// (close-on-exec, owned by the caller) when the profile uses
// SCMP_ACT_NOTIFY, else -1.
//
// A filter binds the calling OS thread only, unless the profile sets
// SECCOMP_FILTER_FLAG_TSYNC: call Load with runtime.LockOSThread held, on
// the thread that will execve the container process, and never unlock it.
// The kernel requires no_new_privs to be set or CAP_SYS_ADMIN to be held.
// Every syscall after Load (the Go runtime's included) is filtered, so Load
// belongs as late before execve as possible.
func (p *Program) Load() (int, error) {
	if len(p.Filter) == 0 {
		return -1, errors.New("seccomp: empty program")
	}
	filter := make([]unix.SockFilter, len(p.Filter))
	for i, in := range p.Filter {
		filter[i] = unix.SockFilter{Code: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	// RawSyscall: nothing of the scheduler runs between the filter taking
	// effect and the return.
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(p.Flags), uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return -1, p.loadError(errno)
	}
	if p.Notify() {
		return int(r), nil
	}
	if r != 0 {
		// TSYNC without a listener reports the thread it could not move.
		return -1, fmt.Errorf("seccomp: load filter: thread %d has a diverging filter and cannot be synchronized", r)
	}
	return -1, nil
}

// loadError explains why the kernel refused the filter.
func (p *Program) loadError(errno unix.Errno) error {
	switch errno {
	case unix.EACCES:
		return fmt.Errorf("seccomp: load filter: %w (set no_new_privs first, or hold CAP_SYS_ADMIN)", errno)
	case unix.ESRCH:
		return fmt.Errorf("seccomp: load filter: %w (SECCOMP_FILTER_FLAG_TSYNC: another thread has a diverging filter)", errno)
	case unix.EINVAL:
		if err := p.checkSupport(); err != nil {
			return fmt.Errorf("seccomp: load filter: %w", err)
		}
	}
	return fmt.Errorf("seccomp: load filter: %w", errno)
}

// checkSupport reports the first flag or action of p the running kernel
// lacks.
func (p *Program) checkSupport() error {
	for _, f := range []struct {
		bit  uint
		name string
	}{
		{flagTSync, "SECCOMP_FILTER_FLAG_TSYNC"},
		{flagLog, string(specs.LinuxSeccompFlagLog)},
		{flagSpecAllow, string(specs.LinuxSeccompFlagSpecAllow)},
		{flagNewListener, "SECCOMP_FILTER_FLAG_NEW_LISTENER (for SCMP_ACT_NOTIFY)"},
		{flagTSyncESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH (for TSYNC with SCMP_ACT_NOTIFY)"},
		{flagWaitKillableRecv, string(specs.LinuxSeccompFlagWaitKillableRecv)},
	} {
		if p.Flags&f.bit != 0 {
			if err := probeFlag(f.bit); err != nil {
				return fmt.Errorf("flag %s: %w", f.name, err)
			}
		}
	}
	for _, r := range p.rets {
		if err := probeAction(r & retActionMask); err != nil {
			return fmt.Errorf("action %#x: %w", r&retActionMask, err)
		}
	}
	return nil
}

// ErrUnsupported is wrapped by errors for a flag or action the running
// kernel does not implement.
var ErrUnsupported = errors.New("not supported by this kernel")

// FlagSupported reports whether the running kernel accepts a seccomp flag
// named in the runtime spec; it returns an error wrapping ErrUnsupported if
// not, and ErrInvalidProfile for a name the spec does not define.
func FlagSupported(name specs.LinuxSeccompFlag) error {
	bit, ok := parseFlag(name)
	if !ok {
		return fmt.Errorf("%w: unknown flag %q", ErrInvalidProfile, name)
	}
	return probeFlag(bit)
}

// probeFlag asks seccomp(2) to install a filter from a NULL program with
// the flag set: the kernel checks flags before it reads the program, so a
// known flag fails with EFAULT and an unknown one with EINVAL. Nothing is
// installed either way (libseccomp probes the same way).
func probeFlag(bit uint) error {
	if bit == flagWaitKillableRecv || bit == flagTSyncESRCH {
		// Accepted only together with the listener flag.
		bit |= flagNewListener
	}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bit), 0)
	switch errno {
	case unix.EFAULT:
		return nil
	case unix.EINVAL:
		return ErrUnsupported
	}
	return fmt.Errorf("probe: %w", errno)
}

// ActionSupported reports whether the running kernel implements an action
// (SECCOMP_GET_ACTION_AVAIL): KILL_PROCESS and LOG need Linux 4.14, NOTIFY
// needs 5.0.
func ActionSupported(act specs.LinuxSeccompAction) error {
	r, err := parseAction(act, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidProfile, err)
	}
	return probeAction(r & retActionMask)
}

func probeAction(r uint32) error {
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&r)))
	switch errno {
	case 0:
		return nil
	case unix.EOPNOTSUPP:
		return ErrUnsupported
	}
	return fmt.Errorf("probe: %w", errno)
}
