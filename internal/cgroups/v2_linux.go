package cgroups

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups/devicefilter"
)

// v2 writes resources to the container's directory in the unified tree.
type v2 struct {
	m      *Manager
	update bool
	// controllers is the directory's cgroup.controllers, read at most
	// once per set (only when some field needs a controller).
	controllers *string
}

func (d v2) set(r *specs.LinuxResources) error {
	dir, ok := d.m.Path("")
	if !ok {
		return fmt.Errorf("cgroup v2 manager has no cgroup2 directory")
	}
	d.controllers = new(string)
	steps := []struct {
		name string
		fn   func(string, *specs.LinuxResources) error
	}{
		{"cpuset", d.cpuset},
		{"cpu", d.cpu},
		{"memory", d.memory},
		{"pids", d.pids},
		{"io", d.io},
		{"hugetlb", d.hugetlb},
		{"network", d.network},
		{"rdma", d.rdma},
		{"unified", d.unified},
		{"devices", d.devices},
	}
	for _, s := range steps {
		if err := s.fn(dir, r); err != nil {
			return fmt.Errorf("cgroup v2 %s: %w", s.name, err)
		}
	}
	return nil
}

// need fails unless controller is enabled for the cgroup at dir.
func (d v2) need(dir, controller, field string) error {
	if *d.controllers == "" {
		s, err := readFile(dir, "cgroup.controllers")
		if err != nil {
			return err
		}
		*d.controllers = " " + s + " "
	}
	if strings.Contains(*d.controllers, " "+controller+" ") {
		return nil
	}
	return fmt.Errorf("linux.resources.%s needs the %s controller, which is not enabled for %s: %w", field, controller, dir, ErrNotSupported)
}

func (d v2) cpuset(dir string, r *specs.LinuxResources) error {
	if r.CPU == nil || (r.CPU.Cpus == "" && r.CPU.Mems == "") {
		return nil
	}
	if err := d.need(dir, "cpuset", "cpu.cpus"); err != nil {
		return err
	}
	if r.CPU.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", r.CPU.Cpus); err != nil {
			return err
		}
	}
	if r.CPU.Mems != "" {
		return writeFile(dir, "cpuset.mems", r.CPU.Mems)
	}
	return nil
}

func (d v2) cpu(dir string, r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if (c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0) || (c.RealtimePeriod != nil && *c.RealtimePeriod != 0) {
		return fmt.Errorf("linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime group scheduling: %w", ErrNotSupported)
	}
	if c.Shares == nil && c.Quota == nil && c.Period == nil && c.Burst == nil && c.Idle == nil {
		return nil
	}
	if err := d.need(dir, "cpu", "cpu"); err != nil {
		return err
	}
	if c.Shares != nil && *c.Shares != 0 {
		if err := writeFile(dir, "cpu.weight", strconv.FormatUint(CPUWeight(*c.Shares), 10)); err != nil {
			return err
		}
	}
	if err := d.cpuMax(dir, c); err != nil {
		return err
	}
	if c.Burst != nil {
		if err := writeFile(dir, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)); err != nil {
			return err
		}
	}
	if c.Idle != nil {
		return writeFile(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10))
	}
	return nil
}

// cpuMax writes "quota period" to cpu.max, keeping whichever half the
// config leaves out.
func (d v2) cpuMax(dir string, c *specs.LinuxCPU) error {
	hasQuota := c.Quota != nil && *c.Quota != 0
	hasPeriod := c.Period != nil && *c.Period != 0
	if !hasQuota && !hasPeriod {
		return nil
	}
	cur, err := readFile(dir, "cpu.max")
	if err != nil {
		return err
	}
	quota, period, _ := strings.Cut(cur, " ")
	if hasQuota {
		quota = limitString(*c.Quota, Unified)
	}
	if hasPeriod {
		period = strconv.FormatUint(*c.Period, 10)
	}
	return writeFile(dir, "cpu.max", quota+" "+period)
}

func (d v2) memory(dir string, r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	if m.Swappiness != nil {
		return fmt.Errorf("linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness: %w", ErrNotSupported)
	}
	// kernel, kernelTCP and disableOOMKiller have no v2 interface; the spec
	// marks kernel deprecated and lets runtimes ignore it, and runc and crun
	// ignore all three on v2.
	if m.Limit == nil && m.Swap == nil && m.Reservation == nil {
		return nil
	}
	if err := d.need(dir, "memory", "memory"); err != nil {
		return err
	}
	if err := (v1{m: d.m, update: d.update}).checkUsage(dir, "memory.current", m); err != nil {
		return err
	}
	if err := d.swap(dir, m); err != nil {
		return err
	}
	if m.Limit != nil && *m.Limit != 0 {
		if err := writeFile(dir, "memory.max", limitString(*m.Limit, Unified)); err != nil {
			return err
		}
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		return writeFile(dir, "memory.low", limitString(*m.Reservation, Unified))
	}
	return nil
}

