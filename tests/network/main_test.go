// Package network tests pelagos's networking end to end with the built
// binaries, for real: bridges, veths, nftables, the DNS server and
// published ports in the kernel. The test binary runs in a network
// namespace of its own (testenv.MainInNetNS), which plays the "host";
// a second namespace joined to it by a veth pair plays a LAN neighbour
// (192.0.2.2, the host being 192.0.2.1, TEST-NET-1 addresses). Traffic
// goes only to loopback and to addresses in those namespaces.
package network

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

const prefix = "pelagos-nettest-"

func TestMain(m *testing.M) {
	if err := testenv.CleanStale(prefix); err != nil {
		fmt.Fprintln(os.Stderr, "clean up after an earlier run:", err)
	}
	testenv.MainInNetNS(m)
}

var seq atomic.Int64

// cli runs the built pelagos on a data root of its own.
type cli struct {
	t    testing.TB
	bin  string
	root string
	env  []string
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	testenv.RequireRoot(t)
	if !testenv.InNetNS() {
		t.Skip("needs the network namespace testenv.MainInNetNS gives (run as root)")
	}
	opts := testenv.BuildOptions{Release: true}
	bin := testenv.Build(t, "./cmd/pelagos", opts)
	mon := testenv.Build(t, "./cmd/pelagos-monitor", opts)
	dns := testenv.Build(t, "./cmd/pelagos-dns", opts)
	root, err := testenv.TempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(root, "host-resolv.conf")
	// The host's resolver is a local one, as with systemd-resolved.
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.53\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, bin: bin, root: root}
	c.env = append(os.Environ(), "PELAGOS_ROOT="+root, "PELAGOS_MONITOR="+mon, "PELAGOS_DNS="+dns,
		"PELAGOS_RESOLV_CONF="+resolv,
		fmt.Sprintf("PELAGOS_CGROUP_PARENT=/%s%d-%d", prefix, os.Getpid(), seq.Add(1)),
		"PELAGOS_REGISTRIES_CONFIG="+filepath.Join(root, "none.json"))
	t.Cleanup(c.destroy)
	c.importImage("net:test")
	return c
}

// resolvConf is the host resolver configuration pelagos reads.
func (c *cli) resolvConf() string { return filepath.Join(c.root, "host-resolv.conf") }

// destroy removes every container and network the test left, then the
// root.
func (c *cli) destroy() {
	out, _, _ := c.run(nil, "ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(out) {
		c.run(nil, "rm", "-f", id)
	}
	c.run(nil, "system", "prune", "-f")
	for _, pid := range c.processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	testenv.UnmountUnder(c.root)
	for _, dir := range cgroupDirs(c.env) {
		testenv.RemoveCgroupTree(dir)
	}
	os.RemoveAll(c.root)
}

func cgroupDirs(env []string) []string {
	var parent string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PELAGOS_CGROUP_PARENT="); ok {
			parent = v
		}
	}
	hs, _ := testenv.Hierarchies()
	var out []string
	for _, h := range hs {
		out = append(out, filepath.Join(h.Mount, parent))
	}
	return out
}

// processes lists monitors and DNS servers of this test's root.
func (c *cli) processes() []int {
	return testenv.Processes(func(args []string) bool {
		line := strings.Join(args, "\x00")
		return strings.Contains(line, c.root) && (strings.HasPrefix(line, "pelagos-dns") || strings.Contains(line, "pelagos-monitor"))
	})
}

func (c *cli) run(stdin []byte, args ...string) (string, string, int) {
	c.t.Helper()
	return testenv.RunCLI(c.t, c.bin, c.env, stdin, args...)
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	return testenv.MustCLI(c.t, c.bin, c.env, args...)
}

// fails runs pelagos, wants exit code want and stderr containing msg.
func (c *cli) fails(want int, msg string, args ...string) {
	c.t.Helper()
	out, errs, code := c.run(nil, args...)
	if code != want || !strings.Contains(errs, msg) {
		c.t.Errorf("pelagos %s: exit %d, stderr %q; want exit %d and %q\nstdout:\n%s", strings.Join(args, " "), code, errs, want, msg, out)
	}
}

