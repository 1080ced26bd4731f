package network

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	s, err := parseSubnet(IPAMConfig{Subnet: "10.1.0.0/24", IPRange: "10.1.0.128/25"})
	if err != nil {
		t.Fatal(err)
	}
	if s.gateway != netip.MustParseAddr("10.1.0.1") || s.pool != netip.MustParsePrefix("10.1.0.128/25") {
		t.Errorf("parseSubnet = %+v", s)
	}
	bad := []IPAMConfig{
		{Subnet: "10.1.0.0/33"}, {Subnet: "10.1.0.1/24"}, {Subnet: "10.1.0.0/31"},
		{Subnet: "10.1.0.0/24", Gateway: "10.2.0.1"}, {Subnet: "10.1.0.0/24", Gateway: "10.1.0.255"},
		{Subnet: "10.1.0.0/24", Gateway: "10.1.0.0"}, {Subnet: "10.1.0.0/24", IPRange: "10.1.0.0/16"},
		{Subnet: "10.1.0.0/24", IPRange: "10.2.0.0/25"}, {Subnet: "fd00::/64", Gateway: "nope"},
	}
	for _, c := range bad {
		if _, err := parseSubnet(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("parseSubnet(%+v) = %v, want ErrInvalid", c, err)
		}
	}
}

func TestAllocate(t *testing.T) {
	s, _ := parseSubnet(IPAMConfig{Subnet: "10.1.0.0/29"})
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := s.allocate(used)
		if !ok {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	// Not .0 (network), .1 (gateway) or .7 (broadcast).
	if want := "10.1.0.2 10.1.0.3 10.1.0.4 10.1.0.5 10.1.0.6"; joinS(got) != want {
		t.Errorf("allocations %s, want %s", joinS(got), want)
	}
	v6, _ := parseSubnet(IPAMConfig{Subnet: "fd00:1::/64"})
	if a, ok := v6.allocate(map[netip.Addr]bool{netip.MustParseAddr("fd00:1::2"): true}); !ok || a.String() != "fd00:1::3" {
		t.Errorf("IPv6 allocation %s %v", a, ok)
	}
}

func joinS(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestChoosePool(t *testing.T) {
	p, ok := choosePool(nil, []netip.Prefix{netip.MustParsePrefix("172.17.5.0/24"), netip.MustParsePrefix("172.16.0.0/12")})
	if !ok || p != netip.MustParsePrefix("192.168.0.0/20") {
		t.Errorf("choosePool = %s %v, want 192.168.0.0/20 (all of 172.16/12 is taken)", p, ok)
	}
	pools := []AddressPool{{netip.MustParsePrefix("10.10.0.0/23"), 24}, {netip.MustParsePrefix("10.20.0.0/16"), 16}}
	p, ok = choosePool(pools, []netip.Prefix{netip.MustParsePrefix("10.10.0.0/24")})
	if !ok || p != netip.MustParsePrefix("10.10.1.0/24") {
		t.Errorf("choosePool(pools) = %s %v, want 10.10.1.0/24", p, ok)
	}
	p, ok = choosePool(pools, []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")})
	if !ok || p != netip.MustParsePrefix("10.20.0.0/16") {
		t.Errorf("choosePool(pools) with the first full = %s %v, want 10.20.0.0/16", p, ok)
	}
	if _, ok = choosePool(pools, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); ok {
		t.Errorf("choosePool(pools) found a subnet in taken space")
	}
	for _, bad := range []AddressPool{{netip.MustParsePrefix("10.0.0.0/16"), 8}, {netip.MustParsePrefix("10.0.0.1/16"), 24}, {netip.MustParsePrefix("fd00::/8"), 64}, {netip.MustParsePrefix("10.0.0.0/16"), 31}} {
		if bad.Check() == nil {
			t.Errorf("AddressPool%v.Check() accepted it", bad)
		}
	}
	if u := randomULA(); !u.Addr().Is6() || u.Addr().As16()[0] != 0xfd || u.Bits() != 64 || u.Masked() != u {
		t.Errorf("randomULA = %s", u)
	}
}
