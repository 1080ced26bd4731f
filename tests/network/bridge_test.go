package network

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// The default bridge: an address from a private pool, a default route
// through pelagos0, outbound NAT (the neighbour sees the host's address),
// /etc/hosts with the container's own address; and nothing left after.
func TestDefaultBridgeOutboundNAT(t *testing.T) {
	c := newCLI(t)
	nb := newNeighbour(t)
	listen(t, nb, "192.0.2.2:7000")
	out := c.ok("run", "--rm", "--hostname", "box", "net:test", "sh", "-c",
		"ip -4 -o addr show eth0 | awk '{print $4}'; ip route | grep default; grep box /etc/hosts; netprobe ask tcp 192.0.2.2:7000")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("container output %q: want 4 lines", out)
	}
	addr, _, err := net.ParseCIDR(lines[0])
	if err != nil || !addr.IsPrivate() {
		t.Errorf("eth0 address %q: want a private address", lines[0])
	}
	if !strings.Contains(lines[1], "default via") {
		t.Errorf("route %q: want a default route", lines[1])
	}
	if want := addr.String() + "\tbox"; lines[2] != want {
		t.Errorf("/etc/hosts line %q, want %q", lines[2], want)
	}
	if !strings.HasPrefix(lines[3], "seen 192.0.2.1:") {
		t.Errorf("the neighbour saw %q: want the host's address 192.0.2.1 (masquerade)", lines[3])
	}
	// eth0 has the bridge's large MTU; the connection's MSS was clamped
	// to the host's 1500-byte link.
	if f := strings.Fields(lines[3]); len(f) != 4 || f[3] == "0" || len(f[3]) > 4 || f[3] > "1460" {
		t.Errorf("the neighbour's connection: %q, want an MSS of at most 1460", lines[3])
	}
	br, err := netlink.LinkByName("pelagos0")
	if err != nil {
		t.Fatalf("bridge pelagos0: %v", err)
	}
	addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
	if len(addrs) != 1 || !addrs[0].Contains(addr) {
		t.Errorf("pelagos0 addresses %v: want the gateway of %s's subnet", addrs, addr)
	}
	c.assertClean()
}

// The default subnet avoids the host's routes: with 172.17.0.0/16 routed
// elsewhere, the default network takes the next pool.
func TestDefaultSubnetAvoidsHostRoutes(t *testing.T) {
	c := newCLI(t)
	other := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: "plt-other-peer"}
	other.Name = "plt-other"
	must(t, netlink.LinkAdd(other))
	t.Cleanup(func() { netlink.LinkDel(other) })
	must(t, netlink.LinkSetUp(other))
	_, taken, _ := net.ParseCIDR("172.17.0.0/16")
	must(t, netlink.AddrAdd(other, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(172, 17, 0, 1), Mask: taken.Mask}}))
	if got := c.field("bridge", "{{(index .IPAM.Config 0).Subnet}}"); got != "172.18.0.0/16" {
		t.Errorf("default subnet %s, want 172.18.0.0/16 (172.17.0.0/16 is routed on the host)", got)
	}
	if got := strings.TrimSpace(c.ok("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "bridge")); got != "172.18.0.0/16" {
		t.Errorf("network inspect: default subnet %s", got)
	}
}

