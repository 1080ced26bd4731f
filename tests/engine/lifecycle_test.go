package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parentOf returns the parent pid of pid.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func TestDetachedOutlivesTheCLI(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.ok("run", "-d", "--name", "bg", "busybox:test", "sh", "-c", "echo started; echo oops >&2; exec sleep 1000"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex ID", id)
	}
	// The CLI has exited; the container runs under its monitor.
	if got := c.field("bg", "{{.State.Status}} {{.State.Running}}"); got != "running true" {
		t.Fatalf("after run -d: %q", got)
	}
	pid, _ := strconv.Atoi(c.field("bg", "{{.State.Pid}}"))
	mons := c.monitors()
	if len(mons) != 1 {
		t.Fatalf("monitors %v, want one", mons)
	}
	// The init is forked by the monitor's start step (into its pid
	// namespace, as a sibling of the step); once the step exits, the
	// monitor, a child subreaper, is its parent.
	waitFor(t, "the monitor to be the init's parent", func() bool { return parentOf(t, pid) == mons[0] })
	waitFor(t, "the output in the log", func() bool {
		out, errs, _ := c.run(nil, "logs", "bg")
		return out == "started\n" && errs == "oops\n"
	})
	// Short ID, prefix and name all find it.
	for _, ref := range []string{id, id[:12], id[:5], "bg", "/bg"} {
		if got := c.field(ref, "{{.Id}}"); got != id {
			t.Errorf("inspect %s: %s, want %s", ref, got, id)
		}
	}
	c.ok("stop", "-t", "1", "bg")
	if got := c.field("bg", "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("after stop of a process ignoring SIGTERM: %q, want exited 137", got)
	}
	waitFor(t, "the monitor to exit", func() bool { return len(c.monitors()) == 0 })
	c.ok("rm", "bg")
	c.assertClean()
}

func TestStopSignalAndTimeout(t *testing.T) {
	c := newCLI(t)
	trap := `trap "echo got-$1; exit $2" %s; echo ready; while :; do sleep 0.05; done`
	// A process that handles SIGTERM exits by itself: its own status.
	c.ok("run", "-d", "--name", "term", "busybox:test", "sh", "-c", fmt.Sprintf(trap, "TERM"), "x", "TERM", "7")
	// --stop-signal is what stop sends.
	c.ok("run", "-d", "--name", "usr1", "--stop-signal", "SIGUSR1", "busybox:test", "sh", "-c", fmt.Sprintf(trap, "USR1"), "x", "USR1", "9")
	// --stop-timeout is how long stop waits before SIGKILL.
	c.ok("run", "-d", "--name", "deaf", "--stop-timeout", "1", "busybox:test", "sleep", "1000")
	for _, n := range []string{"term", "usr1"} {
		waitFor(t, n+" ready", func() bool { out, _, _ := c.run(nil, "logs", n); return strings.Contains(out, "ready") })
	}
	c.ok("stop", "term", "usr1", "deaf")
	for name, want := range map[string]string{"term": "exited 7", "usr1": "exited 9", "deaf": "exited 137"} {
		if got := c.field(name, "{{.State.Status}} {{.State.ExitCode}}"); got != want {
			t.Errorf("%s after stop: %q, want %q", name, got, want)
		}
	}
	if out, _, _ := c.run(nil, "logs", "usr1"); !strings.Contains(out, "got-USR1") {
		t.Errorf("usr1 log %q: the stop signal was not SIGUSR1", out)
	}
	// stop -s overrides; stop of a stopped container succeeds.
	c.ok("start", "term")
	waitFor(t, "term ready again", func() bool { out, _, _ := c.run(nil, "logs", "term"); return strings.Count(out, "ready") == 2 })
	c.ok("stop", "-s", "KILL", "term")
	if got := c.field("term", "{{.State.ExitCode}}"); got != "137" {
		t.Errorf("stop -s KILL: exit %s, want 137", got)
	}
	c.ok("stop", "term")
	c.ok("rm", "term", "usr1", "deaf")
	c.assertClean()
}

