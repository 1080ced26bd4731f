package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// HostGateway is the --add-host address that stands for the host.
const HostGateway = "host-gateway"

// ParseExtraHost checks one --add-host value, NAME:IP or NAME=IP (IP may
// be host-gateway), and returns name and address.
func ParseExtraHost(s string) (string, string, error) {
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		name, addr, ok = strings.Cut(s, ":")
	}
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "", "", errorf(ErrInvalid, "invalid argument %q for \"--add-host\" flag: bad format for add-host", s)
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
	if addr == HostGateway {
		return name, addr, nil
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return "", "", errorf(ErrInvalid, "invalid argument %q for \"--add-host\" flag: invalid IP address %q", s, addr)
	}
	return name, addr, nil
}

// HostsFile is a container's /etc/hosts: Docker's defaults, the extra
// hosts (host-gateway already replaced), then the container's own
// addresses with its hostname.
func HostsFile(own []netip.Addr, hostname string, extra [][2]string) []byte {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, e := range extra {
		fmt.Fprintf(&b, "%s\t%s\n", e[1], e[0])
	}
	for _, a := range own {
		fmt.Fprintf(&b, "%s\t%s\n", a, hostname)
	}
	return b.Bytes()
}

// ResolvOptions shape a container's /etc/resolv.conf.
type ResolvOptions struct {
	// Embedded is the network's DNS server; when valid it is the only
	// name server (it forwards what it does not know).
	Embedded netip.Addr
	// Servers, Search and Options replace the host's (--dns,
	// --dns-search, --dns-option).
	Servers, Search, Options []string
}

// ResolvConf derives a container's resolv.conf from the host's. Loopback
// name servers (a local resolver such as systemd-resolved's 127.0.0.53)
// are unreachable from a container and dropped; Google's public servers
// stand in when none remain, as Docker does. With the embedded server,
// "options ndots:0" makes single-label names (other containers) be
// asked as they are, before any search domain, as Docker's does.
func ResolvConf(host []byte, o ResolvOptions) []byte {
	var servers, search, options []string
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && !a.IsLoopback() {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(o.Servers) > 0 {
		servers = o.Servers
	}
	if len(o.Search) > 0 {
		search = o.Search
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(o.Options) > 0 {
		options = o.Options
	}
	if o.Embedded.IsValid() {
		servers = []string{o.Embedded.String()}
		if !hasOption(options, "ndots") {
			options = append(options, "ndots:0")
		}
	} else if len(servers) == 0 {
		servers = []string{"8.8.8.8", "8.8.4.4"}
	}
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

func hasOption(opts []string, name string) bool {
	for _, o := range opts {
		if k, _, _ := strings.Cut(o, ":"); k == name {
			return true
		}
	}
	return false
}
