package cgroups_test

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// killedBy reports whether err is the exit of a process killed by sig.
func killedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// TestForkBombContained runs a fork bomb (bounded to 300 forks, so that a
// broken limit cannot take the machine down) under pids.max 64: the kernel
// must refuse forks at the limit (busybox sh then stops with "can't fork")
// and the cgroup never holds more than 64 tasks. Destroy then has to kill
// the orphaned sleepers left behind.
func TestForkBombContained(t *testing.T) {
	m := newManager(t)
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(64)}}); err != nil {
		t.Fatal(err)
	}
	c := startShell(t, m, `i=0; while [ $i -lt 300 ]; do sleep 600 & i=$((i+1)); done; echo finished`)
	if out := c.expect(t, "can't fork", "finished"); !strings.Contains(out, "can't fork") {
		t.Errorf("all 300 forks succeeded under pids.max 64: %q", out)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current > 64 || st.Pids.Current < 32 {
		t.Errorf("pids.current = %d, want at most 64 (and the bomb to have reached near it)", st.Pids.Current)
	}
	if st.Pids.Limit != 64 {
		t.Errorf("Stats pids.limit = %d, want 64", st.Pids.Limit)
	}
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) > 64 {
		t.Errorf("%d processes in the cgroup, want at most 64", len(pids))
	}
}

// TestMemoryHogOOMKilled lets a process allocate without bound under a
// 48 MiB limit: the OOM killer must kill it, the notifier must report it,
// and the stats must count it.
func TestMemoryHogOOMKilled(t *testing.T) {
	m := newManager(t)
	if err := m.Set(memoryLimit(48)); err != nil {
		t.Fatal(err)
	}
	if k, err := m.OOMKills(); err != nil || k != 0 {
		t.Fatalf("OOMKills() of a new cgroup = %d, %v; want 0", k, err)
	}
	n, err := m.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	c := startChild(t, m, "memhog")
	err = c.wait(t)
	if !killedBy(err, syscall.SIGKILL) {
		t.Fatalf("memory hog ended with %v, want killed by SIGKILL (the OOM killer)", err)
	}
	select {
	case _, ok := <-n.C:
		if !ok {
			t.Fatal("OOM notifier closed without an event")
		}
	case <-time.After(time.Minute):
		t.Fatal("no OOM event reported")
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.EventCount.OOMKill == 0 {
		t.Errorf("stats count no OOM kill: %+v", st.Memory.EventCount)
	}
	if n, err := m.OOMKills(); err != nil || n != st.Memory.EventCount.OOMKill {
		t.Errorf("OOMKills() = %d, %v; want the stats' %d", n, err, st.Memory.EventCount.OOMKill)
	}
	if st.Memory.Usage.Limit != uint64(limit(48)) {
		t.Errorf("stats memory limit = %d, want %d", st.Memory.Usage.Limit, limit(48))
	}
}

// TestOOMNotifierStops checks that Stop ends the notifier's goroutine and
// closes C even though no event ever came.
func TestOOMNotifierStops(t *testing.T) {
	m := newManager(t)
	n, err := m.NotifyOOM()
	if err != nil {
		t.Fatal(err)
	}
	n.Stop()
	if _, ok := <-n.C; ok {
		t.Error("C delivered an event after Stop, want it closed")
	}
	n.Stop() // a second Stop is harmless
}

func cpuUsage(t *testing.T, m *cgroups.Manager) uint64 {
	t.Helper()
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.CPU.Usage.Total
}

// TestFreezeStopsBusyLoop freezes a spinning process: while frozen its
// cgroup's CPU time must not move at all; after Thaw it must move again.
func TestFreezeStopsBusyLoop(t *testing.T) {
	m := newManager(t)
	c := startChild(t, m, "spin")
	c.expect(t, "started")
	base := cpuUsage(t, m)
	eventually(t, "the busy loop using CPU", func() bool { return cpuUsage(t, m) > base })

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Frozen {
		t.Fatalf("FreezerState after Freeze = %v, %v; want FROZEN", st, err)
	}
	// The last slice the loop ran before it froze can reach cpu.stat a
	// tick late (seen once in the v2 VM: +4 ms): the baseline is taken
	// after that has settled.
	time.Sleep(50 * time.Millisecond)
	frozen := cpuUsage(t, m)
	time.Sleep(300 * time.Millisecond) // a spinning loop would use ~300ms here
	if got := cpuUsage(t, m); got != frozen {
		t.Errorf("CPU time moved while frozen: %d -> %d ns", frozen, got)
	}

	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != cgroups.Thawed {
		t.Fatalf("FreezerState after Thaw = %v, %v; want THAWED", st, err)
	}
	eventually(t, "the busy loop running again after Thaw", func() bool { return cpuUsage(t, m) > frozen })
}

// TestDestroyFrozen destroys a cgroup whose processes are frozen: on v1 a
// frozen task cannot die until thawed, so Destroy must thaw to kill.
func TestDestroyFrozen(t *testing.T) {
	m := newManager(t)
	c := startChild(t, m, "spin")
	c.expect(t, "started")
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	destroyAndCheck(t, m)
	if err := c.wait(t); !killedBy(err, syscall.SIGKILL) {
		t.Errorf("frozen child ended with %v, want SIGKILL", err)
	}
}

// TestKillAll signals every process of the cgroup, including ones the
// first process forked.
func TestKillAll(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			m := newManager(t)
			c := startShell(t, m, `sleep 600 & sleep 600 & echo forked; wait`)
			c.expect(t, "forked")
			if pids, _ := m.Pids(); len(pids) != 3 {
				t.Fatalf("cgroup has %v, want the shell and two sleeps", pids)
			}
			if err := m.Kill(sig); err != nil {
				t.Fatal(err)
			}
			c.wait(t)
			eventually(t, "every process gone", func() bool {
				pids, _ := m.Pids()
				return len(pids) == 0
			})
		})
	}
}

