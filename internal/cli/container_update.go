package cli

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// resourceFlags are the resource flags update takes.
type resourceFlags struct {
	memory, memorySwap, memoryReservation, cpus, cpusetCpus, restart string
	cpuShares, cpuPeriod, cpuQuota, pidsLimit                        int64
}

func (f *resourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit")
	fl.StringVar(&f.cpus, "cpus", "", "number of CPUs")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.Int64Var(&f.cpuPeriod, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&f.cpuQuota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	fl.StringVar(&f.restart, "restart", "", "restart policy to apply when a container exits")
}

// options turns the flags given into UpdateOptions.
func (f *resourceFlags) options(cmd *cobra.Command) (engine.UpdateOptions, error) {
	var u engine.UpdateOptions
	changed := cmd.Flags().Changed
	bytes := func(name, v string, dst **int64) error {
		if !changed(name) {
			return nil
		}
		n := int64(-1)
		if v != "-1" {
			var err error
			if n, err = engine.ParseBytes(v); err != nil {
				return err
			}
		}
		*dst = &n
		return nil
	}
	for _, b := range []struct {
		name, v string
		dst     **int64
	}{{"memory", f.memory, &u.Memory}, {"memory-swap", f.memorySwap, &u.MemorySwap}, {"memory-reservation", f.memoryReservation, &u.MemoryReservation}} {
		if err := bytes(b.name, b.v, b.dst); err != nil {
			return u, err
		}
	}
	if changed("cpus") {
		n, err := engine.ParseCPUs(f.cpus)
		if err != nil {
			return u, err
		}
		u.NanoCpus = &n
	}
	for _, i := range []struct {
		name string
		v    *int64
		dst  **int64
	}{{"cpu-shares", &f.cpuShares, &u.CPUShares}, {"cpu-period", &f.cpuPeriod, &u.CPUPeriod}, {"cpu-quota", &f.cpuQuota, &u.CPUQuota}, {"pids-limit", &f.pidsLimit, &u.PidsLimit}} {
		if changed(i.name) {
			*i.dst = i.v
		}
	}
	if changed("cpuset-cpus") {
		u.CpusetCpus = &f.cpusetCpus
	}
	if changed("restart") {
		p, err := engine.ParseRestart(f.restart)
		if err != nil {
			return u, err
		}
		u.RestartPolicy = &p
	}
	return u, nil
}

func newUpdateCmd(g *globals) *cobra.Command {
	var f resourceFlags
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := f.options(cmd)
			if err != nil {
				return withStatus(125, err)
			}
			if u.Empty() {
				return errors.New("you must provide one or more flags when using this command")
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string) error { return e.Update(cmd.Context(), ref, u) })
		},
	}
	f.register(cmd)
	return cmd
}

// cpuFlags are run's and create's explicit CFS bandwidth flags (the
// other CPU and memory knobs are hostFlags').
type cpuFlags struct {
	period, quota int64
}

func (f *cpuFlags) register(fl *pflag.FlagSet) {
	fl.Int64Var(&f.period, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period")
	fl.Int64Var(&f.quota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota")
}

func (f *cpuFlags) apply(hc *engine.HostConfig) {
	hc.CPUPeriod, hc.CPUQuota = f.period, f.quota
}
