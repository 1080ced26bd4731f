//go:build vmguest

package guest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// A fork bomb under pids.limit 64 stays contained: the container never
// holds more than 64 tasks, it does hit the limit, and the host (the VM)
// keeps forking.
func TestForkBombContained(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sh", "-c", "b() { b | b & }; b; sleep 60"), pidsLimit(64))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "bomb")
	dir := r.cgroupDir("bomb")

	var most int64
	hit := waitFor(20*time.Second, func() bool {
		cur, _ := strconv.ParseInt(readCgroupFile(t, dir, "pids.current"), 10, 64)
		most = max(most, cur)
		return keyValue(t, dir, "pids.events", "max") > 0
	})
	if !hit {
		t.Fatalf("the bomb never reached pids.max (at most %d tasks seen): nothing was tested", most)
	}
	for i := 0; i < 10; i++ { // keep sampling while it pushes against the limit
		cur, _ := strconv.ParseInt(readCgroupFile(t, dir, "pids.current"), 10, 64)
		most = max(most, cur)
		time.Sleep(100 * time.Millisecond)
	}
	if most > 64 {
		t.Errorf("pids.current reached %d under pids.max 64", most)
	}
	if exists(filepath.Join(dir, "pids.peak")) {
		if peak, _ := strconv.Atoi(readCgroupFile(t, dir, "pids.peak")); peak > 64 {
			t.Errorf("pids.peak = %d under pids.max 64", peak)
		}
	}
	e := r.stats("bomb")
	if e.Data.Pids.Current > 64 || e.Data.Pids.Limit != 64 {
		t.Errorf("events --stats: pids current %d, limit %d; want at most 64 under limit 64", e.Data.Pids.Current, e.Data.Pids.Limit)
	}
	if out, err := exec.Command("/bin/sh", "-c", "echo alive").Output(); err != nil || strings.TrimSpace(string(out)) != "alive" {
		t.Errorf("the VM cannot run a process during the bomb: %q, %v", out, err)
	}
	r.mustRun("delete", "--force", "bomb")
	if exists(dir) {
		t.Errorf("cgroup %s left after delete --force", dir)
	}
}

// An update that lowers the memory limit takes effect on the running
// container: 48 MiB that fitted under the old 64 MiB limit no longer fit,
// the allocation is OOM-killed, and `events` reports the OOM.
func TestUpdateLowersMemoryAndOOMEvent(t *testing.T) {
	r := newRuntime(t)
	mb := int64(64 << 20)
	// dd with a 48 MiB block allocates and touches 48 MiB. The first run
	// must succeed; the second waits for /go, after the update.
	script := `dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null && touch /ok1
while [ ! -e /go ]; do sleep 0.1; done
dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null && touch /ok2
touch /done; sleep 60`
	b := newBundle(t, bundle.WritableRoot(), bundle.Args("sh", "-c", script),
		resources(func(rs *specs.LinuxResources) {
			swap := mb
			rs.Memory = &specs.LinuxMemory{Limit: &mb, Swap: &swap}
		}))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "hog")
	dir := r.cgroupDir("hog")
	if got := readCgroupFile(t, dir, "memory.max"); got != strconv.FormatInt(mb, 10) {
		t.Errorf("memory.max = %s, want %d", got, mb)
	}
	if !waitFor(30*time.Second, func() bool { return exists(filepath.Join(b.Rootfs(), "ok1")) }) {
		t.Fatal("48 MiB did not fit under the 64 MiB limit: the test cannot show the update")
	}

	r.mustRun("update", "--memory", "33554432", "--memory-swap", "33554432", "hog")
	if got := readCgroupFile(t, dir, "memory.max"); got != "33554432" {
		t.Errorf("memory.max after update = %s, want 33554432", got)
	}
	if got := readCgroupFile(t, dir, "memory.swap.max"); got != "0" {
		t.Errorf("memory.swap.max after update = %s, want 0 (memory-swap equal to memory)", got)
	}
	if got := r.stats("hog").Data.Memory.Usage.Limit; got != 32<<20 {
		t.Errorf("events --stats memory limit after update = %d, want %d", got, 32<<20)
	}

	events := exec.Command(r.bin, "--root", r.root, "events", "--interval", "200ms", "hog")
	out, err := events.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = events.Process.Kill(); _ = events.Wait() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() { // the first stats line: the listener is up
		t.Fatal("events printed nothing")
	}
	if err := os.WriteFile(filepath.Join(b.Rootfs(), "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sawOOM := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			var e statsEvent
			if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "oom" {
				sawOOM <- true
				return
			}
		}
		sawOOM <- false
	}()
	select {
	case ok := <-sawOOM:
		if !ok {
			t.Error("events ended without reporting an oom")
		}
	case <-time.After(30 * time.Second):
		t.Error("events reported no oom for an allocation past the updated limit")
	}
	if !waitFor(30*time.Second, func() bool { return exists(filepath.Join(b.Rootfs(), "done")) }) {
		t.Fatal("the container never got past its second allocation")
	}
	if exists(filepath.Join(b.Rootfs(), "ok2")) {
		t.Error("48 MiB fitted under the updated 32 MiB limit")
	}
	if n := keyValue(t, dir, "memory.events", "oom_kill"); n < 1 {
		t.Errorf("memory.events oom_kill = %d, want at least 1", n)
	}
}