func TestCreateStartRestartKillWait(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.ok("create", "--name", "cr", "-l", "app=web", "busybox:test", "sh", "-c", "echo run-$RANDOM; exec sleep 1000"))
	if got := c.field(id, "{{.State.Status}} {{.Name}} {{.Config.Labels.app}}"); got != "created /cr web" {
		t.Errorf("after create: %q", got)
	}
	if got := c.ok("ps", "-q"); got != "" {
		t.Errorf("ps lists a created container: %q", got)
	}
	c.ok("start", "cr")
	if got := c.field("cr", "{{.State.Status}}"); got != "running" {
		t.Errorf("after start: %q", got)
	}
	pid1 := c.field("cr", "{{.State.Pid}}")
	c.ok("restart", "-t", "0", "cr")
	if pid2 := c.field("cr", "{{.State.Pid}}"); pid2 == pid1 || c.field("cr", "{{.State.Running}}") != "true" {
		t.Errorf("restart: pid %s -> %s, running %s", pid1, pid2, c.field("cr", "{{.State.Running}}"))
	}
	// kill with a signal; wait prints the status.
	waitOut := make(chan string, 1)
	go func() { out, _, _ := c.run(nil, "wait", "cr"); waitOut <- out }()
	c.ok("kill", "-s", "TERM", "cr") // sleep as pid 1 ignores TERM
	c.ok("kill", "cr")
	if got := strings.TrimSpace(<-waitOut); got != "137" {
		t.Errorf("wait: %q, want 137", got)
	}
	if errs := c.fails(1, "kill", "cr"); !strings.Contains(errs, "is not running") {
		t.Errorf("kill of a stopped container: %q", errs)
	}
	c.ok("rename", "cr", "renamed")
	c.fails(1, "inspect", "cr")
	if got := c.field("renamed", "{{.Name}}"); got != "/renamed" {
		t.Errorf("after rename: %q", got)
	}
	c.ok("run", "--name", "other", "busybox:test", "true")
	if errs := c.fails(1, "rename", "renamed", "other"); !strings.Contains(errs, "is already in use") {
		t.Errorf("rename to a taken name: %q", errs)
	}
	c.ok("rm", "renamed", "other")
	c.assertClean()
}

func TestPauseTopPortRm(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "pz", "busybox:test", "sh", "-c", "sleep 1000 & exec sleep 999")
	c.ok("pause", "pz")
	if got := c.field("pz", "{{.State.Status}} {{.State.Paused}}"); got != "paused true" {
		t.Errorf("after pause: %q", got)
	}
	if got := c.ok("ps", "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(got), "(Paused)") {
		t.Errorf("ps status while paused: %q", got)
	}
	c.fails(1, "pause", "pz")
	c.ok("unpause", "pz")
	top := c.ok("top", "pz")
	if !strings.Contains(top, "PID") || !strings.Contains(top, "sleep 1000") || !strings.Contains(top, "sleep 999") {
		t.Errorf("top:\n%s", top)
	}
	if got := c.ok("port", "pz"); got != "" {
		t.Errorf("port without published ports: %q", got)
	}
	if errs := c.fails(1, "rm", "pz"); !strings.Contains(errs, "You cannot remove a running container") {
		t.Errorf("rm of a running container: %q", errs)
	}
	c.ok("rm", "-f", "pz")
	c.assertClean()
}

