package runtime_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

type statsEvent struct {
	Type string `json:"type"`
	Data struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
		Memory struct {
			Usage struct {
				Limit uint64 `json:"limit"`
			} `json:"usage"`
		} `json:"memory"`
	} `json:"data"`
}

func (r *runtime) stats(id string) statsEvent {
	r.t.Helper()
	var e statsEvent
	if err := json.Unmarshal([]byte(r.mustRun("events", "--stats", id)), &e); err != nil {
		r.t.Fatal(err)
	}
	return e
}

func resources(mod func(*specs.LinuxResources)) bundle.Modifier {
	return func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		mod(s.Linux.Resources)
	}
}

// pause stops a busy loop (no CPU time while paused); resume restarts it.
func TestPauseStopsBusyLoop(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sh", "-c", "while :; do :; done"))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "busy")
	time.Sleep(200 * time.Millisecond)
	r.mustRun("pause", "busy")
	if st := r.state("busy").Status; st != "paused" {
		t.Fatalf("status after pause = %q, want paused", st)
	}
	before := r.stats("busy").Data.CPU.Usage.Total
	time.Sleep(500 * time.Millisecond)
	if after := r.stats("busy").Data.CPU.Usage.Total; after != before {
		t.Errorf("paused container used CPU: %d ns", after-before)
	}
	r.mustRun("resume", "busy")
	if st := r.state("busy").Status; st != specs.StateRunning {
		t.Fatalf("status after resume = %q", st)
	}
	before = r.stats("busy").Data.CPU.Usage.Total
	time.Sleep(500 * time.Millisecond)
	if after := r.stats("busy").Data.CPU.Usage.Total; after == before {
		t.Error("resumed container used no CPU")
	}
	if _, _, err := r.run("resume", "busy"); err == nil {
		t.Error("resume of a running container succeeded")
	}
}

// A fork bomb under pids.limit 64 stays contained: the host keeps working
// and the container never holds more than 64 tasks.
func TestForkBombContained(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sh", "-c", "b() { b | b & }; b; sleep 30"),
		resources(func(rs *specs.LinuxResources) { limit := int64(64); rs.Pids = &specs.LinuxPids{Limit: &limit} }))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "bomb")
	time.Sleep(2 * time.Second)
	e := r.stats("bomb")
	if e.Data.Pids.Current > 64 || e.Data.Pids.Limit != 64 {
		t.Errorf("pids current %d, limit %d; want at most 64 under limit 64", e.Data.Pids.Current, e.Data.Pids.Limit)
	}
	// The host still forks.
	if out, err := exec.Command("/bin/sh", "-c", "echo alive").Output(); err != nil || strings.TrimSpace(string(out)) != "alive" {
		t.Errorf("host cannot run a process during the bomb: %v", err)
	}
	r.mustRun("delete", "--force", "bomb")
}

// A memory hog is OOM-killed and events reports the OOM; update lowering
// the memory limit takes effect on the running container.
func TestOOMEventAndUpdate(t *testing.T) {
	r := newRuntime(t)
	mb := int64(64 << 20)
	// The hog waits for a file before allocating, so events is listening.
	b := newBundle(t, bundle.WritableRoot(),
		bundle.Args("sh", "-c", `while [ ! -e /go ]; do sleep 0.1; done; awk 'BEGIN { s = "x"; while (1) s = s s }'; sleep 30`),
		resources(func(rs *specs.LinuxResources) {
			swap := mb
			rs.Memory = &specs.LinuxMemory{Limit: &mb, Swap: &swap}
		}))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "hog")

	// Lower the limit while it runs: the new limit is in force.
	r.mustRun("update", "--memory", "33554432", "--memory-swap", "33554432", "hog")
	if got := r.stats("hog").Data.Memory.Usage.Limit; got != 32<<20 {
		t.Errorf("memory limit after update = %d, want %d", got, 32<<20)
	}

	events := exec.Command(r.bin, "--root", r.root, "events", "--interval", "100ms", "hog")
	out, err := events.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = events.Process.Kill(); _ = events.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() { // first stats line: the listener is up
		t.Fatal("events printed nothing")
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs(), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	sawOOM := false
	for !sawOOM && time.Now().Before(deadline) && sc.Scan() {
		var e statsEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "oom" {
			sawOOM = true
		}
	}
	if !sawOOM {
		t.Error("events reported no oom for a process that allocated past its limit")
	}
}

// Two containers under a parent cgroup that the first one's create made:
// deleting the first never touches the second (nor kills it); the parent
// goes with the container that made it once it is empty.
func TestSharedCgroupParent(t *testing.T) {
	r := newRuntime(t)
	for _, order := range [][2]string{{"a", "b"}, {"b", "a"}} {
		parent := fmt.Sprintf("/pelagos-test-shared-%d-%s", os.Getpid(), order[0])
		for _, n := range []string{"a", "b"} {
			bn := newBundle(t, bundle.Args("sleep", "60"), bundle.CgroupsPath(parent+"/"+n))
			r.mustRun("run", "--detach", "--bundle", bn.Dir, "shared-"+n) // a first: a makes the parent
		}
		first, second := "shared-"+order[0], "shared-"+order[1]
		r.mustRun("delete", "--force", first)
		if st := r.state(second).Status; st != specs.StateRunning {
			t.Fatalf("deleting %s left %s %q", first, second, st)
		}
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", parent, order[1])); err != nil {
			t.Errorf("deleting %s removed %s's cgroup: %v", first, second, err)
		}
		r.mustRun("delete", "--force", second)
		_, err := os.Stat(filepath.Join("/sys/fs/cgroup/pids", parent))
		if order[0] == "b" && err == nil {
			t.Errorf("parent %s left after its maker (a) was deleted last", parent)
		}
		// With the maker deleted first, the parent was not empty then
		// and nobody owns it now: it stays (runc leaves parents too).
		_ = testenvRemoveEmpty(parent)
	}
}

// testenvRemoveEmpty removes an empty test cgroup parent in every
// hierarchy.
func testenvRemoveEmpty(parent string) error {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, d := range dirs {
		_ = os.Remove(d)
	}
	return nil
}
