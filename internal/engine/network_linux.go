package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/network"
)

// Network modes other than a network's name.
const (
	modeNone      = "none"
	modeHost      = "host"
	modeContainer = "container:"
)

// NetworkOptions are the network flags of create beyond NetworkMode.
type NetworkOptions struct {
	// Extra are more networks to attach to (--network given again).
	Extra []string
	// For the primary network: --ip, --ip6, --network-alias, --mac-address.
	IPv4, IPv6, MAC string
	Aliases         []string
}

// ResolvConfPath is the host's resolver configuration containers'
// resolv.conf is derived from ($PELAGOS_RESOLV_CONF or /etc/resolv.conf).
func ResolvConfPath() string {
	if p := os.Getenv("PELAGOS_RESOLV_CONF"); p != "" {
		return p
	}
	return "/etc/resolv.conf"
}

// attachNetworks records c's networks at create: each must exist; a
// container: mode names a container, stored by ID.
func (e *Engine) attachNetworks(ctx context.Context, c *Container, o NetworkOptions) error {
	hc := &c.HostConfig
	mode := hc.NetworkMode
	published := len(hc.PortBindings) > 0 || hc.PublishAllPorts
	switch {
	case mode == modeNone || mode == modeHost || isUserNet(mode) || strings.HasPrefix(mode, modeContainer):
		if len(o.Extra) > 0 {
			return invalid("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
		}
		if o.IPv4 != "" || o.IPv6 != "" || o.MAC != "" || len(o.Aliases) > 0 {
			return invalid("conflicting options: --ip, --ip6, --mac-address and --network-alias need a bridge network")
		}
		if mode == modeHost && published {
			e.warn("Published ports are discarded when using host network mode")
			hc.PortBindings, hc.PublishAllPorts = nil, false
		}
		if ref, ok := strings.CutPrefix(mode, modeContainer); ok {
			if published || len(hc.DNS) > 0 || len(hc.ExtraHosts) > 0 || c.Config.Hostname != "" {
				return invalid("conflicting options: port publishing, --dns, --add-host and --hostname cannot be used with the container network mode")
			}
			id, err := e.resolve(ref)
			if err != nil {
				return err
			}
			hc.NetworkMode = modeContainer + id
		}
		return nil
	}
	c.NetworkSettings.Networks = map[string]*EndpointSettings{}
	for i, ref := range append([]string{mode}, o.Extra...) {
		n, err := e.Net.Get(ctx, ref)
		if errors.Is(err, network.ErrNotFound) {
			return invalid("network %s not found", ref)
		}
		if err != nil {
			return err
		}
		if _, dup := c.NetworkSettings.Networks[n.Name]; dup {
			return invalid("container cannot be connected to network %s twice", n.Name)
		}
		es := &EndpointSettings{NetworkID: n.ID}
		if i == 0 {
			a := network.Attach{Network: n.ID, IPv4: o.IPv4, IPv6: o.IPv6, MAC: o.MAC, Aliases: o.Aliases}
			if err := network.CheckAttach(n, a); err != nil {
				return err
			}
			if o.IPv4 != "" || o.IPv6 != "" {
				es.IPAMConfig = &EndpointIPAMConfig{IPv4Address: o.IPv4, IPv6Address: o.IPv6}
			}
			es.Aliases, es.MacRequested = o.Aliases, o.MAC
		}
		c.NetworkSettings.Networks[n.Name] = es
		c.NetworkSettings.Order = append(c.NetworkSettings.Order, n.Name)
	}
	return nil
}

// attachOf is the network package's request for one of c's networks.
func attachOf(name string, es *EndpointSettings) network.Attach {
	a := network.Attach{Network: es.NetworkID, MAC: es.MacRequested, Aliases: es.Aliases}
	if es.IPAMConfig != nil {
		a.IPv4, a.IPv6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	if a.Network == "" {
		a.Network = name
	}
	return a
}

// setupNetwork gives c its network namespace, endpoints and published
// ports, and records them; it returns the sockets that reserve the
// ports, for c's monitor to hold. Containers without a bridge network
// need nothing.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) ([]*os.File, error) {
	if isUserNet(c.HostConfig.NetworkMode) {
		return nil, e.setupUserNet(ctx, c)
	}
	ns := &c.NetworkSettings
	if len(ns.Order) == 0 {
		return nil, nil
	}
	req := network.SetupRequest{
		Container: c.ID, Name: c.Name, Bindings: c.HostConfig.PortBindings,
		PublishAll: c.HostConfig.PublishAllPorts, DNS: c.HostConfig.DNS,
	}
	for p := range c.Config.ExposedPorts {
		req.Exposed = append(req.Exposed, p)
	}
	for _, name := range ns.Order {
		req.Networks = append(req.Networks, attachOf(name, ns.Networks[name]))
	}
	sb, err := e.Net.Setup(ctx, req)
	if err != nil {
		return nil, err
	}
	e.recordSandbox(c, &sb.Lease)
	if err := c.save(); err != nil {
		closeAll(sb.Held)
		return nil, err
	}
	e.networkEvents(ctx, c, "connect", ns.Order)
	return sb.Held, nil
}

// recordSandbox copies a lease's addresses and ports into c's record.
func (e *Engine) recordSandbox(c *Container, l *network.Lease) {
	ns := &c.NetworkSettings
	ns.SandboxKey = l.NetNS
	for _, ep := range l.Endpoints {
		es := ns.Networks[ep.NetworkName]
		if es == nil {
			continue
		}
		es.NetworkID, es.EndpointID, es.MacAddress, es.DNSNames = ep.NetworkID, ep.ID, ep.MAC, ep.DNSNames
		if ep.IPv4.IsValid() {
			es.IPAddress, es.IPPrefixLen, es.Gateway = ep.IPv4.Addr().String(), ep.IPv4.Bits(), ep.Gateway4.String()
		}
		if ep.IPv6.IsValid() {
			es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.IPv6.Addr().String(), ep.IPv6.Bits(), ep.Gateway6.String()
		}
	}
	ns.Ports = map[string][]network.PortBinding{}
	for p := range c.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	for _, p := range l.Ports {
		k := strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto
		ns.Ports[k] = append(ns.Ports[k], network.PortBinding{HostIP: p.HostIP.String(), HostPort: strconv.Itoa(int(p.HostPort))})
	}
}

// clearSandbox drops from c's record what only holds while it runs.
func clearSandbox(c *Container) bool {
	ns := &c.NetworkSettings
	if ns.SandboxKey == "" && ns.Ports == nil {
		return false
	}
	ns.SandboxKey, ns.Ports = "", nil
	for _, es := range ns.Networks {
		*es = EndpointSettings{
			IPAMConfig: es.IPAMConfig, Aliases: es.Aliases, NetworkID: es.NetworkID,
			MacAddress: es.MacRequested, MacRequested: es.MacRequested,
		}
	}
	return true
}

// teardownNetwork undoes c's networking (idempotent) and clears it from
// the record.
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) error {
	if err := e.teardownUserNet(c); err != nil {
		return fmt.Errorf("network teardown: %w", err)
	}
	if err := e.Net.Teardown(ctx, c.ID); err != nil {
		return fmt.Errorf("network teardown: %w", err)
	}
	if c.NetworkSettings.SandboxKey != "" {
		e.networkEvents(ctx, c, "disconnect", c.NetworkSettings.Order)
	}
	if clearSandbox(c) {
		return c.save()
	}
	return nil
}

