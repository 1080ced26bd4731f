package unpack

import (
	"archive/tar"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

func pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: err}
}

// inRoot is how every directory inside the layer is opened: symlinks and
// ".." resolve as if the layer directory were "/", magic links are refused
// and mount points are not crossed.
var inRoot = unix.OpenHow{
	Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
	Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
}

// resolve opens directory dir of the layer, creating missing directories
// on the way (tar streams need not list parents before children). The
// caller closes the handle.
func (x *extractor) resolve(dir string) (int, error) {
	fd, err := openat2(x.root, dir)
	if err != unix.ENOENT {
		if err != nil {
			return -1, pathErr("open", dir, err)
		}
		return fd, nil
	}
	// Create the missing directories one component at a time, each
	// through a handle on its resolved parent.
	cur, err := unix.Dup(x.root)
	if err != nil {
		return -1, err
	}
	prefix := ""
	for _, c := range strings.Split(dir, "/") {
		prefix = strings.TrimPrefix(prefix+"/"+c, "/")
		next, err := openat2(x.root, prefix)
		if err == unix.ENOENT {
			if err = unix.Mkdirat(cur, c, 0o755); err == nil || err == unix.EEXIST {
				next, err = openat2(x.root, prefix)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, pathErr("mkdir", prefix, err)
		}
		cur = next
	}
	return cur, nil
}

func openat2(root int, p string) (int, error) {
	how := inRoot
	for {
		fd, err := unix.Openat2(root, p, &how)
		if err != unix.EINTR && err != unix.EAGAIN {
			return fd, err
		}
	}
}

// parent returns a handle on dir, owned by the cache: the caller must not
// close it.
func (x *extractor) parent(dir string) (int, error) {
	if x.cacheFd >= 0 && x.cacheName == dir {
		return x.cacheFd, nil
	}
	x.dropCache()
	fd, err := x.resolve(dir)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, pathErr("stat", dir, err)
	}
	x.cacheName, x.cacheFd, x.cacheSetgid = dir, fd, st.Mode&unix.S_ISGID != 0
	return fd, nil
}

// invalidate marks the cached handle stale after an entry replaced or
// linked something: the handle stays open for the current entry and is
// closed by the next lookup.
func (x *extractor) invalidate() { x.cacheName = "" }

func (x *extractor) dropCache() {
	if x.cacheFd >= 0 {
		unix.Close(x.cacheFd)
	}
	x.cacheFd, x.cacheName = -1, ""
}

// fileMeta applies owner, mode and xattrs to an open file or directory.
// The mode is set after the owner because chown clears setuid bits.
func (x *extractor) fileMeta(fd int, hdr *tar.Header) error {
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, tarMode(hdr)); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return setXattrs(fd, hdr)
}

// createMode is the mode to create a file with, and whether creating
// with it gives exactly the entry's mode: not when the umask would strip
// bits, nor for setuid, setgid and sticky bits, which must be set after
// the owner (chown clears them) and which open(2) may drop.
func (x *extractor) createMode(hdr *tar.Header) (uint32, bool) {
	m := tarMode(hdr)
	if m&^0o777 != 0 || m&x.umask != 0 {
		return 0o600, false
	}
	return m, true
}

// ownsNew reports whether a file created now in the cached parent
// directory already has the entry's owner: its uid is our fsuid and its
// gid our fsgid, unless the directory is setgid.
func (x *extractor) ownsNew(hdr *tar.Header) bool {
	return hdr.Uid == x.uid && hdr.Gid == x.gid && !x.cacheSetgid
}

// setXattrs applies the entry's allowed xattrs to an open file.
func setXattrs(fd int, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !allowedXattr(name) {
			continue
		}
		if err := unix.Fsetxattr(fd, name, []byte(v), 0); err != nil && err != unix.ENOTSUP {
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

// allowedXattr keeps image xattrs that mean something to a container
// (file capabilities, user attributes) and drops the rest. trusted.overlay.*
// above all must never come from an image: it would forge whiteouts,
// opaque directories or redirects in the overlay mount.
func allowedXattr(name string) bool {
	return strings.HasPrefix(name, "user.") || name == "security.capability"
}

// tarMode maps the tar header's permission bits (including setuid, setgid
// and sticky, which tar stores as the classic octal bits) to a chmod mode.
func tarMode(hdr *tar.Header) uint32 {
	m := uint32(hdr.Mode & 0o777)
	if hdr.Mode&0o4000 != 0 {
		m |= unix.S_ISUID
	}
	if hdr.Mode&0o2000 != 0 {
		m |= unix.S_ISGID
	}
	if hdr.Mode&0o1000 != 0 {
		m |= unix.S_ISVTX
	}
	return m
}

// linkMeta applies owner and times to a symlink or node without
// following it.
func (x *extractor) linkMeta(pfd int, base string, hdr *tar.Header) error {
	if !x.ownsNew(hdr) {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("chown", base, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// fchmodat cannot skip symlinks, but this is not one: it was just made.
		if err := unix.Fchmodat(pfd, base, tarMode(hdr), 0); err != nil {
			return pathErr("chmod", base, err)
		}
	}
	if err := unix.UtimesNanoAt(pfd, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("set times", base, err)
	}
	return nil
}

// readNames lists a directory through its handle.
func readNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// fdWriter writes to a raw file descriptor without an os.File (no
// finaliser, no poller registration: a regular file needs neither).
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

var (
	umaskOnce sync.Once
	umaskVal  uint32
)

// processUmask reads the umask from /proc/self/status: umask(2) can only
// read it by changing it, which would race with other goroutines that
// create files. If it cannot be read, every bit counts as masked, so
// every file gets an explicit chmod.
func processUmask() uint32 {
	umaskOnce.Do(func() {
		umaskVal = 0o777
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					umaskVal = uint32(n)
				}
				return
			}
		}
	})
	return umaskVal
}
