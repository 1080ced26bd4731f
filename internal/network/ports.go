package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid marks bad user input: a CIDR, a port, a name.
var ErrInvalid = errors.New("invalid argument")

// ErrNotFound: no network has that name, ID or ID prefix.
var ErrNotFound = errors.New("no such network")

// ErrConflict: the name, subnet, address or port is taken.
var ErrConflict = errors.New("conflict")

// ErrInUse: the network has active endpoints.
var ErrInUse = errors.New("network in use")

// kindError is an error of one of the kinds above whose message is all
// the user needs.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// PortBinding is one host side of a published port, in docker's
// HostConfig.PortBindings shape. HostPort may be empty (any free port)
// or a range "8000-8010" (the first free one).
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// ParsePublish parses one -p value, [hostIP:][hostPort:]containerPort
// [/proto], where either port may be a range, into docker's port
// bindings keyed "PORT/PROTO". An IPv6 host address is bracketed.
func ParsePublish(s string) (map[string][]PortBinding, error) {
	bad := func(why string) error { return errorf(ErrInvalid, "invalid publish spec %q: %s", s, why) }
	rest, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, bad("protocol must be tcp, udp or sctp")
	}
	var hostIP, hostPort, ctrPort string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 || len(rest) <= end+1 || rest[end+1] != ':' {
			return nil, bad("bad IPv6 address")
		}
		hostIP, rest = rest[1:end], rest[end+2:]
		var ok bool
		if hostPort, ctrPort, ok = strings.Cut(rest, ":"); !ok {
			return nil, bad("want [hostIP]:hostPort:containerPort")
		}
	} else {
		parts := strings.Split(rest, ":")
		switch len(parts) {
		case 1:
			ctrPort = parts[0]
		case 2:
			hostPort, ctrPort = parts[0], parts[1]
		case 3:
			hostIP, hostPort, ctrPort = parts[0], parts[1], parts[2]
		default:
			return nil, bad("too many colons (bracket an IPv6 address)")
		}
	}
	if hostIP != "" {
		a, err := netip.ParseAddr(hostIP)
		if err != nil || a.Zone() != "" {
			return nil, bad("invalid host IP " + hostIP)
		}
		hostIP = a.Unmap().String()
	}
	c0, c1, err := portRange(ctrPort, false)
	if err != nil {
		return nil, bad(err.Error())
	}
	h0, h1, err := portRange(hostPort, true)
	if err != nil {
		return nil, bad(err.Error())
	}
	out := map[string][]PortBinding{}
	n := int(c1 - c0)
	switch {
	case h0 == 0: // any free port for each
		for p := int(c0); p <= int(c1); p++ {
			out[portKey(uint16(p), proto)] = []PortBinding{{HostIP: hostIP}}
		}
	case c0 == c1: // one container port, a host port or the first free of a range
		out[portKey(c0, proto)] = []PortBinding{{HostIP: hostIP, HostPort: hostPort}}
	case int(h1-h0) == n:
		for i := 0; i <= n; i++ {
			out[portKey(c0+uint16(i), proto)] = []PortBinding{{HostIP: hostIP, HostPort: strconv.Itoa(int(h0) + i)}}
		}
	default:
		return nil, bad("host and container port ranges differ in size")
	}
	return out, nil
}

func portKey(p uint16, proto string) string { return strconv.Itoa(int(p)) + "/" + proto }

// portRange parses "80" or "8000-8010"; empty is (0, 0) when allowed.
func portRange(s string, emptyOK bool) (uint16, uint16, error) {
	if s == "" {
		if emptyOK {
			return 0, 0, nil
		}
		return 0, 0, errors.New("no container port")
	}
	a, b, isRange := strings.Cut(s, "-")
	p0, err := parsePort(a)
	if err != nil {
		return 0, 0, err
	}
	p1 := p0
	if isRange {
		if p1, err = parsePort(b); err != nil {
			return 0, 0, err
		}
		if p1 < p0 {
			return 0, 0, fmt.Errorf("invalid port range %s", s)
		}
	}
	return p0, p1, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(n), nil
}

// ParsePortKey splits "80/tcp" (or "80", tcp).
func ParsePortKey(k string) (uint16, string, error) {
	p, proto, _ := strings.Cut(k, "/")
	if proto == "" {
		proto = "tcp"
	}
	n, err := parsePort(p)
	if err != nil {
		return 0, "", errorf(ErrInvalid, "invalid port %q", k)
	}
	return n, proto, nil
}

// MergeBindings adds b's bindings to a (for several -p flags).
func MergeBindings(a, b map[string][]PortBinding) map[string][]PortBinding {
	if a == nil {
		a = map[string][]PortBinding{}
	}
	for k, v := range b {
		a[k] = append(a[k], v...)
	}
	return a
}

// portWant is one binding to resolve into Ports.
type portWant struct {
	proto  string
	cport  uint16
	hostIP netip.Addr // invalid: every address of the family
	v6     bool       // for an unspecified host IP: the IPv6 side
	h0, h1 uint16     // 0, 0: any free port
}

// wants expands bindings (and, with publishAll, every exposed port not
// bound) into one want per address family, sorted for a stable order.
func wants(bindings map[string][]PortBinding, publishAll bool, exposed []string, hasV6 bool) ([]portWant, error) {
	all := map[string][]PortBinding{}
	for k, v := range bindings {
		all[k] = v
	}
	if publishAll {
		for _, k := range exposed {
			if _, ok := all[k]; !ok {
				all[k] = []PortBinding{{}}
			}
		}
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []portWant
	for _, k := range keys {
		cport, proto, err := ParsePortKey(k)
		if err != nil {
			return nil, err
		}
		for _, b := range all[k] {
			h0, h1, err := portRange(b.HostPort, true)
			if err != nil {
				return nil, errorf(ErrInvalid, "invalid host port %q for %s", b.HostPort, k)
			}
			w := portWant{proto: proto, cport: cport, h0: h0, h1: h1}
			if b.HostIP == "" {
				out = append(out, w)
				if hasV6 {
					w.v6 = true
					out = append(out, w)
				}
				continue
			}
			if w.hostIP, err = netip.ParseAddr(b.HostIP); err != nil {
				return nil, errorf(ErrInvalid, "invalid host IP %q", b.HostIP)
			}
			w.hostIP = w.hostIP.Unmap()
			if w.hostIP.Is6() && w.hostIP.IsLoopback() {
				return nil, errorf(ErrInvalid, "publishing on %s is not supported: IPv6 loopback traffic cannot be forwarded to a container (publish on 127.0.0.1 or [::])", b.HostIP)
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// bindAddr is the address a want reserves its port on.
func (w portWant) bindAddr() netip.Addr {
	switch {
	case w.hostIP.IsValid():
		return w.hostIP
	case w.v6:
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// String renders p as docker port does: "80/tcp -> 0.0.0.0:8080".
func (p Port) String() string {
	return fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Proto, netip.AddrPortFrom(p.HostIP, p.HostPort))
}
