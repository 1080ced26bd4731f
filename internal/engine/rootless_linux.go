package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/network"
)

// A rootless engine (Engine.Rootless) is root of the user's own user
// namespace (package rootless): it can mount, unpack and create
// containers there, but it owns neither the host's network namespace
// nor any cgroup. So, as podman does for a user:
//   - containers get no cgroup of their own (nothing is delegated on the
//     v1 hosts it runs on), and flags that set limits are refused;
//   - networking is pasta's: the container's namespace is connected to
//     the caller's through a user-mode TCP/IP relay, and published ports
//     are ports pasta binds; bridge networks need root.

// modePasta is a rootless container's network mode by default.
const modePasta = "pasta"

// rootlessHostConfig applies a rootless engine's defaults to hc and
// refuses what it cannot do, before the common validation.
func rootlessHostConfig(hc *HostConfig, o NetworkOptions) error {
	switch mode := hc.NetworkMode; {
	case mode == "" || mode == "default":
		hc.NetworkMode = modePasta
	case mode == modePasta || mode == modeNone || mode == modeHost || strings.HasPrefix(mode, modeContainer):
	default:
		return invalid("rootless mode does not support network %s: bridge networks need root (use --network pasta, none, host or container:NAME)", mode)
	}
	if len(o.Extra) > 0 {
		return invalid("rootless mode supports one network per container")
	}
	r := fullResources(hc)
	r.Devices = nil
	if !reflect.DeepEqual(*r, specs.LinuxResources{}) {
		return invalid("rootless mode cannot enforce resource limits (memory, cpus, pids ...): no cgroup is delegated to this user")
	}
	return nil
}

// pastaFiles are where c's network namespace is bound and pasta's pid
// is written while it runs.
func (e *Engine) pastaFiles(c *Container) (netns, pidFile string) {
	dir := filepath.Join(e.runRoot, "pasta")
	return filepath.Join(dir, c.ID+".netns"), filepath.Join(dir, c.ID+".pid")
}

// setupPasta gives c its own network namespace connected by pasta and
// records it (first, so that a start killed meanwhile is undone).
func (e *Engine) setupPasta(ctx context.Context, c *Container) error {
	netns, pidFile := e.pastaFiles(c)
	c.NetworkSettings.SandboxKey = netns
	if err := c.save(); err != nil {
		return err
	}
	req := network.PastaRequest{
		NetNS: netns, PidFile: pidFile,
		Bindings: c.HostConfig.PortBindings, PublishAll: c.HostConfig.PublishAllPorts,
	}
	for p := range c.Config.ExposedPorts {
		req.Exposed = append(req.Exposed, p)
	}
	ports, err := network.StartPasta(ctx, req)
	if err != nil {
		return err
	}
	ns := &c.NetworkSettings
	ns.Ports = map[string][]network.PortBinding{}
	for p := range c.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	for _, p := range ports {
		k := strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto
		ns.Ports[k] = append(ns.Ports[k], network.PortBinding{HostIP: p.HostIP.String(), HostPort: strconv.Itoa(int(p.HostPort))})
	}
	return c.save()
}

// teardownPasta stops c's pasta and removes its namespace, if it has
// them (idempotent).
func (e *Engine) teardownPasta(c *Container) error {
	netns, pidFile := e.pastaFiles(c)
	if _, err := os.Lstat(netns); os.IsNotExist(err) {
		if _, err := os.Lstat(pidFile); os.IsNotExist(err) {
			return nil
		}
	}
	return network.StopPasta(netns, pidFile)
}

// rootlessSpec adapts s to a rootless container: one in the host's
// network namespace cannot mount a sysfs (the kernel wants privilege
// over the network namespace, which belongs to the host), so it gets the
// host's /sys bound read-only, as runc and podman do.
func rootlessSpec(c *Container, s *specs.Spec) {
	if c.HostConfig.NetworkMode != modeHost {
		return
	}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" && m.Type == "sysfs" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
}
