//go:build vmguest

package guest_test

import (
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
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/probe"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// Environment variables tests/vm sets for the guest tests.
const (
	envProbe    = "PELAGOS_VM_PROBE"
	envOCISuite = "PELAGOS_VM_OCISUITE"
)

// cgroupRoot is where the VM mounts its cgroup filesystems.
const cgroupRoot = "/sys/fs/cgroup"

func TestMain(m *testing.M) { testenv.Main(m) }

// requireV2 fails the test unless /sys/fs/cgroup is a cgroup2 mount: these
// tests exist to exercise the v2 driver, so running them elsewhere proves
// nothing.
func requireV2(t *testing.T) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Fatalf("%s is not a cgroup2 mount (%v): the guest tests run inside tests/vm's cgroup v2 VM", cgroupRoot, err)
	}
}

// runtime is pelagos-runc with a state root of the test's own.
type runtime struct {
	t    *testing.T
	bin  string
	root string
	// wrap, when set, runs each command through it (e.g. to start the
	// runtime in a given cgroup): the runtime's argv follows it.
	wrap []string
}

func newRuntime(t *testing.T) *runtime {
	t.Helper()
	requireV2(t)
	r := &runtime{t: t, bin: testenv.Runtime(t), root: t.TempDir()}
	t.Cleanup(r.deleteAll)
	return r
}

// run runs the runtime with args and returns stdout, stderr and the error.
// Output goes through files, not pipes: a detached container inherits them
// and outlives the command, so nothing could wait for EOF.
func (r *runtime) run(args ...string) (string, string, error) {
	dir := r.t.TempDir()
	outf, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer outf.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer errf.Close()
	argv := append(append(append([]string{}, r.wrap...), r.bin, "--root", r.root), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = outf, errf
	err = cmd.Run()
	out, _ := os.ReadFile(outf.Name())
	errs, _ := os.ReadFile(errf.Name())
	return string(out), string(errs), err
}

func (r *runtime) mustRun(args ...string) string {
	r.t.Helper()
	out, errs, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("pelagos-runc %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return out
}

func (r *runtime) state(id string) specs.State {
	r.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(r.mustRun("state", id)), &st); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

func (r *runtime) deleteAll() {
	entries, _ := os.ReadDir(r.root)
	for _, e := range entries {
		_, _, _ = r.run("delete", "--force", e.Name())
	}
}

// statsEvent is the part of `events --stats` output the tests read.
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

// cgroupDir returns the host directory of the running container's cgroup,
// read from /proc/PID/cgroup of its init.
func (r *runtime) cgroupDir(id string) string {
	r.t.Helper()
	st := r.state(id)
	if st.Pid <= 0 {
		r.t.Fatalf("container %s has no pid (status %s)", id, st.Status)
	}
	return procCgroupDir(r.t, st.Pid)
}

// procCgroupDir is the cgroup2 directory of process pid.
func procCgroupDir(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(b))
	p, ok := strings.CutPrefix(line, "0::")
	if !ok || strings.Contains(p, "\n") {
		t.Fatalf("/proc/%d/cgroup = %q, want one cgroup2 line", pid, line)
	}
	return filepath.Join(cgroupRoot, p)
}

// newBundle makes a busybox bundle with the probe at /bin/probe.
func newBundle(t *testing.T, mods ...bundle.Modifier) *bundle.Bundle {
	t.Helper()
	probePath := os.Getenv(envProbe)
	if probePath == "" {
		t.Fatalf("%s is not set: tests/vm sets it to the probe it put in the VM", envProbe)
	}
	b, err := bundle.New(filepath.Join(t.TempDir(), "bundle"), bundle.Options{Probe: probePath})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(mods...); err != nil {
		t.Fatal(err)
	}
	return b
}

func resources(mod func(*specs.LinuxResources)) bundle.Modifier {
	return func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		mod(s.Linux.Resources)
	}
}

func pidsLimit(n int64) bundle.Modifier {
	return resources(func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: &n} })
}

func decodeProbe(t *testing.T, out string) *probe.Report {
	t.Helper()
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe output: %v\n%s", err, out)
	}
	return &rep
}

// readCgroupFile reads one interface file of a cgroup directory.
func readCgroupFile(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// keyValue returns the value of key in a "key value" interface file such
// as cgroup.events or pids.events.
func keyValue(t *testing.T, dir, file, key string) int64 {
	t.Helper()
	for _, line := range strings.Split(readCgroupFile(t, dir, file), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s/%s: %q: %v", dir, file, line, err)
			}
			return n
		}
	}
	t.Fatalf("%s/%s has no %q", dir, file, key)
	return 0
}

// waitFor polls cond every 50ms until it holds or the timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// gone reports whether process pid has exited: it no longer exists or is
// a zombie (an orphan that the VM's init has not reaped yet).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}
