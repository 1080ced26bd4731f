package network

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Names of our links: bridges of user-defined networks are "pl-" and 12
// hex digits of the network ID; the host's end of a container's veth is
// "pv" and 12 hex digits of a hash of container and network IDs.
const (
	bridgePrefix = "pl-"
	vethPrefix   = "pv"
)

func vethName(container, network string) string {
	h := sha256.Sum256([]byte(container + "/" + network))
	return vethPrefix + hex.EncodeToString(h[:6])
}

// hostRoutes lists the host's IPv4 routes (but the default route and
// those on our own bridges), which a new network's subnet must avoid.
func hostRoutes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	links := map[int]string{}
	if ls, err := netlink.LinkList(); err == nil {
		for _, l := range ls {
			links[l.Attrs().Index] = l.Attrs().Name
		}
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || isOurBridge(links[r.LinkIndex]) {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok || ones == 0 || a.Unmap().IsLoopback() {
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), ones).Masked())
	}
	return out, nil
}

func isOurBridge(name string) bool {
	return name == DefaultBridge || strings.HasPrefix(name, bridgePrefix)
}

// DefaultMTU is a bridge's MTU without the option. A bridge is a local
// link, not the uplink: a large MTU makes TCP between containers, and
// from the host to a published port, as fast as over loopback (1500
// gives about 0.7 of it; bench/network). Connections that leave the host
// have their MSS clamped to the route's MTU (nft_linux.go).
const DefaultMTU = 65520

// mtu is n's MTU option, or DefaultMTU.
func (n *Network) mtu() int {
	if v, err := strconv.Atoi(n.Options[OptMTU]); err == nil {
		return v
	}
	return DefaultMTU
}

// up makes sure n's bridge exists with its gateway addresses and is up,
// and that forwarding and our rules are in place. It is cheap when all
// is already so.
func (m *Manager) up(ctx context.Context, n *Network, nets []*Network) error {
	made, err := ensureBridge(n)
	if err != nil {
		return err
	}
	if made || !m.tableExists() {
		return m.applyRules(nets)
	}
	return nil
}

// ensureBridge creates n's bridge if it is missing; it reports whether
// it did.
func ensureBridge(n *Network) (bool, error) {
	if l, err := netlink.LinkByName(n.Bridge()); err == nil {
		if _, ok := l.(*netlink.Bridge); !ok {
			return false, fmt.Errorf("%s exists and is not a bridge", n.Bridge())
		}
		if l.Attrs().OperState == netlink.OperUp || l.Attrs().Flags&net.FlagUp != 0 {
			return false, nil
		}
		return true, configureBridge(n, l)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = n.Bridge()
	br.MTU = n.mtu()
	// A fixed address: a bridge otherwise takes its lowest port's, and
	// changes it (and every neighbour's ARP entry) as containers come
	// and go.
	br.HardwareAddr = gatewayMAC(n.ID)
	if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
		return false, fmt.Errorf("create bridge %s: %w", br.Name, err)
	}
	l, err := netlink.LinkByName(br.Name)
	if err != nil {
		return false, err
	}
	return true, configureBridge(n, l)
}

// configureBridge gives the bridge its gateway addresses (removing any
// other, left by an earlier definition of the same name), allows
// loopback-sourced traffic to leave through it (published ports reached
// on 127.0.0.1, see nft_linux.go), and brings it up.
func configureBridge(n *Network, l netlink.Link) error {
	v4, v6 := n.subnets()
	want := map[string]bool{}
	for _, s := range []*subnet{v4, v6} {
		if s == nil {
			continue
		}
		p := netip.PrefixFrom(s.gateway, s.prefix.Bits())
		want[p.String()] = true
		addr := &netlink.Addr{IPNet: ipNet(p)}
		if p.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD // usable at once, for the DNS server to bind
		}
		if err := netlink.AddrReplace(l, addr); err != nil {
			return fmt.Errorf("address %s on %s: %w", p, n.Bridge(), err)
		}
	}
	addrs, _ := netlink.AddrList(l, netlink.FAMILY_ALL)
	for _, a := range addrs {
		if a.Scope == unix.RT_SCOPE_UNIVERSE && !want[prefixOf(a.IPNet).String()] {
			_ = netlink.AddrDel(l, &a)
		}
	}
	if err := writeSysctl("net/ipv4/conf/"+n.Bridge()+"/route_localnet", "1"); err != nil {
		return err
	}
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return err
	}
	if v6 != nil {
		if err := writeSysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
			return err
		}
		// No duplicate address detection on the bridge's link-local
		// address either: it starts when the first container's veth
		// gives the bridge a carrier, and until it ends (a second or
		// two) the kernel sends no neighbour solicitation from the
		// bridge, so the first packets routed to a container (a
		// published port reached over IPv6) wait in the neighbour queue.
		if err := writeSysctl("net/ipv6/conf/"+n.Bridge()+"/accept_dad", "0"); err != nil {
			return err
		}
	}
	return netlink.LinkSetUp(l)
}

// deleteLink removes a link by name; a missing one is not an error.
func deleteLink(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// writeSysctl sets /proc/sys/<key> unless it already holds v.
func writeSysctl(key, v string) error {
	p := "/proc/sys/" + key
	if b, err := os.ReadFile(p); err == nil && string(bytes.TrimSpace(b)) == v {
		return nil
	}
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		return fmt.Errorf("sysctl %s: %w", strings.ReplaceAll(key, "/", "."), err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// containerMAC derives a MAC address from an IPv4 address, as Docker
// does (02:42 and the four bytes): an address given again to another
// container comes with the same MAC, so no neighbour's ARP entry is
// stale.
func containerMAC(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// gatewayMAC is a bridge's fixed, locally administered address.
func gatewayMAC(networkID string) net.HardwareAddr {
	h := sha256.Sum256([]byte("bridge/" + networkID))
	return net.HardwareAddr{0x02, 0x50, h[0], h[1], h[2], h[3]}
}