// netnsPath is the network namespace c joins: its own (bridge networks),
// another container's (container:ID), or none given (none: the runtime
// makes a new one; host: the host's).
func (e *Engine) netnsPath(ctx context.Context, c *Container) (string, error) {
	if c.NetworkSettings.SandboxKey != "" {
		return c.NetworkSettings.SandboxKey, nil
	}
	ref, ok := strings.CutPrefix(c.HostConfig.NetworkMode, modeContainer)
	if !ok {
		return "", nil
	}
	other, err := e.Get(ctx, ref)
	if err != nil {
		return "", err
	}
	if other.NetworkSettings.SandboxKey != "" {
		if !other.State.Running {
			return "", errorf(ErrState, "cannot join network namespace of a non running container: %s", other.Name)
		}
		return other.NetworkSettings.SandboxKey, nil
	}
	// The donor's own namespace, through its init: donorPid checks with
	// the runtime that the recorded pid is still that init, not a process
	// that reused the pid after it died.
	pid, err := e.donorPid(ctx, c, ref, specs.NetworkNamespace)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/proc/%d/ns/net", pid), nil
}

// etcNetwork returns c's /etc/hosts and /etc/resolv.conf.
func (e *Engine) etcNetwork(ctx context.Context, c *Container, hostname string) ([]byte, []byte, error) {
	hostResolv, _ := os.ReadFile(ResolvConfPath())
	mode := c.HostConfig.NetworkMode
	if mode == modeHost {
		hosts, _ := os.ReadFile("/etc/hosts")
		return hosts, hostResolv, nil
	}
	if ref, ok := strings.CutPrefix(mode, modeContainer); ok {
		if other, err := e.Get(ctx, ref); err == nil {
			hosts, _ := os.ReadFile(filepath.Join(other.dir, "hosts"))
			resolv, _ := os.ReadFile(filepath.Join(other.dir, "resolv.conf"))
			return hosts, resolv, nil
		}
	}
	ns := &c.NetworkSettings
	var own []netip.Addr
	var gateway netip.Addr
	ro := network.ResolvOptions{Servers: c.HostConfig.DNS, Search: c.HostConfig.DNSSearch, Options: c.HostConfig.DNSOptions}
	for i, name := range ns.Order {
		es := ns.Networks[name]
		if i == 0 {
			for _, s := range []string{es.IPAddress, es.GlobalIPv6Address} {
				if a, err := netip.ParseAddr(s); err == nil {
					own = append(own, a)
				}
			}
			gateway, _ = netip.ParseAddr(es.Gateway)
		}
		if n, err := e.Net.Get(ctx, es.NetworkID); err == nil && e.Net.DNSEnabled(n) && !ro.Embedded.IsValid() {
			ro.Embedded, _ = netip.ParseAddr(es.Gateway)
		}
	}
	extra, err := e.extraHosts(ctx, c, gateway)
	if err != nil {
		return nil, nil, err
	}
	return network.HostsFile(own, hostname, extra), network.ResolvConf(hostResolv, ro), nil
}

