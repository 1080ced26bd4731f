package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// hostFlags are run's and create's flags that reach into the host:
// devices, sysctls, namespace modes and the finer cgroup knobs.
type hostFlags struct {
	devices, deviceRules, sysctls, groupAdd   []string
	pid, ipc, uts, userns, cgroupns           string
	cpuShares                                 int64
	cpusetCpus, cpusetMems, memoryReservation string
	oomKillDisable                            bool
	oomScoreAdj                               int
}

func (h *hostFlags) register(fl *pflag.FlagSet) {
	stringsVar(fl, &h.devices, "device", "add a host device to the container (HOST[:CONTAINER][:rwm])")
	stringsVar(fl, &h.deviceRules, "device-cgroup-rule", "add a rule to the cgroup allowed devices list ('c 1:3 rwm')")
	stringsVar(fl, &h.sysctls, "sysctl", "namespaced kernel parameters (KEY=VALUE)")
	stringsVar(fl, &h.groupAdd, "group-add", "add additional groups to join")
	fl.StringVar(&h.pid, "pid", "", "PID namespace to use (host, container:NAME)")
	fl.StringVar(&h.ipc, "ipc", "", "IPC mode to use (private, shareable, host, none, container:NAME)")
	fl.StringVar(&h.uts, "uts", "", "UTS namespace to use (host)")
	fl.StringVar(&h.userns, "userns", "", "user namespace to use (host, or auto[:size=N]: a free range of the subordinate IDs of pelagos or root)")
	fl.StringVar(&h.cgroupns, "cgroupns", "", "cgroup namespace to use (host, private)")
	fl.Int64VarP(&h.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&h.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&h.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	sizeVarP(fl, &h.memoryReservation, "memory-reservation", "", "memory soft limit", false)
	fl.BoolVar(&h.oomKillDisable, "oom-kill-disable", false, "disable OOM killer")
	fl.IntVar(&h.oomScoreAdj, "oom-score-adj", 0, "tune host's OOM preferences (-1000 to 1000)")
}

// apply puts the flags into the host config; values are checked here
// as far as parsing goes, the rest by the engine's create.
func (h *hostFlags) apply(cmd *cobra.Command, hc *engine.HostConfig) error {
	o := &hc.HostOptions
	o.PidMode, o.IpcMode, o.UTSMode, o.UsernsMode, o.CgroupnsMode = h.pid, h.ipc, h.uts, h.userns, h.cgroupns
	o.CPUShares, o.CpusetCpus, o.CpusetMems = h.cpuShares, h.cpusetCpus, h.cpusetMems
	o.OomScoreAdj, o.GroupAdd, o.DeviceCgroupRules = h.oomScoreAdj, h.groupAdd, h.deviceRules
	if cmd.Flags().Changed("oom-kill-disable") {
		v := h.oomKillDisable
		o.OomKillDisable = &v
	}
	if h.memoryReservation != "" {
		n, err := engine.ParseBytes(h.memoryReservation)
		if err != nil {
			return err
		}
		o.MemoryReservation = n
	}
	for _, d := range h.devices {
		m, err := engine.ParseDevice(d)
		if err != nil {
			return err
		}
		o.Devices = append(o.Devices, m)
	}
	for _, s := range h.sysctls {
		k, v, err := engine.ParseSysctl(s)
		if err != nil {
			return err
		}
		if o.Sysctls == nil {
			o.Sysctls = map[string]string{}
		}
		o.Sysctls[k] = v
	}
	return nil
}
