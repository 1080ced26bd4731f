package engine

import (
	"context"
	"strings"
)

// BootList returns the containers `pelagos system boot` starts after a
// host reboot, in an order that starts a container after those whose
// namespaces it joins (--network, --pid, --ipc container:NAME).
//
// As under docker when its daemon starts: a container whose policy is
// "always" comes back even if it was stopped by hand, one whose policy is
// "unless-stopped" only if it was not; "on-failure" and "no" do not.
// Loading the containers reconciles them first, so those whose run a
// reboot ended (monitor and process gone, runtime state wiped) are
// recorded as exited and torn down before they start again.
func (e *Engine) BootList(ctx context.Context) ([]*Container, error) {
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var todo []*Container
	for _, c := range cs {
		if bootable(c) {
			todo = append(todo, c)
		}
	}
	return bootOrder(todo), nil
}

// bootable reports whether c's restart policy brings it back at boot.
func bootable(c *Container) bool {
	if c.State.Running || c.State.Status == StatusRemoving || c.State.Status == StatusDead {
		return false
	}
	switch c.HostConfig.RestartPolicy.Name {
	case "always":
		return true
	case "unless-stopped":
		return !c.ManualStop
	}
	return false
}

// bootOrder sorts cs so that every container comes after the ones of cs
// whose namespaces it joins; a cycle or a donor outside cs keeps the
// remaining ones in their order (their start reports the problem).
func bootOrder(cs []*Container) []*Container {
	byRef := map[string]*Container{}
	for _, c := range cs {
		byRef[c.ID], byRef[c.Name] = c, c
	}
	deps := func(c *Container) []*Container {
		var out []*Container
		for _, mode := range []string{c.HostConfig.NetworkMode, c.HostConfig.PidMode, c.HostConfig.IpcMode} {
			ref, ok := strings.CutPrefix(mode, modeContainer)
			if !ok {
				continue
			}
			for k, d := range byRef {
				if d != c && (k == ref || (len(ref) >= 12 && strings.HasPrefix(d.ID, ref) && k == d.ID)) {
					out = append(out, d)
					break
				}
			}
		}
		return out
	}
	var out []*Container
	done := map[*Container]bool{}
	for len(out) < len(cs) {
		progress := false
		for _, c := range cs {
			if done[c] {
				continue
			}
			ready := true
			for _, d := range deps(c) {
				ready = ready && done[d]
			}
			if ready {
				out, done[c], progress = append(out, c), true, true
			}
		}
		if !progress {
			for _, c := range cs {
				if !done[c] {
					out, done[c] = append(out, c), true
				}
			}
		}
	}
	return out
}
