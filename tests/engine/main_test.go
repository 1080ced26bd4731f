// Package engine drives the built pelagos binary end to end: containers as
// objects, every run/create flag implemented, the monitor of detached
// containers, logs, exec through a real pty, concurrency, and SIGKILL of
// the CLI and of the monitor at every step of run, after which ps, rm -f
// and prune must leave nothing behind (no mount, cgroup, process, state).
//
// Images are built from busybox-static and imported with `pelagos import`:
// no registry or network is needed. Run as root (scripts/test.sh).
package engine

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// cgroupPrefix names the cgroup parents of this package's containers.
const cgroupPrefix = "pelagos-enginetest-"

func TestMain(m *testing.M) {
	if err := testenv.CleanStale(cgroupPrefix); err != nil {
		fmt.Fprintln(os.Stderr, "clean up after an earlier run:", err)
	}
	testenv.MainInNetNS(m)
}

var seq atomic.Int64

// cli runs the built pelagos on a data root of its own, with containers'
// cgroups under a parent of its own.
type cli struct {
	t      testing.TB
	bin    string
	root   string
	cgroup string
	env    []string
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	testenv.RequireRoot(t)
	bin := testenv.Build(t, "./cmd/pelagos", testenv.BuildOptions{Release: true})
	mon := testenv.Build(t, "./cmd/pelagos-monitor", testenv.BuildOptions{Release: true})
	root, err := testenv.TempDir(cgroupPrefix)
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, bin: bin, root: root, cgroup: fmt.Sprintf("/%s%d-%d", cgroupPrefix, os.Getpid(), seq.Add(1))}
	c.env = append(os.Environ(), "PELAGOS_ROOT="+root, "PELAGOS_MONITOR="+mon,
		"PELAGOS_CGROUP_PARENT="+c.cgroup, "PELAGOS_REGISTRIES_CONFIG="+filepath.Join(root, "none.json"),
		"PELAGOS_CONFIG="+filepath.Join(root, "no-pelagos.json"))
	t.Cleanup(func() { c.destroy() })
	c.importBusybox("busybox:test")
	return c
}

// destroy removes everything the test's containers may have left, so a
// failing test does not leak into the next.
func (c *cli) destroy() {
	out, _, _ := c.run(nil, "ps", "-aq", "--no-trunc")
	for _, id := range strings.Fields(out) {
		c.run(nil, "rm", "-f", id)
	}
	c.killMonitors()
	testenv.UnmountUnder(c.root)
	for _, dir := range c.cgroupDirs() {
		testenv.RemoveCgroupTree(dir)
	}
	os.RemoveAll(c.root)
}

// run returns stdout, stderr and the exit code.
func (c *cli) run(stdin []byte, args ...string) (string, string, int) {
	c.t.Helper()
	return testenv.RunCLI(c.t, c.bin, c.env, stdin, args...)
}

// ok runs pelagos and fails the test unless it exits 0; it returns stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	return testenv.MustCLI(c.t, c.bin, c.env, args...)
}

// fails runs pelagos, wants exit code want and returns stderr.
func (c *cli) fails(want int, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(nil, args...)
	if code != want {
		c.t.Fatalf("pelagos %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return errs
}

// field runs inspect -f.
func (c *cli) field(ref, tmpl string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("inspect", "-f", tmpl, ref))
}

// importBusybox imports a busybox-static root filesystem as image tag:
// every applet, a root, an unprivileged user "app" (1000, group staff 50,
// also in group extra 60), /tmp, and a file that is not executable.
func (c *cli) importBusybox(tag string) {
	c.t.Helper()
	tarball := filepath.Join(c.root, "busybox.tar")
	if err := os.WriteFile(tarball, busyboxTar(c.t), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.ok("import", "-c", `CMD ["/bin/sh"]`, tarball, tag)
}

func busyboxTar(t testing.TB) []byte {
	ents := append(imagetest.BusyboxApplets(t), []imagetest.Entry{
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Type: tar.TypeReg, Body: []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:50:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Name: "etc/group", Type: tar.TypeReg, Body: []byte("root:x:0:\nstaff:x:50:\nextra:x:60:app\nnogroup:x:65534:\n")},
		{Name: "etc/notexec", Type: tar.TypeReg, Body: []byte("#!/bin/sh\necho no\n"), Mode: 0o644},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "home/", Type: tar.TypeDir},
		{Name: "home/app/", Type: tar.TypeDir},
	}...)
	return imagetest.Tar(t, ents...)
}

// cgroupDirs lists the test's cgroup parent in every hierarchy.
func (c *cli) cgroupDirs() []string {
	hs, err := testenv.Hierarchies()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range hs {
		out = append(out, filepath.Join(h.Mount, c.cgroup))
	}
	return out
}

// monitors lists the pids of live monitors of this test's root.
func (c *cli) monitors() []int {
	return testenv.Processes(func(args []string) bool {
		return strings.HasSuffix(args[0], "pelagos-monitor") && strings.Contains(strings.Join(args, "\x00"), c.root)
	})
}

func (c *cli) killMonitors() {
	for _, pid := range c.monitors() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// assertClean fails unless nothing of any container is left: no mount
// under the root, no cgroup under the test's parent, no monitor, no
// container directory, runtime state, name or image hold.
func (c *cli) assertClean() {
	c.t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	sc := bufio.NewScanner(bytes.NewReader(mi))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 4 && strings.HasPrefix(f[4], c.root) {
			c.t.Errorf("mount left behind: %s", f[4])
		}
	}
	for _, d := range c.cgroupDirs() {
		if ents, err := os.ReadDir(d); err == nil {
			for _, e := range ents {
				if e.IsDir() {
					c.t.Errorf("cgroup left behind: %s/%s", d, e.Name())
				}
			}
		}
	}
	if pids := c.monitors(); len(pids) > 0 {
		c.t.Errorf("monitors left behind: %v", pids)
	}
	for _, dir := range []string{"containers", "containers/names", "run/runtime", "image/holds", "image/snapshots"} {
		ents, _ := os.ReadDir(filepath.Join(c.root, dir))
		for _, e := range ents {
			// .seccomp is the runtime's cache of compiled profiles, not
			// any container's state.
			if e.Name() == "names" || e.Name() == ".names.lock" || e.Name() == ".userns.lock" || e.Name() == ".seccomp" {
				continue
			}
			c.t.Errorf("left behind in %s: %s", dir, e.Name())
		}
	}
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
