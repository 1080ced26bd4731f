package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// holds reports whether process pid has a file whose path ends in name
// open.
func holds(pid int, name string) bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasSuffix(l, "/"+name) {
			return true
		}
	}
	return false
}

func unixNow() string {
	return strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 9, 64)
}

// TestEvents: commands and monitors journal docker's events; events reads
// them back with --since/--until, filters and formats them, and follows.
func TestEvents(t *testing.T) {
	c := newCLI(t)
	t0 := unixNow()
	follow, stopFollow := c.startCLI("", "events", "--filter", "container=ev", "--filter", "event=start", "--filter", "event=die", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	waitFor(t, "events to open the journal", func() bool { return holds(follow.Process.Pid, "events.log") })
	c.ok("run", "-d", "--name", "ev", "-l", "tier=db", "busybox:test", "sleep", "1000")
	c.ok("pause", "ev")
	c.ok("unpause", "ev")
	c.ok("stop", "-t", "1", "ev")
	c.ok("rename", "ev", "ev2")
	c.ok("rm", "ev2")
	c.fails(3, "run", "--rm", "--name", "short", "busybox:test", "sh", "-c", "exit 3")
	t1 := unixNow()

	out := c.ok("events", "--since", t0, "--until", t1, "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	want := strings.Join([]string{
		"create ev", "connect bridge", "start ev", "pause ev", "unpause ev",
		"kill ev", "kill ev", "die ev", "disconnect bridge", "stop ev", // SIGTERM, then SIGKILL after -t 1 (sleep as PID 1)
		"rename ev2", "destroy ev2",
		"create short", "attach short", "connect bridge", "start short", "die short", "disconnect bridge", "destroy short",
	}, "\n") + "\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	out = c.ok("events", "--since", t0, "--until", t1, "--filter", "event=die", "--format", "json")
	type event struct {
		Type, Action string
		Actor        struct {
			ID         string
			Attributes map[string]string
		}
	}
	var dies []event
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("events --format json: %q: %v", l, err)
		}
		dies = append(dies, ev)
	}
	if len(dies) != 2 || dies[0].Actor.Attributes["exitCode"] != "137" || dies[1].Actor.Attributes["exitCode"] != "3" ||
		dies[0].Actor.Attributes["tier"] != "db" || dies[0].Actor.Attributes["image"] != "busybox:test" || dies[0].Type != "container" || len(dies[0].Actor.ID) != 64 {
		t.Errorf("die events: %+v", dies)
	}
	// The default line: time, type, action, ID, sorted attributes.
	out = c.ok("events", "--since", t0, "--until", t1, "--filter", "event=rename")
	if f := strings.Fields(out); len(f) < 4 || f[1] != "container" || f[2] != "rename" || !strings.HasSuffix(strings.TrimSpace(out), "(image=busybox:test, name=ev2, oldName=/ev, tier=db)") {
		t.Errorf("default event line: %q", out)
	}
	if errs := c.fails(125, "events", "--since", "yesterday-ish"); !strings.Contains(errs, "invalid time") {
		t.Errorf("bad --since: %q", errs)
	}
	if errs := c.fails(125, "events", "--filter", "colour=red", "--until", "1s"); !strings.Contains(errs, "Invalid filter") {
		t.Errorf("bad filter: %q", errs)
	}

	follow.Process.Signal(syscall.SIGINT)
	got, _, _ := stopFollow()
	if got != "start ev\ndie ev\n" {
		t.Errorf("events following (container=ev, event=start|die): %q", got)
	}
	c.assertClean()
}

// TestHealthStatusEvents: a change of health status is an event.
func TestHealthStatusEvents(t *testing.T) {
	c := newCLI(t)
	t0 := unixNow()
	c.ok("run", "-d", "--name", "hev", "--health-cmd", "true", "--health-interval", "100ms", "busybox:test", "sleep", "1000")
	waitFor(t, "healthy", func() bool { return c.field("hev", "{{.State.Health.Status}}") == "healthy" })
	time.Sleep(300 * time.Millisecond) // more probes, no more events
	out := c.ok("events", "--since", t0, "--until", unixNow(), "--filter", "event=health_status", "--format", "{{.Action}}")
	if out != "health_status: healthy\n" {
		t.Errorf("health_status events: %q", out)
	}
	c.ok("rm", "-f", "hev")
	c.assertClean()
}
