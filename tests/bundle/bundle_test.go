package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestDefaultSpecMatchesRuncSpec checks DefaultSpec against what the
// installed runc's `runc spec` writes, apart from the two documented
// changes.
func TestDefaultSpecMatchesRuncSpec(t *testing.T) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("runc (installed by scripts/install-test-deps.sh): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(runc, "spec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	want, err := ReadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	want.Version = specs.Version
	want.Process.Terminal = false

	if diff := cmp.Diff(DefaultSpec(), want); diff != "" {
		t.Errorf("DefaultSpec() differs from runc spec (-got +want):\n%s", diff)
	}
}

func TestNewBuildsRunnableRootfs(t *testing.T) {
	dir := t.TempDir()
	probe := filepath.Join(t.TempDir(), "probe")
	// Any static executable stands in for the probe here.
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(probe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := New(dir, Options{Probe: probe})
	if err != nil {
		t.Fatal(err)
	}
	root := b.Rootfs()
	for link, want := range map[string]string{"bin/sh": "/bin/busybox", "bin/true": "/bin/busybox", "bin/sleep": "/bin/busybox"} {
		got, err := os.Readlink(filepath.Join(root, link))
		if err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
	}
	for _, f := range []string{"bin/busybox", ProbePath[1:], "etc/passwd", "etc/group"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("rootfs lacks %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("rootfs /tmp is not sticky: %v %v", fi.Mode(), err)
	}
	got, err := ReadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, DefaultSpec()); diff != "" {
		t.Errorf("config.json differs from DefaultSpec (-got +want):\n%s", diff)
	}
}

func TestNewSharedRootfsAndApply(t *testing.T) {
	shared := t.TempDir()
	if err := Rootfs(shared, RootfsOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := New(t.TempDir(), Options{Rootfs: shared})
	if err != nil {
		t.Fatal(err)
	}
	if b.Rootfs() != shared {
		t.Errorf("Rootfs() = %q, want %q", b.Rootfs(), shared)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "rootfs")); !os.IsNotExist(err) {
		t.Errorf("bundle with a shared rootfs made its own rootfs dir: %v", err)
	}
	err = b.Apply(Args("/bin/true"), Hostname("h"), CgroupsPath("/pelagos-x/c"),
		WithoutNamespace(specs.NetworkNamespace), Namespace(specs.UTSNamespace, "/proc/1/ns/uts"), WritableRoot())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSpec(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSpec()
	want.Root.Path = shared
	want.Root.Readonly = false
	want.Process.Args = []string{"/bin/true"}
	want.Hostname = "h"
	want.Linux.CgroupsPath = "/pelagos-x/c"
	want.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.MountNamespace},
		{Type: specs.UTSNamespace, Path: "/proc/1/ns/uts"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("config.json after Apply (-got +want):\n%s", diff)
	}
}

func TestRootfsRefusesDynamicBinary(t *testing.T) {
	// /usr/bin/env is dynamically linked on Debian.
	err := Rootfs(t.TempDir(), RootfsOptions{Probe: "/usr/bin/env"})
	if err == nil {
		t.Fatal("Rootfs with a dynamically linked probe succeeded, want an error")
	}
}