func TestRestartPolicies(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox:test", "sh", "-c", "echo try; exit 3")
	waitFor(t, "on-failure to give up", func() bool {
		return c.field("flaky", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
	})
	if out, _, _ := c.run(nil, "logs", "flaky"); strings.Count(out, "try") != 3 {
		t.Errorf("on-failure:2 ran %d times, want 3", strings.Count(out, "try"))
	}
	c.ok("run", "-d", "--name", "fine", "--restart", "on-failure", "busybox:test", "true")
	waitFor(t, "fine to exit", func() bool { return c.field("fine", "{{.State.Status}}") == "exited" })
	if got := c.field("fine", "{{.RestartCount}}"); got != "0" {
		t.Errorf("on-failure restarted a successful container %s times", got)
	}
	c.ok("run", "-d", "--name", "always", "--restart", "always", "busybox:test", "sh", "-c", "sleep 0.2")
	waitFor(t, "always to restart twice", func() bool {
		n, _ := strconv.Atoi(c.field("always", "{{.RestartCount}}"))
		return n >= 2
	})
	// stop ends the policy: no restart afterwards, the monitor exits.
	c.ok("stop", "always")
	waitFor(t, "the monitors to exit", func() bool { return len(c.monitors()) == 0 })
	if got := c.field("always", "{{.State.Status}}"); got != "exited" {
		t.Errorf("always after stop: %q", got)
	}
	c.ok("rm", "flaky", "fine", "always")
	c.assertClean()
}

func TestPsAndInspectFormats(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.ok("run", "-d", "--name", "up", "-l", "tier=db", "busybox:test", "sleep", "1000"))
	c.fails(4, "run", "--name", "done", "busybox:test", "sh", "-c", "exit 4")
	table := c.ok("ps")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	header := strings.Fields(lines[0])
	if diff := cmp.Diff([]string{"CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}, header); diff != "" {
		t.Errorf("ps header (-want +got):\n%s", diff)
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], id[:12]+"   busybox:test   \"sleep 1000\"") || !strings.Contains(lines[1], "Up ") || !strings.HasSuffix(lines[1], "up") {
		t.Errorf("ps:\n%s", table)
	}
	if got := strings.Fields(c.ok("ps", "-aq")); len(got) != 2 {
		t.Errorf("ps -aq: %v", got)
	}
	if got := strings.TrimSpace(c.ok("ps", "-q", "--no-trunc")); got != id {
		t.Errorf("ps -q --no-trunc: %q, want %s", got, id)
	}
	if got := strings.TrimSpace(c.ok("ps", "-l", "--format", "{{.Names}} {{.Status}}")); !strings.HasPrefix(got, "done Exited (4) ") {
		t.Errorf("ps -l: %q", got)
	}
	if got := strings.Fields(c.ok("ps", "-n", "2", "--format", "{{.Names}}")); len(got) != 2 {
		t.Errorf("ps -n 2: %v", got)
	}
	filters := map[string]string{
		"status=exited": "done", "exited=4": "done", "label=tier=db": "up", "label=tier": "up",
		"name=do": "done", "id=" + id[:6]: "up", "ancestor=busybox:test": "done up",
	}
	for f, want := range filters {
		got := strings.Fields(c.ok("ps", "-a", "--filter", f, "--format", "{{.Names}}"))
		sort.Strings(got)
		if strings.Join(got, " ") != want {
			t.Errorf("ps -a --filter %s: %v, want %s", f, got, want)
		}
	}
	c.fails(1, "ps", "--filter", "color=red")
	// --format json: one object per line with docker's keys, all strings.
	var row map[string]any
	if err := json.Unmarshal([]byte(c.ok("ps", "--format", "json")), &row); err != nil {
		t.Fatalf("ps --format json: %v", err)
	}
	var keys []string
	for k, v := range row {
		keys = append(keys, k)
		if _, ok := v.(string); !ok {
			t.Errorf("ps json %s = %v (%T), want a string", k, v, v)
		}
	}
	sort.Strings(keys)
	want := []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("ps json keys (-want +got):\n%s", diff)
	}
	if s := c.ok("ps", "-s", "--format", "{{.Size}}"); !strings.Contains(s, "virtual") {
		t.Errorf("ps -s size: %q", s)
	}
	// inspect: docker's shape.
	var objs []map[string]any
	if err := json.Unmarshal([]byte(c.ok("inspect", "up")), &objs); err != nil || len(objs) != 1 {
		t.Fatalf("inspect: %v (%d objects)", err, len(objs))
	}
	for _, k := range []string{"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath", "Name", "RestartCount", "Driver", "Platform", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"} {
		if _, ok := objs[0][k]; !ok {
			t.Errorf("inspect has no %s", k)
		}
	}
	st := objs[0]["State"].(map[string]any)
	if st["Running"] != true || st["Status"] != "running" || st["Pid"].(float64) <= 0 {
		t.Errorf("inspect State: %v", st)
	}
	if got := c.field("up", "{{json .Config.Labels}}"); got != `{"tier":"db"}` {
		t.Errorf("inspect -f json: %q", got)
	}
	// The top-level inspect also finds images; container inspect does not.
	if got := c.field("busybox:test", "{{.Os}}"); got != "linux" {
		t.Errorf("inspect of an image: %q", got)
	}
	c.fails(1, "container", "inspect", "busybox:test")
	c.ok("rm", "-f", "up", "done")
	c.assertClean()
}

