package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Attach asks for a container's endpoint on one network.
type Attach struct {
	Network string // name, ID or unique ID prefix
	IPv4    string // --ip: a static address, or empty
	IPv6    string // --ip6
	MAC     string // --mac-address
	Aliases []string
}

// SetupRequest is what a container's networking needs.
type SetupRequest struct {
	Container string
	Name      string
	// Networks, in order: the first is the primary one (its gateway is
	// the default route, published ports lead to its address).
	Networks   []Attach
	Bindings   map[string][]PortBinding
	PublishAll bool
	Exposed    []string // "80/tcp" ..., for PublishAll
	DNS        []string // the container's own upstream servers (--dns)
}

// Sandbox is a container's networking as Setup made it.
type Sandbox struct {
	Lease
	// Held are the sockets that reserve the published host ports: the
	// container's monitor keeps them open while the container runs.
	Held []*os.File
}

// Setup makes container r.Container's network namespace and attaches it
// to its networks, publishes its ports and registers its names with the
// networks' DNS servers. It first undoes whatever an earlier run left.
// On error nothing it made is left.
func (m *Manager) Setup(ctx context.Context, r SetupRequest) (*Sandbox, error) {
	if _, err := m.withDefault(ctx); err != nil {
		return nil, err
	}
	l, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	nets, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	if err := m.teardownLocked(r.Container, nets); err != nil {
		return nil, err
	}
	sb, err := m.plan(r, nets)
	if err != nil {
		return nil, err
	}
	// The lease names everything below before any of it exists: a setup
	// killed half-way is undone from it.
	if err := m.writeLease(&sb.Lease); err != nil {
		closeFiles(sb.Held)
		return nil, err
	}
	if err := m.build(ctx, &sb.Lease, nets); err != nil {
		closeFiles(sb.Held)
		if terr := m.teardownLocked(r.Container, nets); terr != nil {
			err = errors.Join(err, terr)
		}
		return nil, err
	}
	return sb, nil
}

// plan allocates the endpoints and reserves the ports of a setup.
func (m *Manager) plan(r SetupRequest, nets []*Network) (*Sandbox, error) {
	if len(r.Networks) == 0 {
		return nil, errorf(ErrInvalid, "no network to attach to")
	}
	leases, err := m.loadLeases()
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{Lease: Lease{Container: r.Container, Name: r.Name, NetNS: m.netnsPath(r.Container), DNS: r.DNS}}
	used := usedAddrs(leases)
	for _, a := range r.Networks {
		ep, err := newEndpoint(&sb.Lease, nets, a, used)
		if err != nil {
			return nil, err
		}
		sb.Endpoints = append(sb.Endpoints, *ep)
	}
	primary := &sb.Endpoints[0]
	n, _ := find(nets, primary.NetworkID, false)
	if n.Internal {
		if len(r.Bindings) > 0 {
			return nil, errorf(ErrInvalid, "ports cannot be published on internal network %s", n.Name)
		}
		return sb, nil
	}
	ws, err := wants(r.Bindings, r.PublishAll, r.Exposed, primary.IPv6.IsValid())
	if err != nil {
		return nil, err
	}
	ports, held, err := reservePorts(ws, primary, leases)
	if err != nil {
		return nil, err
	}
	for i := range ports {
		ports[i].Bridge = n.Bridge()
	}
	sb.Ports, sb.Held = ports, held
	return sb, nil
}

// newEndpoint allocates l's endpoint on the network a names.
func newEndpoint(l *Lease, nets []*Network, a Attach, used map[netip.Addr]bool) (*Endpoint, error) {
	n, err := find(nets, a.Network, false)
	if err != nil {
		return nil, err
	}
	if n.Driver != "bridge" {
		return nil, errorf(ErrInvalid, "container cannot be connected to network %s (driver %s): use --network %s", n.Name, n.Driver, n.Name)
	}
	for _, ep := range l.Endpoints {
		if ep.NetworkID == n.ID {
			return nil, errorf(ErrConflict, "endpoint with name %s already exists in network %s", l.Name, n.Name)
		}
	}
	if n.IsDefault() && (a.IPv4 != "" || a.IPv6 != "" || len(a.Aliases) > 0) {
		return nil, errorf(ErrInvalid, "user specified IP address and network aliases are supported on user defined networks only")
	}
	ep := &Endpoint{NetworkID: n.ID, NetworkName: n.Name, ID: newID(), IfName: freeIfName(l), HostVeth: vethName(l.Container, n.ID)}
	v4, v6 := n.subnets()
	if ep.IPv4, ep.Gateway4, err = address(v4, a.IPv4, used, n.Name); err != nil {
		return nil, err
	}
	if ep.IPv6, ep.Gateway6, err = address(v6, a.IPv6, used, n.Name); err != nil {
		return nil, err
	}
	mac := containerMAC(ep.IPv4.Addr())
	if a.MAC != "" {
		if mac, err = net.ParseMAC(a.MAC); err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return nil, errorf(ErrInvalid, "invalid MAC address %s", a.MAC)
		}
	}
	ep.MAC = mac.String()
	if !n.IsDefault() {
		ep.DNSNames = append([]string{l.Name, l.Container[:12]}, a.Aliases...)
	}
	return ep, nil
}

