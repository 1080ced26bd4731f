package unpack

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// ent is one tar entry of a test layer.
type ent struct {
	name, link string
	typ        byte
	body       string
	mode       int64
	pax        map[string]string
	uid, gid   int
}

func layer(t *testing.T, ents ...ent) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			ModTime: time.Unix(1700000000, 0), PAXRecords: e.pax, Format: tar.FormatPAX, Uid: e.uid, Gid: e.gid}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &b
}

// tree describes dir as "path type[ extra]" lines, sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := rel + " " + describe(t, p, fi)
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func describe(t *testing.T, p string, fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		s := "dir " + m.Perm().String()
		buf := make([]byte, 8)
		if n, err := unix.Lgetxattr(p, opaqueXattr, buf); err == nil {
			s += " opaque=" + string(buf[:n])
		}
		return s
	case m&fs.ModeSymlink != 0:
		l, _ := os.Readlink(p)
		return "symlink " + l
	case m&fs.ModeCharDevice != 0:
		st := fi.Sys().(*syscall.Stat_t)
		return "char " + itoa(unix.Major(uint64(st.Rdev))) + ":" + itoa(unix.Minor(uint64(st.Rdev)))
	case m.IsRegular():
		b, _ := os.ReadFile(p)
		st := fi.Sys().(*syscall.Stat_t)
		s := "file " + m.String() + " " + string(b)
		if st.Nlink > 1 {
			s += " nlink=" + itoa(uint32(st.Nlink))
		}
		return s
	}
	return "other " + fi.Mode().String()
}

func itoa(u uint32) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtUint(u)) }

func fmtUint(u uint32) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}

func TestUnpackWellFormed(t *testing.T) {
	dir := t.TempDir()
	l := layer(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o755},
		ent{name: "bin/", typ: tar.TypeDir},
		ent{name: "bin/busybox", typ: tar.TypeReg, body: "ELF", mode: 0o4755},
		ent{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		ent{name: "bin/ls", typ: tar.TypeLink, link: "bin/busybox"},
		ent{name: "etc/hostname", typ: tar.TypeReg, body: "box"}, // parent not listed
		ent{name: "etc/.wh.passwd", typ: tar.TypeReg},
		ent{name: "var/.wh..wh..opq", typ: tar.TypeReg},
		ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		ent{name: "cap", typ: tar.TypeReg, body: "x", pax: map[string]string{"SCHILY.xattr.user.note": "hi"}},
		ent{name: "bin/sh", typ: tar.TypeReg, body: "replaced"}, // a later entry wins
	)
	st, err := Unpack(dir, l, Options{})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := []string{
		"bin dir -rwxr-xr-x",
		"bin/busybox file urwxr-xr-x ELF nlink=2",
		"bin/ls file urwxr-xr-x ELF nlink=2",
		"bin/sh file -rw-r--r-- replaced",
		"cap file -rw-r--r-- x",
		"dev dir -rwxr-xr-x",
		"dev/null char 1:3",
		"etc dir -rwxr-xr-x",
		"etc/hostname file -rw-r--r-- box",
		"etc/passwd char 0:0",
		"var dir -rwxr-xr-x opaque=y",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree mismatch (-want +got):\n%s", diff)
	}
	if st.Entries != 11 {
		t.Errorf("Entries = %d, want 11", st.Entries)
	}
	buf := make([]byte, 8)
	n, err := unix.Getxattr(filepath.Join(dir, "cap"), "user.note", buf)
	if err != nil || string(buf[:n]) != "hi" {
		t.Errorf("xattr user.note = %q, %v; want hi", buf[:n], err)
	}
	var s unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "etc/hostname"), &s); err != nil || s.Mtim.Sec != 1700000000 {
		t.Errorf("mtime = %d, %v; want 1700000000", s.Mtim.Sec, err)
	}
	if err := unix.Stat(filepath.Join(dir, "bin"), &s); err != nil || s.Mtim.Sec != 1700000000 {
		t.Errorf("dir mtime = %d, %v; want 1700000000 (set after its children)", s.Mtim.Sec, err)
	}
}

