package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrBelowUsage is returned by Update when memory.checkBeforeUpdate is set
// and the new memory limit is lower than what the container already uses.
var ErrBelowUsage = errors.New("new memory limit is below current usage")

// v1 writes resources to the per-controller hierarchies.
type v1 struct {
	m      *Manager
	update bool
}

func (d v1) set(r *specs.LinuxResources) error {
	steps := []struct {
		name string
		fn   func(*specs.LinuxResources) error
	}{
		{"cpuset", d.cpuset},
		{"cpu", d.cpu},
		{"memory", d.memory},
		{"pids", d.pids},
		{"blkio", d.blkio},
		{"hugetlb", d.hugetlb},
		{"network", d.network},
		{"rdma", d.rdma},
		{"unified", d.unified},
		{"devices", d.devices},
	}
	for _, s := range steps {
		if err := s.fn(r); err != nil {
			return fmt.Errorf("cgroup v1 %s: %w", s.name, err)
		}
	}
	return nil
}

// dir returns the container's directory in the hierarchy of controller, or
// an error naming the resource field that needs it.
func (d v1) dir(controller, field string) (string, error) {
	if p, ok := d.m.Path(controller); ok {
		return p, nil
	}
	return "", fmt.Errorf("linux.resources.%s needs the %s controller, which is not mounted on this host: %w", field, controller, ErrNotSupported)
}

func (d v1) cpuset(r *specs.LinuxResources) error {
	if r.CPU == nil || (r.CPU.Cpus == "" && r.CPU.Mems == "") {
		return nil
	}
	dir, err := d.dir("cpuset", "cpu.cpus")
	if err != nil {
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

func (d v1) cpu(r *specs.LinuxResources) error {
	c := r.CPU
	if c == nil || (c.Shares == nil && c.Quota == nil && c.Period == nil && c.Burst == nil &&
		c.RealtimePeriod == nil && c.RealtimeRuntime == nil && c.Idle == nil) {
		return nil
	}
	dir, err := d.dir("cpu", "cpu")
	if err != nil {
		return err
	}
	if c.Shares != nil && *c.Shares != 0 {
		// The kernel clamps out-of-range shares silently, to the bounds
		// Validate already enforces (MIN_SHARES and MAX_SHARES, fixed in
		// kernel/sched/sched.h), so there is nothing to read back.
		if err := writeFile(dir, "cpu.shares", strconv.FormatUint(*c.Shares, 10)); err != nil {
			return err
		}
	}
	if c.Period != nil && *c.Period != 0 {
		if err := writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10)); err != nil {
			return err
		}
	}
	if c.Quota != nil && *c.Quota != 0 {
		if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10)); err != nil {
			return err
		}
	}
	if c.Burst != nil {
		if err := d.optional(dir, "cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10), *c.Burst == 0, "cpu.burst"); err != nil {
			return err
		}
	}
	if err := d.realtime(dir, c); err != nil {
		return err
	}
	if c.Idle != nil {
		return d.optional(dir, "cpu.idle", strconv.FormatInt(*c.Idle, 10), *c.Idle == 0, "cpu.idle")
	}
	return nil
}

// optional writes a file that older kernels lack; a missing file is an
// error only when the value asks for something other than the default.
func (d v1) optional(dir, file, value string, isDefault bool, field string) error {
	if !exists(dir, file) {
		if isDefault {
			return nil
		}
		return fmt.Errorf("linux.resources.%s: this kernel has no %s: %w", field, file, ErrNotSupported)
	}
	return writeFile(dir, file, value)
}

// realtime sets the RT bandwidth. A new cgroup starts with
// cpu.rt_runtime_us 0 and a child can never get more than its parent, so
// the ancestors this manager created get the same runtime first.
func (d v1) realtime(dir string, c *specs.LinuxCPU) error {
	if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
		if err := writeFile(dir, "cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10)); err != nil {
			return err
		}
	}
	if c.RealtimeRuntime == nil || *c.RealtimeRuntime == 0 {
		return nil
	}
	runtime := strconv.FormatInt(*c.RealtimeRuntime, 10)
	for _, anc := range d.m.createdAncestors(dir) {
		if err := writeFile(anc, "cpu.rt_runtime_us", runtime); err != nil {
			return err
		}
	}
	return writeFile(dir, "cpu.rt_runtime_us", runtime)
}

