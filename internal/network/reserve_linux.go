package network

import (
	"errors"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// reservePorts resolves the published ports of a container whose primary
// endpoint is ep, and reserves each host port with a bound socket: no
// other process (another container's publish, a host server) can take
// the port while the caller keeps the socket open, and a port already
// taken is an error now rather than a silent shadowing later. Traffic
// itself never reaches these sockets: our DNAT rules take it first.
func reservePorts(ws []portWant, ep *Endpoint, others []*Lease) ([]Port, []*os.File, error) {
	var ports []Port
	var held []*os.File
	fail := func(err error) ([]Port, []*os.File, error) {
		closeFiles(held)
		return nil, nil, err
	}
	prev := map[string]uint16{} // proto/cport -> the IPv4 side's port, for its IPv6 twin
	for _, w := range ws {
		dst := ep.IPv4.Addr()
		if w.v6 || w.hostIP.Is6() {
			dst = ep.IPv6.Addr()
			if !dst.IsValid() {
				return fail(errorf(ErrInvalid, "cannot publish on %s: the container has no IPv6 address", w.bindAddr()))
			}
		}
		p := Port{Proto: w.proto, HostIP: w.bindAddr(), ContainerPort: w.cport, Container: dst}
		f, port, err := reserve(w, p, others, prev[portKey(w.cport, w.proto)])
		if err != nil {
			return fail(err)
		}
		if f != nil {
			held = append(held, f)
		}
		p.HostPort = port
		if !w.v6 && w.h0 == 0 {
			prev[portKey(w.cport, w.proto)] = port
		}
		ports = append(ports, p)
	}
	return ports, held, nil
}

// reserve binds one port of w: the given one, the first free one of a
// range, or (none given) the one the kernel picks, trying hint first.
func reserve(w portWant, p Port, others []*Lease, hint uint16) (*os.File, uint16, error) {
	try := func(port uint16) (*os.File, uint16, error) {
		if port != 0 && allocated(others, p.Proto, p.HostIP, port) {
			return nil, 0, errorf(ErrConflict, "Bind for %s failed: port is already allocated", netip.AddrPortFrom(p.HostIP, port))
		}
		return bindPort(p.Proto, p.HostIP, port)
	}
	if w.h0 != 0 {
		var err error
		for port := int(w.h0); port <= int(w.h1); port++ {
			var f *os.File
			var got uint16
			if f, got, err = try(uint16(port)); err == nil {
				return f, got, nil
			}
		}
		return nil, 0, err
	}
	if hint != 0 {
		if f, got, err := try(hint); err == nil {
			return f, got, nil
		}
	}
	for i := 0; i < 16; i++ {
		f, got, err := try(0)
		if err != nil {
			return nil, 0, err
		}
		if !allocated(others, p.Proto, p.HostIP, got) {
			return f, got, nil
		}
		closeFiles([]*os.File{f}) // held by a container whose monitor died: its rule remains
	}
	return nil, 0, errorf(ErrConflict, "no free host port for %d/%s", p.ContainerPort, p.Proto)
}

// allocated reports whether another lease publishes proto port on an
// address that overlaps a.
func allocated(others []*Lease, proto string, a netip.Addr, port uint16) bool {
	for _, l := range others {
		for _, p := range l.Ports {
			if p.Proto != proto || p.HostPort != port || p.HostIP.Is4() != a.Is4() {
				continue
			}
			if p.HostIP == a || p.HostIP.IsUnspecified() || a.IsUnspecified() {
				return true
			}
		}
	}
	return false
}

// bindPort binds a socket of proto on a:port (port 0: the kernel picks)
// and returns it with the port. SO_REUSEADDR is left off, so no other
// socket can bind the port while this one lives. SCTP, when the kernel
// lacks it, is published without a reservation.
func bindPort(proto string, a netip.Addr, port uint16) (*os.File, uint16, error) {
	fam := unix.AF_INET
	if a.Is6() {
		fam = unix.AF_INET6
	}
	typ, pr := unix.SOCK_STREAM, unix.IPPROTO_TCP
	switch proto {
	case "udp":
		typ, pr = unix.SOCK_DGRAM, unix.IPPROTO_UDP
	case "sctp":
		pr = unix.IPPROTO_SCTP
	}
	fd, err := unix.Socket(fam, typ|unix.SOCK_CLOEXEC, pr)
	if err != nil {
		if proto == "sctp" && port != 0 && (errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ESOCKTNOSUPPORT)) {
			return nil, port, nil
		}
		return nil, 0, os.NewSyscallError("socket", err)
	}
	var sa unix.Sockaddr
	if a.Is6() {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		sa = &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, 0, errorf(ErrConflict, "Bind for %s failed: address already in use", netip.AddrPortFrom(a, port))
		}
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return nil, 0, errorf(ErrInvalid, "cannot publish on %s: the host has no such address", a)
		}
		return nil, 0, os.NewSyscallError("bind", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, 0, os.NewSyscallError("getsockname", err)
	}
	switch s := got.(type) {
	case *unix.SockaddrInet4:
		port = uint16(s.Port)
	case *unix.SockaddrInet6:
		port = uint16(s.Port)
	}
	return os.NewFile(uintptr(fd), "port"), port, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
