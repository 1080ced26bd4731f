package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// openDir opens dir as CopyUp's handles: an O_PATH root, or a readable
// directory.
func openDir(t *testing.T, dir string, flags int) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, flags|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tree lists every path under dir with its type, mode, owner and, for
// files and links, content or target.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := info.Sys().(*syscall.Stat_t)
		line := rel + " " + info.Mode().String() + " " + strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case info.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + strings.TrimSpace(string(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("copy-up keeps owners: needs root (scripts/test.sh runs as root)")
	}
}

func TestCopyUpKeepsOwnersModesLinks(t *testing.T) {
	requireRoot(t)
	rootfs, vol := t.TempDir(), t.TempDir()
	data := filepath.Join(rootfs, "srv", "data")
	must(t, os.MkdirAll(filepath.Join(data, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(data, "sub", "f"), []byte("hello"), 0o640))
	must(t, os.Chown(filepath.Join(data, "sub", "f"), 1000, 50))
	must(t, os.Chown(filepath.Join(data, "sub"), 1000, 50))
	must(t, os.WriteFile(filepath.Join(data, "suid"), []byte("s"), 0o4755))
	must(t, os.Chown(filepath.Join(data, "suid"), 7, 8))
	must(t, unix.Chmod(filepath.Join(data, "suid"), 0o4755)) // chown cleared it
	must(t, os.Link(filepath.Join(data, "sub", "f"), filepath.Join(data, "hard")))
	must(t, os.Symlink("/etc/passwd", filepath.Join(data, "abs")))
	must(t, unix.Mkfifo(filepath.Join(data, "fifo"), 0o620))
	must(t, unix.Chmod(filepath.Join(data, "fifo"), 0o620))
	must(t, os.Chown(data, 33, 34))
	must(t, unix.Chmod(data, 0o2750))
	xattr := unix.Setxattr(filepath.Join(data, "sub", "f"), "user.pelagos", []byte("x"), 0) == nil

	must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), "/srv/data", openDir(t, vol, unix.O_RDONLY)))

	want := []string{
		". dgrwxr-x--- 33:34",
		"abs Lrwxrwxrwx 0:0 -> /etc/passwd",
		"fifo prw--w---- 0:0",
		"hard -rw-r----- 1000:50 hello",
		"sub drwxr-xr-x 1000:50",
		"sub/f -rw-r----- 1000:50 hello",
		"suid urwxr-xr-x 7:8 s",
	}
	if diff := cmp.Diff(want, tree(t, vol)); diff != "" {
		t.Errorf("copied tree (-want +got):\n%s", diff)
	}
	var a, b unix.Stat_t
	must(t, unix.Stat(filepath.Join(vol, "hard"), &a))
	must(t, unix.Stat(filepath.Join(vol, "sub", "f"), &b))
	if a.Ino != b.Ino {
		t.Errorf("a hard link was copied as a second file")
	}
	src, _ := os.Stat(filepath.Join(data, "sub", "f"))
	dst, _ := os.Stat(filepath.Join(vol, "sub", "f"))
	if !src.ModTime().Equal(dst.ModTime()) {
		t.Errorf("mtime %v, want %v", dst.ModTime(), src.ModTime())
	}
	if xattr {
		buf := make([]byte, 8)
		n, err := unix.Getxattr(filepath.Join(vol, "sub", "f"), "user.pelagos", buf)
		if err != nil || string(buf[:n]) != "x" {
			t.Errorf("xattr user.pelagos: %q %v", buf[:n], err)
		}
	}

	// Only into an empty volume: a second copy changes nothing.
	must(t, os.WriteFile(filepath.Join(data, "later"), nil, 0o644))
	must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), "/srv/data", openDir(t, vol, unix.O_RDONLY)))
	if _, err := os.Lstat(filepath.Join(vol, "later")); err == nil {
		t.Errorf("copy-up into a volume that is not empty")
	}
	// Nothing at the path, or a file: nothing to copy.
	empty := t.TempDir()
	must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), "/missing", openDir(t, empty, unix.O_RDONLY)))
	must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), "/srv/data/suid", openDir(t, empty, unix.O_RDONLY)))
	if got := tree(t, empty); len(got) != 1 {
		t.Errorf("copied from a missing path or a file: %v", got)
	}
}

// TestCopyUpSymlinkAttack: an image whose volume path is a symlink to the
// host's /etc (absolute, relative with .., or through a symlinked parent)
// must copy the image's own /etc, never the host's.
func TestCopyUpSymlinkAttack(t *testing.T) {
	requireRoot(t)
	hostSecret, err := os.ReadFile("/etc/hostname")
	if err != nil {
		t.Skipf("the attack needs a host file to aim at: %v", err)
	}
	for _, tc := range []struct{ name, path, link string }{
		{"absolute", "/data", "/etc"},
		{"dotdot", "/data", "../../../../../../../../etc"},
		{"parent", "/var/lib/data", "/etc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rootfs, vol := t.TempDir(), t.TempDir()
			must(t, os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755))
			must(t, os.WriteFile(filepath.Join(rootfs, "etc", "image-file"), []byte("image"), 0o644))
			link := filepath.Join(rootfs, tc.path)
			if tc.name == "parent" {
				must(t, os.MkdirAll(filepath.Join(rootfs, "var"), 0o755))
				must(t, os.Symlink("/", filepath.Join(rootfs, "var", "lib")))
				link = filepath.Join(rootfs, "data")
			}
			must(t, os.Symlink(tc.link, link))
			must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), tc.path, openDir(t, vol, unix.O_RDONLY)))
			got := tree(t, vol)
			if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "image-file ") }) {
				t.Errorf("the image's /etc was not copied: %v", got)
			}
			if _, err := os.Lstat(filepath.Join(vol, "hostname")); err == nil {
				b, _ := os.ReadFile(filepath.Join(vol, "hostname"))
				if string(b) == string(hostSecret) {
					t.Fatalf("copy-up followed a symlink out of the image: the host's /etc/hostname is in the volume")
				}
			}
			if len(got) != 2 {
				t.Errorf("volume holds more than the image's /etc: %v", got)
			}
		})
	}
}

