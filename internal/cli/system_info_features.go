package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// hostFeatures are docker info's answers about what the host's cgroups
// and network stack can do, probed the way docker's daemon probes them.
type hostFeatures struct {
	MemoryLimit       bool
	SwapLimit         bool
	KernelMemory      bool
	KernelMemoryTCP   bool
	CPUCfsPeriod      bool `json:"CpuCfsPeriod"`
	CPUCfsQuota       bool `json:"CpuCfsQuota"`
	CPUShares         bool
	CPUSet            bool
	PidsLimit         bool
	OomKillDisable    bool
	IPv4Forwarding    bool
	BridgeNfIptables  bool
	BridgeNfIp6tables bool
}

// cgroupRoot is where the host mounts its cgroup hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

func probeHostFeatures() hostFeatures {
	f := cgroupFeatures(cgroupRoot)
	f.IPv4Forwarding = sysctlOn("net/ipv4/ip_forward")
	f.BridgeNfIptables = sysctlOn("net/bridge/bridge-nf-call-iptables")
	f.BridgeNfIp6tables = sysctlOn("net/bridge/bridge-nf-call-ip6tables")
	return f
}

// cgroupFeatures answers from a unified (v2) hierarchy's controllers, or
// from the v1 controllers' files.
func cgroupFeatures(root string) hostFeatures {
	if b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers")); err == nil {
		ctrls := strings.Fields(string(b))
		has := func(c string) bool { return slices.Contains(ctrls, c) }
		return hostFeatures{
			MemoryLimit: has("memory"), SwapLimit: engine.SwapAccounting(),
			CPUCfsPeriod: has("cpu"), CPUCfsQuota: has("cpu"), CPUShares: has("cpu"),
			CPUSet: has("cpuset"), PidsLimit: has("pids"),
		}
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, rel))
		return err == nil
	}
	return hostFeatures{
		MemoryLimit: exists("memory/memory.limit_in_bytes"), SwapLimit: engine.SwapAccounting(),
		KernelMemory: exists("memory/memory.kmem.limit_in_bytes"), KernelMemoryTCP: exists("memory/memory.kmem.tcp.limit_in_bytes"),
		CPUCfsPeriod: exists("cpu/cpu.cfs_period_us"), CPUCfsQuota: exists("cpu/cpu.cfs_quota_us"),
		CPUShares: exists("cpu/cpu.shares"), CPUSet: exists("cpuset/cpuset.cpus"),
		PidsLimit: exists("pids/pids.max"), OomKillDisable: exists("memory/memory.oom_control"),
	}
}

// sysctlOn reports whether the sysctl at /proc/sys/name reads 1.
func sysctlOn(name string) bool {
	b, err := os.ReadFile(filepath.Join("/proc/sys", name))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
