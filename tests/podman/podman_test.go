package podman

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/probe"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const image = "localhost/pelagos-busybox:test"

// podman is a private podman installation: its own storage, run root,
// cgroup parent and runtime, so the test touches nothing of the host's.
type podman struct {
	bin      string
	dir      string
	runtime  string
	cgParent string
}

// newPodman sets up private storage with the busybox image imported, and
// registers cleanup of every container, mount and cgroup it leaves.
func newPodman(t *testing.T) *podman {
	t.Helper()
	testenv.RequireRoot(t)
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.Fatalf("podman (installed by scripts/install-test-deps.sh): %v", err)
	}
	if err := testenv.CleanStale("pelagos-podman-"); err != nil {
		t.Fatalf("clean up after an earlier run: %v", err)
	}
	dir, err := testenv.TempDir("pelagos-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p := &podman{bin: bin, dir: dir, runtime: testenv.Runtime(t),
		cgParent: fmt.Sprintf("/pelagos-podman-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))}
	t.Cleanup(func() { p.cleanup(t) })
	p.importImage(t)
	return p
}

func (p *podman) importImage(t *testing.T) {
	t.Helper()
	rootfs := filepath.Join(p.dir, "rootfs")
	if err := bundle.Rootfs(rootfs, bundle.RootfsOptions{Probe: testenv.Probe(t)}); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(p.dir, "rootfs.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar rootfs: %v\n%s", err, out)
	}
	if r := p.run(t, "import", tarball, image); r.code != 0 {
		t.Fatalf("podman import: exit %d\n%s", r.code, r.stderr)
	}
}

// args are the global flags every call gets: private storage (vfs, so the
// host's mount table is left alone), cgroupfs (there is no systemd here),
// file events (no journald) and the runtime under test.
func (p *podman) args() []string {
	return []string{
		"--root", filepath.Join(p.dir, "storage"),
		"--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"),
		"--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
		"--runtime", p.runtime,
	}
}

