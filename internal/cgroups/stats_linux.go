package cgroups

import (
	"math"
	"strconv"
	"strings"
)

// Stats reads the cgroup's accounting. A controller the host lacks leaves
// its part zero; a read error of a controller that is there is returned.
func (m *Manager) Stats() (*Stats, error) {
	s := &Stats{Hugetlb: map[string]HugetlbStat{}}
	var readers []func(*Stats) error
	if m.mode == Unified {
		d := m.paths[""]
		readers = []func(*Stats) error{
			func(s *Stats) error { return cpuV2(d, s) },
			func(s *Stats) error { return memoryV2(d, s) },
			func(s *Stats) error { return pidsStats(d, s) },
			func(s *Stats) error { return ioV2(d, s) },
			func(s *Stats) error { return hugetlbStats(d, s, true) },
			func(s *Stats) error { cpusetStats(d, s, true); return nil },
		}
	} else {
		readers = m.v1Readers()
	}
	for _, r := range readers {
		if err := r(s); err != nil && !isNotExist(err) {
			return nil, err
		}
	}
	m.psi(s)
	return s, nil
}

func (m *Manager) v1Readers() []func(*Stats) error {
	var out []func(*Stats) error
	add := func(controller string, fn func(dir string, s *Stats) error) {
		if d, ok := m.Path(controller); ok {
			out = append(out, func(s *Stats) error { return fn(d, s) })
		}
	}
	add("cpuacct", cpuacctV1)
	add("cpu", cpuThrottlingV1)
	add("memory", memoryV1)
	add("pids", pidsStats)
	add("blkio", blkioV1)
	add("hugetlb", func(d string, s *Stats) error { return hugetlbStats(d, s, false) })
	add("cpuset", func(d string, s *Stats) error { cpusetStats(d, s, false); return nil })
	return out
}

// psi fills the pressure figures from the container's cgroup2 directory,
// which a hybrid host has too (with the same processes in it).
func (m *Manager) psi(s *Stats) {
	d, ok := m.Path("")
	if !ok {
		return
	}
	s.CPU.PSI = readPSI(d, "cpu.pressure")
	s.Memory.PSI = readPSI(d, "memory.pressure")
	s.Blkio.PSI = readPSI(d, "io.pressure")
}

func readPSI(dir, file string) *PSIStats {
	text, err := readFile(dir, file)
	if err != nil || text == "" {
		return nil
	}
	p := &PSIStats{}
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var d PSIData
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "avg10":
				d.Avg10, _ = strconv.ParseFloat(v, 64)
			case "avg60":
				d.Avg60, _ = strconv.ParseFloat(v, 64)
			case "avg300":
				d.Avg300, _ = strconv.ParseFloat(v, 64)
			case "total":
				d.Total, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		switch fields[0] {
		case "some":
			p.Some = d
		case "full":
			p.Full = d
		}
	}
	return p
}

// userHZ is the unit of cpuacct.stat; it is 100 on every Linux ABI.
const userHZ = 100

func cpuacctV1(dir string, s *Stats) error {
	var err error
	if s.CPU.Usage.Total, err = readUint(dir, "cpuacct.usage"); err != nil {
		return err
	}
	s.CPU.Usage.Percpu = readUintList(dir, "cpuacct.usage_percpu")
	s.CPU.Usage.PercpuKernel = readUintList(dir, "cpuacct.usage_percpu_sys")
	s.CPU.Usage.PercpuUser = readUintList(dir, "cpuacct.usage_percpu_user")
	kv, err := readKeyValues(dir, "cpuacct.stat")
	if err != nil {
		return err
	}
	s.CPU.Usage.User = kv["user"] * (1e9 / userHZ)
	s.CPU.Usage.Kernel = kv["system"] * (1e9 / userHZ)
	return nil
}

func readUintList(dir, file string) []uint64 {
	text, err := readFile(dir, file)
	if err != nil {
		return nil
	}
	var out []uint64
	for _, f := range strings.Fields(text) {
		v, _ := strconv.ParseUint(f, 10, 64)
		out = append(out, v)
	}
	return out
}

func cpuThrottlingV1(dir string, s *Stats) error {
	kv, err := readKeyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Throttling = Throttling{Periods: kv["nr_periods"], ThrottledPeriods: kv["nr_throttled"], ThrottledTime: kv["throttled_time"]}
	return nil
}

