package systemd

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

func prop(name string, v any) sdbus.Property {
	return sdbus.Property{Name: name, Value: dbus.MakeVariant(v)}
}

// infinity is how systemd's D-Bus API spells "no limit" for a uint64.
const infinity = uint64(math.MaxUint64)

// limit converts an OCI limit where -1 means unlimited.
func limit(v int64) uint64 {
	if v < 0 {
		return infinity
	}
	return uint64(v)
}

// scopeProperties is the property list of StartTransientUnit for the
// container's scope: what the unit is, where it goes, the init's pid, and
// the resources systemd can express (the rest is written to the cgroup
// files afterwards). extra (from annotations) come last and may not
// repeat a name already set.
func scopeProperties(s cgroups.Scope, desc string, pid int, mode cgroups.Mode, r *specs.LinuxResources, extra []sdbus.Property) ([]sdbus.Property, error) {
	props := []sdbus.Property{
		prop("Description", desc),
		prop("Slice", s.Slice),
		// DefaultDependencies=no: a container's scope must not be ordered
		// after basic.target or stopped by shutdown.target before its
		// owner stops it.
		prop("DefaultDependencies", false),
		// Delegate=yes: the subtree is ours (sub-cgroups, controllers,
		// the device program); systemd leaves it alone.
		prop("Delegate", true),
		prop("PIDs", []uint32{uint32(pid)}),
		prop("MemoryAccounting", true),
		prop("CPUAccounting", true),
		prop("TasksAccounting", true),
	}
	if mode == cgroups.Unified {
		props = append(props, prop("IOAccounting", true))
	} else {
		props = append(props, prop("BlockIOAccounting", true))
	}
	res, err := resourceProperties(mode, r)
	if err != nil {
		return nil, err
	}
	props = append(props, res...)
	seen := map[string]bool{}
	for _, p := range props {
		seen[p.Name] = true
	}
	for _, p := range extra {
		if seen[p.Name] {
			return nil, fmt.Errorf("annotation %s%s: pelagos sets that property itself", cgroups.AnnotationPrefix, p.Name)
		}
		props = append(props, p)
	}
	return props, nil
}

// resourceProperties converts the resources systemd has a property for,
// with the same conversions the cgroup files get (cpu.shares to weight,
// the v2 swap arithmetic), so that systemd and the files agree. A nil r
// gives none.
func resourceProperties(mode cgroups.Mode, r *specs.LinuxResources) ([]sdbus.Property, error) {
	if r == nil {
		return nil, nil
	}
	var props []sdbus.Property
	mem, err := memoryProperties(mode, r.Memory)
	if err != nil {
		return nil, err
	}
	props = append(props, mem...)
	cpu, err := cpuProperties(mode, r.CPU)
	if err != nil {
		return nil, err
	}
	props = append(props, cpu...)
	if r.Pids != nil && r.Pids.Limit != nil {
		// As pids.max: zero or below is no limit.
		n := *r.Pids.Limit
		if n <= 0 {
			n = -1
		}
		props = append(props, prop("TasksMax", limit(n)))
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		if mode == cgroups.Unified {
			props = append(props, prop("IOWeight", cgroups.IOWeight(*b.Weight)))
		} else {
			props = append(props, prop("BlockIOWeight", uint64(*b.Weight)))
		}
	}
	return props, nil
}

func memoryProperties(mode cgroups.Mode, m *specs.LinuxMemory) ([]sdbus.Property, error) {
	if m == nil {
		return nil, nil
	}
	var props []sdbus.Property
	lim := int64(0)
	if m.Limit != nil {
		lim = *m.Limit
	}
	if mode != cgroups.Unified {
		if lim != 0 {
			props = append(props, prop("MemoryLimit", limit(lim)))
		}
		return props, nil
	}
	if lim != 0 {
		props = append(props, prop("MemoryMax", limit(lim)))
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		props = append(props, prop("MemoryLow", limit(*m.Reservation)))
	}
	if m.Swap != nil {
		swap, err := cgroups.SwapV2(*m.Swap, lim)
		if err != nil {
			return nil, err
		}
		if swap != 0 {
			props = append(props, prop("MemorySwapMax", limit(swap)))
		}
	}
	return props, nil
}

