// Package fsarchive turns directory trees into tar streams and tar streams
// into directory trees, touching the tree only through file descriptors:
// every lookup is relative to a handle on the tree's root (openat2
// RESOLVE_IN_ROOT through package inroot) or to a directory handle already
// held, and no symlink inside the tree is ever followed by a path string
// the host resolves. It serves `cp`, `export`, `diff` and `commit`, whose
// trees belong to containers and are hostile.
//
// It must not join strings to a root and hand the result to the host's
// path resolution.
package fsarchive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/inroot"
)

// Stat describes one path inside a root, not following its last symlink
// unless asked.
type Stat struct {
	Mode    os.FileMode
	Size    int64
	IsDir   bool
	Symlink string // the target when the path is a symlink
}

// Lstat stats p inside root; follow resolves a last symlink (inside the
// root).
func Lstat(root *os.File, p string, follow bool) (Stat, error) {
	dir, base, err := openParent(root, p, follow)
	if err != nil {
		return Stat{}, err
	}
	defer dir.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
		return Stat{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	s := Stat{Mode: fileMode(st.Mode), Size: st.Size, IsDir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		s.Symlink, _ = readlinkat(dir, base)
	}
	return s, nil
}

// openParent returns a handle from which base names p: p's parent
// directory and p's last component, or with follow (or for the root
// itself) p's own handle and "".
func openParent(root *os.File, p string, follow bool) (*os.File, string, error) {
	clean := path.Clean("/" + p)
	if follow || clean == "/" {
		f, err := inroot.OpenPath(root, clean)
		return f, "", err
	}
	dir, err := inroot.Open(root, path.Dir(clean), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, "", err
	}
	return dir, path.Base(clean), nil
}

// Writer writes trees into a tar stream.
type Writer struct {
	tw    *tar.Writer
	links map[[2]uint64]string // hard links: (dev, ino) of files with nlink > 1 → first name
	// Bytes counts the content written.
	Bytes int64
	// Overlay: the tree is an overlayfs upper directory; its whiteouts
	// (0/0 character devices) and opaque directories are written as the
	// OCI layer format's .wh. entries.
	Overlay bool
	// Skip, when set, leaves out the entry named name (and what is
	// beneath it).
	Skip func(name string) bool
	// MapIDs, when set, gives the owner each entry is written with (a
	// user-namespaced container's files are shown with the IDs they have
	// inside).
	MapIDs IDMap
}

// IDMap translates a file's owner between two views of the same files.
type IDMap func(uid, gid int) (int, int)

// OCI layer whiteouts.
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// NewWriter writes to w; Close flushes the tar trailer.
func NewWriter(w io.Writer) *Writer {
	return &Writer{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
}

// Close writes the tar trailer.
func (w *Writer) Close() error { return w.tw.Close() }

// Add writes p (inside root) and, for a directory, everything beneath it,
// named as (as/...). With as == "", a directory's contents are written
// without the directory itself, named relative to it. follow resolves p's
// last symlink (inside the root); symlinks beneath p are never followed.
func (w *Writer) Add(root *os.File, p string, as string, follow bool) error {
	dir, base, err := openParent(root, p, follow)
	if err != nil {
		return err
	}
	defer dir.Close()
	if as == "" {
		d, err := openDir(dir, base)
		if err != nil {
			return err
		}
		defer d.Close()
		return w.children(d, "")
	}
	return w.entry(dir, base, as)
}

// entry writes name (in dir; "" for dir itself) as the tar entry as.
func (w *Writer) entry(dir *os.File, name, as string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "lstat", Path: as, Err: err}
	}
	if w.Skip != nil && w.Skip(as) {
		return nil
	}
	hdr := header(&st, as)
	if w.MapIDs != nil {
		hdr.Uid, hdr.Gid = w.MapIDs(hdr.Uid, hdr.Gid)
	}
	if w.Overlay && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		dir, base := path.Split(as)
		return w.tw.WriteHeader(&tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: hdr.ModTime, Format: tar.FormatPAX})
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return nil // tar cannot hold a socket; docker skips them too
	case unix.S_IFLNK:
		target, err := readlinkat(dir, name)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		return w.tw.WriteHeader(hdr)
	case unix.S_IFDIR:
		hdr.Name += "/"
		if err := w.tw.WriteHeader(hdr); err != nil {
			return err
		}
		d, err := openDir(dir, name)
		if err != nil {
			return err
		}
		defer d.Close()
		if w.Overlay && opaque(d) {
			opq := &tar.Header{Name: path.Join(as, whiteoutOpaque), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: hdr.ModTime, Format: tar.FormatPAX}
			if err := w.tw.WriteHeader(opq); err != nil {
				return err
			}
		}
		return w.children(d, as)
	case unix.S_IFREG:
		return w.file(dir, name, &st, hdr)
	}
	return w.tw.WriteHeader(hdr) // devices and FIFOs: the header is all
}

