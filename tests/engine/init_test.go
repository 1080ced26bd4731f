package engine

import (
	"strings"
	"testing"
)

// zombies counts the zombie processes a container shows.
func (c *cli) zombies(ref string) int {
	c.t.Helper()
	n := 0
	for _, l := range strings.Split(c.ok("exec", ref, "ps", "-o", "stat"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Z") {
			n++
		}
	}
	return n
}

// TestInitReapsZombies: an orphan reparented to PID 1 is reaped by the
// reaper; without --init, a PID 1 that never waits leaves it a zombie
// (which shows the test can fail).
func TestInitReapsZombies(t *testing.T) {
	c := newCLI(t)
	orphan := `sh -c "sleep 0.1 &"; exec sleep 1000`
	c.ok("run", "-d", "--name", "reaped", "--init", "busybox:test", "sh", "-c", orphan)
	c.ok("run", "-d", "--name", "plain", "busybox:test", "sh", "-c", orphan)
	waitFor(t, "the orphan to exit and become a zombie without --init", func() bool { return c.zombies("plain") == 1 })
	if n := c.zombies("reaped"); n != 0 {
		t.Errorf("--init left %d zombies", n)
	}
	if got := c.field("reaped", "{{.HostConfig.Init}} {{.Path}}"); got != "true sh" {
		t.Errorf("HostConfig.Init and Path: %q, want the user's command recorded", got)
	}
	top := c.ok("exec", "reaped", "ps", "-o", "pid,args")
	if !strings.Contains(top, "1 /sbin/pelagos-init -- sh -c") {
		t.Errorf("PID 1 is not the reaper:\n%s", top)
	}
	c.ok("rm", "-f", "reaped", "plain")
	c.assertClean()
}

// TestInitForwardsSignals: stop's SIGTERM reaches a command that is not
// PID 1 (so the kernel does not shield it) and the container exits with
// its status; any signal is forwarded; exit codes propagate.
func TestInitForwardsSignals(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "slp", "--init", "busybox:test", "sleep", "1000")
	c.ok("stop", "-t", "60", "slp")
	if got := c.field("slp", "{{.State.ExitCode}}"); got != "143" {
		t.Errorf("stop with --init: exit %s, want 143 (SIGTERM reached sleep)", got)
	}
	// Without --init, sleep as PID 1 ignores SIGTERM: SIGKILL after -t.
	c.ok("run", "-d", "--name", "pid1", "busybox:test", "sleep", "1000")
	c.ok("stop", "-t", "1", "pid1")
	if got := c.field("pid1", "{{.State.ExitCode}}"); got != "137" {
		t.Errorf("stop without --init: exit %s, want 137", got)
	}

	c.ok("run", "-d", "--name", "trap", "--init", "busybox:test", "sh", "-c", `trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.05; done`)
	waitFor(t, "the trap to be set", func() bool { out, _, _ := c.run(nil, "logs", "trap"); return strings.Contains(out, "ready") })
	c.ok("kill", "-s", "USR1", "trap")
	if got := strings.TrimSpace(c.ok("wait", "trap")); got != "3" {
		t.Errorf("USR1 through the reaper: exit %s, want 3", got)
	}
	if out := c.ok("logs", "trap"); !strings.Contains(out, "got-usr1") {
		t.Errorf("logs after USR1: %q", out)
	}
	c.fails(7, "run", "--rm", "--init", "busybox:test", "sh", "-c", "exit 7")
	c.fails(137, "run", "--rm", "--init", "busybox:test", "sh", "-c", "kill -9 $$")
	if errs := c.fails(127, "run", "--rm", "--init", "busybox:test", "nosuch"); !strings.Contains(errs, "executable file not found") {
		t.Errorf("missing command under --init: %q", errs)
	}
	shown, code := c.ptySession(t, "tty; exit 5\n", "run", "--rm", "-it", "--init", "busybox:test", "sh")
	if code != 5 || !strings.Contains(shown, "/dev/pts/0") {
		t.Errorf("run -it --init: exit %d, terminal showed %q", code, shown)
	}
	c.ok("rm", "slp", "pid1", "trap")
	c.assertClean()
}
