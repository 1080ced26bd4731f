package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalid marks a resources value that no kernel would accept, found
// before anything was written.
var ErrInvalid = errors.New("invalid cgroup resources")

// Kernel bounds (kernel/sched/core.c, block/blk-cgroup.c).
const (
	minShares     = 2
	maxShares     = 1 << 18
	minCFSPeriod  = 1000    // 1ms
	maxCFSPeriod  = 1000000 // 1s
	minBlkWeight  = 10
	maxBlkWeight  = 1000
	maxSwappiness = 100
)

// Validate checks r for values that are wrong whatever the host: negative
// or absurd limits, malformed CPU lists, page sizes, device rules and
// unified keys. Callers run it before creating the cgroup, so that bad
// input leaves nothing behind. What depends on the host (a controller that
// is missing, a device that does not exist) is reported by Set.
func Validate(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	checks := []func(*specs.LinuxResources) error{
		validateMemory, validateCPU, validatePids, validateBlockIO,
		validateHugepages, validateNetwork, validateDevices, validateUnified,
	}
	for _, c := range checks {
		if err := c(r); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return nil
}

func validateMemory(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"limit", m.Limit}, {"reservation", m.Reservation}, {"swap", m.Swap}, {"kernelTCP", m.KernelTCP}} {
		if f.v != nil && *f.v < -1 {
			return fmt.Errorf("memory.%s %d: negative (use -1 for unlimited)", f.name, *f.v)
		}
	}
	if m.Limit != nil && m.Swap != nil && *m.Limit > 0 && *m.Swap > 0 && *m.Swap < *m.Limit {
		return fmt.Errorf("memory.swap %d is below memory.limit %d: swap is the limit of memory plus swap", *m.Swap, *m.Limit)
	}
	if m.Swappiness != nil && *m.Swappiness > maxSwappiness {
		return fmt.Errorf("memory.swappiness %d: want 0 to %d", *m.Swappiness, maxSwappiness)
	}
	return nil
}

func validateCPU(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Shares != nil && *c.Shares != 0 && (*c.Shares < minShares || *c.Shares > maxShares) {
		return fmt.Errorf("cpu.shares %d: want %d to %d", *c.Shares, minShares, maxShares)
	}
	if c.Quota != nil && *c.Quota < -1 {
		return fmt.Errorf("cpu.quota %d: negative (use -1 for unlimited)", *c.Quota)
	}
	if c.Quota != nil && *c.Quota > 0 && *c.Quota < minCFSPeriod {
		return fmt.Errorf("cpu.quota %d: below the kernel's minimum of %dµs", *c.Quota, minCFSPeriod)
	}
	if c.Period != nil && *c.Period != 0 && (*c.Period < minCFSPeriod || *c.Period > maxCFSPeriod) {
		return fmt.Errorf("cpu.period %d: want %d to %d µs", *c.Period, minCFSPeriod, maxCFSPeriod)
	}
	if c.Burst != nil && *c.Burst != 0 && (c.Quota == nil || *c.Quota <= 0 || *c.Burst > uint64(*c.Quota)) {
		return fmt.Errorf("cpu.burst %d: needs a quota at least as large", *c.Burst)
	}
	if c.RealtimeRuntime != nil && *c.RealtimeRuntime < -1 {
		return fmt.Errorf("cpu.realtimeRuntime %d: negative (use -1 for unlimited)", *c.RealtimeRuntime)
	}
	if c.RealtimeRuntime != nil && c.RealtimePeriod != nil && *c.RealtimeRuntime > 0 && uint64(*c.RealtimeRuntime) > *c.RealtimePeriod {
		return fmt.Errorf("cpu.realtimeRuntime %d exceeds cpu.realtimePeriod %d", *c.RealtimeRuntime, *c.RealtimePeriod)
	}
	if c.Idle != nil && *c.Idle != 0 && *c.Idle != 1 {
		return fmt.Errorf("cpu.idle %d: want 0 or 1", *c.Idle)
	}
	if _, err := ParseList(c.Cpus); err != nil {
		return fmt.Errorf("cpu.cpus: %w", err)
	}
	if _, err := ParseList(c.Mems); err != nil {
		return fmt.Errorf("cpu.mems: %w", err)
	}
	return nil
}

// ParseList parses a kernel CPU or memory-node list such as "0-3,6" into
// its members. The empty list means "not set".
func ParseList(s string) ([]int, error) {
	var out []int
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q: %q is not a number or range", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q: %q is not a number or range", s, part)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("%q: range %q too large", s, part)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

func validatePids(r *specs.LinuxResources) error {
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit < -1 {
		return fmt.Errorf("pids.limit %d: negative (use -1 or 0 for unlimited)", *r.Pids.Limit)
	}
	return nil
}

func validateBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	weight := func(name string, w *uint16) error {
		if w != nil && *w != 0 && (*w < minBlkWeight || *w > maxBlkWeight) {
			return fmt.Errorf("blockIO.%s %d: want %d to %d", name, *w, minBlkWeight, maxBlkWeight)
		}
		return nil
	}
	if err := weight("weight", b.Weight); err != nil {
		return err
	}
	if err := weight("leafWeight", b.LeafWeight); err != nil {
		return err
	}
	for _, d := range b.WeightDevice {
		if err := validateDeviceNumber(d.LinuxBlockIODevice); err != nil {
			return fmt.Errorf("blockIO.weightDevice: %w", err)
		}
		if err := weight("weightDevice.weight", d.Weight); err != nil {
			return err
		}
		if err := weight("weightDevice.leafWeight", d.LeafWeight); err != nil {
			return err
		}
	}
	for _, list := range [][]specs.LinuxThrottleDevice{b.ThrottleReadBpsDevice, b.ThrottleWriteBpsDevice, b.ThrottleReadIOPSDevice, b.ThrottleWriteIOPSDevice} {
		for _, d := range list {
			if err := validateDeviceNumber(d.LinuxBlockIODevice); err != nil {
				return fmt.Errorf("blockIO throttle: %w", err)
			}
		}
	}
	return nil
}

func validateDeviceNumber(d specs.LinuxBlockIODevice) error {
	if d.Major < 0 || d.Minor < 0 || d.Major > 1<<12-1 || d.Minor > 1<<20-1 {
		return fmt.Errorf("device %d:%d: not a device number", d.Major, d.Minor)
	}
	return nil
}

// validPageSize matches ^[1-9][0-9]*(KB|MB|GB)$.
func validPageSize(s string) bool {
	n := len(s) - 2
	if n < 1 || (s[n:] != "KB" && s[n:] != "MB" && s[n:] != "GB") || s[0] == '0' {
		return false
	}
	return allBytes(s[:n], func(c byte) bool { return c >= '0' && c <= '9' })
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func validateHugepages(r *specs.LinuxResources) error {
	seen := map[string]bool{}
	for _, h := range r.HugepageLimits {
		if !validPageSize(h.Pagesize) {
			return fmt.Errorf("hugepageLimits: page size %q: want a number and KB, MB or GB, as in 2MB", h.Pagesize)
		}
		if seen[h.Pagesize] {
			return fmt.Errorf("hugepageLimits: page size %s given twice", h.Pagesize)
		}
		seen[h.Pagesize] = true
	}
	return nil
}

// validIface matches ^[^/\s:]{1,15}$: a network interface name.
func validIface(s string) bool {
	return len(s) >= 1 && len(s) <= 15 && !strings.ContainsAny(s, "/: \t\n\r\v\f")
}

func validateNetwork(r *specs.LinuxResources) error {
	if r.Network == nil {
		return nil
	}
	for _, p := range r.Network.Priorities {
		if !validIface(p.Name) {
			return fmt.Errorf("network.priorities: %q is not an interface name", p.Name)
		}
	}
	return nil
}

func validateDevices(r *specs.LinuxResources) error {
	for i, d := range r.Devices {
		switch d.Type {
		case "", "a", "b", "c":
		default:
			return fmt.Errorf("devices[%d]: type %q: want a, b or c", i, d.Type)
		}
		if strings.Trim(d.Access, "rwm") != "" {
			return fmt.Errorf("devices[%d]: access %q: want letters from rwm", i, d.Access)
		}
		for _, n := range []*int64{d.Major, d.Minor} {
			if n != nil && (*n < -1 || *n > 1<<31-1) {
				return fmt.Errorf("devices[%d]: device number %d out of range", i, *n)
			}
		}
	}
	return nil
}

// unifiedKeyRE is "<controller>.<file>": no slashes, no dot-dot, nothing
// that could name a file outside the container's own cgroup directory.
func validUnifiedKey(k string) bool {
	parts := strings.Split(k, ".")
	if len(parts) < 2 || len(parts[0]) == 0 || parts[0][0] < 'a' || parts[0][0] > 'z' {
		return false
	}
	for _, p := range parts {
		if p == "" || !allBytes(p, func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' }) {
			return false
		}
	}
	return true
}

// unifiedCoreKeys are the cgroup.* files a config may set. The others
// (procs, threads, subtree_control, kill, freeze, type) are the runtime's
// to manage: writing them from a config would move processes or break the
// runtime's own bookkeeping.
var unifiedCoreKeys = map[string]bool{
	"cgroup.max.depth":       true,
	"cgroup.max.descendants": true,
}

func validateUnified(r *specs.LinuxResources) error {
	for k, v := range r.Unified {
		if !validUnifiedKey(k) {
			return fmt.Errorf("unified key %q: want <controller>.<file>, as in memory.high", k)
		}
		if strings.HasPrefix(k, "cgroup.") && !unifiedCoreKeys[k] {
			return fmt.Errorf("unified key %q: managed by the runtime, not settable from the config", k)
		}
		if strings.ContainsAny(v, "\n\x00") {
			return fmt.Errorf("unified %s: value %q holds a newline or NUL", k, v)
		}
	}
	return nil
}
