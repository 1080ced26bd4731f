package engine

import (
	"strings"
	"testing"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// TestSIGKILLAtEveryStep kills the process doing the work (the foreground
// CLI, or the monitor's step for a detached run) with SIGKILL at every
// step of run, through engine.EnvDieAt. Whatever it left, ps must still
// work, and rm -f plus prune must leave nothing: no mount, cgroup,
// process, container state, name or image hold.
func TestSIGKILLAtEveryStep(t *testing.T) {
	c := newCLI(t)
	base := c.env
	for _, mode := range []string{"foreground", "detached"} {
		for _, step := range engine.DieSteps {
			t.Run(mode+"/"+step, func(t *testing.T) {
				c.t = t
				c.env = append(append([]string(nil), base...), engine.EnvDieAt+"="+step)
				args := []string{"run", "--rm", "--name", "victim", "busybox:test", "sh", "-c", "echo hi"}
				if mode == "detached" {
					args = []string{"run", "-d", "--rm", "--name", "victim", "busybox:test", "sh", "-c", "echo hi"}
				}
				_, errs, code := c.run(nil, args...)
				c.env = base
				// The CLI dies itself (-1: killed by a signal), or for a
				// detached start hears that its monitor's step died
				// (125), or has returned before the exit steps.
				want := -1
				switch {
				case mode == "detached" && strings.HasPrefix(step, "start:"):
					want = 125
				case mode == "detached" && step != engine.StepCreateHeld:
					want = 0
				}
				if code != want {
					t.Errorf("run killed at %s: exit %d (%s), want %d", step, code, errs, want)
				}
				// A detached run killed after its start leaves the
				// exit step to the monitor; let it finish or die.
				waitFor(t, "the monitor to finish", func() bool { return len(c.monitors()) == 0 })
				if _, errs, code := c.run(nil, "ps", "-a"); code != 0 {
					t.Fatalf("ps -a after a SIGKILL at %s: exit %d: %s", step, code, errs)
				}
				for _, id := range strings.Fields(c.ok("ps", "-aq")) {
					c.ok("rm", "-f", id)
				}
				c.ok("container", "prune", "-f")
				c.assertClean()
				// The name is free again.
				c.ok("run", "--rm", "--name", "victim", "busybox:test", "true")
			})
		}
	}
}