// Published ports: reachable from the LAN neighbour, from the host
// (loopback and its own addresses), from another container and from the
// container itself (hairpin); a port bound to 127.0.0.1 only from the
// host; UDP too.
func TestPublishedPorts(t *testing.T) {
	c := newCLI(t)
	nb := newNeighbour(t)
	c.serve("pub", "-p", "8080:80", "-p", "127.0.0.1:8081:80", "-p", "8053:80/udp")
	reach := []struct {
		name, proto, addr string
		from              func(proto, addr string) (string, error)
	}{
		{"neighbour to the host's LAN address", "tcp", "192.0.2.1:8080", nb.ask},
		{"neighbour, UDP", "udp", "192.0.2.1:8053", nb.ask},
		{"host to 127.0.0.1", "tcp", "127.0.0.1:8080", ask},
		{"host to 127.0.0.1, loopback-only port", "tcp", "127.0.0.1:8081", ask},
		{"host to its LAN address", "tcp", "192.0.2.1:8080", ask},
		{"host, UDP", "udp", "127.0.0.1:8053", ask},
	}
	for _, r := range reach {
		got, err := r.from(r.proto, r.addr)
		if err != nil || !strings.HasPrefix(got, "pub ") {
			t.Errorf("%s (%s %s): %q %v; want the container's answer", r.name, r.proto, r.addr, got, err)
		}
	}
	// The neighbour's own address is what the container sees: no
	// masquerade of inbound traffic.
	if got, _ := nb.ask("tcp", "192.0.2.1:8080"); !strings.HasPrefix(got, "pub 192.0.2.2:") {
		t.Errorf("the container saw %q, want the neighbour's address", got)
	}
	if got, err := nb.ask("tcp", "192.0.2.1:8081"); err == nil {
		t.Errorf("a port published on 127.0.0.1 answered the neighbour: %q", got)
	}
	// Another container and the container itself, through the host's
	// address (hairpin NAT).
	if got, code := c.ask("tcp", "192.0.2.1:8080"); code != 0 || !strings.HasPrefix(got, "pub ") {
		t.Errorf("another container to 192.0.2.1:8080: %q (exit %d)", got, code)
	}
	if out, _, code := c.run(nil, "exec", "pub", "netprobe", "ask", "tcp", "192.0.2.1:8080"); code != 0 || !strings.HasPrefix(out, "pub ") {
		t.Errorf("the container to its own published port: %q (exit %d)", out, code)
	}
	if got := c.ok("port", "pub"); got != "80/tcp -> 0.0.0.0:8080\n80/tcp -> 127.0.0.1:8081\n80/udp -> 0.0.0.0:8053\n" {
		t.Errorf("port pub = %q", got)
	}
	if got := c.ok("port", "pub", "80/udp"); got != "0.0.0.0:8053\n" {
		t.Errorf("port pub 80/udp = %q", got)
	}
	c.fails(1, "No public port '81/tcp' published", "port", "pub", "81")
	if got := c.ok("ps", "--format", "{{.Ports}}"); got != "0.0.0.0:8080->80/tcp, 127.0.0.1:8081->80/tcp, 0.0.0.0:8053->80/udp\n" {
		t.Errorf("ps Ports = %q", got)
	}
	if got := c.field("pub", `{{json .NetworkSettings.Ports}}`); got != `{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"127.0.0.1","HostPort":"8081"}],"80/udp":[{"HostIp":"0.0.0.0","HostPort":"8053"}]}` {
		t.Errorf("inspect NetworkSettings.Ports = %s", got)
	}
	c.ok("rm", "-f", "pub")
	if _, err := ask("tcp", "127.0.0.1:8080"); err == nil {
		t.Error("the port still answers after rm -f")
	}
	c.assertClean()
}

// A port published by another container, or held by a host process, is
// a clear error; -P picks free ports for the exposed ones; ranges map
// one to one.
func TestPortAllocation(t *testing.T) {
	c := newCLI(t)
	c.serve("first", "-p", "9000:80")
	c.fails(125, "Bind for 0.0.0.0:9000 failed: port is already allocated", "run", "--rm", "-p", "9000:80", "net:test", "true")
	l, err := net.Listen("tcp", "127.0.0.1:9001")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c.fails(125, "Bind for 0.0.0.0:9001 failed: address already in use", "run", "--rm", "-p", "9001:80", "net:test", "true")
	c.fails(125, "invalid publish spec", "run", "--rm", "-p", "80:99999", "net:test", "true")
	c.fails(125, "invalid publish spec", "run", "--rm", "-p", "1-3:1-2", "net:test", "true")
	c.fails(125, "IPv6 loopback", "run", "--rm", "-p", "[::1]:9002:80", "net:test", "true")
	// -P: the image exposes 80/tcp.
	c.serve("all", "--expose", "80", "-P")
	port := strings.TrimSpace(c.ok("port", "all", "80"))
	if got, err := ask("tcp", port); err != nil || !strings.HasPrefix(got, "all ") {
		t.Errorf("-P published %s: %q %v", port, got, err)
	}
	c.serve("range", "-p", "9010-9012:80-82")
	if got := c.ok("port", "range"); got != "80/tcp -> 0.0.0.0:9010\n81/tcp -> 0.0.0.0:9011\n82/tcp -> 0.0.0.0:9012\n" {
		t.Errorf("port range = %q", got)
	}
	c.serve("pick", "-p", "9000-9005:80")
	if got := c.ok("port", "pick", "80"); got != "0.0.0.0:9002\n" {
		t.Errorf("a host range gives the first free port: %q, want 0.0.0.0:9002 (9000 taken, 9001 held by the host)", got)
	}
	c.ok("rm", "-f", "first", "all", "range", "pick")
	c.assertClean()
}

