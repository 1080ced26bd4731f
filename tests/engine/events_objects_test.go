package engine

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEventsObjects: volumes and networks journal docker's events
// (create, destroy, mount, unmount; create, connect, disconnect,
// destroy), containers their attach, exec_*, top, update, commit and
// export events; --filter type=, volume= and network= select them.
func TestEventsObjects(t *testing.T) {
	c := newCLI(t)
	t0 := unixNow()
	c.ok("volume", "create", "evvol")
	c.ok("network", "create", "evnet")
	c.ok("run", "-d", "--name", "evc", "--network", "evnet", "-v", "evvol:/data", "busybox:test", "sleep", "1000")
	c.fails(4, "exec", "evc", "sh", "-c", "exit 4")
	c.ok("top", "evc")
	c.ok("update", "--pids-limit", "100", "evc")
	c.ok("network", "connect", "bridge", "evc")
	c.ok("network", "disconnect", "bridge", "evc")
	c.ok("commit", "-m", "snap", "evc", "evimg:1")
	c.ok("export", "-o", filepath.Join(c.root, "evc.tar"), "evc")
	c.ok("rm", "-f", "evc")
	c.ok("network", "rm", "evnet")
	c.ok("volume", "rm", "evvol")
	c.ok("run", "--rm", "--name", "fg", "busybox:test", "true")
	t1 := unixNow()

	out := c.ok("events", "--since", t0, "--until", t1, "--format", "{{.Type}} {{.Action}}")
	want := strings.Join([]string{
		"volume create", "network create",
		"container create", "volume mount", "network connect", "container start",
		"container exec_create: sh -c exit 4", "container exec_start: sh -c exit 4", "container exec_die",
		"container top", "container update",
		"network connect", "network disconnect",
		"container commit", "container export",
		"container kill", "container die", "network disconnect", "volume unmount", "container destroy",
		"network destroy", "volume destroy",
		"container create", "container attach", "network connect", "container start",
		"container die", "network disconnect", "container destroy",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	type event struct {
		Type, Action string
		Actor        struct {
			ID         string
			Attributes map[string]string
		}
	}
	read := func(args ...string) []event {
		t.Helper()
		out := c.ok(append([]string{"events", "--since", t0, "--until", t1, "--format", "json"}, args...)...)
		var evs []event
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var ev event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("events %v: %q: %v", args, l, err)
			}
			evs = append(evs, ev)
		}
		return evs
	}
	vol := read("--filter", "volume=evvol", "--filter", "event=mount")
	if len(vol) != 1 || vol[0].Actor.ID != "evvol" || len(vol[0].Actor.Attributes["container"]) != 64 ||
		vol[0].Actor.Attributes["destination"] != "/data" || vol[0].Actor.Attributes["read/write"] != "true" || vol[0].Actor.Attributes["driver"] != "local" {
		t.Errorf("volume mount events: %+v", vol)
	}
	net := read("--filter", "type=network", "--filter", "network=evnet")
	if len(net) != 4 {
		t.Fatalf("network events of evnet: %+v, want create, connect, disconnect, destroy", net)
	}
	for _, ev := range net {
		if ev.Actor.Attributes["name"] != "evnet" || ev.Actor.Attributes["type"] != "bridge" || len(ev.Actor.ID) != 64 || ev.Actor.ID != net[0].Actor.ID {
			t.Errorf("network event %+v: want evnet's ID, name and type", ev)
		}
	}
	die := read("--filter", "event=exec_die")
	if len(die) != 1 || die[0].Actor.Attributes["exitCode"] != "4" || len(die[0].Actor.Attributes["execID"]) != 64 || die[0].Actor.Attributes["name"] != "evc" {
		t.Errorf("exec_die events: %+v", die)
	}
	commit := read("--filter", "event=commit")
	if len(commit) != 1 || commit[0].Actor.Attributes["comment"] != "snap" || !strings.HasPrefix(commit[0].Actor.Attributes["imageID"], "sha256:") {
		t.Errorf("commit events: %+v", commit)
	}
	if got := read("--filter", "type=volume", "--filter", "type=network"); len(got) != 4+4+2+2 {
		t.Errorf("type=volume|network: %d events, want 12 (evvol 4, evnet 4, bridge 2 + 2)", len(got))
	}
	c.assertClean()
}

// TestEventsCopyAndPrune: cp journals docker's archive-path (out) and
// extract-to-dir (in); container, volume and network prune their summary
// events (no actor, the bytes reclaimed).
func TestEventsCopyAndPrune(t *testing.T) {
	c := newCLI(t)
	t0 := unixNow()
	c.ok("create", "--name", "cpev", "-v", "/anon", "busybox:test", "true")
	c.ok("cp", "-q", "cpev:/etc/passwd", filepath.Join(c.root, "passwd"))
	c.ok("cp", "-q", filepath.Join(c.root, "passwd"), "cpev:/tmp/")
	c.ok("network", "create", "prunenet")
	c.ok("container", "prune", "-f")
	c.ok("volume", "prune", "-f")
	c.ok("network", "prune", "-f")
	out := c.ok("events", "--since", t0, "--until", unixNow(), "--filter", "event=archive-path", "--filter", "event=extract-to-dir",
		"--filter", "event=prune", "--filter", "event=destroy", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{with .Actor.Attributes.reclaimed}}{{.}}{{end}}{{with .Actor.Attributes.name}}{{.}}{{end}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 2 && len(f[2]) == 64 {
			f[2] = "ID" // container, volume and network IDs are random
		}
		got = append(got, strings.Join(f, " "))
	}
	want := []string{
		"container archive-path ID cpev", "container extract-to-dir ID cpev",
		"container destroy ID cpev", "container prune 0",
		"volume destroy ID", "volume prune 0",
		"network destroy ID prunenet", "network prune 0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cp and prune events (-want +got):\n%s", diff)
	}
	c.assertClean()
}