// address allocates an address in s (the static one when given).
func address(s *subnet, static string, used map[netip.Addr]bool, network string) (netip.Prefix, netip.Addr, error) {
	if s == nil {
		if static != "" {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "network %s has no subnet for address %s", network, static)
		}
		return netip.Prefix{}, netip.Addr{}, nil
	}
	var a netip.Addr
	if static != "" {
		var err error
		if a, err = netip.ParseAddr(static); err != nil {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "invalid IP address %s", static)
		}
		a = a.Unmap()
		if !s.prefix.Contains(a) || a == s.gateway || a == s.prefix.Addr() || (a.Is4() && a == lastAddr(s.prefix)) {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrInvalid, "address %s is not a usable address of network %s (%s)", a, network, s.prefix)
		}
		if used[a] {
			return netip.Prefix{}, netip.Addr{}, errorf(ErrConflict, "address %s is already in use on network %s", a, network)
		}
	} else {
		var ok bool
		if a, ok = s.allocate(used); !ok {
			fam := "IPv4"
			if s.prefix.Addr().Is6() {
				fam = "IPv6"
			}
			return netip.Prefix{}, netip.Addr{}, errorf(ErrConflict, "no available %s addresses on network %s (%s)", fam, network, s.pool)
		}
	}
	used[a] = true
	return netip.PrefixFrom(a, s.prefix.Bits()), s.gateway, nil
}

// freeIfName is the lowest ethN the lease does not use.
func freeIfName(l *Lease) string {
	for i := 0; ; i++ {
		name := "eth" + strconv.Itoa(i)
		if !slices.ContainsFunc(l.Endpoints, func(ep Endpoint) bool { return ep.IfName == name }) {
			return name
		}
	}
}

// build makes the kernel objects of a planned lease: bridges, the
// namespace, veths, addresses, routes, rules, DNS.
func (m *Manager) build(ctx context.Context, l *Lease, nets []*Network) error {
	for _, ep := range l.Endpoints {
		n, _ := find(nets, ep.NetworkID, false)
		if err := m.up(ctx, n, nets); err != nil {
			return err
		}
	}
	ns, inner, err := createNetNS(l.NetNS)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer inner.Close()
	for i := range l.Endpoints {
		n, _ := find(nets, l.Endpoints[i].NetworkID, false)
		if err := plumb(inner, ns, &l.Endpoints[i], n, i == 0); err != nil {
			return err
		}
	}
	if len(l.Ports) > 0 {
		if err := m.applyRules(nets); err != nil {
			return err
		}
	}
	return m.updateDNS(nets, l.Endpoints)
}