func (c *cli) field(ref, tmpl string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("inspect", "-f", tmpl, ref))
}

// serve starts a detached container answering on port 80 (TCP and UDP)
// with "NAME PEER".
func (c *cli) serve(name string, flags ...string) string {
	c.t.Helper()
	args := append([]string{"run", "-d", "--name", name, "-e", "NAME=" + name}, flags...)
	args = append(args, "net:test", "sh", "-c", "netprobe serve udp 80 & exec netprobe serve tcp 80")
	id := strings.TrimSpace(c.ok(args...))
	waitFor(c.t, name+" to listen", func() bool {
		_, _, code := c.run(nil, "exec", name, "netprobe", "ask", "tcp", "127.0.0.1:80")
		return code == 0
	})
	return id
}

// ask runs "netprobe ask" in a new container on flags' network.
func (c *cli) ask(proto, addr string, flags ...string) (string, int) {
	c.t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), "net:test", "netprobe", "ask", proto, addr)
	out, _, code := c.run(nil, args...)
	return strings.TrimSpace(out), code
}

// importImage imports busybox-static with netprobe in /bin.
func (c *cli) importImage(tag string) {
	c.t.Helper()
	bb, err := os.ReadFile(imagetest.BusyboxPath)
	if err != nil {
		c.t.Skipf("busybox-static not installed (scripts/install-test-deps.sh installs it): %v", err)
	}
	probe, err := os.ReadFile(testenv.Build(c.t, "./tests/network/netprobe", testenv.BuildOptions{Static: true, Strip: true}))
	if err != nil {
		c.t.Fatal(err)
	}
	list, err := exec.Command(imagetest.BusyboxPath, "--list").Output()
	if err != nil {
		c.t.Fatal(err)
	}
	ents := []imagetest.Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Type: tar.TypeReg, Body: bb, Mode: 0o755},
		{Name: "bin/netprobe", Type: tar.TypeReg, Body: probe, Mode: 0o755},
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Type: tar.TypeReg, Body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{Name: "etc/group", Type: tar.TypeReg, Body: []byte("root:x:0:\n")},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
	}
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			ents = append(ents, imagetest.Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
		}
	}
	p := filepath.Join(c.root, "image.tar")
	if err := os.WriteFile(p, imagetest.Tar(c.t, ents...), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.ok("import", "-c", `CMD ["/bin/sh"]`, p, tag)
}

// assertClean fails unless no container networking is left: no veth of
// ours, no namespace file, no lease, no published port rule, no DNS
// server.
func (c *cli) assertClean() {
	c.t.Helper()
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "pv") {
			c.t.Errorf("veth left behind: %s", l.Attrs().Name)
		}
	}
	for _, dir := range []string{"networks/leases", "run/netns", "networks/dns"} {
		ents, _ := os.ReadDir(filepath.Join(c.root, dir))
		for _, e := range ents {
			c.t.Errorf("left behind in %s: %s", dir, e.Name())
		}
	}
	if n := dnatRules(c.t); n > 0 {
		c.t.Errorf("%d published-port rules left behind", n)
	}
	for _, pid := range c.processes() {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.HasPrefix(b, []byte("pelagos-dns")) {
			c.t.Errorf("DNS server left behind: pid %d", pid)
		}
	}
}

// dnatRules counts the rules in our published-port chains.
func dnatRules(t testing.TB) int {
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: "pelagos"}
	n := 0
	for _, ch := range []string{"dnat-ext", "dnat-local"} {
		rules, err := conn.GetRules(tbl, &nftables.Chain{Name: ch, Table: tbl})
		if err == nil {
			n += len(rules)
		}
	}
	return n
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addresses of the host and its LAN neighbour on their link.
var (
	hostLAN      = net.IPv4(192, 0, 2, 1)
	neighbourLAN = net.IPv4(192, 0, 2, 2)
)

// neighbour is a LAN neighbour: a network namespace joined to ours by a
// veth pair.
type neighbour struct {
	ns *os.File
}