// pause stops a busy loop (no CPU time while paused, by events --stats);
// resume restarts it.
func TestPauseStopsBusyLoop(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sh", "-c", "while :; do :; done"))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "busy")
	dir := r.cgroupDir("busy")
	time.Sleep(200 * time.Millisecond)
	r.mustRun("pause", "busy")
	if st := r.state("busy").Status; st != "paused" {
		t.Fatalf("status after pause = %q, want paused", st)
	}
	if keyValue(t, dir, "cgroup.events", "frozen") != 1 {
		t.Error("cgroup.events does not say frozen 1 after pause")
	}
	before := r.stats("busy").Data.CPU.Usage.Total
	time.Sleep(time.Second)
	if after := r.stats("busy").Data.CPU.Usage.Total; after != before {
		t.Errorf("paused container used CPU: %d ns", after-before)
	}
	r.mustRun("resume", "busy")
	if st := r.state("busy").Status; st != specs.StateRunning {
		t.Fatalf("status after resume = %q", st)
	}
	before = r.stats("busy").Data.CPU.Usage.Total
	time.Sleep(time.Second)
	if after := r.stats("busy").Data.CPU.Usage.Total; after == before {
		t.Error("resumed container used no CPU")
	}
	if _, _, err := r.run("resume", "busy"); err == nil {
		t.Error("resume of a running container succeeded")
	}
}

// The eBPF device program gives the config's device rules their meaning,
// attacked from inside with mknod and open: of two identical RAM disks,
// the one the rules allow reading opens and the other does not, although
// the rules let the container make both nodes; a device with no rule at
// all cannot even be made.
func TestDeviceFilter(t *testing.T) {
	r := newRuntime(t)
	num := func(v int64) *int64 { return &v }
	script := `try() { if out=$(dd if=$1 of=/dev/null bs=1 count=1 2>&1); then echo "$1 ok"; else echo "$1 ${out##*: }"; fi; }
mk() { if out=$(mknod "$@" 2>&1); then echo "mknod-$1 ok"; else echo "mknod-$1 ${out##*: }"; fi; }
mk /dev/r0 b 1 0; mk /dev/r1 b 1 1; mk /dev/mem c 1 1
try /dev/r0; try /dev/r1; try /dev/null`
	b := newBundle(t, bundle.Args("sh", "-c", script), func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_MKNOD")
		c.Effective = append(c.Effective, "CAP_MKNOD")
		c.Permitted = append(c.Permitted, "CAP_MKNOD")
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices,
			specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: num(1), Access: "m"},
			specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: num(1), Minor: num(0), Access: "r"})
	})
	if !exists("/dev/ram1") {
		t.Fatal("the VM has no /dev/ram1 (brd rd_nr=2): nothing to deny")
	}
	out := r.mustRun("run", "--bundle", b.Dir, "dev")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"mknod-/dev/r0":  "ok",                      // "b 1:* m"
		"mknod-/dev/r1":  "ok",                      // "b 1:* m"
		"mknod-/dev/mem": "Operation not permitted", // no rule
		"/dev/r0":        "ok",                      // "b 1:0 r"
		"/dev/r1":        "Operation not permitted", // mknod only
		"/dev/null":      "ok",                      // a default device
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (container output:\n%s)", k, got[k], v, out)
		}
	}
}

