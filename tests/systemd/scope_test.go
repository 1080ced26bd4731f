package systemd_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// TestScopeWithRealSystemd runs containers with the systemd driver against
// one sandboxed systemd, subtest by subtest.
func TestScopeWithRealSystemd(t *testing.T) {
	s := newSandbox(t)
	r := newRunc(t, s)
	t.Run("lifecycle", func(t *testing.T) { testLifecycle(t, s, r) })
	t.Run("default path", func(t *testing.T) { testDefaultPath(t, s, r) })
	t.Run("failure after the scope started", func(t *testing.T) { testRollback(t, s, r) })
	t.Run("lingering unit name", func(t *testing.T) { testUnitExists(t, s, r) })
	t.Run("limits and update", func(t *testing.T) { testLimits(t, s, r) })
}

// testLimits: where the sandbox's cgroup2 tree has the controllers (a
// pure v2 host, as in tests/vm's TestCgroupV2InVM), systemd holds the
// limits as unit properties, the files say the same, and update changes
// both (SetUnitProperties).
func testLimits(t *testing.T, s *sandbox, r *runc) {
	have := " " + s.readInside(t, "/sys/fs/cgroup/cgroup.controllers") + " "
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !strings.Contains(have, " "+c+" ") {
			t.Skipf("the sandbox's cgroup2 tree has no %s controller (controllers: %s): on a hybrid host the controllers are on v1; TestCgroupV2InVM runs this", c, strings.TrimSpace(have))
		}
	}
	const (
		unit = "pt-lim.scope"
		dir  = "/sys/fs/cgroup/system.slice/pt-lim.scope"
	)
	b := newBundle(t, s, "b-lim", withCgroupsPath("system.slice:pt:lim"), func(sp *specs.Spec) {
		shares, period := uint64(1024), uint64(100000)
		quota, mem, pids := int64(50000), int64(64<<20), int64(32)
		sp.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &mem},
			CPU:    &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period},
			Pids:   &specs.LinuxPids{Limit: &pids},
		}
	})
	r.mustRun(t, "--systemd-cgroup", "create", "--bundle", b, "lim")
	defer r.run("delete", "--force", "lim")
	check := func(when string, wantProps, wantFiles map[string]string) {
		t.Helper()
		var names []string
		for k := range wantProps {
			names = append(names, k)
		}
		got := s.unitProps(unit, names...)
		for k, v := range wantProps {
			if got[k] != v {
				t.Errorf("%s: systemctl show %s: %s=%q, want %q", when, unit, k, got[k], v)
			}
		}
		for f, v := range wantFiles {
			if got := s.readInside(t, dir+"/"+f); got != v {
				t.Errorf("%s: %s = %q, want %q", when, f, got, v)
			}
		}
	}
	check("after create", map[string]string{
		"MemoryMax": "67108864", "TasksMax": "32", "CPUWeight": "39",
		"CPUQuotaPerSecUSec": "500ms", "CPUQuotaPeriodUSec": "100ms",
	}, map[string]string{
		"memory.max": "67108864", "pids.max": "32", "cpu.weight": "39", "cpu.max": "50000 100000",
	})
	r.mustRun(t, "update", "--memory", "33554432", "--pids-limit", "16", "lim")
	check("after update", map[string]string{"MemoryMax": "33554432", "TasksMax": "16"},
		map[string]string{"memory.max": "33554432", "pids.max": "16"})
}

