// Package inroot resolves and creates paths inside an untrusted directory
// tree (a container's rootfs) through file descriptors, so that symlinks,
// ".." and files swapped during resolution can never lead outside it.
//
// Every lookup is openat2(2) with RESOLVE_IN_ROOT relative to a handle on
// the root: an absolute symlink inside the tree resolves against the tree's
// root, not the host's. Callers act on the returned handle (for example,
// mount onto /proc/self/fd/N), never on a path string joined to the root.
// This is the defence against CVE-2021-30465 and its successors.
//
// This package must not resolve anything by joining strings to the root.
package inroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveFlags keep every lookup inside the root and refuse magic links
// such as /proc/self/root that would jump out of it.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// Open opens path (absolute or relative, always taken inside root) with the
// given open flags. O_CLOEXEC is always added.
func Open(root *os.File, path string, flags int) (*os.File, error) {
	rel := clean(path)
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	if flags&unix.O_CREAT != 0 {
		how.Mode = 0o644
	}
	fd, err := openat2(int(root.Fd()), rel, &how)
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root.Name(), rel)), nil
}

// openat2 retries on EAGAIN, which the kernel returns when a rename raced
// with the lookup: the race is benign, the retry is exact.
func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, path, how)
		if err == unix.EAGAIN && i < 32 {
			continue
		}
		if err == unix.EINTR {
			continue
		}
		return fd, err
	}
}

// OpenPath returns an O_PATH handle on path inside root.
func OpenPath(root *os.File, path string) (*os.File, error) {
	return Open(root, path, unix.O_PATH)
}

// MkdirAll makes sure path exists inside root as a directory, creating
// missing components with mode, and returns an O_PATH handle on it. An
// existing component that is not a directory is an error. A dangling
// symlink on the way is followed the way the kernel would follow it inside
// the root, and its target is created (an image's /var/run -> /run with no
// /run gets a /run).
func MkdirAll(root *os.File, path string, mode os.FileMode) (*os.File, error) {
	return mkdirAll(root, path, mode, 0)
}

// maxLinks bounds symlinks followed by MkdirAll, as the kernel bounds them.
const maxLinks = 40

func mkdirAll(root *os.File, path string, mode os.FileMode, links int) (*os.File, error) {
	if links > maxLinks {
		return nil, &os.PathError{Op: "mkdir", Path: path, Err: unix.ELOOP}
	}
	rel := clean(path)
	if rel == "." {
		return OpenPath(root, ".")
	}
	parts := strings.Split(rel, "/")
	cur, err := OpenPath(root, ".")
	if err != nil {
		return nil, err
	}
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		next, err := Open(root, prefix, unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, fs.ErrNotExist) {
			if target, ok := readlink(cur, parts[i]); ok {
				// A dangling symlink: create where it points instead.
				cur.Close()
				if !filepath.IsAbs(target) {
					target = filepath.Join("/", strings.Join(parts[:i], "/"), target)
				}
				return mkdirAll(root, filepath.Join(append([]string{target}, parts[i+1:]...)...), mode, links+1)
			}
			// Create the missing component in the directory we already
			// hold, then resolve it again from the root.
			if err := unix.Mkdirat(int(cur.Fd()), parts[i], uint32(mode.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
				cur.Close()
				return nil, &os.PathError{Op: "mkdirat", Path: "/" + prefix, Err: err}
			}
			next, err = Open(root, prefix, unix.O_PATH|unix.O_DIRECTORY)
		}
		cur.Close()
		if err != nil {
			if errors.Is(err, unix.ENOTDIR) {
				return nil, fmt.Errorf("%s: not a directory", "/"+prefix)
			}
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// readlink returns the target of name in dir if it is a symlink.
func readlink(dir *os.File, name string) (string, bool) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

// MkFile makes sure path exists inside root as a non-directory (creating an
// empty regular file if it is missing, and its parent directories) and
// returns an O_PATH handle on it. An existing directory is an error.
func MkFile(root *os.File, path string, mode os.FileMode) (*os.File, error) {
	rel := clean(path)
	if rel == "." {
		return nil, errors.New("the root itself is not a file")
	}
	parent, err := MkdirAll(root, filepath.Dir(rel), 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	err = unix.Mknodat(int(parent.Fd()), filepath.Base(rel), unix.S_IFREG|uint32(mode.Perm()), 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mknodat", Path: "/" + rel, Err: err}
	}
	f, err := OpenPath(root, rel)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("/%s: is a directory, a file was expected", rel)
		}
		return nil, err
	}
	return f, nil
}

// ProcPath returns the /proc/self/fd path of f: a "magic link" that
// mount(2) and friends follow to exactly the file f refers to, whatever
// happens to the path it was opened by.
func ProcPath(f *os.File) string {
	return fmt.Sprintf("/proc/self/fd/%d", f.Fd())
}

// Fstat returns the stat of the handle.
func Fstat(f *os.File) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(int(f.Fd()), &st)
	return st, err
}

// IsSymlink reports whether path's last component inside root is a
// symlink, resolving the parents inside root.
func IsSymlink(root *os.File, path string) (bool, error) {
	rel := clean(path)
	if rel == "." {
		return false, nil
	}
	parent, err := OpenPath(root, filepath.Dir(rel))
	if err != nil {
		return false, err
	}
	defer parent.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), filepath.Base(rel), &st, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return false, err
	}
	return st.Mode&unix.S_IFMT == unix.S_IFLNK, nil
}

// clean turns path into a relative, cleaned path ("." for the root).
func clean(path string) string {
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	if rel == "" {
		return "."
	}
	return rel
}