// Files are created with their mode when that is exact, and chowned or
// chmodded only when needed: every combination must still end with the
// entry's owner and mode, whatever the umask or a setgid parent would
// give a new file.
func TestUnpackOwnersAndModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files owned by others")
	}
	old := unix.Umask(0o027) // strips bits that entries below ask for
	defer unix.Umask(old)
	umaskOnce = sync.Once{} // read the umask set above
	defer func() { umaskOnce = sync.Once{} }()
	dir := t.TempDir()
	l := layer(t,
		ent{name: "plain", typ: tar.TypeReg, body: "a", mode: 0o640},
		ent{name: "readonly", typ: tar.TypeReg, body: "b", mode: 0o444},
		ent{name: "masked", typ: tar.TypeReg, body: "c", mode: 0o757},
		ent{name: "owned", typ: tar.TypeReg, body: "d", mode: 0o600, uid: 1000, gid: 1001},
		ent{name: "setuid", typ: tar.TypeReg, body: "e", mode: 0o4750, uid: 0, gid: 0},
		ent{name: "sgid/", typ: tar.TypeDir, mode: 0o2775, gid: 50},
		ent{name: "sgid/root", typ: tar.TypeReg, body: "f", mode: 0o640},
		ent{name: "sgid/link", typ: tar.TypeSymlink, link: "root"},
		ent{name: "userlink", typ: tar.TypeSymlink, link: "plain", uid: 7, gid: 8},
	)
	if _, err := Unpack(dir, l, Options{}); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	want := map[string]string{
		"plain": "100640 0:0", "readonly": "100444 0:0", "masked": "100757 0:0",
		"owned": "100600 1000:1001", "setuid": "104750 0:0",
		"sgid": "42775 0:50", "sgid/root": "100640 0:0", "sgid/link": "120777 0:0", "userlink": "120777 7:8",
	}
	got := map[string]string{}
	for name := range want {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, name), &st); err != nil {
			t.Fatal(err)
		}
		got[name] = strconv.FormatUint(uint64(st.Mode), 8) + " " + itoa(st.Uid) + ":" + itoa(st.Gid)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modes and owners (-want +got):\n%s", diff)
	}
}

// TestUnpackAttacks is the malicious-tar corpus: every case is a known way
// to write, link or mark something outside the layer directory (or to
// forge overlay metadata). A vulnerable extractor would leave a trace in
// the sibling "outside" directory, which must stay as it was.
func TestUnpackAttacks(t *testing.T) {
	cases := []struct {
		name    string
		ents    func(outside string) []ent
		wantErr error // nil: extraction may succeed, as long as it stays inside
	}{
		{"dotdot file", func(o string) []ent {
			return []ent{{name: "../outside/pwned", typ: tar.TypeReg, body: "x"}}
		}, ErrUnsafe},
		{"dotdot deep", func(o string) []ent {
			return []ent{{name: "a/b/../../../outside/pwned", typ: tar.TypeReg, body: "x"}}
		}, ErrUnsafe},
		{"absolute path", func(o string) []ent {
			return []ent{{name: o + "/pwned", typ: tar.TypeReg, body: "x"}}
		}, nil},
		{"absolute symlink parent", func(o string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: o},
				{name: "link/pwned", typ: tar.TypeReg, body: "x"},
			}
		}, nil},
		{"relative symlink parent", func(o string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: "../../../../../../../../" + o},
				{name: "link/pwned", typ: tar.TypeReg, body: "x"},
			}
		}, nil},
		{"symlink chain parent", func(o string) []ent {
			return []ent{
				{name: "a", typ: tar.TypeSymlink, link: "b"},
				{name: "b", typ: tar.TypeSymlink, link: "../outside"},
				{name: "a/pwned", typ: tar.TypeReg, body: "x"},
			}
		}, nil},
		{"symlink then dir entry through it", func(o string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: o},
				{name: "link/sub/", typ: tar.TypeDir},
			}
		}, nil},
		{"write through final symlink", func(o string) []ent {
			return []ent{
				{name: "victim", typ: tar.TypeSymlink, link: o + "/existing"},
				{name: "victim", typ: tar.TypeReg, body: "overwritten"},
			}
		}, nil},
		{"hardlink absolute outside", func(o string) []ent {
			return []ent{{name: "h", typ: tar.TypeLink, link: o + "/existing"}}
		}, nil},
		{"hardlink dotdot", func(o string) []ent {
			return []ent{{name: "h", typ: tar.TypeLink, link: "../outside/existing"}}
		}, ErrUnsafe},
		{"hardlink through symlinked dir", func(o string) []ent {
			return []ent{
				{name: "d", typ: tar.TypeSymlink, link: o},
				{name: "h", typ: tar.TypeLink, link: "d/existing"},
			}
		}, nil},
		{"hardlink to symlink then write", func(o string) []ent {
			return []ent{
				{name: "s", typ: tar.TypeSymlink, link: o + "/existing"},
				{name: "h", typ: tar.TypeLink, link: "s"},
				{name: "h", typ: tar.TypeReg, body: "overwritten"},
			}
		}, nil},
		{"whiteout dot", func(o string) []ent {
			return []ent{{name: "etc/.wh..", typ: tar.TypeReg}}
		}, ErrUnsafe},
		{"whiteout dotdot", func(o string) []ent {
			return []ent{{name: ".wh...", typ: tar.TypeReg}}
		}, ErrUnsafe},
		{"whiteout through symlink", func(o string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: "../outside"},
				{name: "link/.wh.existing", typ: tar.TypeReg},
			}
		}, nil},
		{"opaque through symlink", func(o string) []ent {
			return []ent{
				{name: "link", typ: tar.TypeSymlink, link: o},
				{name: "link/.wh..wh..opq", typ: tar.TypeReg},
			}
		}, nil},
		{"forged overlay xattr", func(o string) []ent {
			return []ent{{name: "d/", typ: tar.TypeDir, pax: map[string]string{
				"SCHILY.xattr.trusted.overlay.opaque":   "y",
				"SCHILY.xattr.trusted.overlay.redirect": "/etc",
			}}}
		}, nil},
		{"root replaced by symlink", func(o string) []ent {
			return []ent{{name: "./", typ: tar.TypeSymlink, link: o}}
		}, ErrUnsafe},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "layer"), filepath.Join(base, "outside")
			for _, d := range []string{dir, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "existing"), []byte("original"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, outside)
			_, err := Unpack(dir, layer(t, c.ents(outside)...), Options{})
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("Unpack err = %v, want %v", err, c.wantErr)
			}
			if diff := cmp.Diff(before, tree(t, outside)); diff != "" {
				t.Errorf("outside directory changed (-before +after):\n%s", diff)
			}
			buf := make([]byte, 8)
			for _, p := range tree(t, dir) {
				if _, err := unix.Lgetxattr(filepath.Join(dir, strings.Fields(p)[0]), "trusted.overlay.redirect", buf); err == nil {
					t.Errorf("%s carries a forged trusted.overlay.redirect", p)
				}
				if strings.Contains(p, "opaque=") {
					t.Errorf("%s carries a forged opaque mark", p)
				}
			}
		})
	}
}

