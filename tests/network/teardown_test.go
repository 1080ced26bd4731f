package network

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// 50 containers with published ports on a network with DNS, started and
// removed: no veth, rule, lease, namespace or DNS server is left.
func TestFiftyContainersLeaveNothing(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "many")
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for w := 0; w < 5; w++ { // five at a time
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 5 {
				_, stderr, code := c.run(nil, "run", "-d", "--name", fmt.Sprintf("c%d", i), "--network", "many",
					"--expose", "80", "-P", "net:test", "sleep", "1000")
				if code != 0 {
					errs <- stderr
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("run: %s", e)
	}
	leases, _ := os.ReadDir(c.root + "/networks/leases")
	if len(leases) != n || dnatRules(t) != 2*n {
		t.Errorf("%d leases and %d port rules for %d containers", len(leases), dnatRules(t), n)
	}
	ports := map[string]bool{}
	for i := 0; i < n; i++ {
		p := strings.TrimSpace(c.ok("port", fmt.Sprintf("c%d", i), "80"))
		if ports[p] {
			t.Errorf("host port %s given twice", p)
		}
		ports[p] = true
	}
	args := []string{"rm", "-f"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprintf("c%d", i))
	}
	c.ok(args...)
	waitFor(t, "the DNS server to go", func() bool {
		for _, pid := range c.processes() {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.HasPrefix(string(b), "pelagos-dns") {
				return false
			}
		}
		return true
	})
	c.assertClean()
}

// A container that exits releases its address, ports and names at once;
// so does a failed start.
func TestExitReleases(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "--subnet", "10.90.0.0/30", "one")
	c.ok("run", "--name", "quick", "--network", "one", "-p", "9300:80", "net:test", "true")
	c.assertClean()
	// The only address is free again, and so is the port.
	c.ok("run", "--rm", "--network", "one", "-p", "9300:80", "net:test", "true")
	c.fails(127, "executable file not found", "run", "--rm", "--network", "one", "-p", "9300:80", "net:test", "nosuchcmd")
	c.ok("rm", "quick")
	c.assertClean()
}

// After SIGKILL of a container's monitor, its networking is reclaimed by
// rm -f (the container still runs), by any command that sees it exited,
// or by system prune.
func TestKilledMonitorReclaimed(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "k")
	monitorOf := func(name string) int {
		pid, _ := strconv.Atoi(c.field(name, "{{.State.Pid}}"))
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		ppid, _ := strconv.Atoi(f[1])
		return ppid
	}
	// rm -f of a running container whose monitor is gone.
	c.serve("ka", "--network", "k", "-p", "9400:80")
	syscall.Kill(monitorOf("ka"), syscall.SIGKILL)
	c.ok("rm", "-f", "ka")
	c.assertClean()
	// The container exits after its monitor was killed: ps reconciles.
	c.serve("kb", "--network", "k", "-p", "9400:80")
	pid, _ := strconv.Atoi(c.field("kb", "{{.State.Pid}}"))
	syscall.Kill(monitorOf("kb"), syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "kb's init to go", func() bool { return syscall.Kill(pid, 0) != nil })
	c.ok("ps", "-a")
	c.assertClean()
	// And the port is free for another.
	c.serve("b2", "--network", "k", "-p", "9400:80")
	c.ok("rm", "-f", "kb", "b2")
	c.assertClean()
}

// A run killed at each step of its start leaves networking that the next
// commands (ps, rm -f, system prune) reclaim.
func TestKilledStartReclaimed(t *testing.T) {
	c := newCLI(t)
	c.ok("network", "create", "d")
	for _, step := range []string{engine.StepStartMounted, engine.StepStartNetwork, engine.StepStartRecorded, engine.StepStartCreated, engine.StepStartStarted} {
		env := c.env
		c.env = append(env, engine.EnvDieAt+"="+step)
		_, _, code := c.run(nil, "run", "--name", "dying", "--network", "d", "-p", "9500:80", "net:test", "sleep", "1000")
		c.env = env
		if code != 137 && code != -1 {
			t.Errorf("run killed at %s: exit %d, want 137 (SIGKILL)", step, code)
		}
		c.ok("ps", "-a")
		if step != engine.StepStartStarted {
			// Nothing runs: the reconcile of ps alone reclaims it all.
			c.assertClean()
		}
		c.run(nil, "rm", "-f", "dying")
		c.ok("system", "prune", "-f") // removes network d too
		t.Logf("killed at %s", step)
		c.assertClean()
		// The port is free again.
		c.ok("network", "create", "d")
		c.ok("run", "--rm", "--network", "d", "-p", "9500:80", "net:test", "true")
	}
	c.ok("network", "rm", "d")
	c.assertClean()
}