func (d v1) memory(r *specs.LinuxResources) error {
	m := r.Memory
	if m == nil {
		return nil
	}
	dir, err := d.dir("memory", "memory")
	if err != nil {
		return err
	}
	if err := d.checkUsage(dir, "memory.usage_in_bytes", m); err != nil {
		return err
	}
	if err := d.memoryLimits(dir, m); err != nil {
		return err
	}
	if m.Reservation != nil && *m.Reservation != 0 {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", limitString(*m.Reservation, Legacy)); err != nil {
			return err
		}
	}
	if err := d.kernelMemory(dir, m); err != nil {
		return err
	}
	if m.Swappiness != nil {
		if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10)); err != nil {
			return err
		}
	}
	if m.DisableOOMKiller != nil {
		v := "0"
		if *m.DisableOOMKiller {
			v = "1"
		}
		return writeFile(dir, "memory.oom_control", v)
	}
	return nil
}

// checkUsage refuses, on update, a limit below current usage when the
// config asks for that check.
func (d v1) checkUsage(dir, usageFile string, m *specs.LinuxMemory) error {
	if !d.update || m.CheckBeforeUpdate == nil || !*m.CheckBeforeUpdate || m.Limit == nil || *m.Limit <= 0 {
		return nil
	}
	usage, err := readUint(dir, usageFile)
	if err != nil {
		return err
	}
	if uint64(*m.Limit) < usage {
		return fmt.Errorf("memory.limit %d, usage %d: %w", *m.Limit, usage, ErrBelowUsage)
	}
	return nil
}

// memoryLimits writes memory.limit_in_bytes and memory.memsw.limit_in_bytes
// in the order the kernel accepts: memsw must never be below the limit, so
// memsw goes first when it grows past the current limit and last otherwise.
func (d v1) memoryLimits(dir string, m *specs.LinuxMemory) error {
	var limit, swap int64
	if m.Limit != nil {
		limit = *m.Limit
	}
	if m.Swap != nil {
		swap = *m.Swap
	}
	if limit == -1 && swap == 0 && exists(dir, "memory.memsw.limit_in_bytes") {
		swap = -1 // unlimited memory: unlimited swap too, or the write fails
	}
	if swap != 0 && !exists(dir, "memory.memsw.limit_in_bytes") {
		if swap == limit || swap == -1 {
			swap = 0 // no swap accounting, and nothing beyond the limit asked
		} else {
			return fmt.Errorf("memory.swap: this kernel has no swap accounting (memory.memsw.limit_in_bytes; boot with swapaccount=1): %w", ErrNotSupported)
		}
	}
	writeLimit := func() error {
		if limit == 0 {
			return nil
		}
		return writeFile(dir, "memory.limit_in_bytes", limitString(limit, Legacy))
	}
	writeSwap := func() error {
		if swap == 0 {
			return nil
		}
		return writeFile(dir, "memory.memsw.limit_in_bytes", limitString(swap, Legacy))
	}
	first, second := writeLimit, writeSwap
	if swap != 0 {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if swap == -1 || uint64(swap) >= cur {
			first, second = writeSwap, writeLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// kernelMemory applies memory.kernelTCP. memory.kernel is ignored, as the
// spec allows: Linux 5.4 stopped enforcing memory.kmem.limit_in_bytes and
// 6.x refuses writes to it.
func (d v1) kernelMemory(dir string, m *specs.LinuxMemory) error {
	if m.KernelTCP != nil && *m.KernelTCP != 0 {
		return d.optional(dir, "memory.kmem.tcp.limit_in_bytes", limitString(*m.KernelTCP, Legacy), false, "memory.kernelTCP")
	}
	return nil
}

func (d v1) pids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	dir, err := d.dir("pids", "pids")
	if err != nil {
		return err
	}
	return writeFile(dir, "pids.max", pidsMax(*r.Pids.Limit))
}

// pidsMax spells a pids limit; zero and negative mean no limit, as in runc.
func pidsMax(limit int64) string {
	if limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(limit, 10)
}

func (d v1) blkio(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	dir, err := d.dir("blkio", "blockIO")
	if err != nil {
		return err
	}
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !exists(dir, weightFile) && exists(dir, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := d.optional(dir, weightFile, strconv.Itoa(int(*b.Weight)), false, "blockIO.weight"); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := d.optional(dir, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight)), false, "blockIO.leafWeight"); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := d.optional(dir, weightDevFile, devValue(wd.LinuxBlockIODevice, uint64(*wd.Weight)), false, "blockIO.weightDevice"); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := d.optional(dir, "blkio.leaf_weight_device", devValue(wd.LinuxBlockIODevice, uint64(*wd.LeafWeight)), false, "blockIO.weightDevice.leafWeight"); err != nil {
				return err
			}
		}
	}
	return d.throttles(dir, b)
}