// containerFlags are the flags for run and create. Podman's default
// rlimits exceed this machine's hard limits, and there is no network
// needed (or reachable).
func (p *podman) containerFlags() []string {
	return []string{
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--network", "none",
		"--cgroup-parent", p.cgParent,
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (p *podman) run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(p.bin, append(p.args(), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// must runs podman and fails the test unless it exits 0.
func (p *podman) must(t *testing.T, args ...string) string {
	t.Helper()
	r := p.run(t, args...)
	if r.code != 0 {
		t.Fatalf("podman %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (p *podman) cleanup(t *testing.T) {
	p.run(t, "rm", "--all", "--force", "--time", "0")
	p.run(t, "rmi", "--all", "--force")
	if _, err := testenv.UnmountUnder(p.dir); err != nil {
		t.Errorf("unmount podman storage: %v", err)
	}
	if err := testenv.RemoveRootCgroups(p.cgParent); err != nil {
		t.Errorf("remove podman test cgroups: %v", err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		t.Errorf("remove podman dir: %v", err)
	}
}

// TestRun runs a container in the foreground: output and exit status must
// come back through podman, conmon and the runtime.
func TestRun(t *testing.T) {
	p := newPodman(t)
	args := append([]string{"run", "--rm", "--hostname", "pelagos-pm"}, p.containerFlags()...)
	r := p.run(t, append(args, image, "sh", "-c", "echo hello from $(hostname); echo to stderr >&2; exit 7")...)
	if r.code != 7 {
		t.Fatalf("podman run exit code = %d, want 7\nstderr: %s", r.code, r.stderr)
	}
	if r.stdout != "hello from pelagos-pm\n" {
		t.Errorf("podman run stdout = %q, want %q", r.stdout, "hello from pelagos-pm\n")
	}
	if !strings.Contains(r.stderr, "to stderr") {
		t.Errorf("podman run stderr = %q, want it to contain the container's stderr", r.stderr)
	}
	if out := p.must(t, "ps", "--all", "--quiet"); out != "" {
		t.Errorf("podman ps -a after run --rm = %q, want nothing", out)
	}
}

// TestRunAppliesPodmanSpec runs the probe and checks that what the
// container sees matches the config.json podman wrote for it: the
// capability sets, no_new_privs, seccomp, hostname, rlimits and user.
func TestRunAppliesPodmanSpec(t *testing.T) {
	p := newPodman(t)
	args := append([]string{"create", "--name", "probe"}, p.containerFlags()...)
	p.must(t, append(args, image, bundle.ProbePath)...)
	out := p.must(t, "start", "--attach", "probe")
	spec := p.ociSpec(t, "probe") // written by start
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe output: %v\n%s", err, out)
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	want := spec.Process.Capabilities
	got := probe.Caps{Bounding: rep.Caps.Bounding, Effective: rep.Caps.Effective, Permitted: rep.Caps.Permitted,
		Inheritable: rep.Caps.Inheritable, Ambient: rep.Caps.Ambient}
	wantCaps := probe.Caps{Bounding: want.Bounding, Effective: want.Effective, Permitted: want.Permitted,
		Inheritable: want.Inheritable, Ambient: want.Ambient}
	if diff := cmp.Diff(got, wantCaps, sorted, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("capabilities (-container +config.json):\n%s", diff)
	}
	if rep.NoNewPrivs != spec.Process.NoNewPrivileges {
		t.Errorf("no_new_privs = %v, config.json asks %v", rep.NoNewPrivs, spec.Process.NoNewPrivileges)
	}
	if wantSeccomp := spec.Linux.Seccomp != nil; (rep.Seccomp == 2) != wantSeccomp {
		t.Errorf("seccomp mode = %d, config.json has a seccomp profile: %v", rep.Seccomp, wantSeccomp)
	}
	if rep.Hostname != spec.Hostname {
		t.Errorf("hostname = %q, config.json asks %q", rep.Hostname, spec.Hostname)
	}
	if rep.UIDs[0] != int(spec.Process.User.UID) || rep.GIDs[0] != int(spec.Process.User.GID) {
		t.Errorf("uid/gid = %d/%d, config.json asks %d/%d", rep.UIDs[0], rep.GIDs[0], spec.Process.User.UID, spec.Process.User.GID)
	}
	for _, rl := range spec.Process.Rlimits {
		if g, ok := rep.Rlimits[rl.Type]; !ok || g.Soft != rl.Soft || g.Hard != rl.Hard {
			t.Errorf("%s = %+v, config.json asks soft %d hard %d", rl.Type, g, rl.Soft, rl.Hard)
		}
	}
	if code := p.inspect(t, "probe", "{{.State.ExitCode}}"); code != "0" {
		t.Errorf("probe exit code = %s, want 0", code)
	}
}

// TestLifecycle drives create, start, exec, stop and rm of a detached
// container.
func TestLifecycle(t *testing.T) {
	p := newPodman(t)
	// Exits 0 on SIGTERM, so a clean stop is told apart from a kill.
	script := `trap 'echo stopping; exit 0' TERM; echo ready; sleep 1000 & wait`
	args := append([]string{"create", "--name", "life"}, p.containerFlags()...)
	p.must(t, append(args, image, "sh", "-c", script)...)
	if s := p.inspect(t, "life", "{{.State.Status}}"); s != "created" {
		t.Errorf("status after create = %q, want created", s)
	}
	p.must(t, "start", "life")
	if s := p.inspect(t, "life", "{{.State.Status}}"); s != "running" {
		t.Fatalf("status after start = %q, want running", s)
	}
	initPid := p.inspect(t, "life", "{{.State.Pid}}")

	if out := p.must(t, "exec", "life", "echo", "hi from exec"); out != "hi from exec\n" {
		t.Errorf("exec output = %q, want %q", out, "hi from exec\n")
	}
	if r := p.run(t, "exec", "life", "sh", "-c", "exit 5"); r.code != 5 {
		t.Errorf("exec 'exit 5' exit code = %d, want 5\nstderr: %s", r.code, r.stderr)
	}
	t.Run("exec shares the init's namespaces", func(t *testing.T) {
		var rep probe.Report
		if err := json.Unmarshal([]byte(p.must(t, "exec", "life", bundle.ProbePath)), &rep); err != nil {
			t.Fatal(err)
		}
		for _, ns := range []string{"pid", "mnt", "ipc", "uts", "net"} {
			want, err := os.Readlink(fmt.Sprintf("/proc/%s/ns/%s", initPid, ns))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Namespaces[ns] != want {
				t.Errorf("exec'd process %s namespace = %s, init's = %s", ns, rep.Namespaces[ns], want)
			}
		}
	})
	if out := p.must(t, "ps", "--quiet", "--no-trunc"); strings.TrimSpace(out) != p.inspect(t, "life", "{{.Id}}") {
		t.Errorf("podman ps = %q, want the one running container", out)
	}

	p.must(t, "stop", "--time", "30", "life")
	if s := p.inspect(t, "life", "{{.State.Status}}"); s != "exited" {
		t.Errorf("status after stop = %q, want exited", s)
	}
	if code := p.inspect(t, "life", "{{.State.ExitCode}}"); code != "0" {
		t.Errorf("exit code after stop = %s, want 0 (the TERM trap ran)", code)
	}
	if logs := p.must(t, "logs", "life"); logs != "ready\nstopping\n" {
		t.Errorf("podman logs = %q, want %q", logs, "ready\nstopping\n")
	}
	p.must(t, "rm", "life")
	if out := p.must(t, "ps", "--all", "--quiet"); out != "" {
		t.Errorf("podman ps -a after rm = %q, want nothing", out)
	}
}

func (p *podman) inspect(t *testing.T, name, format string) string {
	t.Helper()
	return strings.TrimSpace(p.must(t, "inspect", "--format", format, name))
}

// ociSpec reads the config.json podman handed the runtime for the
// container; podman writes it when it starts the container.
func (p *podman) ociSpec(t *testing.T, name string) *specs.Spec {
	t.Helper()
	path := p.inspect(t, name, "{{.OCIConfigPath}}")
	if !strings.HasPrefix(path, p.dir+"/") {
		t.Fatalf("config.json of container %s at %q, want it in our private storage", name, path)
	}
	s, err := bundle.ReadSpec(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
