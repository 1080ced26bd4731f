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

// Owner is a uid and gid.
type Owner struct{ UID, GID int }

// ExtractOptions say how Extract writes.
type ExtractOptions struct {
	// Owner, when set, owns everything extracted; otherwise the owners
	// the tar entries name do (docker cp -a).
	Owner *Owner
	// MapIDs, when set, translates the owner (Owner's or the entry's)
	// into the IDs written on disk (a user-namespaced container's root
	// is a host ID).
	MapIDs IDMap
}

// Extract reads the tar stream r and writes its entries beneath base
// inside root. Every path is resolved inside root (a symlink, absolute or
// full of "..", in the tree or in the archive, resolves within root), and
// every file is created and changed through a handle on its parent
// directory, never by following a symlink. An entry whose name climbs out
// with ".." is refused. It returns the bytes of file content written.
func Extract(r io.Reader, root *os.File, base string, o ExtractOptions) (int64, error) {
	x := &extractor{root: root, base: path.Clean("/" + base), o: o}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return x.bytes, fmt.Errorf("read archive: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return x.bytes, err
		}
	}
	return x.bytes, x.dirTimes()
}

type extractor struct {
	root  *os.File
	base  string
	o     ExtractOptions
	bytes int64
	dirs  []dirTime
}

type dirTime struct {
	path string
	t    time.Time
}

// entryName cleans an archive name: relative, no "..".
func entryName(name string) (string, error) {
	clean := path.Clean(strings.TrimLeft(name, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("archive entry %q climbs out of the destination", name)
	}
	return clean, nil
}

func (x *extractor) target(name string) (string, error) {
	n, err := entryName(name)
	if err != nil {
		return "", err
	}
	return path.Join(x.base, n), nil
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	p, err := x.target(hdr.Name)
	if err != nil {
		return err
	}
	if p == "/" {
		return nil // the root of the tree: it exists
	}
	parent, err := inroot.MkdirAll(x.root, path.Dir(p), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	name := path.Base(p)
	isDir := hdr.Typeflag == tar.TypeDir
	exists, err := clearFor(parent, name, isDir, p)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(parent, name, p, exists, hdr)
	case tar.TypeReg:
		return x.file(parent, name, hdr, body)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, int(parent.Fd()), name); err != nil {
			return &os.PathError{Op: "symlink", Path: p, Err: err}
		}
		return x.attrs(parent, name, hdr)
	case tar.TypeLink:
		return x.link(parent, name, p, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(parent, name, p, hdr)
	}
	return nil // PAX globals and the like carry no file
}

// clearFor makes room for a new entry name in parent: an existing
// non-directory goes; an existing directory stays for a directory entry
// (exists) and is an error for anything else.
func clearFor(parent *os.File, name string, isDir bool, p string) (exists bool, err error) {
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if isDir {
			return true, nil
		}
		return false, fmt.Errorf("cannot overwrite directory %q with non-directory", p)
	}
	if err := unix.Unlinkat(int(parent.Fd()), name, 0); err != nil {
		return false, &os.PathError{Op: "unlink", Path: p, Err: err}
	}
	return false, nil
}

func (x *extractor) dir(parent *os.File, name, p string, exists bool, hdr *tar.Header) error {
	if !exists {
		if err := unix.Mkdirat(int(parent.Fd()), name, 0o700); err != nil {
			return &os.PathError{Op: "mkdir", Path: p, Err: err}
		}
	}
	d, err := openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := x.own(d, hdr); err != nil {
		return err
	}
	if err := d.Chmod(tarMode(hdr)); err != nil {
		return err
	}
	// Creating children changes a directory's times: set them last.
	x.dirs = append(x.dirs, dirTime{p, hdr.ModTime})
	return nil
}

func (x *extractor) file(parent *os.File, name string, hdr *tar.Header, body io.Reader) error {
	f, err := openat(parent, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(f, body)
	x.bytes += n
	if err != nil {
		return fmt.Errorf("write %s: %w", hdr.Name, err)
	}
	if err := x.own(f, hdr); err != nil {
		return err
	}
	if err := f.Chmod(tarMode(hdr)); err != nil {
		return err
	}
	return setTimes(parent, name, hdr.ModTime)
}

// link makes a hard link to an earlier entry, found inside the root.
func (x *extractor) link(parent *os.File, name, p string, hdr *tar.Header) error {
	old, err := x.target(hdr.Linkname)
	if err != nil {
		return err
	}
	src, err := inroot.Open(x.root, old, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := unix.Linkat(int(src.Fd()), "", int(parent.Fd()), name, unix.AT_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "link", Path: p, Err: err}
	}
	return nil
}

func (x *extractor) node(parent *os.File, name, p string, hdr *tar.Header) error {
	mode := uint32(unix.S_IFIFO)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode = unix.S_IFCHR
	case tar.TypeBlock:
		mode = unix.S_IFBLK
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(int(parent.Fd()), name, mode|0o600, int(dev)); err != nil {
		return &os.PathError{Op: "mknod", Path: p, Err: err}
	}
	// Changed through an O_PATH handle checked to be the node made, so
	// that a symlink swapped in meanwhile is never followed.
	f, err := openat(parent, name, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := inroot.Fstat(f); err != nil || st.Mode&unix.S_IFMT != mode {
		return fmt.Errorf("%s: replaced while being created", p)
	}
	if err := x.attrs(parent, name, hdr); err != nil {
		return err
	}
	return unix.Chmod(inroot.ProcPath(f), uint32(tarMode(hdr)))
}

// attrs sets the owner and times of name in parent without following a
// symlink.
func (x *extractor) attrs(parent *os.File, name string, hdr *tar.Header) error {
	uid, gid := x.owner(hdr)
	if err := unix.Fchownat(int(parent.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lchown", Path: hdr.Name, Err: err}
	}
	return setTimes(parent, name, hdr.ModTime)
}

func (x *extractor) owner(hdr *tar.Header) (int, int) {
	uid, gid := hdr.Uid, hdr.Gid
	if x.o.Owner != nil {
		uid, gid = x.o.Owner.UID, x.o.Owner.GID
	}
	if x.o.MapIDs != nil {
		return x.o.MapIDs(uid, gid)
	}
	return uid, gid
}

func (x *extractor) own(f *os.File, hdr *tar.Header) error {
	uid, gid := x.owner(hdr)
	return f.Chown(uid, gid)
}

// dirTimes sets the directories' times, deepest last written first.
func (x *extractor) dirTimes() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		f, err := inroot.Open(x.root, d.path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if err != nil {
			continue // replaced by a later entry
		}
		ts := []unix.Timespec{unix.NsecToTimespec(d.t.UnixNano()), unix.NsecToTimespec(d.t.UnixNano())}
		err = unix.UtimesNanoAt(unix.AT_FDCWD, inroot.ProcPath(f), ts, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func setTimes(parent *os.File, name string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	if err := unix.UtimesNanoAt(int(parent.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: name, Err: err}
	}
	return nil
}

// tarMode is the permission bits of hdr, setuid, setgid and sticky
// included.
func tarMode(hdr *tar.Header) os.FileMode {
	m := os.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}