func (d v2) swap(dir string, m *specs.LinuxMemory) error {
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		swap = *m.Swap
	}
	v, err := SwapV2(swap, limit)
	if err != nil {
		return err
	}
	if v == 0 && swap == 0 {
		return nil
	}
	if !exists(dir, "memory.swap.max") {
		if v == 0 || (v == -1 && swap == 0) {
			return nil // no swap accounting, and no swap beyond the limit asked
		}
		return fmt.Errorf("linux.resources.memory.swap: this kernel has no swap accounting (memory.swap.max): %w", ErrNotSupported)
	}
	return writeFile(dir, "memory.swap.max", limitString(v, Unified))
}

func (d v2) pids(dir string, r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	if err := d.need(dir, "pids", "pids"); err != nil {
		return err
	}
	return writeFile(dir, "pids.max", pidsMax(*r.Pids.Limit))
}

func (d v2) io(dir string, r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return fmt.Errorf("linux.resources.blockIO.leafWeight: a CFQ setting with no cgroup v2 equivalent: %w", ErrNotSupported)
	}
	if err := d.need(dir, "io", "blockIO"); err != nil {
		return err
	}
	if err := d.ioWeights(dir, b); err != nil {
		return err
	}
	for _, t := range []struct {
		key  string
		list []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice}, {"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice}, {"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.list {
			rate := strconv.FormatUint(td.Rate, 10)
			if td.Rate == 0 {
				rate = "max"
			}
			v := fmt.Sprintf("%d:%d %s=%s", td.Major, td.Minor, t.key, rate)
			if err := writeFile(dir, "io.max", v); err != nil {
				return fmt.Errorf("device %d:%d: %w", td.Major, td.Minor, err)
			}
		}
	}
	return nil
}

// ioWeights prefers BFQ's io.bfq.weight, which takes the v1 range as is,
// and falls back to io.weight (blk-iocost) with the v1 range converted.
func (d v2) ioWeights(dir string, b *specs.LinuxBlockIO) error {
	file, conv := "io.weight", func(w uint16) uint64 { return IOWeight(w) }
	if exists(dir, "io.bfq.weight") {
		file, conv = "io.bfq.weight", func(w uint16) uint64 { return uint64(w) }
	}
	hasWeights := (b.Weight != nil && *b.Weight != 0) || len(b.WeightDevice) > 0
	if hasWeights && !exists(dir, file) {
		return fmt.Errorf("linux.resources.blockIO.weight: the kernel offers neither io.bfq.weight nor io.weight: %w", ErrNotSupported)
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeFile(dir, file, fmt.Sprintf("default %d", conv(*b.Weight))); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.LeafWeight != nil && *wd.LeafWeight != 0 {
			return fmt.Errorf("linux.resources.blockIO.weightDevice.leafWeight: no cgroup v2 equivalent: %w", ErrNotSupported)
		}
		if wd.Weight == nil {
			continue
		}
		if err := writeFile(dir, file, fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, conv(*wd.Weight))); err != nil {
			return fmt.Errorf("device %d:%d: %w", wd.Major, wd.Minor, err)
		}
	}
	return nil
}

func (d v2) hugetlb(dir string, r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	if err := d.need(dir, "hugetlb", "hugepageLimits"); err != nil {
		return err
	}
	for _, h := range r.HugepageLimits {
		if err := checkPageSize(h.Pagesize); err != nil {
			return err
		}
		v := strconv.FormatUint(h.Limit, 10)
		if err := writeFile(dir, "hugetlb."+h.Pagesize+".max", v); err != nil {
			return err
		}
		// The spec limits reservations where the kernel can.
		if exists(dir, "hugetlb."+h.Pagesize+".rsvd.max") {
			if err := writeFile(dir, "hugetlb."+h.Pagesize+".rsvd.max", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d v2) network(dir string, r *specs.LinuxResources) error {
	if r.Network == nil || (r.Network.ClassID == nil && len(r.Network.Priorities) == 0) {
		return nil
	}
	return fmt.Errorf("linux.resources.network: net_cls and net_prio are cgroup v1 controllers with no v2 equivalent: %w", ErrNotSupported)
}

func (d v2) rdma(dir string, r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	if err := d.need(dir, "rdma", "rdma"); err != nil {
		return err
	}
	return writeRdma(dir, r.Rdma)
}

// unified writes the raw key/value pairs after checking that each names a
// file of an enabled controller in the container's own directory.
func (d v2) unified(dir string, r *specs.LinuxResources) error {
	keys := make([]string, 0, len(r.Unified))
	for k := range r.Unified {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		controller, _, _ := strings.Cut(k, ".")
		if controller != "cgroup" {
			if err := d.need(dir, controller, "unified["+k+"]"); err != nil {
				return err
			}
		}
		if !exists(dir, k) || filepath.Base(k) != k {
			return fmt.Errorf("linux.resources.unified: %q is not an interface file of %s", k, dir)
		}
	}
	for _, k := range keys {
		if err := writeFile(dir, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}

func (d v2) devices(dir string, r *specs.LinuxResources) error {
	if d.update && len(r.Devices) == 0 {
		return nil
	}
	return devicefilter.Apply(dir, deviceRules(r.Devices))
}