func cpuProperties(mode cgroups.Mode, c *specs.LinuxCPU) ([]sdbus.Property, error) {
	if c == nil {
		return nil, nil
	}
	var props []sdbus.Property
	if c.Shares != nil && *c.Shares != 0 {
		if mode == cgroups.Unified {
			props = append(props, prop("CPUWeight", cgroups.CPUWeight(*c.Shares)))
		} else {
			props = append(props, prop("CPUShares", *c.Shares))
		}
	}
	var period uint64
	if c.Period != nil {
		period = *c.Period
	}
	if period != 0 {
		props = append(props, prop("CPUQuotaPeriodUSec", period))
	}
	if c.Quota != nil && *c.Quota != 0 {
		props = append(props, prop("CPUQuotaPerSecUSec", quotaPerSec(*c.Quota, period)))
	}
	if mode == cgroups.Unified {
		for _, s := range []struct{ name, list string }{{"AllowedCPUs", c.Cpus}, {"AllowedMemoryNodes", c.Mems}} {
			if s.list == "" {
				continue
			}
			bits, err := rangeToBits(s.list)
			if err != nil {
				return nil, fmt.Errorf("cpu: %w", err)
			}
			props = append(props, prop(s.name, bits))
		}
	}
	return props, nil
}

// quotaPerSec converts a CFS quota per period (µs) to systemd's
// CPUQuotaPerSecUSec, the CPU time allowed per second, rounded up to
// whole 10 ms as systemd itself rounds CPUQuota= (so that the value
// systemd writes to cpu.max is never below what was asked). A period of 0
// is the kernel's default, 100 ms; a negative quota is no limit.
func quotaPerSec(quota int64, period uint64) uint64 {
	if quota < 0 {
		return infinity
	}
	if period == 0 {
		period = 100000
	}
	perSec := uint64(quota) * 1000000 / period
	if perSec%10000 != 0 {
		perSec = (perSec/10000 + 1) * 10000
	}
	return perSec
}

// rangeToBits converts a cpuset list ("0-3,7") to the little-endian
// bitmask systemd's AllowedCPUs/AllowedMemoryNodes take (byte 0 bit 0 is
// CPU 0).
func rangeToBits(list string) ([]byte, error) {
	var bits []byte
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("cpuset list %q: bad entry %q", list, part)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
				return nil, fmt.Errorf("cpuset list %q: bad range %q", list, part)
			}
		}
		for i := first; i <= last; i++ {
			for uint64(len(bits)) <= i/8 {
				bits = append(bits, 0)
			}
			bits[i/8] |= 1 << (i % 8)
		}
	}
	return bits, nil
}

// AnnotationProperties turns the org.systemd.property.* annotations of a
// config into unit properties, as runc does: the value is a GVariant text
// ("true", "uint64 1024", "'text'"), and a name ending in "Sec" is given
// in seconds and sent as the matching "USec" property in microseconds.
func AnnotationProperties(annotations map[string]string) ([]sdbus.Property, error) {
	var names []string
	for k := range annotations {
		if strings.HasPrefix(k, cgroups.AnnotationPrefix) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var props []sdbus.Property
	for _, k := range names {
		p, err := annotationProperty(strings.TrimPrefix(k, cgroups.AnnotationPrefix), annotations[k])
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", k, err)
		}
		props = append(props, p)
	}
	return props, nil
}

func annotationProperty(name, value string) (sdbus.Property, error) {
	if name == "" || strings.IndexFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
	}) >= 0 {
		return sdbus.Property{}, fmt.Errorf("property name %q: want letters and digits only", name)
	}
	v, err := dbus.ParseVariant(value, dbus.Signature{})
	if err != nil {
		return sdbus.Property{}, fmt.Errorf("value %q: %w", value, err)
	}
	if base, ok := strings.CutSuffix(name, "Sec"); ok && !strings.HasSuffix(name, "USec") {
		usec, err := secToUSec(v)
		if err != nil {
			return sdbus.Property{}, fmt.Errorf("value %q: %w", value, err)
		}
		return prop(base+"USec", usec), nil
	}
	return sdbus.Property{Name: name, Value: v}, nil
}

// secToUSec converts a number of seconds (any numeric GVariant) to µs.
func secToUSec(v dbus.Variant) (uint64, error) {
	var sec float64
	switch x := v.Value().(type) {
	case int32:
		sec = float64(x)
	case int64:
		sec = float64(x)
	case uint32:
		sec = float64(x)
	case uint64:
		sec = float64(x)
	case float64:
		sec = x
	default:
		return 0, fmt.Errorf("want a number of seconds, not %s", v.Signature())
	}
	if sec < 0 || sec > float64(math.MaxUint64/1000000) {
		return 0, fmt.Errorf("seconds out of range")
	}
	return uint64(sec * 1000000), nil
}
