package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pelagos-go/pelagos/internal/atomicfile"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Manager is the networks of one data root.
type Manager struct {
	dir    string // <root>/networks
	netns  string // <runRoot>/netns
	leases string // <root>/networks/leases
	dnsDir string // <root>/networks/dns
	// DNSServer is the program that serves a user-defined network's
	// names (pelagos-monitor, run as "pelagos-monitor dns ..."). Without
	// one, containers on user-defined networks get the host's resolvers.
	DNSServer string
	// Pools are where networks created without a subnet get theirs
	// (docker's default-address-pools); nil: docker's defaults.
	Pools []AddressPool
}

// Open opens (creating if needed) the network state under root, with
// network namespace files under runRoot.
func Open(root, runRoot string) (*Manager, error) {
	m := &Manager{
		dir: filepath.Join(root, "networks"), netns: filepath.Join(runRoot, "netns"),
	}
	m.leases = filepath.Join(m.dir, "leases")
	m.dnsDir = filepath.Join(m.dir, "dns")
	for _, d := range []string{m.leases, m.dnsDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// CreateOptions are `network create`'s flags.
type CreateOptions struct {
	Name     string
	Driver   string   // bridge (the only one)
	Subnets  []string // at most one IPv4 and one IPv6
	Gateways []string // each inside one of Subnets
	IPRanges []string // each inside one of Subnets
	Internal bool
	IPv6     bool
	Labels   map[string]string
	Options  map[string]string
}

// reserved names cannot be created or removed.
var reserved = map[string]bool{"bridge": true, "host": true, "none": true}

// validName is docker's network name rule.
func validName(name string) error {
	ok := name != ""
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || (i > 0 && strings.IndexByte("_.-", c) >= 0)
	}
	if !ok {
		return errorf(ErrInvalid, "invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// Create makes a user-defined bridge network and its bridge.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (*Network, error) {
	if err := validName(o.Name); err != nil {
		return nil, err
	}
	if reserved[o.Name] || o.Name == "default" {
		return nil, errorf(ErrConflict, "network with name %s already exists", o.Name)
	}
	if o.Driver != "" && o.Driver != "bridge" {
		return nil, errorf(ErrInvalid, "network driver %q is not supported (bridge is)", o.Driver)
	}
	// The predefined networks first: the default one takes the first pool.
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
	if _, err := find(nets, o.Name, true); err == nil {
		return nil, errorf(ErrConflict, "network with name %s already exists", o.Name)
	}
	n := &Network{Name: o.Name, ID: newID(), Labels: o.Labels, Internal: o.Internal, EnableIPv6: o.IPv6}
	if err := setOptions(n, o.Options); err != nil {
		return nil, err
	}
	if n.Options[OptBridgeName] == "" {
		n.Options[OptBridgeName] = "pl-" + n.ID[:12]
	}
	for _, other := range nets {
		if other.Bridge() == n.Bridge() {
			return nil, errorf(ErrConflict, "bridge name %s is used by network %s", n.Bridge(), other.Name)
		}
	}
	if n.IPAM.Config, err = ipamConfigs(o, nets, m.Pools); err != nil {
		return nil, err
	}
	finish(n)
	if err := m.save(n); err != nil {
		return nil, err
	}
	if err := m.up(ctx, n, append(nets, n)); err != nil {
		os.Remove(m.defPath(n.ID))
		return nil, err
	}
	return n, nil
}

// finish fills the fields every network has.
func finish(n *Network) {
	n.Created = time.Now().UTC()
	n.Scope, n.Driver, n.EnableIPv4 = "local", "bridge", true
	n.IPAM.Driver = "default"
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for _, c := range n.IPAM.Config {
		if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Addr().Is6() {
			n.EnableIPv6 = true
		}
	}
}

func setOptions(n *Network, opts map[string]string) error {
	n.Options = map[string]string{}
	for k, v := range opts {
		switch k {
		case OptMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65535 {
				return errorf(ErrInvalid, "invalid MTU %q: want 68 to 65535", v)
			}
		case OptBridgeName:
			if len(v) == 0 || len(v) > 15 || strings.ContainsAny(v, "/ \t\n:") {
				return errorf(ErrInvalid, "invalid bridge name %q", v)
			}
		default:
			return errorf(ErrInvalid, "unknown network option %q (known: %s, %s)", k, OptMTU, OptBridgeName)
		}
		n.Options[k] = v
	}
	return nil
}

// ipamConfigs validates the subnets, gateways and ranges asked for, and
// picks an IPv4 pool (and an IPv6 ULA with --ipv6) where none is given.
func ipamConfigs(o CreateOptions, nets []*Network, pools []AddressPool) ([]IPAMConfig, error) {
	var cfgs []IPAMConfig
	var has4, has6 bool
	for _, s := range o.Subnets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, errorf(ErrInvalid, "invalid subnet %s: not a CIDR", s)
		}
		if p.Addr().Is4() && has4 || p.Addr().Is6() && has6 {
			return nil, errorf(ErrInvalid, "at most one IPv4 and one IPv6 subnet per network")
		}
		has4, has6 = has4 || p.Addr().Is4(), has6 || p.Addr().Is6()
		cfgs = append(cfgs, IPAMConfig{Subnet: s})
	}
	assign := func(vals []string, what string, set func(*IPAMConfig, string)) error {
		for _, v := range vals {
			a, err := netip.ParseAddr(strings.Split(v, "/")[0])
			if err != nil {
				return errorf(ErrInvalid, "invalid %s %s", what, v)
			}
			i := -1
			for j, c := range cfgs {
				if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Contains(a) {
					i = j
				}
			}
			if i < 0 {
				return errorf(ErrInvalid, "%s %s is not inside any --subnet", what, v)
			}
			set(&cfgs[i], v)
		}
		return nil
	}
	if err := assign(o.Gateways, "gateway", func(c *IPAMConfig, v string) { c.Gateway = v }); err != nil {
		return nil, err
	}
	if err := assign(o.IPRanges, "ip-range", func(c *IPAMConfig, v string) { c.IPRange = v }); err != nil {
		return nil, err
	}
	var taken []netip.Prefix
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil {
				taken = append(taken, p)
			}
		}
	}
	for i := range cfgs {
		s, err := parseSubnet(cfgs[i])
		if err != nil {
			return nil, err
		}
		for _, t := range taken {
			if overlaps(s.prefix, t) {
				return nil, errorf(ErrConflict, "invalid pool request: Pool overlaps with other one on this address space (%s overlaps %s)", s.prefix, t)
			}
		}
		cfgs[i].Gateway = s.gateway.String()
	}
	if !has4 {
		routes, err := hostRoutes()
		if err != nil {
			return nil, err
		}
		p, ok := choosePool(pools, append(taken, routes...))
		if !ok {
			return nil, errorf(ErrConflict, "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		cfgs = append([]IPAMConfig{{Subnet: p.String(), Gateway: p.Addr().Next().String()}}, cfgs...)
	}
	if o.IPv6 && !has6 {
		p := randomULA()
		cfgs = append(cfgs, IPAMConfig{Subnet: p.String(), Gateway: p.Addr().Next().String()})
	}
	return cfgs, nil
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b[:])
}

