package network

import (
	"os"
	"strings"
	"testing"
)

// Containers of a user-defined network resolve each other by name, alias
// and short ID through the network's DNS server; other names go to the
// host's resolver, even when it listens on 127.0.0.53 (a container could
// not reach that); names of another network do not resolve.
func TestDNSNamesAndForwarding(t *testing.T) {
	c := newCLI(t)
	fakeResolver(t, "127.0.0.53:53")
	c.ok("network", "create", "app")
	c.ok("network", "create", "other")
	id := c.serve("db", "--network", "app", "--network-alias", "database", "--network-alias", "pg")
	c.serve("elsewhere", "--network", "other")
	for _, name := range []string{"db", "database", "pg", id[:12], "DB"} {
		if out, code := c.ask("tcp", name+":80", "--network", "app"); code != 0 || !strings.HasPrefix(out, "db ") {
			t.Errorf("%s from the same network: %q (exit %d)", name, out, code)
		}
	}
	out := c.ok("run", "--rm", "--network", "app", "net:test", "sh", "-c",
		"cat /etc/resolv.conf; nslookup www.example.test 2>&1 | grep -A1 'Name:' | tail -1; nslookup elsewhere >/dev/null 2>&1 || echo elsewhere-unknown")
	gw := c.field("db", "{{.NetworkSettings.Networks.app.Gateway}}")
	want := "nameserver " + gw + "\nsearch example.test\noptions ndots:0\nAddress: 192.0.2.99\nelsewhere-unknown\n"
	if out != want {
		t.Errorf("in a container on app:\n%s\nwant\n%s", out, want)
	}
	if got := c.field("db", "{{json .NetworkSettings.Networks.app.DNSNames}}"); got != `["db","`+id[:12]+`","database","pg"]` {
		t.Errorf("DNSNames = %s", got)
	}
	// The default network has no DNS server: the host's resolv.conf,
	// less its loopback resolver.
	if out := c.ok("run", "--rm", "net:test", "cat", "/etc/resolv.conf"); out != "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.test\n" {
		t.Errorf("resolv.conf on the default network: %q", out)
	}
	// A name goes when its container goes; the server when the last does.
	c.ok("rm", "-f", "db")
	if out, code := c.ask("tcp", "database:80", "--network", "app"); code == 0 {
		t.Errorf("database still resolves after rm: %q", out)
	}
	c.ok("rm", "-f", "elsewhere")
	c.ok("network", "rm", "app", "other")
	c.assertClean()
}

// --dns, --dns-search, --dns-option, --add-host (host-gateway included)
// and --hostname shape the container's resolv.conf and hosts; with --dns
// on a user-defined network the DNS server forwards to those servers.
func TestResolvConfAndHostsFlags(t *testing.T) {
	c := newCLI(t)
	fakeResolver(t, "127.0.0.53:53")
	out := c.ok("run", "--rm", "--hostname", "h1", "--dns", "192.0.2.53", "--dns-search", "corp.test", "--dns-option", "ndots:2",
		"--add-host", "db.local:10.1.2.3", "--add-host", "gw:host-gateway", "net:test", "sh", "-c", "cat /etc/resolv.conf; grep -v ip6 /etc/hosts | grep -v localhost")
	gw := c.field("bridge", "{{(index .IPAM.Config 0).Gateway}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"nameserver 192.0.2.53", "search corp.test", "options ndots:2", "10.1.2.3\tdb.local", gw + "\tgw"}
	if len(lines) != 6 || strings.Join(lines[:5], "|") != strings.Join(want, "|") || !strings.HasSuffix(lines[5], "\th1") {
		t.Errorf("resolv.conf and hosts:\n%s\nwant %q and the container's address with h1", out, want)
	}
	c.ok("network", "create", "n")
	// The host's resolv.conf names 127.0.0.53 too: make it unreachable, so
	// that only the --dns server can answer.
	if err := os.WriteFile(c.resolvConf(), []byte("nameserver 192.0.2.250\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.ok("run", "--rm", "--network", "n", "--dns", "127.0.0.53", "net:test", "sh", "-c", "cat /etc/resolv.conf; nslookup x.example.test 2>&1 | grep -A1 Name: | tail -1")
	if !strings.HasPrefix(out, "nameserver "+c.field("n", "{{(index .IPAM.Config 0).Gateway}}")) || !strings.HasSuffix(out, "Address: 192.0.2.99\n") {
		t.Errorf("--dns on a user-defined network: %q; want the network's server, forwarding to the --dns server", out)
	}
	c.ok("network", "rm", "n")
	c.assertClean()
}

// --network container:NAME shares another container's network namespace;
// --network none has only loopback; host the host's interfaces.
func TestNetworkModes(t *testing.T) {
	c := newCLI(t)
	c.serve("owner")
	ip := c.field("owner", "{{.NetworkSettings.Networks.bridge.IPAddress}}")
	out := c.ok("run", "--rm", "--network", "container:owner", "net:test", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'; netprobe ask tcp 127.0.0.1:80")
	if !strings.HasPrefix(out, ip+"/") || !strings.Contains(out, "owner 127.0.0.1:") {
		t.Errorf("container:owner: %q, want owner's address %s and its loopback service", out, ip)
	}
	if got := c.ok("run", "--rm", "--network", "none", "net:test", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate"); got != "lo\nunknown\n" && got != "lo\ndown\n" {
		t.Errorf("--network none: %q", got)
	}
	c.fails(125, "conflicting options", "run", "--rm", "--network", "container:owner", "-p", "80:80", "net:test", "true")
	c.ok("rm", "-f", "owner")
	c.fails(125, "No such container", "run", "--rm", "--network", "container:owner", "net:test", "true")
	c.assertClean()
}