func TestUnpackBounds(t *testing.T) {
	big := strings.Repeat("z", 4096)
	cases := []struct {
		name string
		ents []ent
		opts Options
	}{
		{"bytes", []ent{{name: "a", typ: tar.TypeReg, body: big}, {name: "b", typ: tar.TypeReg, body: big}}, Options{MaxBytes: 6000}},
		{"entries", []ent{{name: "a/", typ: tar.TypeDir}, {name: "b/", typ: tar.TypeDir}, {name: "c/", typ: tar.TypeDir}}, Options{MaxEntries: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Unpack(t.TempDir(), layer(t, c.ents...), c.opts)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Unpack err = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a/b", "a/b"}, {"./a/b/", "a/b"}, {"/a//b", "a/b"}, {"/", "."}, {"./", "."}, {"a/./b", "a/b"},
	}
	for _, c := range cases {
		got, err := clean(c.in)
		if err != nil || got != c.want {
			t.Errorf("clean(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"..", "a/../b", "../x", "a/..", "a\x00b"} {
		if _, err := clean(in); !errors.Is(err, ErrUnsafe) {
			t.Errorf("clean(%q) err = %v, want ErrUnsafe", in, err)
		}
	}
}

// usernsDirEnv names the directory the child of TestUnpackInUserNamespace
// unpacks into; set only in that child.
const usernsDirEnv = "PELAGOS_TEST_UNPACK_USERNS_DIR"

// In a user namespace (a rootless pull) mknod of a device fails with
// EPERM: the device nodes of a layer are skipped, while FIFOs and the
// 0/0 whiteout devices overlayfs needs are still made. The test runs its
// own binary in a new user namespace, root mapped to root, so the files
// can be checked from here.
func TestUnpackInUserNamespace(t *testing.T) {
	ents := []ent{
		{name: "dev/", typ: tar.TypeDir},
		{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660},
		{name: "dev/fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "etc/.wh.passwd", typ: tar.TypeReg},
		{name: "etc/hostname", typ: tar.TypeReg, body: "box"},
	}
	if dir := os.Getenv(usernsDirEnv); dir != "" {
		if err := unix.Mknodat(unix.AT_FDCWD, filepath.Join(dir, "probe"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != unix.EPERM {
			t.Fatalf("mknod of a device in the user namespace = %v, want EPERM", err)
		}
		if _, err := Unpack(dir, layer(t, ents...), Options{}); err != nil {
			t.Fatalf("Unpack in a user namespace: %v", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to map root into a new user namespace")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnpackInUserNamespace$", "-test.count=1")
	cmd.Env = append(os.Environ(), usernsDirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}},
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unpack in a user namespace: %v\n%s", err, out)
	}
	want := []string{
		"dev dir -rwxr-xr-x",
		"dev/fifo other prw-------",
		"etc dir -rwxr-xr-x",
		"etc/hostname file -rw-r--r-- box",
		"etc/passwd char 0:0",
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("tree unpacked in a user namespace (-want +got):\n%s", diff)
	}
}