// TestCopyUpDoesNotFollowLinksInside: symlinks inside the copied tree are
// copied as symlinks, never followed (a link to the host's /etc inside
// the volume path copies nothing of /etc).
func TestCopyUpDoesNotFollowLinksInside(t *testing.T) {
	requireRoot(t)
	rootfs, vol := t.TempDir(), t.TempDir()
	must(t, os.MkdirAll(filepath.Join(rootfs, "data"), 0o755))
	must(t, os.Symlink("/etc", filepath.Join(rootfs, "data", "etc")))
	must(t, CopyUp(openDir(t, rootfs, unix.O_PATH), "/data", openDir(t, vol, unix.O_RDONLY)))
	want := []string{". drwxr-xr-x 0:0", "etc Lrwxrwxrwx 0:0 -> /etc"}
	if diff := cmp.Diff(want, tree(t, vol)); diff != "" {
		t.Errorf("copied tree (-want +got):\n%s", diff)
	}
}

func testEngine(t *testing.T) *Engine {
	t.Helper()
	requireRoot(t)
	e := &Engine{root: t.TempDir()}
	must(t, os.MkdirAll(e.containersDir(), 0o711))
	return e
}

func TestVolumeCreateRemoveErrors(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	v, err := e.CreateVolume(ctx, VolumeCreateOptions{Name: "data", Labels: map[string]string{"a": "b"}})
	must(t, err)
	if v.Mountpoint != filepath.Join(e.root, "volumes", "data", "_data") || v.Driver != "local" || v.Scope != "local" {
		t.Errorf("volume %+v", v)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Errorf("no data directory: %v", err)
	}
	again, err := e.CreateVolume(ctx, VolumeCreateOptions{Name: "data"})
	if err != nil || again.Labels["a"] != "b" {
		t.Errorf("create of an existing volume: %+v %v, want the existing one", again, err)
	}
	anon, err := e.CreateVolume(ctx, VolumeCreateOptions{})
	if err != nil || len(anon.Name) != 64 || !isHex(anon.Name) {
		t.Errorf("create without a name: %+v %v, want 64 hex", anon, err)
	}
	bad := []struct {
		o    VolumeCreateOptions
		want string
	}{
		{VolumeCreateOptions{Name: "b$d"}, `"b$d" includes invalid characters for a local volume name`},
		{VolumeCreateOptions{Name: "x"}, `volume name is too short, names should be at least two alphanumeric characters`},
		{VolumeCreateOptions{Name: "ok", Driver: "nfs"}, `plugin "nfs" not found`},
		{VolumeCreateOptions{Name: "ok", Options: map[string]string{"size": "1"}}, `invalid option: "size"`},
		{VolumeCreateOptions{Name: "ok", Options: map[string]string{"type": "tmpfs"}}, `"type" and "device" are both required`},
		{VolumeCreateOptions{Name: "ok", Options: map[string]string{"type": "none", "device": "/x"}}, `needs o=bind`},
	}
	for _, tc := range bad {
		_, err := e.CreateVolume(ctx, tc.o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CreateVolume(%+v) = %v, want ErrInvalid with %q", tc.o, err, tc.want)
		}
	}
	if _, err := e.Volume("ok"); !errors.Is(err, ErrNoVolume) {
		t.Errorf("a refused create left a volume: %v", err)
	}
	if err := e.RemoveVolume(ctx, "nope", false); !errors.Is(err, ErrNoVolume) || err.Error() != "No such volume: nope" {
		t.Errorf("rm of a missing volume: %v", err)
	}
	must(t, e.RemoveVolume(ctx, "nope", true))
	must(t, e.RemoveVolume(ctx, "data", false))
	vols, err := e.Volumes()
	if err != nil || len(vols) != 1 || vols[0].Name != anon.Name {
		t.Errorf("volumes after rm: %v %v", vols, err)
	}
}

func TestVolumeConcurrentCreateMakesOne(t *testing.T) {
	e := testEngine(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.CreateVolume(context.Background(), VolumeCreateOptions{Name: "shared"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent create: %v", err)
		}
	}
	ents, _ := os.ReadDir(e.volumesDir())
	var names []string
	for _, d := range ents {
		names = append(names, d.Name())
	}
	if diff := cmp.Diff([]string{".lock", "shared"}, names); diff != "" {
		t.Errorf("volumes dir (-want +got):\n%s", diff)
	}
}

func TestVolumeMountsOrderedByDepth(t *testing.T) {
	c := &Container{MountPoints: []MountPoint{{Name: "v", Destination: "/data", RW: false}}}
	ms := []specs.Mount{{Destination: "/data/x/y"}, {Destination: "/a"}}
	ms = append(ms, volumeSpecMounts(c, "/vols")...)
	sortMounts(ms)
	var got []string
	for _, m := range ms {
		got = append(got, m.Destination)
	}
	if diff := cmp.Diff([]string{"/a", "/data", "/data/x/y"}, got); diff != "" {
		t.Errorf("mount order (-want +got):\n%s", diff)
	}
	if v := ms[1]; v.Source != "/vols/v/_data" || !slices.Contains(v.Options, "ro") {
		t.Errorf("volume mount %+v", v)
	}
}
