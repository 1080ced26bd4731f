//go:build vmguest

package guest_test

import (
	"archive/tar"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// Environment variables tests/vm sets for the engine tests: the pelagos
// CLI and its monitor.
const (
	envPelagos = "PELAGOS_VM_PELAGOS"
	envMonitor = "PELAGOS_VM_MONITOR"
)

// engineCgroupParent holds the engine's containers' cgroups in the VM.
const engineCgroupParent = "/pelagos-vm-engine"

// engine runs the pelagos CLI on a data root of the test's own (a tmpfs:
// overlayfs wants an upper layer with xattrs and O_TMPFILE, which the
// initramfs's root does not offer).
type engine struct {
	t   *testing.T
	bin string
	env []string
}

func newEngine(t *testing.T) *engine {
	t.Helper()
	requireV2(t)
	bin, mon := os.Getenv(envPelagos), os.Getenv(envMonitor)
	if bin == "" || mon == "" {
		t.Fatalf("%s and %s must name the pelagos CLI and monitor (tests/vm sets them)", envPelagos, envMonitor)
	}
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "mode=0700"); err != nil {
		t.Fatalf("tmpfs for the data root: %v", err)
	}
	e := &engine{t: t, bin: bin, env: append(os.Environ(), "PELAGOS_ROOT="+root, "PELAGOS_MONITOR="+mon,
		"PELAGOS_CGROUP_PARENT="+engineCgroupParent, "PELAGOS_CONFIG="+filepath.Join(root, "none.json"),
		"PELAGOS_REGISTRIES_CONFIG="+filepath.Join(root, "none.json"))}
	t.Cleanup(func() {
		out, _, _ := e.run("ps", "-aq", "--no-trunc")
		for _, id := range strings.Fields(out) {
			e.run("rm", "-f", id)
		}
		unix.Unmount(root, unix.MNT_DETACH)
	})
	rootfs := imagetest.Tar(t,
		imagetest.Entry{Name: "bin/", Type: tar.TypeDir},
		imagetest.Entry{Name: "bin/busybox", Type: tar.TypeReg, Body: mustRead(t, imagetest.BusyboxPath), Mode: 0o755},
		imagetest.Entry{Name: "bin/sh", Type: tar.TypeSymlink, Link: "busybox"},
		imagetest.Entry{Name: "bin/sleep", Type: tar.TypeSymlink, Link: "busybox"},
		imagetest.Entry{Name: "bin/cat", Type: tar.TypeSymlink, Link: "busybox"},
		imagetest.Entry{Name: "etc/", Type: tar.TypeDir},
		imagetest.Entry{Name: "etc/passwd", Type: tar.TypeReg, Body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		imagetest.Entry{Name: "etc/group", Type: tar.TypeReg, Body: []byte("root:x:0:\n")},
	)
	tarball := filepath.Join(root, "busybox.tar")
	if err := os.WriteFile(tarball, rootfs, 0o600); err != nil {
		t.Fatal(err)
	}
	e.ok("import", "-c", `CMD ["/bin/sh"]`, tarball, "busybox:vm")
	return e
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *engine) run(args ...string) (string, string, error) {
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.env
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	return out.String(), errs.String(), err
}

func (e *engine) ok(args ...string) string {
	e.t.Helper()
	out, errs, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("pelagos %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return out
}

// cgroupFile reads a file of container id's cgroup.
func cgroupFile(t *testing.T, id, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cgroupRoot, engineCgroupParent, id, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestEngineStatsAndUpdate: on a cgroup v2 host, `pelagos run` limits
// land in the container's v2 cgroup, `stats` reads them back, and
// `update` changes them in the running container and in its record.
func TestEngineStatsAndUpdate(t *testing.T) {
	e := newEngine(t)
	id := strings.TrimSpace(e.ok("run", "-d", "--network", "none", "-m", "64m", "--memory-swap", "96m", "--cpus", "0.5",
		"--pids-limit", "50", "busybox:vm", "sleep", "1000"))
	for _, c := range []struct{ file, want string }{
		{"memory.max", "67108864"}, {"memory.swap.max", "33554432"}, {"cpu.max", "50000 100000"}, {"pids.max", "50"},
	} {
		if got := cgroupFile(t, id, c.file); got != c.want {
			t.Errorf("after run: %s = %q, want %q", c.file, got, c.want)
		}
	}
	stats := func() []string {
		return strings.Split(strings.TrimSpace(e.ok("stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}", id)), "|")
	}
	if s := stats(); len(s) != 3 || !strings.HasSuffix(s[0], " / 64MiB") || s[1] != "1" || !strings.HasSuffix(s[2], "%") {
		t.Errorf("stats after run: %q, want a usage / 64MiB, 1 pid and a CPU %%", s)
	}
	e.ok("update", "-m", "128m", "--memory-swap", "256m", "--cpus", "1.5", "--pids-limit", "80", id)
	for _, c := range []struct{ file, want string }{
		{"memory.max", "134217728"}, {"memory.swap.max", "134217728"}, {"cpu.max", "150000 100000"}, {"pids.max", "80"},
	} {
		if got := cgroupFile(t, id, c.file); got != c.want {
			t.Errorf("after update: %s = %q, want %q", c.file, got, c.want)
		}
	}
	if s := stats(); len(s) != 3 || !strings.HasSuffix(s[0], " / 128MiB") {
		t.Errorf("stats after update: %q, want a limit of 128MiB", s)
	}
	if got := strings.TrimSpace(e.ok("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", id)); got != "134217728 1500000000 80" {
		t.Errorf("record after update: %q", got)
	}
	// A refused update (below docker's minimum of 6 MiB) changes nothing.
	if _, errs, err := e.run("update", "-m", "1m", id); err == nil {
		t.Errorf("update -m 1m succeeded")
	} else if got := cgroupFile(t, id, "memory.max"); got != "134217728" {
		t.Errorf("a refused update changed memory.max to %s (%s)", got, errs)
	}
	e.ok("rm", "-f", id)
	if _, err := os.Stat(filepath.Join(cgroupRoot, engineCgroupParent, id)); !os.IsNotExist(err) {
		t.Errorf("the container's cgroup is left after rm -f: %v", err)
	}
	fmt.Fprintln(os.Stderr, "engine ran on cgroup v2:", id[:12])
}
