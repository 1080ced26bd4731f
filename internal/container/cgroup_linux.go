package container

import (
	"context"
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// StatePaused is the status of a container whose processes are frozen.
// The runtime-spec allows runtimes to add statuses; runc reports this one.
const StatePaused specs.ContainerState = "paused"

func (c *Container) cgroup() (*cgroups.Manager, error) {
	if c.rec.Cgroup == nil {
		return nil, fmt.Errorf("container %s has no cgroup", c.rec.ID)
	}
	return cgroups.Load(*c.rec.Cgroup), nil
}

// paused reports whether the container's cgroup is frozen.
func (c *Container) paused() bool {
	cg, err := c.cgroup()
	if err != nil {
		return false
	}
	st, err := cg.FreezerState()
	return err == nil && st == cgroups.Frozen
}

// Pause freezes every process of a created or running container.
func (c *Container) Pause() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if st := c.Status(); st != specs.StateRunning && st != specs.StateCreated {
		return fmt.Errorf("cannot pause container %s: it is %s: %w", c.rec.ID, st, ErrInvalidState)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if st := c.Status(); st != StatePaused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused: %w", c.rec.ID, st, ErrInvalidState)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// Update changes the resources of a live container and records them, so
// that the container's config keeps saying what is in force.
func (c *Container) Update(r *specs.LinuxResources) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if st := c.Status(); st == specs.StateStopped {
		return fmt.Errorf("cannot update container %s: it is stopped: %w", c.rec.ID, ErrInvalidState)
	}
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	if err := cg.Update(r); err != nil {
		return err
	}
	cfg.Linux.Resources = mergeResources(cfg.Linux.Resources, r)
	return c.saveConfig()
}

// mergeResources overlays the fields set in u onto r.
func mergeResources(r, u *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return u
	}
	out := *r
	if u.Memory != nil {
		out.Memory = u.Memory
	}
	if u.CPU != nil {
		out.CPU = u.CPU
	}
	if u.Pids != nil {
		out.Pids = u.Pids
	}
	if u.BlockIO != nil {
		out.BlockIO = u.BlockIO
	}
	if len(u.HugepageLimits) > 0 {
		out.HugepageLimits = u.HugepageLimits
	}
	if u.Network != nil {
		out.Network = u.Network
	}
	if len(u.Rdma) > 0 {
		out.Rdma = u.Rdma
	}
	if len(u.Unified) > 0 {
		out.Unified = u.Unified
	}
	if len(u.Devices) > 0 {
		out.Devices = u.Devices
	}
	return &out
}

// Stats returns the container's cgroup accounting.
func (c *Container) Stats() (*cgroups.Stats, error) {
	cg, err := c.cgroup()
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// Event is one line of `events`, in runc's shape.
type Event struct {
	Type string `json:"type"` // "stats" or "oom"
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Events sends a stats event every interval and an oom event whenever the
// kernel reports one, until the container stops or ctx ends.
func (c *Container) Events(ctx context.Context, interval time.Duration, emit func(Event) error) error {
	cg, err := c.cgroup()
	if err != nil {
		return err
	}
	var oom <-chan struct{}
	if n, err := cg.NotifyOOM(); err == nil {
		defer n.Stop()
		oom = n.C
	} else if !errors.Is(err, cgroups.ErrNotSupported) {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-oom:
			if !ok {
				oom = nil
				continue
			}
			if err := emit(Event{Type: "oom", ID: c.rec.ID}); err != nil {
				return err
			}
		case <-tick.C:
			if c.Status() == specs.StateStopped {
				return nil
			}
			st, err := cg.Stats()
			if err != nil {
				return err
			}
			if err := emit(Event{Type: "stats", ID: c.rec.ID, Data: st}); err != nil {
				return err
			}
		}
	}
}