// kill --all with SIGKILL empties the cgroup through cgroup.kill, even
// while a process in it keeps forking, in a container without its own PID
// namespace (where killing the init alone would leave the rest running).
// awk's system() survives failed forks, so the loop never stops by itself.
func TestKillAllEmptiesCgroup(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.WithoutNamespace(specs.PIDNamespace), pidsLimit(32),
		bundle.Args("awk", `BEGIN { while (1) system("sleep 600 &") }`))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "forker")
	dir := r.cgroupDir("forker")
	if !exists(filepath.Join(dir, "cgroup.kill")) {
		t.Fatalf("%s has no cgroup.kill: this kernel cannot show it", dir)
	}
	if !waitFor(20*time.Second, func() bool { return keyValue(t, dir, "pids.events", "max") > 0 }) {
		t.Fatal("the fork loop never filled its pids limit")
	}
	r.mustRun("kill", "--all", "forker", "KILL")
	if !waitFor(10*time.Second, func() bool { return keyValue(t, dir, "cgroup.events", "populated") == 0 }) {
		t.Errorf("cgroup still populated after kill --all: %s", readCgroupFile(t, dir, "cgroup.procs"))
	}
	if st := r.state("forker").Status; st != specs.StateStopped {
		t.Errorf("status after kill --all = %q, want stopped", st)
	}
	r.mustRun("delete", "forker")
	if exists(dir) {
		t.Errorf("cgroup %s left after delete", dir)
	}
}

// delete of a stopped container removes its cgroup even when processes it
// started outlive its init (no PID namespace to take them down), and
// removes the parent it created too.
func TestDeleteRemovesCgroupWithLingeringProcesses(t *testing.T) {
	r := newRuntime(t)
	path := fmt.Sprintf("/pelagos-vm-linger-%d/c", os.Getpid())
	dir := filepath.Join(cgroupRoot, path)
	b := newBundle(t, bundle.WithoutNamespace(specs.PIDNamespace), bundle.CgroupsPath(path),
		bundle.Args("sh", "-c", "sleep 600 & sleep 600 & exit 0"))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "linger")
	if !waitFor(10*time.Second, func() bool { return r.state("linger").Status == specs.StateStopped }) {
		t.Fatal("the container's init never exited")
	}
	var pids []int
	for _, f := range strings.Fields(readCgroupFile(t, dir, "cgroup.procs")) {
		p, _ := strconv.Atoi(f)
		pids = append(pids, p)
	}
	if len(pids) != 2 {
		t.Fatalf("cgroup.procs after the init exited = %v, want the two sleeps", pids)
	}
	r.mustRun("delete", "linger")
	if exists(dir) || exists(filepath.Dir(dir)) {
		t.Errorf("cgroup %s (or its parent) left after delete", dir)
	}
	for _, p := range pids {
		if !gone(p) {
			t.Errorf("lingering process %d still runs after delete", p)
		}
	}
}

// An absolute cgroupsPath is taken from the root of the hierarchy; a
// relative one from the parent of the caller's cgroup (the caller's own
// cgroup holds the caller, so on v2 it cannot hand controllers down).
// Both get their limits, and delete removes every directory the runtime
// made and nothing else.
func TestCgroupsPath(t *testing.T) {
	r := newRuntime(t)
	parent := filepath.Join(cgroupRoot, fmt.Sprintf("pelagos-vm-path-%d", os.Getpid()))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(filepath.Join(parent, "caller")); _ = os.Remove(parent) })

	t.Run("absolute", func(t *testing.T) {
		path := strings.TrimPrefix(parent, cgroupRoot) + "/abs/c"
		b := newBundle(t, bundle.CgroupsPath(path), pidsLimit(50), bundle.Args("sleep", "600"))
		checkCgroupsPath(t, r, b, "abs", filepath.Join(parent, "abs"))
	})

	t.Run("relative", func(t *testing.T) {
		// Run the runtime from parent/caller, as a login shell runs from
		// a scope of its own.
		caller := filepath.Join(parent, "caller")
		if err := os.Mkdir(caller, 0o755); err != nil {
			t.Fatal(err)
		}
		r.wrap = []string{"/bin/sh", "-c", `echo $$ >"$0/cgroup.procs" && exec "$@"`, caller}
		defer func() { r.wrap = nil }()
		b := newBundle(t, bundle.CgroupsPath("rel/c"), pidsLimit(50), bundle.Args("sleep", "600"))
		checkCgroupsPath(t, r, b, "rel", filepath.Join(parent, "rel"))
	})
}

