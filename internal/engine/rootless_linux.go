package engine

import (
	"context"
	"os"
	"os/exec"
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
//   - networking is pasta's (slirp4netns's where pasta is not installed):
//     the container's namespace is connected to the caller's through a
//     user-mode TCP/IP relay, and published ports are ports that relay
//     binds; bridge networks need root.

// User-mode network modes: pasta is a rootless container's default,
// slirp4netns the fallback where pasta is not installed.
const (
	modePasta = "pasta"
	modeSlirp = "slirp4netns"
)

// defaultUserNet is the network mode of a rootless container that names
// none.
func defaultUserNet() string {
	if _, err := exec.LookPath(network.PastaBinary); err != nil {
		if _, err := exec.LookPath(network.Slirp4netnsBinary); err == nil {
			return modeSlirp
		}
	}
	return modePasta
}

func isUserNet(mode string) bool { return mode == modePasta || mode == modeSlirp }

// rootlessHostConfig applies a rootless engine's defaults to hc and
// refuses what it cannot do, before the common validation.
func rootlessHostConfig(hc *HostConfig, o NetworkOptions) error {
	switch mode := hc.NetworkMode; {
	case mode == "" || mode == "default":
		hc.NetworkMode = defaultUserNet()
	case isUserNet(mode) || mode == modeNone || mode == modeHost || strings.HasPrefix(mode, modeContainer):
	default:
		return invalid("rootless mode does not support network %s: bridge networks need root (use --network pasta, slirp4netns, none, host or container:NAME)", mode)
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

// userNetFiles are where c's network namespace is bound and its
// user-mode network program's pid is written while it runs.
func (e *Engine) userNetFiles(c *Container) (netns, pidFile string) {
	dir := filepath.Join(e.runRoot, "usernet")
	return filepath.Join(dir, c.ID+".netns"), filepath.Join(dir, c.ID+".pid")
}

// setupUserNet gives c its own network namespace connected by pasta or
// slirp4netns and records it (first, so that a start killed meanwhile is
// undone).
func (e *Engine) setupUserNet(ctx context.Context, c *Container) error {
	netns, pidFile := e.userNetFiles(c)
	c.NetworkSettings.SandboxKey = netns
	if err := c.save(); err != nil {
		return err
	}
	req := network.UserNetRequest{
		NetNS: netns, PidFile: pidFile,
		Bindings: c.HostConfig.PortBindings, PublishAll: c.HostConfig.PublishAllPorts,
	}
	for p := range c.Config.ExposedPorts {
		req.Exposed = append(req.Exposed, p)
	}
	start := network.StartPasta
	if c.HostConfig.NetworkMode == modeSlirp {
		start = network.StartSlirp4netns
	}
	ports, err := start(ctx, req)
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

// teardownUserNet stops c's pasta or slirp4netns and removes its
// namespace, if it has them (idempotent).
func (e *Engine) teardownUserNet(c *Container) error {
	netns, pidFile := e.userNetFiles(c)
	if _, err := os.Lstat(netns); os.IsNotExist(err) {
		if _, err := os.Lstat(pidFile); os.IsNotExist(err) {
			return nil
		}
	}
	return network.StopUserNet(netns, pidFile)
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
