// Package dockercmp is a differential test of pelagos's output against a
// real Docker: Debian's dockerd 20.10 and its CLI, unpacked into the test
// cache by scripts/install-test-deps.sh and run as a private daemon (its
// own data root, sockets, mount namespace and cgroup parent; no bridge,
// no iptables). The same image, volumes and containers are made on both,
// the same commands run on both, and their outputs are compared: table
// columns and their order, JSON key sets and value types recursively,
// and the form of values that differ by nature (IDs, times, durations,
// sizes). Accepted differences are listed, with reasons, in allowed
// (shape_test.go). Run as root (scripts/test.sh).
package dockercmp

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// prefix names this package's scratch directories and cgroups, so that
// CleanStale finds what a killed run left.
const prefix = "pelagos-dockercmp-"

func TestMain(m *testing.M) {
	killStale(prefix)
	if err := testenv.CleanStale(prefix); err != nil {
		fmt.Fprintln(os.Stderr, "clean up after an earlier run:", err)
	}
	testenv.MainInNetNS(m)
}

// side is one engine under comparison: a CLI binary and its environment.
type side struct {
	name string
	bin  string
	env  []string
}

// run returns stdout, stderr and the exit code.
func (s side) run(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	return testenv.RunCLI(t, s.bin, s.env, nil, args...)
}

// ok runs the command and fails the test unless it exits 0.
func (s side) ok(t testing.TB, args ...string) string {
	t.Helper()
	out, errs, code := s.run(t, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", s.name, strings.Join(args, " "), code, out, errs)
	}
	return out
}

// world is docker and pelagos, each holding the same objects.
type world struct {
	docker, pelagos side
}

// both runs args on both sides; each must exit 0.
func (w *world) both(t testing.TB, args ...string) (docker, pelagos string) {
	t.Helper()
	return w.docker.ok(t, args...), w.pelagos.ok(t, args...)
}

// setup is what both sides get, in this order: a labelled and a bare
// volume, a running container using the volume, one with many of run's
// options (mounts of every kind, a published port, a health check, a
// restart policy, a file written into its writable layer), one paused,
// one that exited after writing to stdout and stderr, and one only
// created. Containers use --network none: the private dockerd has no
// bridge. bind is a host directory both may bind.
func setup(bind string) [][]string {
	return [][]string{
		{"volume", "create", "--label", "purpose=dockercmp", "vol1"},
		{"volume", "create", "vol2"},
		{"run", "-d", "--name", "run1", "--network", "none", "-v", "vol1:/data", "--label", "app=dockercmp", "busybox:test", "sleep", "1000"},
		{"run", "-d", "--name", "opts1", "--network", "none", "--mount", "type=volume,source=vol2,target=/m",
			"--mount", "type=tmpfs,target=/t2", "--tmpfs", "/scratch", "-v", bind + ":/b:ro",
			"-p", "8080:80", "--health-cmd", "true", "--health-interval", "1s", "-e", "FOO=bar", "--restart", "unless-stopped",
			"-w", "/tmp", "-u", "0:0", "--stop-signal", "SIGINT", "--memory", "64m", "--pids-limit", "50",
			"busybox:test", "sh", "-c", "echo data > /tmp/f; exec sleep 1000"},
		{"run", "-d", "--name", "paused1", "--network", "none", "busybox:test", "sleep", "1000"},
		{"pause", "paused1"},
		{"run", "--name", "exit1", "--network", "none", "busybox:test", "sh", "-c", "echo hi; echo err >&2"},
		{"create", "--name", "created1", "--network", "none", "busybox:test", "true"},
	}
}

// newWorld starts the private dockerd, builds pelagos, and makes setup's
// objects on both; everything goes at the test's end, a failed test
// included.
func newWorld(t *testing.T) *world {
	t.Helper()
	testenv.RequireRoot(t)
	dir, err := testenv.TempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cg := fmt.Sprintf("/%s%d-", prefix, os.Getpid())
	d, err := startDockerd(context.Background(), dir, cg+"dockerd")
	if err != nil {
		t.Fatalf("private dockerd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("stop dockerd: %v", err)
		}
	})
	w := &world{docker: side{name: "docker", bin: filepath.Join(d.bin, "usr/bin/docker"), env: d.env()}}
	w.pelagos = newPelagos(t, filepath.Join(dir, "pelagos"), cg+"pelagos")

	tarball := filepath.Join(dir, "busybox.tar")
	if err := os.WriteFile(tarball, busyboxTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	bind := filepath.Join(dir, "bind")
	if err := os.Mkdir(bind, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []side{w.docker, w.pelagos} {
		s.ok(t, "import", "-c", `CMD ["/bin/sh"]`, tarball, "busybox:test")
		for _, args := range setup(bind) {
			s.ok(t, args...)
		}
	}
	// Compare once both health checks have passed: "(healthy)" on both.
	for _, s := range []side{w.docker, w.pelagos} {
		waitHealthy(t, s, "opts1")
	}
	return w
}

// waitHealthy waits until the container's health check has passed.
func waitHealthy(t *testing.T, s side, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _, _ := s.run(t, "inspect", "-f", "{{.State.Health.Status}}", name)
		if strings.TrimSpace(out) == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not healthy after 60s: %q", s.name, name, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newPelagos is the built pelagos on a data root of its own, with its
// containers' cgroups under cgroup.
func newPelagos(t *testing.T, root, cgroup string) side {
	t.Helper()
	bin := testenv.Build(t, "./cmd/pelagos", testenv.BuildOptions{Release: true})
	mon := testenv.Build(t, "./cmd/pelagos-monitor", testenv.BuildOptions{Release: true})
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	s := side{name: "pelagos", bin: bin, env: append(os.Environ(), "PELAGOS_ROOT="+root, "PELAGOS_MONITOR="+mon,
		"PELAGOS_CGROUP_PARENT="+cgroup, "PELAGOS_REGISTRIES_CONFIG="+filepath.Join(root, "none.json"),
		"PELAGOS_CONFIG="+filepath.Join(root, "no-pelagos.json"))}
	t.Cleanup(func() {
		out, _, _ := s.run(t, "ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			s.run(t, "rm", "-f", id)
		}
		if _, err := testenv.UnmountUnder(root); err != nil {
			t.Errorf("unmount under %s: %v", root, err)
		}
		hs, _ := testenv.Hierarchies()
		for _, h := range hs {
			if err := testenv.RemoveCgroupTree(filepath.Join(h.Mount, cgroup)); err != nil {
				t.Errorf("remove cgroup: %v", err)
			}
		}
	})
	return s
}

// busyboxTar is a root filesystem of busybox-static: every applet, root
// and nobody in /etc/passwd and /etc/group, /tmp.
func busyboxTar(t testing.TB) []byte {
	ents := append(imagetest.BusyboxApplets(t), []imagetest.Entry{
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Type: tar.TypeReg, Body: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Name: "etc/group", Type: tar.TypeReg, Body: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
	}...)
	return imagetest.Tar(t, ents...)
}
