package engine

import (
	"strings"
	"testing"
)

// TestRunRecordsOOMKill: a process the kernel's OOM killer kills under
// -m exits 137 and the record says OOMKilled, as docker's does, whether a
// foreground CLI or a detached container's monitor records the exit (the
// engine reads the cgroup's OOM kill counter before removing it); an
// exit of another kind leaves OOMKilled false.
func TestRunRecordsOOMKill(t *testing.T) {
	c := newCLI(t)
	// Doubling a shell variable grows without bound; the host has no
	// swap, so the 16 MiB limit ends it.
	hog := []string{"-m", "16m", "busybox:test", "sh", "-c", "x=a; while :; do x=$x$x; done"}
	c.fails(137, append([]string{"run", "--name", "fg"}, hog...)...)
	if got := c.field("fg", "{{.State.OOMKilled}} {{.State.ExitCode}}"); got != "true 137" {
		t.Errorf("foreground hog: OOMKilled, ExitCode = %q, want \"true 137\"", got)
	}
	c.ok(append([]string{"run", "-d", "--name", "bg"}, hog...)...)
	if code := strings.TrimSpace(c.ok("wait", "bg")); code != "137" {
		t.Errorf("detached hog: wait = %s, want 137", code)
	}
	if got := c.field("bg", "{{.State.OOMKilled}}"); got != "true" {
		t.Errorf("detached hog: OOMKilled = %s, want true", got)
	}
	c.fails(3, "run", "--name", "other", "-m", "16m", "busybox:test", "sh", "-c", "exit 3")
	if got := c.field("other", "{{.State.OOMKilled}}"); got != "false" {
		t.Errorf("exit 3 under -m: OOMKilled = %s, want false", got)
	}
	c.ok("rm", "fg", "bg", "other")
	c.assertClean()
}