// plumb connects a namespace to n: a veth pair whose host end is on n's
// bridge and whose other end, made inside the namespace, gets the
// endpoint's addresses (and, for the primary endpoint of a network that
// is not internal, the default routes).
func plumb(inner *netlink.Handle, ns *os.File, ep *Endpoint, n *Network, primary bool) error {
	br, err := netlink.LinkByName(n.Bridge())
	if err != nil {
		return fmt.Errorf("bridge %s: %w", n.Bridge(), err)
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return err
	}
	v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: ep.IfName,
		PeerNamespace: netlink.NsFd(int(ns.Fd())), PeerHardwareAddr: mac, PeerMTU: uint32(n.mtu())}
	v.Name, v.MTU, v.MasterIndex, v.Flags = ep.HostVeth, n.mtu(), br.Attrs().Index, net.FlagUp
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	// Hairpin mode lets a frame leave by the port it came in: a container
	// reaching its own published port, when br_netfilter (loaded on many
	// hosts) DNATs and bridges it straight back.
	if err := netlink.LinkSetHairpin(v, true); err != nil {
		return fmt.Errorf("hairpin mode on %s: %w", ep.HostVeth, err)
	}
	link, err := inner.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("container end of %s: %w", ep.HostVeth, err)
	}
	for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
		if !p.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := inner.AddrAdd(link, addr); err != nil {
			return fmt.Errorf("address %s on %s: %w", p, ep.IfName, err)
		}
	}
	if err := inner.LinkSetUp(link); err != nil {
		return err
	}
	if !primary || n.Internal {
		return nil
	}
	for _, gw := range []netip.Addr{ep.Gateway4, ep.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw.AsSlice()}
		if err := inner.RouteAdd(r); err != nil {
			return fmt.Errorf("default route via %s: %w", gw, err)
		}
	}
	return nil
}

// Teardown undoes container id's networking: veths, namespace, rules,
// DNS names, and then its lease. It is idempotent: without a lease it
// does nothing.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	if _, err := os.Stat(m.leasePath(id)); err != nil {
		return nil
	}
	l, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	nets, err := m.loadAll()
	if err != nil {
		return err
	}
	return m.teardownLocked(id, nets)
}