func TestSameNameAtOnce(t *testing.T) {
	c := newCLI(t)
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, codes[i] = c.run(nil, "run", "-d", "--name", "same", "busybox:test", "sleep", "1000")
		}(i)
	}
	wg.Wait()
	won := 0
	for _, code := range codes {
		switch code {
		case 0:
			won++
		case 125:
		default:
			t.Errorf("a run of a taken name exited %d, want 125", code)
		}
	}
	if won != 1 {
		t.Errorf("%d runs of --name same succeeded, want exactly 1 (codes %v)", won, codes)
	}
	if got := strings.Fields(c.ok("ps", "-aq")); len(got) != 1 {
		t.Errorf("%d containers after the race, want 1", len(got))
	}
	c.ok("rm", "-f", "same")
	c.assertClean()
}

func TestConcurrentRuns(t *testing.T) {
	c := newCLI(t)
	const n = 24
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, stderr, code := c.run(nil, "run", "--rm", "busybox:test", "echo", strconv.Itoa(i))
			if code != 0 || out != strconv.Itoa(i)+"\n" {
				errs <- fmt.Errorf("run %d: exit %d, stdout %q, stderr %q", i, code, out, stderr)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c.assertClean()
}

func TestPrune(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--name", "a1", "busybox:test", "true")
	c.ok("create", "--name", "a2", "busybox:test", "true")
	c.ok("run", "-d", "--name", "a3", "busybox:test", "sleep", "1000")
	out := c.ok("container", "prune", "-f")
	if !strings.Contains(out, "Deleted Containers:") || strings.Count(out, "\n") < 3 {
		t.Errorf("prune: %q", out)
	}
	if got := strings.Fields(c.ok("ps", "-a", "--format", "{{.Names}}")); len(got) != 1 || got[0] != "a3" {
		t.Errorf("after prune: %v, want a3 alone", got)
	}
	c.ok("rm", "-f", "a3")
	c.assertClean()
}

// TestMonitorKilled: a container whose monitor dies keeps running; once it
// exits, the next command records the exit as unknown (255) and rm,
// prune clean up.
func TestMonitorKilled(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "orphan", "busybox:test", "sleep", "1000")
	c.killMonitors()
	waitFor(t, "the monitor to die", func() bool { return len(c.monitors()) == 0 })
	if got := c.field("orphan", "{{.State.Status}}"); got != "running" {
		t.Errorf("container without its monitor: %q, want still running", got)
	}
	pid, _ := strconv.Atoi(c.field("orphan", "{{.State.Pid}}"))
	syscall.Kill(pid, syscall.SIGKILL)
	waitFor(t, "the unmonitored exit to be seen", func() bool {
		return c.field("orphan", "{{.State.Status}} {{.State.ExitCode}}") == "exited 255"
	})
	c.ok("container", "prune", "-f")
	c.assertClean()
	// And during a restart backoff.
	c.ok("run", "-d", "--name", "loop", "--restart", "always", "busybox:test", "sh", "-c", "sleep 0.1")
	waitFor(t, "a restart", func() bool { return c.field("loop", "{{.RestartCount}}") != "0" })
	c.killMonitors()
	waitFor(t, "the monitor to die", func() bool { return len(c.monitors()) == 0 })
	c.ok("rm", "-f", "loop")
	c.assertClean()
}