// extraHosts resolves --add-host, host-gateway being the gateway of the
// container's primary network (or the default network's).
func (e *Engine) extraHosts(ctx context.Context, c *Container, gateway netip.Addr) ([][2]string, error) {
	var out [][2]string
	for _, h := range c.HostConfig.ExtraHosts {
		name, addr, err := network.ParseExtraHost(h)
		if err != nil {
			return nil, err
		}
		if addr == network.HostGateway {
			if !gateway.IsValid() {
				n, err := e.Net.Get(ctx, network.DefaultNetwork)
				if err != nil {
					return nil, err
				}
				gateway, _ = netip.ParseAddr(n.IPAM.Config[0].Gateway)
			}
			addr = gateway.String()
		}
		out = append(out, [2]string{name, addr})
	}
	return out, nil
}

// Connect attaches container ref to network netRef; a running
// container gets its endpoint at once.
func (e *Engine) Connect(ctx context.Context, ref, netRef string, o NetworkOptions) error {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer l.unlock()
	if len(c.NetworkSettings.Order) == 0 {
		return invalid("container %s is not on a bridge network (--network %s): it cannot be connected to another", c.Name, c.HostConfig.NetworkMode)
	}
	n, err := e.Net.Get(ctx, netRef)
	if err != nil {
		return err
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; ok {
		return errorf(ErrState, "endpoint with name %s already exists in network %s", c.Name, n.Name)
	}
	es := &EndpointSettings{NetworkID: n.ID, Aliases: o.Aliases, MacRequested: o.MAC}
	if o.IPv4 != "" || o.IPv6 != "" {
		es.IPAMConfig = &EndpointIPAMConfig{IPv4Address: o.IPv4, IPv6Address: o.IPv6}
	}
	a := attachOf(n.Name, es)
	if err := network.CheckAttach(n, a); err != nil {
		return err
	}
	if c.State.Running && c.NetworkSettings.SandboxKey != "" {
		if _, err := e.Net.Connect(ctx, c.ID, a); err != nil {
			return err
		}
	}
	c.NetworkSettings.Networks[n.Name] = es
	c.NetworkSettings.Order = append(c.NetworkSettings.Order, n.Name)
	if c.State.Running {
		if l, err := e.Net.Lease(c.ID); err == nil && l != nil {
			e.recordSandbox(c, l)
		}
	}
	if err := c.saveConfig(); err != nil {
		return err
	}
	if c.State.Running && c.NetworkSettings.SandboxKey != "" { // docker's: a stopped container's change is no event
		e.objectEvent("network", "connect", n.ID, map[string]string{"container": c.ID, "name": n.Name, "type": n.Driver})
	}
	return nil
}

// Disconnect detaches container ref from network netRef.
func (e *Engine) Disconnect(ctx context.Context, ref, netRef string) error {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer l.unlock()
	n, err := e.Net.Get(ctx, netRef)
	if err != nil {
		return err
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; !ok {
		return errorf(ErrState, "container %s is not connected to network %s", c.Name, n.Name)
	}
	if c.State.Running && c.NetworkSettings.SandboxKey != "" {
		if err := e.Net.Disconnect(ctx, c.ID, n.ID); err != nil {
			return err
		}
	}
	delete(c.NetworkSettings.Networks, n.Name)
	c.NetworkSettings.Order = slices.DeleteFunc(c.NetworkSettings.Order, func(s string) bool { return s == n.Name })
	if c.State.Running {
		if l, err := e.Net.Lease(c.ID); err == nil && l != nil {
			e.recordSandbox(c, l)
		}
	}
	if err := c.saveConfig(); err != nil {
		return err
	}
	if c.State.Running && c.NetworkSettings.SandboxKey != "" { // docker's: a stopped container's change is no event
		e.objectEvent("network", "disconnect", n.ID, map[string]string{"container": c.ID, "name": n.Name, "type": n.Driver})
	}
	return nil
}

// NetworkInUse lists the containers (names) whose record names network id.
func (e *Engine) NetworkInUse(ctx context.Context, id string) ([]string, error) {
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range cs {
		for _, es := range c.NetworkSettings.Networks {
			if es.NetworkID == id {
				out = append(out, c.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// SweepNetwork releases the leases of containers that no longer run
// (killed monitors, killed removals) and then what no lease accounts
// for. Each container is judged under its own lock, so a start in
// progress is never undone.
func (e *Engine) SweepNetwork(ctx context.Context) error {
	ids, err := e.Net.Leases()
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(e.containersDir(), id)); os.IsNotExist(err) {
			errs = append(errs, e.Net.Teardown(ctx, id))
			continue
		}
		c, err := e.load(ctx, id)
		if err != nil || c.State.Running || c.State.Restarting {
			continue
		}
		l, err := e.lockContainer(ctx, id)
		if err != nil {
			continue
		}
		if c, err = loadRecord(filepath.Join(e.containersDir(), id)); err == nil && !c.State.Running && !c.State.Restarting {
			errs = append(errs, e.teardownNetwork(ctx, c))
		}
		l.unlock()
	}
	errs = append(errs, e.Net.SweepOrphans(ctx))
	return errors.Join(errs...)
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