// testLifecycle: create makes the scope, in the slice asked for, with the
// init in it and the properties asked for; pause, resume and kill --all
// work at the scope's path; delete stops the unit and removes its cgroup.
func testLifecycle(t *testing.T, s *sandbox, r *runc) {
	const (
		id    = "life"
		unit  = "pt-life.scope"
		slice = "machine-pelagos.slice"
		dir   = "/sys/fs/cgroup/machine.slice/machine-pelagos.slice/pt-life.scope"
	)
	b := newBundle(t, s, "b-life",
		withCgroupsPath(slice+":pt:life"),
		withAnnotations(map[string]string{
			"org.systemd.property.TimeoutStopSec": "7",
			"org.systemd.property.CollectMode":    "'inactive-or-failed'",
		}))
	r.mustRun(t, "--systemd-cgroup", "create", "--bundle", b, id)
	defer r.run("delete", "--force", id)

	got := s.unitProps(unit, "ActiveState", "Slice", "Delegate", "ControlGroup", "TimeoutStopUSec", "CollectMode", "Description", "DefaultDependencies")
	want := map[string]string{
		"ActiveState":         "active",
		"Slice":               slice,
		"Delegate":            "yes",
		"ControlGroup":        strings.TrimPrefix(dir, "/sys/fs/cgroup"),
		"TimeoutStopUSec":     "7s",
		"CollectMode":         "inactive-or-failed",
		"Description":         "pelagos container " + id,
		"DefaultDependencies": "no",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("systemctl show %s: %s=%q, want %q", unit, k, got[k], v)
		}
	}
	st := r.state(t, id)
	if procs := s.readInside(t, dir+"/cgroup.procs"); procs != fmt.Sprint(st.Pid) {
		t.Errorf("%s/cgroup.procs = %q, want the init %d alone", dir, procs, st.Pid)
	}
	cg := s.readInside(t, fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if last := cg[strings.LastIndex(cg, "\n")+1:]; last != "0::"+want["ControlGroup"] {
		t.Errorf("the init's cgroup2 line in /proc/pid/cgroup = %q, want 0::%s", last, want["ControlGroup"])
	}

	r.mustRun(t, "start", id)
	r.mustRun(t, "pause", id)
	if st := r.state(t, id); st.Status != "paused" {
		t.Errorf("after pause: status %q, want paused", st.Status)
	}
	if f := s.readInside(t, dir+"/cgroup.freeze"); f != "1" {
		t.Errorf("after pause: cgroup.freeze = %q, want 1", f)
	}
	r.mustRun(t, "resume", id)
	if st := r.state(t, id); st.Status != specs.StateRunning {
		t.Errorf("after resume: status %q, want running", st.Status)
	}

	r.mustRun(t, "kill", "--all", id, "KILL")
	r.waitStopped(t, id)
	r.mustRun(t, "delete", id)
	if s.existsInside(dir) {
		t.Errorf("delete left %s", dir)
	}
	if st := s.unitProps(unit, "LoadState", "ActiveState"); st["ActiveState"] == "active" || st["ActiveState"] == "failed" {
		t.Errorf("after delete: %s is %v, want it gone", unit, st)
	}
}

// testDefaultPath: --systemd-cgroup without a cgroupsPath makes
// pelagos-<id>.scope in system.slice, and delete --force of a running
// container stops it.
func testDefaultPath(t *testing.T, s *sandbox, r *runc) {
	const id = "dflt"
	b := newBundle(t, s, "b-dflt")
	r.mustRun(t, "--systemd-cgroup", "run", "--detach", "--bundle", b, id)
	const dir = "/sys/fs/cgroup/system.slice/pelagos-dflt.scope"
	if got := s.unitProps("pelagos-dflt.scope", "ActiveState", "ControlGroup"); got["ActiveState"] != "active" || got["ControlGroup"] != "/system.slice/pelagos-dflt.scope" {
		t.Errorf("pelagos-dflt.scope: %v, want active at /system.slice/pelagos-dflt.scope", got)
	}
	if procs := s.readInside(t, dir+"/cgroup.procs"); procs == "" {
		t.Errorf("%s holds no process", dir)
	}
	r.mustRun(t, "delete", "--force", id)
	if s.existsInside(dir) {
		t.Errorf("delete --force left %s", dir)
	}
	if got := s.unitProps("pelagos-dflt.scope", "ActiveState"); got["ActiveState"] == "active" {
		t.Errorf("after delete --force: pelagos-dflt.scope is still active")
	}
}

// testRollback: a limit that fails after systemd made the scope (an RDMA
// device that does not exist, or no rdma controller) fails create with a
// clear error, stops the unit and leaves no state and no cgroup.
func testRollback(t *testing.T, s *sandbox, r *runc) {
	const id = "rb"
	b := newBundle(t, s, "b-rb", withCgroupsPath("system.slice:pt:rb"), func(sp *specs.Spec) {
		h := uint32(1)
		sp.Linux.Resources = &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"pelagos-nodev": {HcaHandles: &h}}}
	})
	out, errOut, err := r.run("--systemd-cgroup", "create", "--bundle", b, id)
	if err == nil {
		r.run("delete", "--force", id)
		t.Fatalf("create with an rdma limit on a missing device succeeded:\n%s", out)
	}
	// The error names the scope's directory: the limit failed after
	// systemd had made the scope, which is the rollback under test.
	if !strings.Contains(errOut, "rdma") || !strings.Contains(errOut, "/system.slice/pt-rb.scope") {
		t.Errorf("create error does not name rdma and the scope's cgroup:\n%s", errOut)
	}
	if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
		t.Errorf("create error is %d lines, want one:\n%s", n+1, errOut)
	}
	if got := s.unitProps("pt-rb.scope", "ActiveState"); got["ActiveState"] == "active" {
		t.Errorf("the scope of a failed create is still active")
	}
	if s.existsInside("/sys/fs/cgroup/system.slice/pt-rb.scope") {
		t.Errorf("a failed create left its scope's cgroup")
	}
	if entries, _ := os.ReadDir(filepath.Join(s.dir, "state")); len(entries) > 0 {
		t.Errorf("a failed create left state: %v", entries)
	}
}

