package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestVolumesFrom: --volumes-from gives a container every volume and bind
// mount of another, at the same destinations, sharing the data; :ro makes
// them read-only, a read-only source stays read-only under :rw, a user
// mount at the same destination wins, and rm -v of either container
// leaves a volume the other still uses.
func TestVolumesFrom(t *testing.T) {
	c := newCLI(t)
	c.seededImage("withvol:1", true)
	host := filepath.Join(c.root, "hostdir")
	if err := os.MkdirAll(host, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The source: the image's anonymous /data (copied up), a named
	// volume, a bind, a read-only named volume and a tmpfs (not shared).
	c.ok("run", "--name", "src", "-v", "named:/named", "-v", host+":/bind", "-v", "rov:/rov:ro",
		"--tmpfs", "/scratch", "withvol:1", "sh", "-c", "echo written > /named/w")

	got := c.sh([]string{"--volumes-from", "src"}, "busybox:test",
		"cat /data/seed /named/w /bind/f; echo; touch /data/x /named/x /bind/x && echo rw; touch /rov/x 2>/dev/null || echo rov-ro; grep -c ' /scratch ' /proc/mounts || true")
	if want := "from the imagewritten\nfrom the host\nrw\nrov-ro\n0"; got != want {
		t.Errorf("--volumes-from src:\n%s\nwant:\n%s", got, want)
	}
	for _, mode := range []string{"src:ro", "src:ro,z"} {
		got = c.sh([]string{"--volumes-from", mode}, "busybox:test",
			"for d in /data /named /bind /rov; do touch $d/y 2>/dev/null && echo $d writable; done; cat /named/w")
		if got != "written" {
			t.Errorf("--volumes-from %s: %q, want every mount read-only", mode, got)
		}
	}
	// A user mount at a shared destination replaces the shared one, and
	// the image's VOLUME at a shared destination gets no volume of its own.
	got = c.sh([]string{"--volumes-from", "src", "-v", "other:/named"}, "withvol:1", "ls /named | wc -l; cat /data/x && echo shared")
	if got != "0\nshared" {
		t.Errorf("--volumes-from with -v over /named: %q", got)
	}

	// The mounts as inspect shows them, and a chain: a container with
	// --volumes-from a container that had them --volumes-from.
	c.ok("create", "--name", "mid", "--volumes-from", "src:ro", "busybox:test", "true")
	c.ok("create", "--name", "end", "--volumes-from", "mid", "busybox:test", "cat", "/named/w")
	if got := c.ok("start", "-a", "end"); got != "written\n" {
		t.Errorf("chained --volumes-from: %q", got)
	}
	if got := c.field("mid", "{{json .HostConfig.VolumesFrom}}"); got != `["src:ro"]` {
		t.Errorf("HostConfig.VolumesFrom %s", got)
	}
	var mounts []struct {
		Type, Destination string
		RW                bool
	}
	if err := json.Unmarshal([]byte(c.field("end", "{{json .Mounts}}")), &mounts); err != nil {
		t.Fatal(err)
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Destination < mounts[j].Destination })
	var gotMounts []string
	for _, m := range mounts {
		gotMounts = append(gotMounts, m.Type+" "+m.Destination+" "+map[bool]string{true: "rw", false: "ro"}[m.RW])
	}
	if diff := cmp.Diff([]string{"bind /bind ro", "volume /data ro", "volume /named ro", "volume /rov ro"}, gotMounts); diff != "" {
		t.Errorf("inspect Mounts of the chained container (-want +got):\n%s", diff)
	}

	// The shared anonymous volume outlives rm -v of the source while
	// others use it, and goes with the last of them.
	anon := c.field("src", `{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}`)
	c.ok("rm", "-v", "src", "mid")
	if out := c.ok("volume", "ls", "-q"); !strings.Contains(out, anon) {
		t.Errorf("rm -v src removed the anonymous volume another container uses; volumes:\n%s", out)
	}
	c.ok("rm", "-v", "end")
	if out := c.ok("volume", "ls", "-q"); strings.Contains(out, anon) {
		t.Errorf("the last rm -v kept the anonymous volume; volumes:\n%s", out)
	}
	c.assertClean()
}

// TestVolumesFromErrors: bad --volumes-from values are refused with
// docker's words and exit 125, before anything is made.
func TestVolumesFromErrors(t *testing.T) {
	c := newCLI(t)
	c.ok("create", "--name", "src", "-v", "/anon", "busybox:test")
	for _, tc := range []struct{ arg, want string }{
		{"nosuch", "No such container: nosuch"},
		{"src:rx", "invalid mode for volumes-from: rx"},
		{"src:ro,rw", "invalid mode for volumes-from: ro,rw"},
		{"src:rprivate", "invalid mode for volumes-from: rprivate"},
		{"src:nocopy", "invalid mode for volumes-from: nocopy"},
		{"", "volumes-from specification cannot be an empty string"},
	} {
		for _, verb := range []string{"run", "create"} {
			errs := c.fails(125, verb, "--volumes-from", tc.arg, "busybox:test", "true")
			if !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("%s --volumes-from %q: stderr %q, want one line with %q", verb, tc.arg, errs, tc.want)
			}
		}
	}
	if got := strings.Fields(c.ok("ps", "-aq")); len(got) != 1 {
		t.Errorf("containers after the refused runs: %v, want the source alone", got)
	}
	if got := strings.Fields(c.ok("volume", "ls", "-q")); len(got) != 1 {
		t.Errorf("volumes after the refused runs: %v, want the source's alone", got)
	}
	c.ok("rm", "-v", "src")
	c.assertClean()
}