func (m *Manager) defPath(id string) string { return filepath.Join(m.dir, id+".json") }

func (m *Manager) save(n *Network) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(m.defPath(n.ID), b)
}

// loadAll reads every network definition; the caller holds the lock or
// accepts a snapshot.
func (m *Manager) loadAll() ([]*Network, error) {
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || len(id) != 64 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("network %s: corrupt definition: %w", id, err)
		}
		out = append(out, &n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// find resolves ref among nets: a name, a full ID, or a unique ID
// prefix, in docker's order.
func find(nets []*Network, ref string, nameOnly bool) (*Network, error) {
	for _, n := range nets {
		if n.Name == ref || (!nameOnly && n.ID == ref) {
			return n, nil
		}
	}
	var match []*Network
	for _, n := range nets {
		if !nameOnly && ref != "" && strings.HasPrefix(n.ID, ref) {
			match = append(match, n)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, errorf(ErrNotFound, "network %s not found", ref)
	}
	return nil, errorf(ErrNotFound, "network %s is ambiguous (%d matches found based on ID prefix)", ref, len(match))
}

// withDefault returns nets with the predefined networks (bridge, host,
// none), creating their definitions (under the lock) the first time.
func (m *Manager) withDefault(ctx context.Context) ([]*Network, error) {
	nets, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	if hasBuiltins(nets) {
		return nets, nil
	}
	l, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	if nets, err = m.loadAll(); err != nil {
		return nil, err
	}
	for _, b := range []struct{ name, driver string }{{DefaultNetwork, "bridge"}, {"host", "host"}, {"none", "null"}} {
		if _, err := find(nets, b.name, true); err == nil {
			continue
		}
		n := &Network{Name: b.name, ID: newID(), Options: map[string]string{}}
		if b.driver == "bridge" {
			n.Options[OptBridgeName] = DefaultBridge
			if n.IPAM.Config, err = ipamConfigs(CreateOptions{}, nets, m.Pools); err != nil {
				return nil, err
			}
		}
		finish(n)
		n.Driver, n.EnableIPv4 = b.driver, b.driver == "bridge"
		if err := m.save(n); err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	return nets, nil
}

func hasBuiltins(nets []*Network) bool {
	n := 0
	for _, x := range nets {
		if reserved[x.Name] {
			n++
		}
	}
	return n >= 3
}

// bridges are the networks with a bridge (not host or none).
func bridges(nets []*Network) []*Network {
	var out []*Network
	for _, n := range nets {
		if n.Driver == "bridge" {
			out = append(out, n)
		}
	}
	return out
}

// Get finds the network ref names (name, ID or unique ID prefix).
func (m *Manager) Get(ctx context.Context, ref string) (*Network, error) {
	nets, err := m.withDefault(ctx)
	if err != nil {
		return nil, err
	}
	return find(nets, ref, false)
}

// List returns every network, the default one included, oldest first.
func (m *Manager) List(ctx context.Context) ([]*Network, error) {
	return m.withDefault(ctx)
}

// Inspect returns network ref with its endpoints in Containers.
func (m *Manager) Inspect(ctx context.Context, ref string) (*Network, error) {
	n, err := m.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	leases, err := m.loadLeases()
	if err != nil {
		return nil, err
	}
	n.Containers = map[string]NetworkContainer{}
	for _, l := range leases {
		for _, ep := range l.Endpoints {
			if ep.NetworkID != n.ID {
				continue
			}
			nc := NetworkContainer{Name: l.Name, EndpointID: ep.ID, MacAddress: ep.MAC}
			if ep.IPv4.IsValid() {
				nc.IPv4Address = ep.IPv4.String()
			}
			if ep.IPv6.IsValid() {
				nc.IPv6Address = ep.IPv6.String()
			}
			n.Containers[l.Container] = nc
		}
	}
	return n, nil
}

// Remove removes network ref: its bridge, rules and definition. A
// network with active endpoints is refused.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	if _, err := m.withDefault(ctx); err != nil {
		return err
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
	n, err := find(nets, ref, false)
	if err != nil {
		return err
	}
	if reserved[n.Name] {
		return errorf(ErrInvalid, "%s is a pre-defined network and cannot be removed", n.Name)
	}
	leases, err := m.loadLeases()
	if err != nil {
		return err
	}
	for _, ls := range leases {
		for _, ep := range ls.Endpoints {
			if ep.NetworkID == n.ID {
				return errorf(ErrInUse, "error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
			}
		}
	}
	if err := m.down(n, nets); err != nil {
		return err
	}
	return os.Remove(m.defPath(n.ID))
}

// Prune removes every user-defined network without endpoints and
// returns their names.
func (m *Manager) Prune(ctx context.Context) ([]string, error) {
	nets, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range nets {
		if reserved[n.Name] {
			continue
		}
		err := m.Remove(ctx, n.ID)
		if errors.Is(err, ErrInUse) || errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, n.Name)
	}
	return out, nil
}

// writeAtomic replaces path with b; see package atomicfile.
func writeAtomic(path string, b []byte) error { return atomicfile.Write(path, b) }
