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

// AddressPool is a range networks take their subnets from: Base cut
// into subnets of Size bits (docker's default-address-pools entry).
type AddressPool struct {
	Base netip.Prefix
	Size int
}

// Check reports whether the pool is one IPv4 networks can come from.
func (p AddressPool) Check() error {
	switch {
	case !p.Base.IsValid() || !p.Base.Addr().Is4():
		return errorf(ErrInvalid, "address pool base %s: want an IPv4 CIDR", p.Base)
	case p.Base.Masked() != p.Base:
		return errorf(ErrInvalid, "address pool base %s: host bits set", p.Base)
	case p.Size < p.Base.Bits() || p.Size > 30:
		return errorf(ErrInvalid, "address pool %s: size %d must be between %d and 30", p.Base, p.Size, p.Base.Bits())
	}
	return nil
}

// choosePool returns the first subnet of pools (docker's defaults when
// nil) that overlaps neither a route of the host (other than ours) nor
// another network.
func choosePool(pools []AddressPool, taken []netip.Prefix) (netip.Prefix, bool) {
	if pools == nil {
		for _, p := range defaultPools() {
			pools = append(pools, AddressPool{Base: p, Size: p.Bits()})
		}
	}
	free := func(p netip.Prefix) bool {
		for _, t := range taken {
			if overlaps(p, t) {
				return false
			}
		}
		return true
	}
	for _, pool := range pools {
		if pool.Check() != nil {
			continue
		}
		step := uint64(1) << (32 - pool.Size)
		base := pool.Base.Addr().As4()
		start := uint64(base[0])<<24 | uint64(base[1])<<16 | uint64(base[2])<<8 | uint64(base[3])
		end := start + uint64(1)<<(32-pool.Base.Bits())
		for a := start; a < end; a += step {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), pool.Size)
			if free(p) {
				return p, true
			}
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