// file writes a regular file, or a hard link to one written before.
func (w *Writer) file(dir *os.File, name string, st *unix.Stat_t, hdr *tar.Header) error {
	key := [2]uint64{st.Dev, st.Ino}
	if st.Nlink > 1 {
		if first, ok := w.links[key]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			return w.tw.WriteHeader(hdr)
		}
		w.links[key] = hdr.Name
	}
	// O_NONBLOCK: were the file swapped for a FIFO since the stat, the
	// open must not hang; the type is checked again on the opened file.
	f, err := openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return err
	}
	defer f.Close()
	var now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &now); err != nil {
		return err
	}
	if now.Mode&unix.S_IFMT != unix.S_IFREG || now.Ino != st.Ino {
		return fmt.Errorf("%s: changed while being copied", hdr.Name)
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	// The file may shrink or grow meanwhile: exactly Size bytes go out.
	n, err := io.Copy(w.tw, io.LimitReader(f, hdr.Size))
	w.Bytes += n
	if err == nil && n < hdr.Size {
		err = fmt.Errorf("%s: shrank while being copied", hdr.Name)
	}
	return err
}

// children writes every entry of the directory d, named prefix/NAME.
func (w *Writer) children(d *os.File, prefix string) error {
	names, err := readdirnames(d)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := w.entry(d, n, path.Join(prefix, n)); err != nil {
			return err
		}
	}
	return nil
}

// header is the tar header of st, without a type-specific part.
func header(st *unix.Stat_t, name string) *tar.Header {
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()).UTC(), Format: tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFCHR:
		hdr.Typeflag = tar.TypeChar
	case unix.S_IFBLK:
		hdr.Typeflag = tar.TypeBlock
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	}
	if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	}
	return hdr
}

// openDir opens name in dir (dir itself for "") as a directory, never
// following a symlink.
func openDir(dir *os.File, name string) (*os.File, error) {
	if name == "" {
		name = "."
	}
	return openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
}

// openat opens name in dir; "" opens dir itself again. It never leaves
// dir: name is one component.
func openat(dir *os.File, name string, flags int) (*os.File, error) {
	if name == "" && flags&unix.O_DIRECTORY == 0 {
		// dir is itself the file (a followed symlink's target): reopen
		// exactly it through its magic link.
		fd, err := unix.Open(inroot.ProcPath(dir), (flags&^unix.O_NOFOLLOW)|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: dir.Name(), Err: err}
		}
		return os.NewFile(uintptr(fd), dir.Name()), nil
	}
	if name == "" {
		name = "."
	}
	if strings.Contains(name, "/") || name == ".." {
		return nil, fmt.Errorf("%q: not a single path component", name)
	}
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func readdirnames(d *os.File) ([]string, error) {
	// Read through a fresh handle: d may be O_PATH.
	f, err := openat(d, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func readlinkat(dir *os.File, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

// fileMode converts a stat mode to an os.FileMode.
func fileMode(m uint32) os.FileMode {
	fm := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		fm |= os.ModeDir
	case unix.S_IFLNK:
		fm |= os.ModeSymlink
	case unix.S_IFCHR:
		fm |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		fm |= os.ModeDevice
	case unix.S_IFIFO:
		fm |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		fm |= os.ModeSocket
	}
	return fm
}

// IsNotExist reports whether err says a path does not exist.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// opaque reports whether an overlayfs upper directory hides everything
// beneath it in the lower layers (the trusted.overlay.opaque xattr, or
// user.overlay.opaque in a rootless engine's overlays).
// IsOpaque reports whether directory p of an overlay's upper directory
// is opaque (it hides what the layers below hold there).
func IsOpaque(p string) bool {
	d, err := os.Open(p)
	if err != nil {
		return false
	}
	defer d.Close()
	return opaque(d)
}

func opaque(d *os.File) bool {
	for _, name := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		buf := make([]byte, 8)
		n, err := unix.Fgetxattr(int(d.Fd()), name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// maxLinks bounds the symlinks ResolveLast follows, as the kernel bounds
// them.
const maxLinks = 40

// ResolveLast follows p's last component while it is a symlink, each
// target taken inside root (absolute from root's top, relative from the
// link's directory), and returns the path it ends at, for a destination
// that names a file through a link. Everything it returns is still to be
// resolved inside root.
func ResolveLast(root *os.File, p string) (string, error) {
	p = path.Clean("/" + p)
	for range maxLinks {
		st, err := Lstat(root, p, false)
		if err != nil || st.Symlink == "" {
			return p, err
		}
		if path.IsAbs(st.Symlink) {
			p = path.Clean(st.Symlink)
		} else {
			p = path.Join(path.Dir(p), st.Symlink)
		}
	}
	return "", &os.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
}