// checkCgroupsPath runs the bundle b as container id and checks that its
// init is in made/c with pids.max 50, and that delete removes made/c and
// made (the runtime created both) but not made's parent.
func checkCgroupsPath(t *testing.T, r *runtime, b *bundle.Bundle, id, made string) {
	t.Helper()
	r.mustRun("run", "--detach", "--bundle", b.Dir, id)
	want := filepath.Join(made, "c")
	if got := r.cgroupDir(id); got != want {
		t.Errorf("container %s is in %s, want %s", id, got, want)
	} else if v := readCgroupFile(t, got, "pids.max"); v != "50" {
		t.Errorf("%s/pids.max = %s, want 50", got, v)
	}
	r.mustRun("delete", "--force", id)
	if exists(want) || exists(made) {
		t.Errorf("after delete of %s: %s or %s left behind", id, want, made)
	}
	if !exists(filepath.Dir(made)) {
		t.Errorf("delete of %s removed %s, which the runtime did not create", id, filepath.Dir(made))
	}
}

// The container sees its cgroup as a cgroup2 mount at /sys/fs/cgroup,
// read-only unless the config's mount options allow writing; with a cgroup
// namespace its own cgroup is the root of what it sees. Writable means the
// container can make sub-cgroups; its own limits stay out of its reach
// (nsdelegate makes the namespace root a delegation boundary), and delete
// removes what it made.
func TestContainerCgroupMount(t *testing.T) {
	r := newRuntime(t)
	cgroupns := bundle.Namespace(specs.CgroupNamespace, "")
	writable := func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Destination == "/sys/fs/cgroup" {
				var opts []string
				for _, o := range m.Options {
					if o != "ro" {
						opts = append(opts, o)
					}
				}
				s.Mounts[i].Options = append(opts, "rw")
			}
		}
	}
	for _, tc := range []struct {
		name     string
		mods     []bundle.Modifier
		wantRO   bool
		wantSelf string // /proc/self/cgroup path; "" means the cgroupsPath
	}{
		{"default", nil, true, ""},
		{"cgroupns", []bundle.Modifier{cgroupns}, true, "/"},
		{"cgroupns writable", []bundle.Modifier{cgroupns, writable}, false, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cg := fmt.Sprintf("/pelagos-vm-mount-%d/%s", os.Getpid(), strings.ReplaceAll(tc.name, " ", "-"))
			t.Cleanup(func() { _ = os.Remove(filepath.Join(cgroupRoot, filepath.Dir(cg))) })
			script := `/bin/probe
mkdir /sys/fs/cgroup/sub 2>/dev/null && echo WRITE ok || echo WRITE denied
echo 1 >/sys/fs/cgroup/pids.max 2>/dev/null && echo LIMIT changed
echo "PIDS $(cat /sys/fs/cgroup/pids.max)"`
			mods := append([]bundle.Modifier{bundle.CgroupsPath(cg), pidsLimit(77), bundle.Args("sh", "-c", script)}, tc.mods...)
			b := newBundle(t, mods...)
			out := r.mustRun("run", "--bundle", b.Dir, "mnt")
			report, rest, _ := strings.Cut(out, "\n")
			rep := decodeProbe(t, report)
			m, ok := rep.Mount("/sys/fs/cgroup")
			if !ok || m.FSType != "cgroup2" {
				t.Fatalf("/sys/fs/cgroup in the container: %+v (found %v), want a cgroup2 mount", m, ok)
			}
			if m.HasOption("ro") != tc.wantRO {
				t.Errorf("/sys/fs/cgroup options %v, want read-only %v", m.Options, tc.wantRO)
			}
			wantSelf := tc.wantSelf
			if wantSelf == "" {
				wantSelf = cg
			}
			if len(rep.Cgroups) != 1 || rep.Cgroups[0].Path != wantSelf {
				t.Errorf("/proc/self/cgroup = %+v, want 0::%s", rep.Cgroups, wantSelf)
			}
			// Its own pids.max is at the top of the mount in every case:
			// the mount is the container's cgroup, not the host's root.
			want := "WRITE denied\nPIDS 77"
			if !tc.wantRO {
				want = "WRITE ok\nPIDS 77"
			}
			if strings.TrimSpace(rest) != want {
				t.Errorf("container output after the report:\n%s\nwant:\n%s", rest, want)
			}
			if exists(filepath.Join(cgroupRoot, cg)) {
				t.Errorf("cgroup %s left after the run", cg)
			}
		})
	}
}
