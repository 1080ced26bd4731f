package engine

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/inroot"
)

// CopyUp is docker's copy-up of a volume: when dst (a handle on the
// volume's data directory) is empty, the directory at path inside root
// (a container's rootfs) is copied into it: files, directories,
// symlinks, FIFOs and hard links, with owners, modes, timestamps and,
// where the filesystems allow, extended attributes; dst itself takes the
// source directory's owner and mode. Nothing is copied when path does
// not exist or is not a directory.
//
// The image is untrusted: path is resolved with RESOLVE_IN_ROOT (a
// symlink /data -> /etc in the image copies the image's /etc, never the
// host's), and every step below it goes through directory handles, one
// name at a time with O_NOFOLLOW, so no symlink in the tree is followed.
// Device nodes and sockets are not copied.
func CopyUp(root *os.File, path string, dst *os.File) error {
	src, err := inroot.Open(root, path, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	names, err := dst.Readdirnames(1)
	if len(names) > 0 {
		return nil // not empty: docker copies only into an empty volume
	}
	if err != nil && err != io.EOF {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	cp := &copier{links: map[inode]*os.File{}}
	defer cp.close()
	if err := cp.dir(src, dst); err != nil {
		return err
	}
	return cp.attrs(dst, &st)
}

// copier copies one tree; links holds an O_PATH handle on the first copy
// of each file with several links, by source inode, to link the others
// to it.
type copier struct {
	links map[inode]*os.File
}

type inode struct{ dev, ino uint64 }

func (cp *copier) close() {
	for _, f := range cp.links {
		f.Close()
	}
}

// dir copies the entries of directory src into directory dst.
func (cp *copier) dir(src, dst *os.File) error {
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := cp.entry(src, dst, name); err != nil {
			return err
		}
	}
	return nil
}

// entry copies src/name to dst/name by its type.
func (cp *copier) entry(src, dst *os.File, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(src.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "fstatat", Path: name, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return cp.subdir(src, dst, name, &st)
	case unix.S_IFREG:
		if st.Nlink > 1 {
			if first, ok := cp.links[inode{st.Dev, st.Ino}]; ok {
				return linkTo(first, dst, name)
			}
		}
		return cp.file(src, dst, name, &st)
	case unix.S_IFLNK:
		return symlink(src, dst, name, &st)
	case unix.S_IFIFO:
		if err := unix.Mknodat(int(dst.Fd()), name, unix.S_IFIFO|0o600, 0); err != nil {
			return &os.PathError{Op: "mknodat", Path: name, Err: err}
		}
		return ownAt(dst, name, &st)
	}
	return nil // devices and sockets are not copied
}

// subdir copies directory src/name.
func (cp *copier) subdir(src, dst *os.File, name string, st *unix.Stat_t) error {
	if err := unix.Mkdirat(int(dst.Fd()), name, 0o700); err != nil {
		return &os.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	s, err := openAt(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer s.Close()
	d, err := openAt(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := cp.dir(s, d); err != nil {
		return err
	}
	copyXattrs(s, d)
	return cp.attrs(d, st)
}

// file copies regular file src/name.
func (cp *copier) file(src, dst *os.File, name string, st *unix.Stat_t) error {
	// O_NONBLOCK and the type check: what was a file at fstatat may be
	// a FIFO now, and reading one would hang the start.
	s, err := openAt(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return err
	}
	defer s.Close()
	var now unix.Stat_t
	if err := unix.Fstat(int(s.Fd()), &now); err != nil || now.Mode&unix.S_IFMT != unix.S_IFREG {
		return &os.PathError{Op: "copy", Path: name, Err: unix.EINVAL}
	}
	d, err := openAt(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := io.Copy(d, s); err != nil {
		return err
	}
	copyXattrs(s, d)
	if err := cp.attrs(d, st); err != nil {
		return err
	}
	if st.Nlink > 1 {
		p, err := openAt(dst, name, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return err
		}
		cp.links[inode{st.Dev, st.Ino}] = p
	}
	return nil
}

// attrs gives f the owner, mode and times of st. The owner comes first:
// chown clears the set-id bits.
func (cp *copier) attrs(f *os.File, st *unix.Stat_t) error {
	if err := unix.Fchown(int(f.Fd()), int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "fchown", Path: f.Name(), Err: err}
	}
	if err := unix.Fchmod(int(f.Fd()), st.Mode&0o7777); err != nil {
		return &os.PathError{Op: "fchmod", Path: f.Name(), Err: err}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "utimensat", Path: f.Name(), Err: err}
	}
	return nil
}

// symlink copies symlink src/name (its target as it is: it is resolved
// in the container, never here).
func symlink(src, dst *os.File, name string, st *unix.Stat_t) error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(src.Fd()), name, buf)
	if err != nil {
		return &os.PathError{Op: "readlinkat", Path: name, Err: err}
	}
	if err := unix.Symlinkat(string(buf[:n]), int(dst.Fd()), name); err != nil {
		return &os.PathError{Op: "symlinkat", Path: name, Err: err}
	}
	if err := unix.Fchownat(int(dst.Fd()), name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "fchownat", Path: name, Err: err}
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(int(dst.Fd()), name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: name, Err: err}
	}
	return nil
}

// ownAt gives dst/name (not a symlink) the owner and mode of st.
func ownAt(dst *os.File, name string, st *unix.Stat_t) error {
	if err := unix.Fchownat(int(dst.Fd()), name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "fchownat", Path: name, Err: err}
	}
	if err := unix.Fchmodat(int(dst.Fd()), name, st.Mode&0o7777, 0); err != nil {
		return &os.PathError{Op: "fchmodat", Path: name, Err: err}
	}
	return nil
}

// linkTo makes dst/name a hard link to the file first holds.
func linkTo(first, dst *os.File, name string) error {
	if err := unix.Linkat(int(first.Fd()), "", int(dst.Fd()), name, unix.AT_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "linkat", Path: name, Err: err}
	}
	return nil
}

// openAt opens the single name in dir.
func openAt(dir *os.File, name string, flags int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

// copyXattrs copies what extended attributes it can from s to d: the
// target filesystem may not support them, or refuse some (trusted.*
// without a capability); those are skipped, as docker skips them.
func copyXattrs(s, d *os.File) {
	buf := make([]byte, 64<<10)
	n, err := unix.Flistxattr(int(s.Fd()), buf)
	if err != nil || n == 0 {
		return
	}
	val := make([]byte, 64<<10)
	for _, name := range splitNul(buf[:n]) {
		m, err := unix.Fgetxattr(int(s.Fd()), name, val)
		if err != nil {
			continue
		}
		_ = unix.Fsetxattr(int(d.Fd()), name, val[:m], 0)
	}
}

func splitNul(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