// Containers cannot reach the host's loopback services through their
// gateway (route_localnet is on for the bridge, for published ports on
// 127.0.0.1), and the LAN neighbour cannot reach a port published on
// 127.0.0.1 by routing 127.0.0.1 to the host: both attacks are dropped.
func TestLoopbackNotReachableFromOutside(t *testing.T) {
	c := newCLI(t)
	nb := newNeighbour(t)
	listen(t, nil, "127.0.0.1:7100")
	// A privileged container reroutes 127.0.0.1 through its gateway.
	script := "ip rule del pref 0 && ip rule add pref 100 lookup local && ip rule add pref 50 to 127.0.0.1 lookup main && " +
		"ip route add 127.0.0.1/32 via $(ip route | awk '/default/ {print $3}') && netprobe ask tcp 127.0.0.1:7100"
	if out, errs, code := c.run(nil, "run", "--rm", "--cap-add", "NET_ADMIN", "net:test", "sh", "-c", script); code == 0 || strings.Contains(out, "seen") {
		t.Errorf("a container reached the host's 127.0.0.1:7100: %q %q", out, errs)
	}
	// The neighbour does the same towards a port published on 127.0.0.1.
	c.serve("lo", "-p", "127.0.0.1:8181:80")
	nb.do(t, func(h *netlink.Handle) error {
		rules, _ := h.RuleList(netlink.FAMILY_V4)
		for _, r := range rules {
			if r.Priority == 0 {
				if err := h.RuleDel(&r); err != nil {
					return err
				}
			}
		}
		local := netlink.NewRule()
		local.Priority, local.Table = 100, 255
		if err := h.RuleAdd(local); err != nil {
			return err
		}
		to := netlink.NewRule()
		to.Priority, to.Table = 50, 254
		to.Dst = &net.IPNet{IP: net.IPv4(127, 0, 0, 1), Mask: net.CIDRMask(32, 32)}
		if err := h.RuleAdd(to); err != nil {
			return err
		}
		l, _ := h.LinkByName("plt-lan-peer")
		return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: to.Dst, Gw: hostLAN})
	})
	if got, err := nb.ask("tcp", "127.0.0.1:8181"); err == nil {
		t.Errorf("the neighbour reached a port published on 127.0.0.1 by routing 127.0.0.1 to the host: %q", got)
	}
	if got, err := ask("tcp", "127.0.0.1:8181"); err != nil || !strings.HasPrefix(got, "lo ") {
		t.Errorf("the host itself: %q %v", got, err)
	}
	c.ok("rm", "-f", "lo")
	c.assertClean()
}

