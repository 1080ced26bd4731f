package runccli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/container"
)

func newPause(g *globals) *command {
	return &command{
		Use:   "pause <container-id>",
		Short: "freeze every process of a container",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Pause()
		},
	}
}

func newResume(g *globals) *command {
	return &command{
		Use:   "resume <container-id>",
		Short: "thaw a paused container",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Resume()
		},
	}
}

// updateFlags are runc's update flags; each one set changes one field.
type updateFlags struct {
	resources                             string
	memory, memorySwap, memoryReservation string
	kernelMemory                          string
	cpuShares, cpuPeriod, cpuRtPeriod     string
	cpuQuota, cpuRtRuntime                string
	cpusetCpus, cpusetMems                string
	pidsLimit                             string
	blkioWeight                           string
}

func newUpdate(g *globals) *command {
	var f updateFlags
	cmd := &command{
		Use:   "update [flags] <container-id>",
		Short: "change the resource limits of a running container",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			r, err := f.build(cmd)
			if err != nil {
				return err
			}
			return c.Update(r)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.resources, "resources", "r", "", `path to a JSON file of linux.resources ("-" for stdin)`)
	fl.StringVar(&f.memory, "memory", "", "memory limit in bytes (-1 for none)")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit in bytes (-1 for none)")
	fl.StringVar(&f.memoryReservation, "memory-reservation", "", "memory soft limit in bytes")
	fl.StringVar(&f.kernelMemory, "kernel-memory", "", "accepted and ignored: kernels since 5.4 have no kernel-memory limit")
	fl.StringVar(&f.cpuShares, "cpu-shares", "", "CPU shares (relative weight)")
	fl.StringVar(&f.cpuPeriod, "cpu-period", "", "CPU CFS period in microseconds")
	fl.StringVar(&f.cpuQuota, "cpu-quota", "", "CPU CFS quota in microseconds (-1 for none)")
	fl.StringVar(&f.cpuRtPeriod, "cpu-rt-period", "", "CPU realtime period in microseconds")
	fl.StringVar(&f.cpuRtRuntime, "cpu-rt-runtime", "", "CPU realtime runtime in microseconds")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs to run on (0-3, 0,1)")
	fl.StringVar(&f.cpusetMems, "cpuset-mems", "", "memory nodes to use (0-3, 0,1)")
	fl.StringVar(&f.pidsLimit, "pids-limit", "", "maximum number of processes (-1 for none)")
	fl.StringVar(&f.blkioWeight, "blkio-weight", "", "block I/O weight (10-1000)")
	return cmd
}

// build makes the resources to apply: the --resources JSON (as runc reads
// it, also from stdin), then each flag given.
func (f *updateFlags) build(cmd *command) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if f.resources != "" {
		var in io.Reader = os.Stdin
		if f.resources != "-" {
			file, err := os.Open(f.resources)
			if err != nil {
				return nil, err
			}
			defer file.Close()
			in = file
		}
		if err := json.NewDecoder(in).Decode(r); err != nil {
			return nil, fmt.Errorf("--resources: malformed JSON: %w", err)
		}
	}
	changed := cmd.Flags().Changed
	var err error
	i64 := func(name, v string) *int64 {
		if err != nil || !changed(name) {
			return nil
		}
		var n int64
		n, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			err = fmt.Errorf("--%s %q: not a number", name, v)
		}
		return &n
	}
	u64 := func(name, v string) *uint64 {
		if err != nil || !changed(name) {
			return nil
		}
		var n uint64
		n, err = strconv.ParseUint(v, 10, 64)
		if err != nil {
			err = fmt.Errorf("--%s %q: not a number", name, v)
		}
		return &n
	}
	mem := &specs.LinuxMemory{
		Limit: i64("memory", f.memory), Swap: i64("memory-swap", f.memorySwap),
		Reservation: i64("memory-reservation", f.memoryReservation),
	}
	cpu := &specs.LinuxCPU{
		Shares: u64("cpu-shares", f.cpuShares), Period: u64("cpu-period", f.cpuPeriod), Quota: i64("cpu-quota", f.cpuQuota),
		RealtimePeriod: u64("cpu-rt-period", f.cpuRtPeriod), RealtimeRuntime: i64("cpu-rt-runtime", f.cpuRtRuntime),
		Cpus: f.cpusetCpus, Mems: f.cpusetMems,
	}
	pids := i64("pids-limit", f.pidsLimit)
	weight := u64("blkio-weight", f.blkioWeight)
	if err != nil {
		return nil, err
	}
	if *mem != (specs.LinuxMemory{}) {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		overlay(&r.Memory.Limit, mem.Limit)
		overlay(&r.Memory.Swap, mem.Swap)
		overlay(&r.Memory.Reservation, mem.Reservation)
	}
	if cpu.Shares != nil || cpu.Period != nil || cpu.Quota != nil || cpu.RealtimePeriod != nil || cpu.RealtimeRuntime != nil || cpu.Cpus != "" || cpu.Mems != "" {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		overlay(&r.CPU.Shares, cpu.Shares)
		overlay(&r.CPU.Period, cpu.Period)
		overlay(&r.CPU.Quota, cpu.Quota)
		overlay(&r.CPU.RealtimePeriod, cpu.RealtimePeriod)
		overlay(&r.CPU.RealtimeRuntime, cpu.RealtimeRuntime)
		if cpu.Cpus != "" {
			r.CPU.Cpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			r.CPU.Mems = cpu.Mems
		}
	}
	if pids != nil {
		r.Pids = &specs.LinuxPids{Limit: pids}
	}
	if weight != nil {
		w := uint16(*weight)
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		r.BlockIO.Weight = &w
	}
	return r, nil
}

func overlay[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

func newEvents(g *globals) *command {
	var stats bool
	var interval time.Duration
	cmd := &command{
		Use:   "events [flags] <container-id>",
		Short: "print resource statistics and OOM events as JSON lines",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			if stats {
				st, err := c.Stats()
				if err != nil {
					return err
				}
				return enc.Encode(container.Event{Type: "stats", ID: c.ID(), Data: st})
			}
			if interval <= 0 {
				return fmt.Errorf("--interval %v: must be positive", interval)
			}
			return c.Events(cmd.Context(), interval, func(e container.Event) error { return enc.Encode(e) })
		},
	}
	cmd.Flags().BoolVar(&stats, "stats", false, "print the statistics once and exit")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "how often to print statistics")
	return cmd
}
