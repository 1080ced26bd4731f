package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// Sample is one reading of a container's resource use, the numbers
// docker stats shows. Two samples give the CPU percentage.
type Sample struct {
	Read time.Time
	// CPU is the container's CPU time and System the host's (both ns);
	// OnlineCPUs counts the host's CPUs.
	CPU, System uint64
	OnlineCPUs  int
	// MemUsage excludes the inactive page cache, as docker's CLI does;
	// MemLimit is the cgroup limit, at most the host's memory.
	MemUsage, MemLimit uint64
	NetRx, NetTx       uint64
	BlkRead, BlkWrite  uint64
	Pids               uint64
}

// Sample reads c's resource use. A container that does not run gives a
// zero Sample and no error.
func (e *Engine) Sample(c *Container) (Sample, error) {
	s := Sample{Read: time.Now()}
	if !c.State.Running {
		return s, nil
	}
	rc, err := e.Runtime(c)
	if err != nil {
		return s, nil // stopped meanwhile
	}
	st, err := rc.Stats()
	if err != nil {
		return s, err
	}
	s.System, s.OnlineCPUs, err = systemCPU()
	if err != nil {
		return s, err
	}
	s.CPU = st.CPU.Usage.Total
	s.MemUsage, s.MemLimit = memUsage(st)
	s.BlkRead, s.BlkWrite = blkio(st)
	s.Pids = st.Pids.Current
	if c.HostConfig.NetworkMode != modeHost {
		s.NetRx, s.NetTx = netdev(rc.Pid())
	}
	return s, nil
}

// CPUPercent is docker's CPU %: the container's share of the host's CPU
// time between prev and s, times the number of CPUs.
func (s Sample) CPUPercent(prev Sample) float64 {
	if s.CPU < prev.CPU || s.System <= prev.System || prev.System == 0 {
		return 0
	}
	return float64(s.CPU-prev.CPU) / float64(s.System-prev.System) * float64(s.OnlineCPUs) * 100
}

// MemPercent is usage over limit.
func (s Sample) MemPercent() float64 {
	if s.MemLimit == 0 {
		return 0
	}
	return float64(s.MemUsage) / float64(s.MemLimit) * 100
}

func memUsage(st *cgroups.Stats) (usage, limit uint64) {
	usage = st.Memory.Usage.Usage
	inactive, ok := st.Memory.Raw["total_inactive_file"] // v1
	if !ok {
		inactive = st.Memory.Raw["inactive_file"] // v2
	}
	if inactive < usage {
		usage -= inactive
	}
	limit = st.Memory.Usage.Limit
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		if host := uint64(si.Totalram) * uint64(si.Unit); limit == 0 || limit > host {
			limit = host
		}
	}
	return usage, limit
}

func blkio(st *cgroups.Stats) (read, write uint64) {
	for _, e := range st.Blkio.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			read += e.Value
		case "write":
			write += e.Value
		}
	}
	return read, write
}

// netdev sums the bytes received and sent on the interfaces of pid's
// network namespace, loopback excepted.
func netdev(pid int) (rx, tx uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}

// clockTick is USER_HZ, the unit of /proc/stat (100 on every Linux ABI).
const clockTick = 100

// systemCPU reads the host's CPU time (ns) and CPU count from /proc/stat.
func systemCPU() (uint64, int, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	var total uint64
	cpus := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cpus++
			continue
		}
		// user nice system idle iowait irq softirq steal (guest is in user)
		for _, v := range f[1:min(len(f), 9)] {
			n, _ := strconv.ParseUint(v, 10, 64)
			total += n
		}
	}
	return total * (1e9 / clockTick), cpus, nil
}
