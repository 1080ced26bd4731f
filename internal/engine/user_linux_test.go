package engine

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func imageRoot(t *testing.T, files map[string]string) *os.File {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

func TestResolveUser(t *testing.T) {
	root := imageRoot(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:50::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\nstaff:x:50:\nextra:x:60:app,other\nmore:x:70:app\n",
	})
	cases := []struct {
		spec string
		want execUser
	}{
		{"", execUser{uid: 0, gid: 0, home: "/root"}},
		{"root", execUser{uid: 0, gid: 0, home: "/root"}},
		{"app", execUser{uid: 1000, gid: 50, groups: []uint32{60, 70}, home: "/home/app"}},
		{"1000", execUser{uid: 1000, gid: 50, groups: []uint32{60, 70}, home: "/home/app"}},
		{"app:extra", execUser{uid: 1000, gid: 60, home: "/home/app"}},
		{"app:7", execUser{uid: 1000, gid: 7, home: "/home/app"}},
		{"4242", execUser{uid: 4242, gid: 0, home: "/"}},
		{"4242:4343", execUser{uid: 4242, gid: 4343, home: "/"}},
	}
	for _, tc := range cases {
		got, err := resolveUser(root, tc.spec)
		if err != nil {
			t.Errorf("resolveUser(%q): %v", tc.spec, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(execUser{})); diff != "" {
			t.Errorf("resolveUser(%q) (-want +got):\n%s", tc.spec, diff)
		}
	}
	for _, spec := range []string{"nobody", "app:nogroup"} {
		if _, err := resolveUser(root, spec); err == nil {
			t.Errorf("resolveUser(%q) succeeded", spec)
		}
	}
}

// TestResolveUserStaysInTheImage: a hostile image whose /etc/passwd is a
// symlink to an absolute path must be read inside the image, never from
// the host; a FIFO must not hang the engine.
func TestResolveUserStaysInTheImage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.MkdirAll(filepath.Join(dir, "host", "etc"), 0o755)
	// Inside the image, /host/etc/passwd names a user the host lacks.
	os.WriteFile(filepath.Join(dir, "host", "etc", "passwd"), []byte("inimage:x:77:77::/:/bin/sh\n"), 0o644)
	os.Symlink("/host/etc/passwd", filepath.Join(dir, "etc", "passwd"))
	os.Symlink("../../../../../../etc/shadow", filepath.Join(dir, "etc", "group"))
	root, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	u, err := resolveUser(root, "inimage")
	if err != nil || u.uid != 77 {
		t.Errorf("resolveUser through an absolute symlink = %+v, %v; want the image's user 77", u, err)
	}
	if _, err := resolveUser(root, "root"); err == nil {
		t.Error("resolveUser(root) found the host's root through the image's symlink")
	}
	fifo := t.TempDir()
	os.MkdirAll(filepath.Join(fifo, "etc"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(fifo, "etc", "passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	froot, _ := os.OpenFile(fifo, unix.O_PATH|unix.O_DIRECTORY, 0)
	defer froot.Close()
	if _, err := resolveUser(froot, "root"); err == nil {
		t.Error("resolveUser read a FIFO as /etc/passwd")
	}
}