func (d v1) throttles(dir string, b *specs.LinuxBlockIO) error {
	for _, t := range []struct {
		file string
		list []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.list {
			if err := writeFile(dir, t.file, devValue(td.LinuxBlockIODevice, td.Rate)); err != nil {
				return fmt.Errorf("device %d:%d: %w", td.Major, td.Minor, err)
			}
		}
	}
	return nil
}

func devValue(dev specs.LinuxBlockIODevice, v uint64) string {
	return fmt.Sprintf("%d:%d %d", dev.Major, dev.Minor, v)
}

func (d v1) hugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	dir, err := d.dir("hugetlb", "hugepageLimits")
	if err != nil {
		return err
	}
	for _, h := range r.HugepageLimits {
		if err := checkPageSize(h.Pagesize); err != nil {
			return err
		}
		v := strconv.FormatUint(h.Limit, 10)
		if err := writeFile(dir, "hugetlb."+h.Pagesize+".limit_in_bytes", v); err != nil {
			return err
		}
		if exists(dir, "hugetlb."+h.Pagesize+".rsvd.limit_in_bytes") {
			if err := writeFile(dir, "hugetlb."+h.Pagesize+".rsvd.limit_in_bytes", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPageSize makes sure the host has huge pages of the size ("2MB").
func checkPageSize(size string) error {
	have, err := HugePageSizes()
	if err != nil {
		return err
	}
	for _, h := range have {
		if h == size {
			return nil
		}
	}
	return fmt.Errorf("hugepageLimits: page size %s not supported by this host (it has %s)", size, strings.Join(have, ", "))
}

func (d v1) network(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		dir, err := d.dir("net_cls", "network.classID")
		if err != nil {
			return err
		}
		if err := writeFile(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) == 0 {
		return nil
	}
	dir, err := d.dir("net_prio", "network.priorities")
	if err != nil {
		return err
	}
	for _, p := range n.Priorities {
		if err := writeFile(dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
			return err
		}
	}
	return nil
}

func (d v1) rdma(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	dir, err := d.dir("rdma", "rdma")
	if err != nil {
		return err
	}
	return writeRdma(dir, r.Rdma)
}

func writeRdma(dir string, limits map[string]specs.LinuxRdma) error {
	for _, dev := range sortedRdma(limits) {
		l := limits[dev]
		v := dev
		if l.HcaHandles != nil {
			v += fmt.Sprintf(" hca_handle=%d", *l.HcaHandles)
		}
		if l.HcaObjects != nil {
			v += fmt.Sprintf(" hca_object=%d", *l.HcaObjects)
		}
		if v == dev {
			continue
		}
		if err := writeFile(dir, "rdma.max", v); err != nil {
			return err
		}
	}
	return nil
}

func (d v1) unified(r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	return fmt.Errorf("linux.resources.unified needs cgroup v2; this host's controllers are on cgroup v1: %w", ErrNotSupported)
}

// devices makes the v1 devices controller hold exactly the rule list:
// everything denied, then each rule in order. A v1 child cgroup starts
// with its parent's list, usually "a *:* rwm", so the deny-all must be
// written, not assumed.
func (d v1) devices(r *specs.LinuxResources) error {
	if d.update && len(r.Devices) == 0 {
		return nil
	}
	dir, ok := d.m.Path("devices")
	if !ok {
		return fmt.Errorf("the devices controller is not mounted: device rules cannot be enforced: %w", ErrNotSupported)
	}
	// Consecutive rules for the same file go through one open of it, a
	// write(2) per rule (the kernel takes one rule per write).
	rules := deviceRules(r.Devices)
	for i := 0; i < len(rules); {
		allow := rules[i].Allow
		var batch []string
		for ; i < len(rules) && rules[i].Allow == allow; i++ {
			batch = append(batch, deviceRule(rules[i]))
		}
		file := "devices.deny"
		if allow {
			file = "devices.allow"
		}
		if err := writeFile(dir, file, batch...); err != nil {
			return fmt.Errorf("device rules: %w", err)
		}
	}
	return nil
}

// createdAncestors lists, outermost first, the directories above dir that
// this manager created.
func (m *Manager) createdAncestors(dir string) []string {
	var out []string
	for _, c := range m.created {
		if c != dir && strings.HasPrefix(dir, c+string(filepath.Separator)) {
			out = append(out, c)
		}
	}
	return out
}
