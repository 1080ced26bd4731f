package network

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPastaArgs(t *testing.T) {
	base := []string{"--config-net", "--quiet", "--netns", "/r/n", "--pid", "/r/p", "--runas", "0:0", "--no-map-gw", "-T", "none", "-U", "none"}
	r := UserNetRequest{NetNS: "/r/n", PidFile: "/r/p"}
	for _, tc := range []struct {
		name  string
		ports []Port
		want  []string
	}{
		{"no ports: nothing forwarded", nil, []string{"-t", "none", "-u", "none"}},
		{"tcp on every address", []Port{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, ContainerPort: 80}},
			[]string{"-t", "8080:80", "-u", "none"}},
		{"udp on loopback and tcp", []Port{
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerPort: 53},
			{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 1, ContainerPort: 2},
			{Proto: "tcp", HostIP: netip.MustParseAddr("10.0.0.1"), HostPort: 3, ContainerPort: 4},
		}, []string{"-t", "1:2", "-t", "10.0.0.1/3:4", "-u", "127.0.0.1/5353:53"}},
	} {
		got := pastaArgs(r, tc.ports)
		if diff := cmp.Diff(append(append([]string{}, base...), tc.want...), got); diff != "" {
			t.Errorf("%s: pastaArgs (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestPastaMessage(t *testing.T) {
	in := "Failed to send 47 bytes to syslog\nNo external routable interface for IPv4\nFailed to send 3 bytes to syslog\nExternal interface not usable\n"
	if got, want := pastaMessage(in), "No external routable interface for IPv4; External interface not usable"; got != want {
		t.Errorf("pastaMessage = %q, want %q", got, want)
	}
}
