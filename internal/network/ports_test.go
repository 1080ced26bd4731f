package network

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePublish(t *testing.T) {
	cases := []struct {
		in   string
		want map[string][]PortBinding
	}{
		{"80", map[string][]PortBinding{"80/tcp": {{}}}},
		{"8080:80", map[string][]PortBinding{"80/tcp": {{HostPort: "8080"}}}},
		{"127.0.0.1:8080:80/udp", map[string][]PortBinding{"80/udp": {{HostIP: "127.0.0.1", HostPort: "8080"}}}},
		{"127.0.0.1::80", map[string][]PortBinding{"80/tcp": {{HostIP: "127.0.0.1"}}}},
		{"[::]:8080:80/sctp", map[string][]PortBinding{"80/sctp": {{HostIP: "::", HostPort: "8080"}}}},
		{"8000-8001:80-81", map[string][]PortBinding{"80/tcp": {{HostPort: "8000"}}, "81/tcp": {{HostPort: "8001"}}}},
		{"8000-8010:80", map[string][]PortBinding{"80/tcp": {{HostPort: "8000-8010"}}}},
		{"80-81", map[string][]PortBinding{"80/tcp": {{}}, "81/tcp": {{}}}},
	}
	for _, tc := range cases {
		got, err := ParsePublish(tc.in)
		if err != nil {
			t.Errorf("ParsePublish(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParsePublish(%q) (-want +got):\n%s", tc.in, d)
		}
	}
	for _, bad := range []string{"", "0", "70000", "a:b", "1:2:3:4", "80/icmp", "1.2.3:80:80", "[::1:80:80", "9-8:80", "1-3:1-2", "[fe80::1%eth0]:80:80"} {
		if _, err := ParsePublish(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePublish(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestWantsExpandsFamiliesAndPublishAll(t *testing.T) {
	b := map[string][]PortBinding{"80/tcp": {{HostPort: "8080"}}, "53/udp": {{HostIP: "127.0.0.1", HostPort: "53"}}}
	got, err := wants(b, true, []string{"80/tcp", "443/tcp"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []portWant{
		{proto: "tcp", cport: 443}, {proto: "tcp", cport: 443, v6: true},
		{proto: "udp", cport: 53, hostIP: netip.MustParseAddr("127.0.0.1"), h0: 53, h1: 53},
		{proto: "tcp", cport: 80, h0: 8080, h1: 8080}, {proto: "tcp", cport: 80, h0: 8080, h1: 8080, v6: true},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(portWant{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("wants (-want +got):\n%s", d)
	}
	if _, err := wants(map[string][]PortBinding{"80/tcp": {{HostIP: "::1"}}}, false, nil, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("publishing on ::1: %v, want ErrInvalid", err)
	}
}

func TestAllocated(t *testing.T) {
	others := []*Lease{{Ports: []Port{
		{Proto: "tcp", HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: 80},
		{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53},
	}}}
	cases := []struct {
		proto string
		ip    string
		port  uint16
		want  bool
	}{
		{"tcp", "10.0.0.1", 80, true}, // 0.0.0.0 covers every IPv4 address
		{"tcp", "::", 80, false},      // not the IPv6 side
		{"udp", "0.0.0.0", 53, true},  // all addresses include 127.0.0.1
		{"udp", "10.0.0.1", 53, false},
		{"tcp", "0.0.0.0", 81, false},
	}
	for _, tc := range cases {
		if got := allocated(others, tc.proto, netip.MustParseAddr(tc.ip), tc.port); got != tc.want {
			t.Errorf("allocated(%s %s:%d) = %v, want %v", tc.proto, tc.ip, tc.port, got, tc.want)
		}
	}
}
