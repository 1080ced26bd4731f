package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// query builds a standard query for name of type typ.
func query(id uint16, name string, typ uint16) []byte {
	b := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range splitDots(name) {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, typ)
	return binary.BigEndian.AppendUint16(b, classIN)
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

func TestAnswer(t *testing.T) {
	q := query(0x1234, "Web.Local", typeA)
	pq, ok := parseQuery(q)
	if !ok || pq.name != "web.local" || pq.qtype != typeA {
		t.Fatalf("parseQuery = %+v %v", pq, ok)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")}
	resp := answer(q, pq, addrs)
	if binary.BigEndian.Uint16(resp[0:]) != 0x1234 || resp[2]&0x80 == 0 || binary.BigEndian.Uint16(resp[6:]) != 1 {
		t.Fatalf("answer header % x", resp[:12])
	}
	if got := resp[len(resp)-4:]; !cmp.Equal(got, []byte{10, 0, 0, 2}) {
		t.Errorf("answer rdata %v, want 10.0.0.2 only", got)
	}
	aaaa := query(1, "web.local", typeAAAA)
	pa, _ := parseQuery(aaaa)
	if r := answer(aaaa, pa, addrs[:1]); binary.BigEndian.Uint16(r[6:]) != 0 || r[3]&0x0f != 0 {
		t.Errorf("AAAA for a name with IPv4 only: want an empty NOERROR answer, got % x", r[:12])
	}
	if r := servfail(q, pq); r[3]&0x0f != 2 || binary.BigEndian.Uint16(r[4:]) != 1 {
		t.Errorf("servfail header % x", r[:12])
	}
	for _, bad := range [][]byte{nil, q[:11], append([]byte{0, 0, 0x81, 0}, q[4:]...), q[:len(q)-2]} {
		if _, ok := parseQuery(bad); ok {
			t.Errorf("parseQuery(% x) accepted", bad)
		}
	}
}

func TestParseRecords(t *testing.T) {
	tb := parseRecords([]byte("10.0.0.2 db DB.alias.\nfd00::2 db\nupstream 10.0.0.2 1.1.1.1 bad\nnonsense\n"))
	want := map[string][]netip.Addr{
		"db":    {netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")},
		"alias": nil,
	}
	if d := cmp.Diff(want["db"], tb.names["db"], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("names[db] (-want +got):\n%s", d)
	}
	if len(tb.names["db.alias"]) != 1 {
		t.Errorf("names = %v: want db.alias lowercased without its dot", tb.names)
	}
	if got := tb.upstreams[netip.MustParseAddr("10.0.0.2")]; !cmp.Equal(got, []string{"1.1.1.1:53"}) {
		t.Errorf("upstreams = %v", got)
	}
	if got := nameservers([]byte("nameserver 127.0.0.53\nnameserver ::1\nsearch x\n")); !cmp.Equal(got, []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("nameservers = %v", got)
	}
}