// Bad input gets clear errors; nothing is half-made.
func TestNetworkBadInput(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "--subnet", "10.60.0.0/16", "a")
	cases := []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"network", "create", "a"}, 1, "network with name a already exists"},
		{[]string{"network", "create", "bridge"}, 1, "network with name bridge already exists"},
		{[]string{"network", "create", "--subnet", "10.60.1.0/24", "b"}, 1, "Pool overlaps with other one on this address space"},
		{[]string{"network", "create", "--subnet", "10.61.0.0/33", "b"}, 1, "invalid subnet 10.61.0.0/33: not a CIDR"},
		{[]string{"network", "create", "--subnet", "10.61.0.1/24", "b"}, 1, "host bits set"},
		{[]string{"network", "create", "--subnet", "nonsense", "b"}, 1, "not a CIDR"},
		{[]string{"network", "create", "--subnet", "10.61.0.0/24", "--gateway", "10.62.0.1", "b"}, 1, "gateway 10.62.0.1 is not inside any --subnet"},
		{[]string{"network", "create", "--subnet", "10.61.0.0/24", "--ip-range", "10.61.1.0/25", "b"}, 1, "not inside any --subnet"},
		{[]string{"network", "create", "-o", "com.docker.network.driver.mtu=12", "b"}, 1, "invalid MTU"},
		{[]string{"network", "create", "-d", "overlay", "b"}, 1, "not supported"},
		{[]string{"network", "create", "bad/name"}, 1, "invalid network name"},
		{[]string{"network", "rm", "nosuch"}, 1, "network nosuch not found"},
		{[]string{"network", "rm", "bridge"}, 1, "pre-defined network"},
		{[]string{"network", "inspect", "nosuch"}, 1, "network nosuch not found"},
		{[]string{"run", "--rm", "--network", "nosuch", "net:test", "true"}, 125, "network nosuch not found"},
		{[]string{"run", "--rm", "--ip", "10.60.0.5", "net:test", "true"}, 125, "supported on user defined networks only"},
		{[]string{"run", "--rm", "--network", "a", "--ip", "10.99.0.5", "net:test", "true"}, 125, "not a usable address of network a"},
		{[]string{"run", "--rm", "--network", "a", "--mac-address", "01:00:00:00:00:01", "net:test", "true"}, 125, "invalid MAC address"},
		{[]string{"run", "--rm", "--dns", "notanip", "net:test", "true"}, 125, "IP address is not correctly formatted: notanip"},
		{[]string{"run", "--rm", "--add-host", "nocolon", "net:test", "true"}, 125, "bad format for add-host"},
		{[]string{"run", "--rm", "--network", "container:nosuch", "net:test", "true"}, 125, "No such container: nosuch"},
	}
	for _, tc := range cases {
		c.fails(tc.want, tc.msg, tc.args...)
	}
	if got := c.ok("network", "ls", "--format", "{{.Name}}"); got != "a\nbridge\nhost\nnone\n" {
		t.Errorf("network ls after the refusals: %q", got)
	}
	c.serve("user", "--network", "a")
	c.fails(1, "has active endpoints", "network", "rm", "a")
	c.ok("rm", "-f", "user")
	c.ok("network", "rm", "a")
	c.assertClean()
}