// testUnitExists: a second container asking for an active scope's name is
// refused (systemd's UnitExists), and the first keeps running.
func testUnitExists(t *testing.T, s *sandbox, r *runc) {
	b := newBundle(t, s, "b-dup", withCgroupsPath("system.slice:pt:dup"))
	r.mustRun(t, "--systemd-cgroup", "create", "--bundle", b, "dup1")
	defer r.run("delete", "--force", "dup1")
	_, errOut, err := r.run("--systemd-cgroup", "create", "--bundle", b, "dup2")
	if err == nil {
		r.run("delete", "--force", "dup2")
		t.Fatal("a second scope of the same name was created")
	}
	if !strings.Contains(errOut, "pt-dup.scope") {
		t.Errorf("error does not name the unit:\n%s", errOut)
	}
	if got := s.unitProps("pt-dup.scope", "ActiveState"); got["ActiveState"] != "active" {
		t.Errorf("the first container's scope is %v after the refused second", got)
	}
	if st := r.state(t, "dup1"); st.Status != specs.StateCreated {
		t.Errorf("the first container is %q, want created", st.Status)
	}
}

func (r *runc) state(t *testing.T, id string) specs.State {
	t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(r.mustRun(t, "state", id)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (r *runc) waitStopped(t *testing.T, id string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r.state(t, id).Status == specs.StateStopped {
			return
		}
	}
	t.Fatalf("%s did not stop", id)
}

// TestWithoutSystemd: on a host where systemd is not the init (these
// machines), --systemd-cgroup fails with one clear line and leaves no
// container state and no cgroup; bad systemd paths are refused before
// anything is made.
func TestWithoutSystemd(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is the init of this host: the no-systemd error cannot happen here")
	}
	bin := testenv.Runtime(t)
	root := t.TempDir()
	for _, tt := range []struct {
		name, path string
		flag       bool
		wantErr    string
	}{
		{"flag, default path", "", true, "--systemd-cgroup needs a running systemd"},
		{"slice path without the flag", "system.slice:pt:x", false, "--systemd-cgroup needs a running systemd"},
		{"absolute path with the flag", "/pelagos-sysd-abs", true, "wants slice:prefix:name"},
		{"malformed slice", "a--b.slice:pt:x", true, "malformed"},
		{"dotdot name", "system.slice::..", true, "bad prefix or name"},
		{"slash in name", "system.slice:pt:a/b", true, "bad prefix or name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			b, err := bundle.New(dir, bundle.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b.Spec.Process.Args = []string{"true"}
			b.Spec.Linux.CgroupsPath = tt.path
			if err := b.Write(); err != nil {
				t.Fatal(err)
			}
			args := []string{"--root", root}
			if tt.flag {
				args = append(args, "--systemd-cgroup")
			}
			args = append(args, "run", "--bundle", dir, "nosd")
			_, errOut, code := testenv.RunCLI(t, bin, nil, nil, args...)
			if code == 0 {
				t.Fatalf("pelagos-runc %v succeeded", args)
			}
			if !strings.Contains(errOut, tt.wantErr) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error = %q, want one line containing %q", errOut, tt.wantErr)
			}
			for _, name := range testenv.StateEntries(root) {
				t.Errorf("a refused run left state: %s", name)
			}
		})
	}
}

// hostSysctls are kernel settings that are not namespaced and that
// systemd as PID 1 raises at boot.
var hostSysctls = []string{"fs/file-max", "fs/nr_open", "kernel/pid_max"}

// TestSandboxLeavesHostSysctls: booting the sandbox's systemd changes none
// of the host's kernel settings. fs.file-max is moved one below the
// maximum systemd sets for the duration (and restored), so the test fails
// on a host where it is already at that maximum too.
func TestSandboxLeavesHostSysctls(t *testing.T) {
	read := func(k string) string {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	const fileMax = "/proc/sys/fs/file-max"
	if old := read("fs/file-max"); old == "9223372036854775807" {
		if err := os.WriteFile(fileMax, []byte("9223372036854775806"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.WriteFile(fileMax, []byte(old), 0o644) })
	}
	before := map[string]string{}
	for _, k := range hostSysctls {
		before[k] = read(k)
	}
	s := newSandbox(t)
	s.mustExec("true")
	for _, k := range hostSysctls {
		if got := read(k); got != before[k] {
			t.Errorf("the sandbox's systemd changed the host's %s: %s -> %s", k, before[k], got)
		}
	}
}
