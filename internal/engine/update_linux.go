package engine

import (
	"context"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UpdateOptions are the changes `update` asks for; nil fields stay.
type UpdateOptions struct {
	Memory, MemorySwap, MemoryReservation *int64
	NanoCpus, CPUShares, CPUPeriod        *int64
	CPUQuota                              *int64
	CpusetCpus                            *string
	PidsLimit                             *int64
	RestartPolicy                         *RestartPolicy
}

func (u UpdateOptions) memory() bool {
	return u.Memory != nil || u.MemorySwap != nil || u.MemoryReservation != nil
}

func (u UpdateOptions) cpu() bool {
	return u.NanoCpus != nil || u.CPUShares != nil || u.CPUPeriod != nil || u.CPUQuota != nil || u.CpusetCpus != nil
}

// Empty reports whether u changes nothing.
func (u UpdateOptions) Empty() bool {
	return !u.memory() && !u.cpu() && u.PidsLimit == nil && u.RestartPolicy == nil
}

// Update changes container ref's resources and restart policy: at once
// in its cgroup when it runs, and in its HostConfig for every later
// start. Nothing changes when any value is refused.
func (e *Engine) Update(ctx context.Context, ref string, u UpdateOptions) error {
	if u.Empty() {
		return invalid("you must provide one or more flags when using this command")
	}
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer l.unlock()
	hc := c.HostConfig
	if err := applyUpdate(&hc, u); err != nil {
		return err
	}
	if c.State.Running && e.runtimeAlive(c) {
		rc, err := e.Runtime(c)
		if err != nil {
			return err
		}
		if err := rc.Update(updateResources(&hc, u)); err != nil {
			return fmt.Errorf("Cannot update container %s: %w", c.ID, err) //lint:ignore ST1005 docker's words
		}
	}
	c.HostConfig = hc
	if err := c.saveConfig(); err != nil {
		return err
	}
	e.event(c, "update", nil)
	return nil
}

// applyUpdate sets u's values in hc and checks the result as docker's
// daemon does, with its messages.
func applyUpdate(hc *HostConfig, u UpdateOptions) error {
	if u.RestartPolicy != nil {
		if hc.AutoRemove && u.RestartPolicy.Name != "no" {
			return invalid("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		hc.RestartPolicy = *u.RestartPolicy
	}
	if u.Memory != nil {
		// Docker keeps the swap limit when only memory changes: the one in
		// force (twice the old memory by default) must still be above it.
		if u.MemorySwap == nil && hc.MemorySwap == 0 && hc.Memory > 0 {
			hc.MemorySwap = 2 * hc.Memory
		}
		if u.MemorySwap == nil && hc.MemorySwap > 0 && *u.Memory > hc.MemorySwap {
			return invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
		}
		hc.Memory = *u.Memory
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&hc.MemorySwap, u.MemorySwap)
	set(&hc.MemoryReservation, u.MemoryReservation)
	set(&hc.NanoCpus, u.NanoCpus)
	set(&hc.CPUShares, u.CPUShares)
	set(&hc.CPUPeriod, u.CPUPeriod)
	set(&hc.CPUQuota, u.CPUQuota)
	if u.CpusetCpus != nil {
		hc.CpusetCpus = *u.CpusetCpus
	}
	if u.PidsLimit != nil {
		n := *u.PidsLimit
		hc.PidsLimit = &n
	}
	if err := ValidateResources(hc); err != nil {
		return err
	}
	return validateCgroupKnobs(hc)
}

// ValidateResources checks the memory, CPU and pids settings of hc with
// docker's rules and messages; CPU shares, cpusets and the memory
// reservation's bound are validateCgroupKnobs's (hostopts.go).
func ValidateResources(hc *HostConfig) error {
	if n := int64(onlineCPUs()); hc.NanoCpus < 0 || hc.NanoCpus > n*1e9 || hc.NanoCpus > 0 && hc.NanoCpus < 1e7 {
		return invalid("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	switch {
	case hc.Memory != 0 && hc.Memory < 6<<20:
		return invalid("Minimum memory limit allowed is 6MB")
	case hc.Memory > 0 && hc.MemorySwap > 0 && hc.MemorySwap < hc.Memory:
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	case hc.MemorySwap > 0 && hc.Memory == 0:
		return invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	case hc.MemoryReservation != 0 && hc.MemoryReservation < 6<<20:
		return invalid("Minimum memory reservation allowed is 6MB")
	case hc.NanoCpus > 0 && hc.CPUPeriod > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case hc.NanoCpus > 0 && hc.CPUQuota > 0:
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case hc.CPUPeriod != 0 && (hc.CPUPeriod < 1000 || hc.CPUPeriod > 1000000):
		return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case hc.CPUQuota > 0 && hc.CPUQuota < 1000:
		return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	return nil
}

func onlineCPUs() int {
	_, n, err := systemCPU()
	if err != nil || n == 0 {
		return 1
	}
	return n
}

// cpuResources adds an explicit CFS period and quota (--cpu-period,
// --cpu-quota) to what resourcesSpec made.
func cpuResources(hc *HostConfig, r *specs.LinuxResources) {
	if hc.CPUPeriod == 0 && hc.CPUQuota == 0 {
		return
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	if hc.CPUPeriod > 0 {
		p := uint64(hc.CPUPeriod)
		r.CPU.Period = &p
	}
	if hc.CPUQuota != 0 {
		q := hc.CPUQuota
		r.CPU.Quota = &q
	}
}

// fullResources is every resource hc sets, as a start would set them.
func fullResources(hc *HostConfig) *specs.LinuxResources {
	s := &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
	_ = resourcesSpec(hc, s.Linux.Resources) // validated by applyUpdate
	_ = cgroupKnobsSpec(context.Background(), &Container{HostConfig: *hc}, s, nil)
	return s.Linux.Resources
}

// updateResources is the cgroup change for u: each group u touches is
// given whole (a removed limit as unlimited), the others left out.
func updateResources(hc *HostConfig, u UpdateOptions) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	full := fullResources(hc)
	if u.memory() {
		r.Memory = full.Memory
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if r.Memory.Limit == nil {
			unlimited := int64(-1)
			r.Memory.Limit = &unlimited
			if swapAccounting() {
				r.Memory.Swap = &unlimited
			}
		}
	}
	if u.cpu() {
		r.CPU = full.CPU
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if r.CPU.Quota == nil {
			unlimited := int64(-1)
			r.CPU.Quota = &unlimited
		}
		if u.CpusetCpus != nil && *u.CpusetCpus == "" {
			avail, _ := os.ReadFile("/sys/devices/system/cpu/online")
			r.CPU.Cpus = strings.TrimSpace(string(avail))
		}
	}
	if u.PidsLimit != nil {
		limit := int64(-1)
		if *u.PidsLimit > 0 {
			limit = *u.PidsLimit
		}
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	return r
}
