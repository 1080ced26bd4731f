// Package caps maps capability names to numbers and applies the five
// capability sets (bounding, effective, permitted, inheritable, ambient) of
// an OCI process to the calling thread.
//
// Apply runs in the container init after the switch to the container's
// user: the bounding set is dropped first, while CAP_SETPCAP is still held,
// and the other sets are set last. Callers must run it on the thread that
// will execve (it changes per-thread credentials).
package caps

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrUnknown marks a capability name that capabilities(7) does not define.
var ErrUnknown = errors.New("unknown capability")

// names is indexed by capability number, as in <linux/capability.h>.
var names = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Names returns every capability name known to this package, in number
// order.
func Names() []string { return append([]string(nil), names[:]...) }

// Number returns the capability number for a name such as "CAP_CHOWN"
// (case-insensitive; the "CAP_" prefix is optional).
func Number(name string) (int, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, v := range names {
		if v == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrUnknown, name)
}

// LastCap returns the highest capability number the running kernel knows
// (read once per process).
func LastCap() int {
	lastCapOnce.Do(func() {
		lastCap = len(names) - 1
		b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
		if err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				lastCap = n
			}
		}
	})
	return lastCap
}

var (
	lastCapOnce sync.Once
	lastCap     int
)

// Set is a capability set as a bit mask.
type Set uint64

// Has reports whether capability c is in the set.
func (s Set) Has(c int) bool { return s&(1<<uint(c)) != 0 }

// Sets are the five sets of one process, resolved to numbers.
type Sets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient Set
}

// Parse resolves the names in c. A name capabilities(7) does not define is
// an error; a name this kernel does not support is left out and reported in
// the returned warnings, as the runtime-spec asks.
func Parse(c *specs.LinuxCapabilities) (Sets, []string, error) {
	var s Sets
	var warnings []string
	if c == nil {
		return s, nil, nil
	}
	last := LastCap()
	lists := []struct {
		name string
		in   []string
		out  *Set
	}{
		{"bounding", c.Bounding, &s.Bounding},
		{"effective", c.Effective, &s.Effective},
		{"permitted", c.Permitted, &s.Permitted},
		{"inheritable", c.Inheritable, &s.Inheritable},
		{"ambient", c.Ambient, &s.Ambient},
	}
	for _, l := range lists {
		for _, name := range l.in {
			n, err := Number(name)
			if err != nil {
				return s, nil, fmt.Errorf("process.capabilities.%s: %w", l.name, err)
			}
			if n > last {
				warnings = append(warnings, fmt.Sprintf("capability %s is not supported by this kernel: ignored", name))
				continue
			}
			*l.out |= 1 << uint(n)
		}
	}
	return s, warnings, nil
}

// DropBounding removes from the calling thread's bounding set every
// capability not in keep. It needs CAP_SETPCAP.
func DropBounding(keep Set) error {
	for c := 0; c <= LastCap(); c++ {
		if keep.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				continue // not known to this kernel
			}
			return fmt.Errorf("drop %s from the bounding set: %w", names[c], err)
		}
	}
	return nil
}

// SetProcess sets the effective, permitted and inheritable sets of the
// calling thread and then the ambient set. An ambient capability the kernel
// refuses (it must be both permitted and inheritable) is left out and
// reported as a warning, as the runtime-spec asks for capabilities that
// cannot be granted; runc's default config asks for exactly that.
func SetProcess(s Sets) ([]string, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var cur [2]unix.CapUserData
	if err := unix.Capget(&hdr, &cur[0]); err != nil {
		return nil, os.NewSyscallError("capget", err)
	}
	// Capabilities this process does not hold cannot be granted: leave
	// them out with a warning rather than fail, as the runtime-spec asks.
	held := Set(cur[0].Permitted) | Set(cur[1].Permitted)<<32
	inheritable := Set(cur[0].Inheritable) | Set(cur[1].Inheritable)<<32 | boundingSet()
	var warnings []string
	s.Permitted = keep(s.Permitted, held, "permitted", &warnings)
	s.Effective = keep(s.Effective, s.Permitted, "effective", &warnings)
	s.Inheritable = keep(s.Inheritable, inheritable, "inheritable", &warnings)
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(s.Effective >> (32 * i))
		data[i].Permitted = uint32(s.Permitted >> (32 * i))
		data[i].Inheritable = uint32(s.Inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return nil, os.NewSyscallError("capset", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return nil, fmt.Errorf("clear ambient capabilities: %w", err)
	}
	var notRaised []string
	for c := 0; c <= LastCap(); c++ {
		if !s.Ambient.Has(c) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			notRaised = append(notRaised, names[c])
		}
	}
	if len(notRaised) > 0 {
		warnings = append(warnings, fmt.Sprintf("ambient capabilities not raised (each must also be permitted and inheritable): %s", strings.Join(notRaised, ", ")))
	}
	return warnings, nil
}

// keep returns want ∩ have and adds a warning for each capability left out.
func keep(want, have Set, set string, warnings *[]string) Set {
	for c := 0; c < len(names); c++ {
		if want.Has(c) && !have.Has(c) {
			*warnings = append(*warnings, fmt.Sprintf("%s capability %s cannot be granted (the runtime does not hold it): left out", set, names[c]))
		}
	}
	return want & have
}

// boundingSet reads the calling thread's bounding set.
func boundingSet() Set {
	var s Set
	for c := 0; c <= LastCap(); c++ {
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && r == 1 {
			s |= 1 << uint(c)
		}
	}
	return s
}