// network create/ls/inspect/rm/prune/connect/disconnect, labels, MTU,
// internal networks, containers on several networks and isolation
// between networks.
func TestNetworkCommands(t *testing.T) {
	c := newCLI(t)
	nb := newNeighbour(t)
	listen(t, nb, "192.0.2.2:7000")
	id := strings.TrimSpace(c.ok("network", "create", "--subnet", "10.70.0.0/24", "--gateway", "10.70.0.254",
		"--ip-range", "10.70.0.128/25", "--label", "team=net", "-o", "com.docker.network.driver.mtu=1400", "front"))
	c.ok("network", "create", "--internal", "--subnet", "10.71.0.0/24", "back")
	got := strings.TrimSpace(c.ok("network", "inspect", "-f",
		"{{.Name}} {{.Driver}} {{.Internal}} {{index .Labels \"team\"}} {{(index .IPAM.Config 0).Gateway}} {{(index .IPAM.Config 0).IPRange}} {{index .Options \"com.docker.network.driver.mtu\"}}", id[:12]))
	if got != "front bridge false net 10.70.0.254 10.70.0.128/25 1400" {
		t.Errorf("network inspect front: %q", got)
	}
	if got := c.ok("network", "ls", "--filter", "label=team=net", "-q"); got != id[:12]+"\n" {
		t.Errorf("network ls --filter label: %q", got)
	}
	out := c.ok("run", "--rm", "--network", "front", "net:test", "sh", "-c",
		"cat /sys/class/net/eth0/mtu; ip -4 -o addr show eth0 | awk '{print $4}'; ip route | awk '/default/ {print $3}'")
	if out != "1400\n10.70.0.128/24\n10.70.0.254\n" {
		t.Errorf("on front: mtu, address, gateway = %q; want 1400, the first of the ip-range, the gateway given", out)
	}
	// An internal network has no way out, and no default route.
	if out, code := c.ask("tcp", "192.0.2.2:7000", "--network", "back"); code == 0 {
		t.Errorf("a container on an internal network reached the neighbour: %q", out)
	}
	// A container on both networks; another on back only; one on front.
	c.serve("both", "--network", "front", "--network", "back")
	c.serve("backonly", "--network", "back")
	ifs := c.ok("exec", "both", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '")
	if strings.TrimSpace(ifs) != "eth0 eth1 lo" {
		t.Errorf("on two networks: interfaces %q, want eth0 eth1 lo", ifs)
	}
	if got := c.ok("ps", "--filter", "name=both", "--format", "{{.Networks}}"); got != "front,back\n" {
		t.Errorf("ps Networks = %q", got)
	}
	backIP := c.field("backonly", "{{.NetworkSettings.Networks.back.IPAddress}}")
	bothBack := c.field("both", "{{.NetworkSettings.Networks.back.IPAddress}}")
	if got, code := c.ask("tcp", backIP+":80", "--network", "front"); code == 0 {
		t.Errorf("front reached back's %s across networks: %q", backIP, got)
	}
	// Containers of one network see each other's own addresses (no NAT).
	if out, _, code := c.run(nil, "exec", "both", "netprobe", "ask", "tcp", backIP+":80"); code != 0 || !strings.HasPrefix(out, "backonly "+bothBack+":") {
		t.Errorf("both to backonly on back: %q (exit %d), want backonly to see %s", out, code, bothBack)
	}
	// connect and disconnect, live.
	c.ok("network", "connect", "--ip", "10.70.0.200", "--alias", "svc", "front", "backonly")
	if got := c.field("backonly", "{{.NetworkSettings.Networks.front.IPAddress}}"); got != "10.70.0.200" {
		t.Errorf("after connect: front address %q, want 10.70.0.200", got)
	}
	if out, code := c.ask("tcp", "svc:80", "--network", "front"); code != 0 || !strings.HasPrefix(out, "backonly ") {
		t.Errorf("front to svc (the alias given at connect): %q (exit %d)", out, code)
	}
	if got := c.ok("network", "inspect", "-f", "{{len .Containers}}", "front"); got != "2\n" {
		t.Errorf("front has %q containers, want 2", got)
	}
	c.ok("network", "disconnect", "back", "both")
	if got, _, code := c.run(nil, "exec", "both", "netprobe", "ask", "tcp", bothBack+":80"); code == 0 {
		t.Errorf("both still on back after disconnect: %q", got)
	}
	c.fails(1, "is not connected to network back", "network", "disconnect", "back", "both")
	c.ok("rm", "-f", "both", "backonly")
	out = c.ok("network", "prune", "-f")
	if !strings.Contains(out, "front") || !strings.Contains(out, "back") {
		t.Errorf("network prune: %q", out)
	}
	if got := c.ok("network", "ls", "--format", "{{.Name}}"); got != "bridge\nhost\nnone\n" {
		t.Errorf("network ls after prune: %q", got)
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "pl-") {
			t.Errorf("bridge %s left after prune", l.Attrs().Name)
		}
	}
	c.assertClean()
}

// Static addresses, MAC addresses and subnet exhaustion; addresses come
// back when their container goes.
func TestAddressManagement(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "--subnet", "10.80.0.0/29", "small")
	c.serve("static", "--network", "small", "--ip", "10.80.0.5", "--mac-address", "02:11:22:33:44:55")
	if got := c.ok("exec", "static", "cat", "/sys/class/net/eth0/address"); got != "02:11:22:33:44:55\n" {
		t.Errorf("MAC %q, want the one given", got)
	}
	if got := c.field("static", "{{.NetworkSettings.Networks.small.IPAddress}} {{.NetworkSettings.Networks.small.MacAddress}} {{.NetworkSettings.Networks.small.IPAMConfig.IPv4Address}}"); got != "10.80.0.5 02:11:22:33:44:55 10.80.0.5" {
		t.Errorf("inspect: %q", got)
	}
	c.fails(125, "address 10.80.0.5 is already in use", "run", "--rm", "--network", "small", "--ip", "10.80.0.5", "net:test", "true")
	// A /29 has 6 hosts: the gateway, static, and 4 more.
	var names []string
	for i := 0; i < 4; i++ {
		n := fmt.Sprintf("fill%d", i)
		c.serve(n, "--network", "small")
		names = append(names, n)
	}
	c.fails(125, "no available IPv4 addresses on network small", "run", "--rm", "--network", "small", "net:test", "true")
	c.ok("rm", "-f", names[1])
	if got := strings.TrimSpace(c.ok("run", "--rm", "--network", "small", "net:test", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'")); got != "10.80.0.3/29" {
		t.Errorf("after a removal the freed address comes back: got %s, want 10.80.0.3/29", got)
	}
	c.ok("rm", "-f", "static", names[0], names[2], names[3])
	c.assertClean()
}