func cpuV2(dir string, s *Stats) error {
	kv, err := readKeyValues(dir, "cpu.stat")
	if err != nil {
		return err
	}
	s.CPU.Usage.Total = kv["usage_usec"] * 1000
	s.CPU.Usage.User = kv["user_usec"] * 1000
	s.CPU.Usage.Kernel = kv["system_usec"] * 1000
	s.CPU.Throttling = Throttling{Periods: kv["nr_periods"], ThrottledPeriods: kv["nr_throttled"], ThrottledTime: kv["throttled_usec"] * 1000}
	return nil
}

// memoryEntryV1 reads one v1 counter family, such as "memory.memsw".
func memoryEntryV1(dir, prefix string) MemoryEntry {
	var e MemoryEntry
	e.Usage, _ = readUint(dir, prefix+".usage_in_bytes")
	e.Max, _ = readUint(dir, prefix+".max_usage_in_bytes")
	e.Limit, _ = readUint(dir, prefix+".limit_in_bytes")
	e.Failcnt, _ = readUint(dir, prefix+".failcnt")
	return e
}

func memoryV1(dir string, s *Stats) error {
	raw, err := readKeyValues(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["cache"]
	s.Memory.Usage = memoryEntryV1(dir, "memory")
	if exists(dir, "memory.memsw.usage_in_bytes") {
		s.Memory.Swap = memoryEntryV1(dir, "memory.memsw")
	}
	if exists(dir, "memory.kmem.usage_in_bytes") {
		s.Memory.Kernel = memoryEntryV1(dir, "memory.kmem")
		s.Memory.KernelTCP = memoryEntryV1(dir, "memory.kmem.tcp")
	}
	if oc, err := readKeyValues(dir, "memory.oom_control"); err == nil {
		s.Memory.EventCount.OOMKill = oc["oom_kill"]
		s.Memory.EventCount.Max = s.Memory.Usage.Failcnt
	}
	return nil
}

func memoryV2(dir string, s *Stats) error {
	raw, err := readKeyValues(dir, "memory.stat")
	if err != nil {
		return err
	}
	s.Memory.Raw = raw
	s.Memory.Cache = raw["file"]
	u := &s.Memory.Usage
	u.Usage, _ = readUint(dir, "memory.current")
	u.Limit, _ = readUint(dir, "memory.max")
	u.Max, _ = readUint(dir, "memory.peak")
	if ev, err := readKeyValues(dir, "memory.events"); err == nil {
		s.Memory.EventCount = MemoryEventCount{Low: ev["low"], High: ev["high"], Max: ev["max"], OOM: ev["oom"], OOMKill: ev["oom_kill"]}
		u.Failcnt = ev["max"]
	}
	if exists(dir, "memory.swap.current") {
		w := &s.Memory.Swap
		w.Usage, _ = readUint(dir, "memory.swap.current")
		w.Limit, _ = readUint(dir, "memory.swap.max")
		w.Max, _ = readUint(dir, "memory.swap.peak")
		if ev, err := readKeyValues(dir, "memory.swap.events"); err == nil {
			w.Failcnt = ev["fail"]
		}
	}
	return nil
}

func pidsStats(dir string, s *Stats) error {
	var err error
	if s.Pids.Current, err = readUint(dir, "pids.current"); err != nil {
		return err
	}
	limit, err := readUint(dir, "pids.max")
	if err == nil && limit != math.MaxUint64 {
		s.Pids.Limit = limit
	}
	return nil
}

// blkioV1 reads the throttle counters, which every v1 kernel keeps
// whatever the I/O scheduler, and the CFQ/BFQ ones where present.
func blkioV1(dir string, s *Stats) error {
	var err error
	if s.Blkio.IoServiceBytesRecursive, err = readBlkio(dir, "blkio.throttle.io_service_bytes_recursive"); err != nil {
		return err
	}
	if s.Blkio.IoServicedRecursive, err = readBlkio(dir, "blkio.throttle.io_serviced_recursive"); err != nil {
		return err
	}
	s.Blkio.IoQueuedRecursive, _ = readBlkio(dir, "blkio.io_queued_recursive")
	s.Blkio.IoServiceTimeRecursive, _ = readBlkio(dir, "blkio.io_service_time_recursive")
	s.Blkio.IoWaitTimeRecursive, _ = readBlkio(dir, "blkio.io_wait_time_recursive")
	s.Blkio.IoMergedRecursive, _ = readBlkio(dir, "blkio.io_merged_recursive")
	s.Blkio.IoTimeRecursive, _ = readBlkio(dir, "blkio.time_recursive")
	s.Blkio.SectorsRecursive, _ = readBlkio(dir, "blkio.sectors_recursive")
	return nil
}

// readBlkio parses "major:minor Op value" lines ("major:minor value" for
// files without an operation); the "Total" line is skipped.
func readBlkio(dir, file string) ([]BlkioEntry, error) {
	text, err := readFile(dir, file)
	if err != nil {
		return nil, err
	}
	var out []BlkioEntry
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		major, minor, ok := parseDevNum(f[0])
		if !ok {
			continue
		}
		e := BlkioEntry{Major: major, Minor: minor}
		if len(f) == 3 {
			e.Op = f[1]
		}
		e.Value, _ = strconv.ParseUint(f[len(f)-1], 10, 64)
		out = append(out, e)
	}
	return out, nil
}