// TestUpdateLowersMemoryLimit lowers the limit of a running process and
// shows that the new limit is enforced: growing to a size the old limit
// allowed now gets the process OOM-killed.
func TestUpdateLowersMemoryLimit(t *testing.T) {
	m := newManager(t)
	if err := m.Set(memoryLimit(512)); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, m, "grow")
	c.expect(t, "started")
	c.send(t, "64")
	c.expect(t, "ok")

	// checkBeforeUpdate: a limit below what is in use is refused, and
	// nothing changes.
	tooLow := memoryLimit(16)
	tooLow.Memory.CheckBeforeUpdate = boolp(true)
	if err := m.Update(tooLow); !errors.Is(err, cgroups.ErrBelowUsage) {
		t.Errorf("Update below usage with checkBeforeUpdate = %v, want ErrBelowUsage", err)
	}

	if err := m.Update(memoryLimit(128)); err != nil {
		t.Fatal(err)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Usage.Limit != uint64(limit(128)) {
		t.Fatalf("limit after Update = %d, want %d", st.Memory.Usage.Limit, limit(128))
	}
	c.send(t, "200") // 264 MiB in all: under the old limit, over the new one
	if err := c.wait(t); !killedBy(err, syscall.SIGKILL) {
		t.Errorf("growing past the lowered limit ended with %v, want the OOM killer's SIGKILL", err)
	}
}

// TestStatsShape checks the JSON against the field names of runc's
// `events --stats`, with values read from a running process.
func TestStatsShape(t *testing.T) {
	m := newManager(t)
	if err := m.Set(&specs.LinuxResources{
		Pids:   &specs.LinuxPids{Limit: i64(100)},
		Memory: &specs.LinuxMemory{Limit: i64(limit(256))},
	}); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, m, "spin")
	c.expect(t, "started")
	eventually(t, "CPU use", func() bool { return cpuUsage(t, m) > 0 })
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{
		{"cpu", "usage", "total"}, {"cpu", "usage", "kernel"}, {"cpu", "usage", "user"},
		{"memory", "usage", "usage"}, {"memory", "usage", "limit"}, {"memory", "usage", "failcnt"},
		{"memory", "raw"}, {"memory", "event_count", "oom_kill"},
		{"pids", "current"}, {"pids", "limit"}, {"hugetlb"}, {"blkio"}, {"cpuset"},
	} {
		var v any = got
		for _, k := range path {
			obj, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = obj[k]
		}
		if v == nil {
			t.Errorf("stats JSON has no %s: %s", strings.Join(path, "."), b)
		}
	}
	if st.Pids.Current < 1 || st.Pids.Limit != 100 {
		t.Errorf("pids = %+v, want current ≥ 1 and limit 100", st.Pids)
	}
	if st.Memory.Usage.Usage == 0 || st.Memory.Usage.Limit != uint64(limit(256)) {
		t.Errorf("memory usage = %+v, want use > 0 and limit 256 MiB", st.Memory.Usage)
	}
	if st.CPU.PSI == nil || st.Memory.PSI == nil {
		t.Errorf("no PSI in stats, though the cgroup2 tree has pressure files")
	}
}
