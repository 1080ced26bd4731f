package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// initThreads returns the number of threads of a created container's
// waiting init: the C init is one thread, the Go init a Go runtime's
// several.
func initThreads(t *testing.T, r *runtime, b *bundle.Bundle, id string) int {
	t.Helper()
	r.mustRun("create", "--bundle", b.Dir, id)
	defer r.mustRun("delete", "--force", id)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.state(id).Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in the init's status")
	return 0
}

// The runtime picks the C init for the configs it supports (so the rest
// of this suite exercises it), the Go init for the others and when
// PELAGOS_INIT=go: the C init never starts a Go runtime, so its waiting
// init has exactly one thread.
func TestInitKind(t *testing.T) {
	cases := []struct {
		name    string
		rt      func(*testing.T) *runtime
		mods    []bundle.Modifier
		wantOne bool
	}{
		{"default config: C init", newRuntime, nil, true},
		{"PELAGOS_INIT=go: Go init", newGoInitRuntime, nil, false},
		{"user namespace: Go init", newRuntime, []bundle.Modifier{userNamespace(100000)}, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.rt(t)
			var b *bundle.Bundle
			if len(c.mods) > 0 {
				b = newUserNSBundle(t, bundle.Args("sleep", "60"))
			} else {
				b = newBundle(t, bundle.Args("sleep", "60"))
			}
			n := initThreads(t, r, b, fmt.Sprintf("kind%d", i))
			if got := n == 1; got != c.wantOne {
				t.Errorf("the waiting init has %d threads; want the C init: %v", n, c.wantOne)
			}
		})
	}
}

// A runtime started with signals blocked or ignored (a monitor ignores
// SIGHUP and SIGINT, nohup, a caller's signal mask) must not pass that on:
// the container process starts with nothing blocked and every disposition
// the default, or stop's SIGTERM would not reach a process that installs
// no handler.
func TestContainerSignalsStartDefault(t *testing.T) {
	bothInits(t, func(t *testing.T, r *runtime) {
		b := newBundle(t, bundle.Args("grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"))
		_, attack := tools(t)
		cmd := exec.Command(attack, "sigexec", r.bin, "--root", r.root, "run", "--bundle", b.Dir, "sigs")
		if r.env != nil {
			cmd.Env = r.env
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(line); len(f) != 2 || strings.Trim(f[1], "0") != "" {
				t.Errorf("container process: %q, want no signal ignored or blocked", line)
			}
		}
		if !strings.Contains(string(out), "SigIgn") {
			t.Fatalf("no SigIgn line in %q", out)
		}
	})
}

// bothInits runs test against a runtime that starts containers with the C
// init and one that starts them with the Go init (PELAGOS_INIT=go).
func bothInits(t *testing.T, test func(*testing.T, *runtime)) {
	t.Run("C init", func(t *testing.T) { test(t, newRuntime(t)) })
	t.Run("Go init", func(t *testing.T) { test(t, newGoInitRuntime(t)) })
}
