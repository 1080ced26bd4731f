package inroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// hostile builds a root with symlinks that point outside it, absolutely
// and relatively, and a directory outside it that must never be touched.
func hostile(t *testing.T) (root *os.File, rootDir, outside string) {
	t.Helper()
	base := t.TempDir()
	rootDir = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	for _, d := range []string{rootDir, outside, filepath.Join(rootDir, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs":      outside,      // absolute: must resolve to <root>/<outside>
		"rel":      "../outside", // relative: .. must stop at the root
		"slash":    "/",
		"etc/deep": "../../../../../../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, rootDir, outside
}

func TestMkdirAllStaysInside(t *testing.T) {
	root, rootDir, outside := hostile(t)
	for _, p := range []string{"/abs/x", "/rel/x", "/slash/tmp/x", "/etc/deep/x", "../../x"} {
		d, err := MkdirAll(root, p, 0o755)
		if err != nil {
			t.Errorf("MkdirAll(%q): %v", p, err)
			continue
		}
		d.Close()
		if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
			t.Fatalf("MkdirAll(%q) created a directory outside the root", p)
		}
	}
	// The escapes land inside the root instead.
	for _, p := range []string{outside + "/x", "outside/x", "tmp/x", "x"} {
		if _, err := os.Stat(filepath.Join(rootDir, p)); err != nil {
			t.Errorf("expected %s inside the root: %v", p, err)
		}
	}
}

func TestMkFileStaysInside(t *testing.T) {
	root, _, outside := hostile(t)
	f, err := MkFile(root, "/rel/passwd", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(outside, "passwd")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("MkFile created a file outside the root (stat: %v)", err)
	}
	if _, err := MkFile(root, "/etc", 0o644); err == nil {
		t.Error("MkFile on an existing directory succeeded")
	}
}

func TestOpenRefusesMagicLinks(t *testing.T) {
	root, _, _ := hostile(t)
	if err := os.Symlink("/proc/self/root", filepath.Join(root.Name(), "magic")); err != nil {
		t.Fatal(err)
	}
	// Through a mounted procfs inside the tree, /proc/self/root would
	// jump to the host's root; RESOLVE_NO_MAGICLINKS refuses it. Here the
	// tree has no /proc, so the path simply does not exist inside.
	if _, err := OpenPath(root, "/magic/etc"); err == nil {
		t.Error("OpenPath through /proc/self/root succeeded")
	}
}

func TestIsSymlink(t *testing.T) {
	root, _, _ := hostile(t)
	tests := []struct {
		path string
		want bool
	}{
		{"/abs", true},
		{"/etc", false},
		{"/", false},
		{"/etc/deep", true},
	}
	for _, tt := range tests {
		got, err := IsSymlink(root, tt.path)
		if err != nil || got != tt.want {
			t.Errorf("IsSymlink(%q) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
}

func TestProcPathFollowsHandle(t *testing.T) {
	root, rootDir, _ := hostile(t)
	d, err := MkdirAll(root, "/target", 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Rename the directory away: the handle still names it.
	if err := os.Rename(filepath.Join(rootDir, "target"), filepath.Join(rootDir, "moved")); err != nil {
		t.Fatal(err)
	}
	var st1, st2 unix.Stat_t
	if err := unix.Stat(ProcPath(d), &st1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(filepath.Join(rootDir, "moved"), &st2); err != nil {
		t.Fatal(err)
	}
	if st1.Ino != st2.Ino {
		t.Error("ProcPath does not follow the handle after a rename")
	}
}
