package network

import (
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// IPv6: a network with a given prefix and one with a generated ULA;
// containers reach each other over IPv6 and by name (AAAA); outbound NAT
// to the neighbour; a port published on [::] reached from the neighbour
// over IPv6.
func TestIPv6(t *testing.T) {
	c := newCLI(t)
	nb := newNeighbour(t)
	host, _ := netlink.LinkByName("plt-lan")
	must(t, netlink.AddrAdd(host, &netlink.Addr{IPNet: mustCIDR(t, "2001:db8:1::1/64"), Flags: unix.IFA_F_NODAD}))
	nb.do(t, func(h *netlink.Handle) error {
		l, err := h.LinkByName("plt-lan-peer")
		if err != nil {
			return err
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: mustCIDR(t, "2001:db8:1::2/64"), Flags: unix.IFA_F_NODAD}); err != nil {
			return err
		}
		return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP("2001:db8:1::1")})
	})
	listen(t, nb, "[2001:db8:1::2]:7000")

	c.ok("network", "create", "--ipv6", "--subnet", "fd00:5::/64", "v6")
	if got := c.ok("network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{end}}", "v6"); !strings.HasPrefix(got, "true ") || !strings.Contains(got, "fd00:5::/64 fd00:5::1") {
		t.Errorf("network inspect v6: %q", got)
	}
	c.ok("network", "create", "--ipv6", "ula")
	if got := c.ok("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", "ula"); !strings.Contains(got, "fd") || !strings.Contains(got, "::/64") {
		t.Errorf("generated ULA: %q", got)
	}
	c.serve("six", "--network", "v6", "-p", "8090:80")
	addr6 := c.field("six", "{{.NetworkSettings.Networks.v6.GlobalIPv6Address}}")
	if addr6 != "fd00:5::2" {
		t.Errorf("IPv6 address %q, want fd00:5::2", addr6)
	}
	if out, code := c.ask("tcp", "["+addr6+"]:80", "--network", "v6"); code != 0 || !strings.HasPrefix(out, "six [fd00:5::3]:") {
		t.Errorf("container to container over IPv6: %q (exit %d)", out, code)
	}
	out := c.ok("run", "--rm", "--network", "v6", "net:test", "sh", "-c", "nslookup -type=aaaa six. | grep Address | tail -1; netprobe ask tcp [2001:db8:1::2]:7000")
	if !strings.Contains(out, "fd00:5::2") || !strings.Contains(out, "seen [2001:db8:1::1]:") {
		t.Errorf("AAAA and outbound NAT over IPv6: %q; want six's address and the host's as the source", out)
	}
	if got, err := nb.ask("tcp", "[2001:db8:1::1]:8090"); err != nil || !strings.HasPrefix(got, "six [2001:db8:1::2]:") {
		t.Errorf("neighbour to [2001:db8:1::1]:8090: %q %v", got, err)
	}
	if got, err := nb.ask("tcp", "192.0.2.1:8090"); err != nil || !strings.HasPrefix(got, "six ") {
		t.Errorf("neighbour to 192.0.2.1:8090: %q %v", got, err)
	}
	if got := c.ok("port", "six"); got != "80/tcp -> 0.0.0.0:8090\n80/tcp -> [::]:8090\n" {
		t.Errorf("port six = %q", got)
	}
	c.ok("rm", "-f", "six")
	c.ok("network", "rm", "v6", "ula")
	c.assertClean()
}

func mustCIDR(t testing.TB, s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}
