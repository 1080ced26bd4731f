package rootless

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMappings(t *testing.T) {
	uid := os.Geteuid()
	self := strconv.Itoa(uid)
	for _, tc := range []struct {
		name, file string
		want       []Mapping
		wantErr    bool
	}{
		{"by uid", "other:1:2\n" + self + ":100000:65536\n", []Mapping{{0, 42, 1}, {1, 100000, 65536}}, false},
		{"two ranges", self + ":100000:10\n" + self + ":200000:5\n", []Mapping{{0, 42, 1}, {1, 100000, 10}, {11, 200000, 5}}, false},
		{"malformed lines skipped", self + ":x:10\n" + self + ":5\n" + self + ":7:0\n" + self + ":9:3\n", []Mapping{{0, 42, 1}, {1, 9, 3}}, false},
		{"no range", "other:100000:65536\n", nil, true},
	} {
		path := filepath.Join(t.TempDir(), "subid")
		if err := os.WriteFile(path, []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Mappings(path, 42)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: Mappings error = %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: Mappings (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestOwnedPrivate(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	uid := os.Geteuid()
	for _, tc := range []struct {
		path string
		uid  int
		want bool
	}{
		{dir, uid, true},
		{dir, uid + 1, false},
		{open, uid, false},
		{link, uid, false},
		{filepath.Join(dir, "missing"), uid, false},
	} {
		if got := ownedPrivate(tc.path, tc.uid); got != tc.want {
			t.Errorf("ownedPrivate(%s, %d) = %v, want %v", tc.path, tc.uid, got, tc.want)
		}
	}
}
