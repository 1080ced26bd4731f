package network

import (
	"crypto/rand"
	"net/netip"
)

// parseSubnet validates one IPAM config: a CIDR in canonical form, a
// gateway and an IP range inside it.
func parseSubnet(c IPAMConfig) (*subnet, error) {
	p, err := netip.ParsePrefix(c.Subnet)
	if err != nil {
		return nil, errorf(ErrInvalid, "invalid subnet %s: not a CIDR", c.Subnet)
	}
	if p.Masked() != p {
		return nil, errorf(ErrInvalid, "invalid subnet %s: host bits set (did you mean %s?)", c.Subnet, p.Masked())
	}
	if bits := p.Addr().BitLen() - p.Bits(); bits < 2 {
		return nil, errorf(ErrInvalid, "invalid subnet %s: too small for a gateway and a container", c.Subnet)
	}
	s := &subnet{prefix: p, pool: p}
	if c.IPRange != "" {
		r, err := netip.ParsePrefix(c.IPRange)
		if err != nil || r.Masked() != r {
			return nil, errorf(ErrInvalid, "invalid ip-range %s: not a CIDR", c.IPRange)
		}
		if !p.Contains(r.Addr()) || r.Bits() < p.Bits() {
			return nil, errorf(ErrInvalid, "ip-range %s is not inside subnet %s", c.IPRange, c.Subnet)
		}
		s.pool = r
	}
	if c.Gateway != "" {
		g, err := netip.ParseAddr(c.Gateway)
		if err != nil {
			return nil, errorf(ErrInvalid, "invalid gateway %s", c.Gateway)
		}
		if !p.Contains(g) || g == p.Addr() || (g.Is4() && g == lastAddr(p)) {
			return nil, errorf(ErrInvalid, "gateway %s is not a host address of subnet %s", c.Gateway, c.Subnet)
		}
		s.gateway = g
	} else {
		s.gateway = p.Addr().Next()
	}
	return s, nil
}

// lastAddr is the last address of p (the IPv4 broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func overlaps(a, b netip.Prefix) bool { return a.Overlaps(b) }

// defaultPools are the IPv4 subnets networks get when none is given, as
// Docker's: 172.17-31.0.0/16, then 192.168.0-240.0/20.
func defaultPools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// choosePool returns the first default pool that overlaps neither a
// route of the host (other than ours) nor another network.
func choosePool(taken []netip.Prefix) (netip.Prefix, bool) {
	for _, p := range defaultPools() {
		free := true
		for _, t := range taken {
			if overlaps(p, t) {
				free = false
				break
			}
		}
		if free {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// randomULA returns a random unique local /64 (fdXX:XXXX:XXXX:XXXX::/64),
// as RFC 4193 asks for a network without a given prefix.
func randomULA() netip.Prefix {
	var b [16]byte
	_, _ = rand.Read(b[1:8]) // crypto/rand does not fail on Linux
	b[0] = 0xfd
	for i := 8; i < 16; i++ {
		b[i] = 0
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// usable reports whether a container may get a: inside the pool, not the
// network address, the gateway or (IPv4) the broadcast address.
func (s *subnet) usable(a netip.Addr) bool {
	if !s.pool.Contains(a) || a == s.prefix.Addr() || a == s.gateway {
		return false
	}
	return !(a.Is4() && a == lastAddr(s.prefix))
}

// allocate returns the first usable address of s not in used. The walk
// ends within len(used)+3 steps even in a /64: only that many addresses
// can be taken or unusable before a free one.
func (s *subnet) allocate(used map[netip.Addr]bool) (netip.Addr, bool) {
	for a := s.pool.Addr(); a.IsValid() && s.pool.Contains(a); a = a.Next() {
		if s.usable(a) && !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}
