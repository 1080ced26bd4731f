package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseUsernsAuto(t *testing.T) {
	cases := []struct {
		mode   string
		size   uint32
		ok     bool
		hasErr bool
	}{
		{"auto", defaultUsernsSize, true, false},
		{"auto:size=1024", 1024, true, false},
		{"auto:size=0", 0, true, true},
		{"auto:size=-1", 0, true, true},
		{"auto:size=4294967296", 0, true, true},
		{"auto:gidmapping=0:1:1", 0, true, true},
		{"host", 0, false, false},
		{"autox", 0, false, false},
		{"", 0, false, false},
	}
	for _, tc := range cases {
		size, ok, err := parseUsernsAuto(tc.mode)
		if size != tc.size || ok != tc.ok || (err != nil) != tc.hasErr {
			t.Errorf("parseUsernsAuto(%q) = %d, %v, %v; want %d, %v, error %v", tc.mode, size, ok, err, tc.size, tc.ok, tc.hasErr)
		}
	}
}

func TestFirstFree(t *testing.T) {
	ranges := []subIDRange{{100, 10}, {1000, 30}}
	cases := []struct {
		name  string
		used  [][2]uint64
		size  uint64
		start uint64
		ok    bool
	}{
		{"empty", nil, 10, 100, true},
		{"first taken", [][2]uint64{{100, 10}}, 10, 1000, true},
		{"gap between", [][2]uint64{{100, 10}, {1000, 5}, {1020, 10}}, 10, 1005, true},
		{"unsorted", [][2]uint64{{1020, 10}, {1000, 5}, {100, 10}}, 10, 1005, true},
		{"too big for any", nil, 31, 0, false},
		{"full", [][2]uint64{{100, 10}, {1000, 30}}, 1, 0, false},
		{"overlapping from below", [][2]uint64{{95, 10}}, 5, 105, true},
	}
	for _, tc := range cases {
		start, ok := firstFree(ranges, tc.used, tc.size)
		if start != tc.start || ok != tc.ok {
			t.Errorf("%s: firstFree = %d, %v; want %d, %v", tc.name, start, ok, tc.start, tc.ok)
		}
	}
}

func TestReadSubIDs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "subuid")
	body := "# comment\nroot:1000:10\nbad line\npelagos:x:5\npelagos:2000:20\npelagos:3000:0\npelagos:4000:40\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, user, err := readSubIDs(p, "pelagos", "root")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]subIDRange{{2000, 20}, {4000, 40}}, got, cmp.AllowUnexported(subIDRange{})); diff != "" || user != "pelagos" {
		t.Errorf("readSubIDs: user %q, ranges (-want +got):\n%s", user, diff)
	}
	got, user, _ = readSubIDs(p, "nobody", "root")
	if user != "root" || len(got) != 1 {
		t.Errorf("readSubIDs fallback: user %q, ranges %v; want root's one range", user, got)
	}
	if got, user, err := readSubIDs(filepath.Join(t.TempDir(), "none"), "pelagos"); got != nil || user != "" || err != nil {
		t.Errorf("readSubIDs of a missing file = %v, %q, %v; want nothing and no error", got, user, err)
	}
}