// newNeighbour makes the neighbour namespace; it goes at cleanup.
func newNeighbour(t testing.TB) *neighbour {
	t.Helper()
	hostEnd, peerEnd := "plt-lan", "plt-lan-peer"
	ch := make(chan *os.File, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- nil
			return
		}
		f, _ := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		testenv.LoopbackUp()
		ch <- f
	}()
	ns := <-ch
	if ns == nil {
		t.Fatal("create the neighbour's namespace")
	}
	nb := &neighbour{ns: ns}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(hostEnd); err == nil {
			netlink.LinkDel(l)
		}
		ns.Close()
	})
	v := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: peerEnd, PeerNamespace: netlink.NsFd(int(ns.Fd()))}
	v.Name = hostEnd
	if err := netlink.LinkAdd(v); err != nil {
		t.Fatal(err)
	}
	host, _ := netlink.LinkByName(hostEnd)
	must(t, netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: hostLAN, Mask: net.CIDRMask(24, 32)}}))
	must(t, netlink.LinkSetUp(host))
	nb.do(t, func(h *netlink.Handle) error {
		l, err := h.LinkByName(peerEnd)
		if err != nil {
			return err
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: neighbourLAN, Mask: net.CIDRMask(24, 32)}}); err != nil {
			return err
		}
		// Jumbo frames on the neighbour's side only: what limits the MSS
		// of a container's connection is then the host's clamp to its
		// own link (1500).
		if err := h.LinkSetMTU(l, 9000); err != nil {
			return err
		}
		if err := h.LinkSetUp(l); err != nil {
			return err
		}
		return h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: hostLAN})
	})
	return nb
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// do runs fn with a netlink handle inside the neighbour.
func (nb *neighbour) do(t testing.TB, fn func(*netlink.Handle) error) {
	t.Helper()
	h, err := netlink.NewHandleAt(nbHandle(nb.ns), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := fn(h); err != nil {
		t.Fatal(err)
	}
}

// inside runs fn on a thread in the neighbour's namespace; sockets fn
// makes belong to the neighbour.
func (nb *neighbour) inside(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with us
		if err := unix.Setns(int(nb.ns.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(err)
		}
		fn()
	}()
	<-done
}

// ask is "netprobe ask" from the neighbour: the answer, or the error.
func (nb *neighbour) ask(proto, addr string) (string, error) {
	var out string
	var err error
	nb.inside(func() { out, err = ask(proto, addr) })
	return out, err
}

// ask is "netprobe ask" from here.
func ask(proto, addr string) (string, error) {
	c, err := net.DialTimeout(proto, addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if proto == "udp" {
		if _, err := c.Write([]byte("?")); err != nil {
			return "", err
		}
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}

// listen starts a TCP server on addr (in the neighbour when nb is not
// nil) that answers with the peer address it sees and the connection's
// MSS; it stops at cleanup.
func listen(t testing.TB, nb *neighbour, addr string) {
	t.Helper()
	var l net.Listener
	var err error
	mk := func() { l, err = net.Listen("tcp", addr) }
	if nb != nil {
		nb.inside(mk)
	} else {
		mk()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mss := 0
			if raw, err := c.(*net.TCPConn).SyscallConn(); err == nil {
				raw.Control(func(fd uintptr) { mss, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG) })
			}
			fmt.Fprintf(c, "seen %s mss %d\n", c.RemoteAddr(), mss)
			c.Close()
		}
	}()
}

// fakeResolver answers A queries for www.example.test and x.example.test
// with 192.0.2.99, and NXDOMAIN to others, on udp addr (the host's local
// resolver).
func fakeResolver(t testing.TB, addr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := fakeAnswer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
}

func fakeAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		n := int(q[i])
		if i+1+n > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+n]))
		i += 1 + n
	}
	end := i + 5
	if end > len(q) {
		return nil
	}
	name := strings.ToLower(strings.Join(labels, "."))
	qtype := binary.BigEndian.Uint16(q[i+1:])
	out := append([]byte(nil), q[:end]...)
	out[2], out[3] = 0x81, 0x80
	binary.BigEndian.PutUint16(out[6:], 0)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	if name != "www.example.test" && name != "x.example.test" {
		out[3] |= 3 // NXDOMAIN
		return out
	}
	if qtype == 1 {
		binary.BigEndian.PutUint16(out[6:], 1)
		out = append(out, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99)
	}
	return out
}
