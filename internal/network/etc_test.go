package network

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolvConf(t *testing.T) {
	host := []byte("# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch a.test b.test\noptions edns0\n")
	cases := []struct {
		name string
		o    ResolvOptions
		want string
	}{
		{"host's, loopback dropped", ResolvOptions{}, "nameserver 10.0.0.2\nsearch a.test b.test\noptions edns0\n"},
		{"embedded server", ResolvOptions{Embedded: netip.MustParseAddr("172.18.0.1")}, "nameserver 172.18.0.1\nsearch a.test b.test\noptions edns0 ndots:0\n"},
		{"flags", ResolvOptions{Servers: []string{"1.1.1.1"}, Search: []string{"c.test"}, Options: []string{"ndots:3"}}, "nameserver 1.1.1.1\nsearch c.test\noptions ndots:3\n"},
		{"no search", ResolvOptions{Search: []string{"."}}, "nameserver 10.0.0.2\noptions edns0\n"},
	}
	for _, tc := range cases {
		if got := string(ResolvConf(host, tc.o)); got != tc.want {
			t.Errorf("%s: ResolvConf = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := string(ResolvConf([]byte("nameserver 127.0.0.53\n"), ResolvOptions{})); got != "nameserver 8.8.8.8\nnameserver 8.8.4.4\n" {
		t.Errorf("only a loopback resolver: %q, want Google's as Docker's fallback", got)
	}
}

func TestExtraHostsAndHostsFile(t *testing.T) {
	for in, want := range map[string][2]string{
		"db:10.0.0.1": {"db", "10.0.0.1"}, "db=fd00::1": {"db", "fd00::1"}, "db:[fd00::1]": {"db", "fd00::1"},
		"gw:host-gateway": {"gw", HostGateway},
	} {
		n, a, err := ParseExtraHost(in)
		if err != nil || n != want[0] || a != want[1] {
			t.Errorf("ParseExtraHost(%q) = %q %q %v", in, n, a, err)
		}
	}
	for _, bad := range []string{"db", ":10.0.0.1", "db:nope", "d b:10.0.0.1"} {
		if _, _, err := ParseExtraHost(bad); err == nil {
			t.Errorf("ParseExtraHost(%q) accepted", bad)
		}
	}
	got := string(HostsFile([]netip.Addr{netip.MustParseAddr("172.17.0.2")}, "box", [][2]string{{"db", "10.0.0.1"}}))
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.1\tdb\n172.17.0.2\tbox\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("HostsFile (-want +got):\n%s", d)
	}
}