func parseDevNum(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.ParseUint(a, 10, 64)
	minor, err2 := strconv.ParseUint(b, 10, 64)
	return major, minor, err1 == nil && err2 == nil
}

// ioV2 maps io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") onto the
// v1 names, as runc does.
func ioV2(dir string, s *Stats) error {
	text, err := readFile(dir, "io.stat")
	if err != nil {
		return err
	}
	ops := map[string]struct {
		list *[]BlkioEntry
		op   string
	}{
		"rbytes": {&s.Blkio.IoServiceBytesRecursive, "Read"},
		"wbytes": {&s.Blkio.IoServiceBytesRecursive, "Write"},
		"rios":   {&s.Blkio.IoServicedRecursive, "Read"},
		"wios":   {&s.Blkio.IoServicedRecursive, "Write"},
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		major, minor, ok := parseDevNum(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			if o, ok := ops[k]; ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				*o.list = append(*o.list, BlkioEntry{Major: major, Minor: minor, Op: o.op, Value: n})
			}
		}
	}
	return nil
}

func hugetlbStats(dir string, s *Stats, v2 bool) error {
	sizes, err := HugePageSizes()
	if err != nil {
		return err
	}
	for _, size := range sizes {
		var h HugetlbStat
		p := "hugetlb." + size
		if v2 {
			if !exists(dir, p+".current") {
				continue
			}
			h.Usage, _ = readUint(dir, p+".current")
			if ev, err := readKeyValues(dir, p+".events"); err == nil {
				h.Failcnt = ev["max"]
			}
		} else {
			if !exists(dir, p+".usage_in_bytes") {
				continue
			}
			h.Usage, _ = readUint(dir, p+".usage_in_bytes")
			h.Max, _ = readUint(dir, p+".max_usage_in_bytes")
			h.Failcnt, _ = readUint(dir, p+".failcnt")
		}
		s.Hugetlb[size] = h
	}
	return nil
}

func cpusetStats(dir string, s *Stats, v2 bool) {
	cpus, mems := "cpuset.cpus", "cpuset.mems"
	if v2 {
		cpus, mems = "cpuset.cpus.effective", "cpuset.mems.effective"
	}
	s.CPUSet.CPUs = readList16(dir, cpus)
	s.CPUSet.Mems = readList16(dir, mems)
	if v2 {
		return
	}
	flags := []struct {
		file string
		v    *uint64
	}{
		{"cpuset.cpu_exclusive", &s.CPUSet.CPUExclusive},
		{"cpuset.mem_hardwall", &s.CPUSet.MemHardwall},
		{"cpuset.mem_exclusive", &s.CPUSet.MemExclusive},
		{"cpuset.memory_migrate", &s.CPUSet.MemoryMigrate},
		{"cpuset.memory_spread_page", &s.CPUSet.MemorySpreadPage},
		{"cpuset.memory_spread_slab", &s.CPUSet.MemorySpreadSlab},
		{"cpuset.memory_pressure", &s.CPUSet.MemoryPressure},
		{"cpuset.sched_load_balance", &s.CPUSet.SchedLoadBalance},
	}
	for _, f := range flags {
		*f.v, _ = readUint(dir, f.file)
	}
	if v, err := readFile(dir, "cpuset.sched_relax_domain_level"); err == nil {
		s.CPUSet.SchedRelaxDomainLevel, _ = strconv.ParseInt(v, 10, 64)
	}
}

func readList16(dir, file string) []uint16 {
	text, err := readFile(dir, file)
	if err != nil {
		return nil
	}
	list, err := ParseList(text)
	if err != nil {
		return nil
	}
	out := make([]uint16, len(list))
	for i, v := range list {
		out[i] = uint16(v)
	}
	return out
}