func (m *Manager) teardownLocked(id string, nets []*Network) error {
	l, err := m.readLease(id)
	if err != nil || l == nil {
		return err
	}
	for _, ep := range l.Endpoints {
		if err := deleteLink(netlinkHost(), ep.HostVeth); err != nil {
			return err
		}
	}
	if l.NetNS != "" {
		if err := removeNetNS(l.NetNS); err != nil {
			return err
		}
	}
	// Rules and names are recomputed without this lease before it goes:
	// killed in between, the lease is still there to undo it all again.
	others, err := m.loadLeases()
	if err != nil {
		return err
	}
	others = slices.DeleteFunc(others, func(o *Lease) bool { return o.Container == id })
	if len(l.Ports) > 0 {
		if err := applyTable(nets, leasePorts(others)); err != nil {
			return err
		}
	}
	if err := m.writeRecords(nets, l.Endpoints, others); err != nil {
		return err
	}
	if err := os.Remove(m.leasePath(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// netlinkHost is a handle on our own network namespace.
func netlinkHost() *netlink.Handle { return &netlink.Handle{} }

// Connect attaches running container id (its lease and namespace exist)
// to one more network.
func (m *Manager) Connect(ctx context.Context, id string, a Attach) (*Endpoint, error) {
	l, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	nets, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	lease, err := m.readLease(id)
	if err != nil {
		return nil, err
	}
	if lease == nil || lease.NetNS == "" {
		return nil, errorf(ErrInvalid, "container %s has no network namespace of its own to connect", id)
	}
	leases, err := m.loadLeases()
	if err != nil {
		return nil, err
	}
	ep, err := newEndpoint(lease, nets, a, usedAddrs(leases))
	if err != nil {
		return nil, err
	}
	lease.Endpoints = append(lease.Endpoints, *ep)
	if err := m.writeLease(lease); err != nil {
		return nil, err
	}
	n, _ := find(nets, ep.NetworkID, false)
	undo := func(err error) (*Endpoint, error) {
		_ = deleteLink(netlinkHost(), ep.HostVeth)
		lease.Endpoints = lease.Endpoints[:len(lease.Endpoints)-1]
		return nil, errors.Join(err, m.writeLease(lease))
	}
	if err := m.up(ctx, n, nets); err != nil {
		return undo(err)
	}
	ns, inner, err := openNetNS(lease.NetNS)
	if err != nil {
		return undo(err)
	}
	defer ns.Close()
	defer inner.Close()
	if err := plumb(inner, ns, ep, n, len(lease.Endpoints) == 1); err != nil {
		return undo(err)
	}
	return ep, m.updateDNS(nets, []Endpoint{*ep})
}

// Disconnect detaches container id from network ref (its endpoint goes;
// the namespace stays).
func (m *Manager) Disconnect(ctx context.Context, id, ref string) error {
	l, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	nets, err := m.loadAll()
	if err != nil {
		return err
	}
	n, err := find(nets, ref, false)
	if err != nil {
		return err
	}
	lease, err := m.readLease(id)
	if err != nil {
		return err
	}
	i := -1
	if lease != nil {
		i = slices.IndexFunc(lease.Endpoints, func(ep Endpoint) bool { return ep.NetworkID == n.ID })
	}
	if i < 0 {
		return errorf(ErrNotFound, "container %s is not connected to network %s", id, n.Name)
	}
	ep := lease.Endpoints[i]
	if err := deleteLink(netlinkHost(), ep.HostVeth); err != nil {
		return err
	}
	lease.Endpoints = slices.Delete(lease.Endpoints, i, i+1)
	if i == 0 && len(lease.Ports) > 0 {
		lease.Ports = nil // they led to the address that went
		defer func() { _ = m.applyRules(nets) }()
	}
	if err := m.writeLease(lease); err != nil {
		return err
	}
	leases, err := m.loadLeases()
	if err != nil {
		return err
	}
	return m.writeRecords(nets, []Endpoint{ep}, leases)
}

// SweepOrphans removes what no lease accounts for (namespace files and
// veths on our bridges that a killed command left), reapplies the rules
// and DNS names, and stops DNS servers of networks without endpoints.
// Stale leases themselves are the engine's to judge (Teardown).
func (m *Manager) SweepOrphans(ctx context.Context) error {
	l, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	nets, err := m.loadAll()
	if err != nil {
		return err
	}
	leases, err := m.loadLeases()
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	for _, ls := range leases {
		owned[ls.NetNS] = true
		for _, ep := range ls.Endpoints {
			owned[ep.HostVeth] = true
		}
	}
	var errs []error
	if ents, err := os.ReadDir(m.netns); err == nil {
		for _, e := range ents {
			if p := m.netnsPath(e.Name()); !owned[p] {
				errs = append(errs, removeNetNS(p))
			}
		}
	}
	bridges := map[int]bool{}
	links, err := netlink.LinkList()
	if err != nil {
		return err
	}
	for _, ln := range links {
		if slices.ContainsFunc(nets, func(n *Network) bool { return n.Bridge() == ln.Attrs().Name }) {
			bridges[ln.Attrs().Index] = true
		}
	}
	for _, ln := range links {
		a := ln.Attrs()
		if strings.HasPrefix(a.Name, vethPrefix) && bridges[a.MasterIndex] && !owned[a.Name] {
			errs = append(errs, deleteLink(netlinkHost(), a.Name))
		}
	}
	if len(nets) > 0 && (m.tableExists() || len(leasePorts(leases)) > 0) {
		errs = append(errs, applyTable(nets, leasePorts(leases)))
	}
	var all []Endpoint
	for _, n := range nets {
		all = append(all, Endpoint{NetworkID: n.ID})
	}
	errs = append(errs, m.writeRecords(nets, all, leases))
	return errors.Join(errs...)
}

// CheckAttach validates an attachment's static addresses and MAC
// against network n, so that create refuses what start would.
func CheckAttach(n *Network, a Attach) error {
	if n.Driver != "bridge" {
		return errorf(ErrInvalid, "container cannot be connected to network %s (driver %s): use --network %s", n.Name, n.Driver, n.Name)
	}
	if n.IsDefault() && (a.IPv4 != "" || a.IPv6 != "") {
		return errorf(ErrInvalid, "user specified IP address is supported on user defined networks only")
	}
	if n.IsDefault() && len(a.Aliases) > 0 {
		return errorf(ErrInvalid, "network-scoped alias is supported only for containers in user defined networks")
	}
	v4, v6 := n.subnets()
	for _, c := range []struct {
		s    *subnet
		addr string
	}{{v4, a.IPv4}, {v6, a.IPv6}} {
		if c.addr == "" {
			continue
		}
		if _, _, err := address(c.s, c.addr, map[netip.Addr]bool{}, n.Name); err != nil {
			return err
		}
		if ip, _ := netip.ParseAddr(c.addr); (c.s != nil) && ip.Is4() != c.s.prefix.Addr().Is4() {
			return errorf(ErrInvalid, "invalid IP address %s for its family", c.addr)
		}
	}
	if a.MAC != "" {
		if mac, err := net.ParseMAC(a.MAC); err != nil || len(mac) != 6 || mac[0]&1 != 0 {
			return errorf(ErrInvalid, "invalid MAC address %s", a.MAC)
		}
	}
	return nil
}
