package cgroups

// Stats is a cgroup's accounting in the JSON shape of runc's
// `events --stats` data (runc's types.Stats), so that tools written for
// runc read pelagos's output unchanged. Fields the host cannot report stay
// zero.
type Stats struct {
	CPU     CPUStats               `json:"cpu"`
	CPUSet  CPUSetStats            `json:"cpuset"`
	Memory  MemoryStats            `json:"memory"`
	Pids    PidsStats              `json:"pids"`
	Blkio   BlkioStats             `json:"blkio"`
	Hugetlb map[string]HugetlbStat `json:"hugetlb"`
	// IntelRdt and NetworkInterfaces are kept for the shape; pelagos does
	// not collect them here.
	IntelRdt          struct{} `json:"intel_rdt"`
	NetworkInterfaces []any    `json:"network_interfaces"`
}

// PSIData is one line of a pressure file.
type PSIData struct {
	Avg10  float64 `json:"avg10"`
	Avg60  float64 `json:"avg60"`
	Avg300 float64 `json:"avg300"`
	Total  uint64  `json:"total"`
}

// PSIStats is a whole pressure file (cpu.pressure, memory.pressure, ...).
type PSIStats struct {
	Some PSIData `json:"some,omitempty"`
	Full PSIData `json:"full,omitempty"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Throttling counts CFS bandwidth throttling; ThrottledTime is in ns.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUStats is CPU time used and throttling.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

// CPUSetStats is the cpuset configuration in effect.
type CPUSetStats struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryEntry is one memory counter with its limit, peak and failures.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// MemoryEventCount is v2's memory.events (on v1, OOM and OOMKill come
// from memory.oom_control).
type MemoryEventCount struct {
	Low     uint64 `json:"low"`
	High    uint64 `json:"high"`
	Max     uint64 `json:"max"`
	OOM     uint64 `json:"oom"`
	OOMKill uint64 `json:"oom_kill"`
}

// MemoryStats is memory use, limits and the raw memory.stat.
type MemoryStats struct {
	Cache      uint64            `json:"cache,omitempty"`
	Usage      MemoryEntry       `json:"usage,omitempty"`
	Swap       MemoryEntry       `json:"swap,omitempty"`
	Kernel     MemoryEntry       `json:"kernel,omitempty"`
	KernelTCP  MemoryEntry       `json:"kernelTCP,omitempty"`
	Raw        map[string]uint64 `json:"raw,omitempty"`
	PSI        *PSIStats         `json:"psi,omitempty"`
	EventCount MemoryEventCount  `json:"event_count"`
}

// PidsStats is the task count and its limit (0 when unlimited).
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioEntry is one device's counter for one operation.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// BlkioStats is block I/O by device (v1 blkio, or v2 io.stat mapped onto
// the same names as runc maps them).
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

// HugetlbStat is one huge page size's use, peak and failed allocations.
type HugetlbStat struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}
