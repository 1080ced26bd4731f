package fsarchive

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

type entry struct {
	name, body, link string
	typ              byte
}

func tarOf(t *testing.T, ents ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	return buf.Bytes()
}

func openRoot(t *testing.T, dir string) *os.File {
	t.Helper()
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel += " -> " + target
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// TestExtractStaysInRoot: symlinks in the archive or already in the
// tree, absolute or climbing, never lead a write outside the root.
func TestExtractStaysInRoot(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		before  func(root string)
		ents    []entry
		wantErr bool
	}{
		{name: "absolute symlink in the archive", ents: []entry{
			{name: "l", typ: tar.TypeSymlink, link: outside}, {name: "l/evil", typ: tar.TypeReg, body: "x"}}},
		{name: "climbing symlink in the archive", ents: []entry{
			{name: "l", typ: tar.TypeSymlink, link: "../../../../../../../.." + outside}, {name: "l/evil", typ: tar.TypeReg, body: "x"}}},
		{name: "symlink already in the tree", before: func(root string) { os.Symlink(outside, filepath.Join(root, "pre")) },
			ents: []entry{{name: "pre/evil", typ: tar.TypeReg, body: "x"}, {name: "pre/d/", typ: tar.TypeDir}}},
		{name: "hard link to a file outside", ents: []entry{
			{name: "h", typ: tar.TypeLink, link: outside + "/secret"}}, wantErr: true},
		{name: "entry climbing out", ents: []entry{
			{name: "../../../../" + outside + "/evil", typ: tar.TypeReg, body: "x"}}, wantErr: true},
		{name: "file over a symlink to outside", before: func(root string) { os.Symlink(outside+"/secret", filepath.Join(root, "f")) },
			ents: []entry{{name: "f", typ: tar.TypeReg, body: "replaced"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if tc.before != nil {
				tc.before(dir)
			}
			_, err := Extract(bytes.NewReader(tarOf(t, tc.ents...)), openRoot(t, dir), "/", ExtractOptions{})
			if (err != nil) != tc.wantErr {
				t.Errorf("Extract: %v, want error %v", err, tc.wantErr)
			}
			if got := listTree(t, outside); !cmp.Equal(got, []string{"secret"}) {
				t.Errorf("outside the root now holds %v", got)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
				t.Errorf("the file outside now holds %q", b)
			}
		})
	}
}

func TestExtractTree(t *testing.T) {
	dir := t.TempDir()
	uid := 1234
	_, err := Extract(bytes.NewReader(tarOf(t,
		entry{name: "d/", typ: tar.TypeDir},
		entry{name: "d/f", typ: tar.TypeReg, body: "hello"},
		entry{name: "d/l", typ: tar.TypeSymlink, link: "/etc/passwd"},
		entry{name: "d/h", typ: tar.TypeLink, link: "d/f"},
		entry{name: "p/q/r", typ: tar.TypeReg, body: "deep"},
		entry{name: "fifo", typ: tar.TypeFifo},
	)), openRoot(t, dir), "/", ExtractOptions{Owner: &Owner{UID: uid, GID: uid}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"d", "d/f", "d/h", "d/l -> /etc/passwd", "fifo", "p", "p/q", "p/q/r"}
	if diff := cmp.Diff(want, listTree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "d/l"), &st); err != nil || st.Uid != uint32(uid) {
		t.Errorf("symlink owner %d (%v), want %d", st.Uid, err, uid)
	}
	if err := unix.Stat(filepath.Join(dir, "d/h"), &st); err != nil || st.Nlink != 2 {
		t.Errorf("hard link: nlink %d (%v)", st.Nlink, err)
	}
}

// TestWriterRoundTrip writes a tree and reads it back; symlinks are
// written as links, never followed.
func TestWriterRoundTrip(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "top/sub"), 0o755)
	os.WriteFile(filepath.Join(src, "top/sub/f"), []byte("content"), 0o640)
	os.Symlink("/etc", filepath.Join(src, "top/etc"))
	os.Link(filepath.Join(src, "top/sub/f"), filepath.Join(src, "top/hard"))
	for _, tc := range []struct {
		as   string
		want []string
	}{
		{"top", []string{"top/", "top/etc", "top/hard", "top/sub/", "top/sub/f"}},
		{"renamed", []string{"renamed/", "renamed/etc", "renamed/hard", "renamed/sub/", "renamed/sub/f"}},
		{"", []string{"etc", "hard", "sub/", "sub/f"}},
	} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if err := w.Add(openRoot(t, src), "/top", tc.as, false); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var got []string
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			got = append(got, h.Name)
			if strings.HasSuffix(h.Name, "etc") && (h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc") {
				t.Errorf("%s: type %c link %q, want the symlink itself", h.Name, h.Typeflag, h.Linkname)
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Add as %q (-want +got):\n%s", tc.as, diff)
		}
	}
	// A path through a symlink resolves inside the root: /top/etc is
	// src/etc there, which does not exist.
	if _, err := Lstat(openRoot(t, src), "/top/etc/passwd", false); !IsNotExist(err) {
		t.Errorf("Lstat through a symlink to /etc: %v, want not found inside the root", err)
	}
}

// TestOverlayWhiteouts: an upper directory's 0/0 devices and opaque
// directories become .wh. entries.
func TestOverlayWhiteouts(t *testing.T) {
	upper := t.TempDir()
	if err := unix.Mknod(filepath.Join(upper, "gone"), unix.S_IFCHR|0o600, 0); err != nil {
		t.Skipf("mknod of a whiteout needs root: %v", err)
	}
	os.Mkdir(filepath.Join(upper, "opq"), 0o755)
	if err := unix.Setxattr(filepath.Join(upper, "opq"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Skipf("trusted xattrs need root and a filesystem with them: %v", err)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.Overlay = true
	if err := w.Add(openRoot(t, upper), "/", "", false); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var got []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		got = append(got, h.Name)
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{".wh.gone", "opq/", "opq/.wh..wh..opq"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
