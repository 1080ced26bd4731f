// Package unpack extracts one image layer (an uncompressed tar stream) into
// an empty directory, in the form overlayfs reads: whiteout files become
// 0/0 character devices and opaque-directory markers become the
// trusted.overlay.opaque xattr (user.overlay.opaque inside a user
// namespace, for a rootless engine's overlays mounted with userxattr).
//
// The tar stream is untrusted. Every path is resolved through a handle on
// the layer directory with openat2(RESOLVE_IN_ROOT), the last component is
// never followed, and names with ".." are refused, so no entry can create,
// follow or link anything outside the layer directory. It does not
// decompress, verify digests or decide where layers live: callers do.
package unpack

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/userns"
)

// ErrUnsafe is wrapped by errors about entries that try to leave the
// layer directory or are otherwise malformed.
var ErrUnsafe = errors.New("unsafe layer entry")

// ErrTooLarge is wrapped when a layer exceeds Options.MaxBytes or
// Options.MaxEntries: a decompression bomb or a runaway archive.
var ErrTooLarge = errors.New("layer too large")

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	// opaqueXattrUser is the name overlayfs reads with userxattr.
	opaqueXattrUser = "user.overlay.opaque"

	// DefaultMaxBytes bounds the file content one layer may write.
	DefaultMaxBytes = 64 << 30
	// DefaultMaxEntries bounds the number of entries in one layer.
	DefaultMaxEntries = 10_000_000
)

// Options bound what one layer may do.
type Options struct {
	MaxBytes   int64 // file content bytes; 0 means DefaultMaxBytes
	MaxEntries int   // tar entries; 0 means DefaultMaxEntries
}

// Stats describes an unpacked layer.
type Stats struct {
	Entries int
	Bytes   int64 // file content written
}

// Unpack reads the tar stream r and extracts it into dir, which must be an
// existing empty directory. It reads r only up to the end of the archive;
// the caller drains any padding after it.
func Unpack(dir string, r io.Reader, opts Options) (Stats, error) {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return Stats{}, pathErr("open", dir, err)
	}
	x := &extractor{root: root, opts: opts, buf: make([]byte, 256<<10), cacheFd: -1,
		uid: unix.Geteuid(), gid: unix.Getegid(), umask: processUmask()}
	defer x.close()
	if err := x.run(tar.NewReader(r)); err != nil {
		return x.stats, err
	}
	return x.stats, x.finish()
}

type dirTimes struct {
	name string
	ts   []unix.Timespec
}

// extractor holds the state of one layer's extraction.
type extractor struct {
	root  int // O_PATH handle on the layer directory
	opts  Options
	stats Stats
	buf   []byte
	dirs  []dirTimes // directory times, applied last: children change them

	// cache of the last parent directory handle, since tar entries come
	// grouped by directory. Dropped whenever an entry replaces or links
	// something, so a cached handle never outlives what it named.
	cacheName   string
	cacheFd     int
	cacheSetgid bool // the cached directory is setgid: new files take its group

	uid, gid int    // owner of the files we create (fsuid, fsgid)
	umask    uint32 // the process umask, read once
}

func (x *extractor) close() {
	x.dropCache()
	unix.Close(x.root)
}

func (x *extractor) run(tr *tar.Reader) error {
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		x.stats.Entries++
		if x.stats.Entries > x.opts.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrTooLarge, x.opts.MaxEntries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// clean turns a tar name into a relative path inside the layer. Leading
// slashes are dropped (an absolute name means the layer's root, as GNU tar
// and Docker read it); ".." components are refused outright, since no
// well-formed layer needs them and RESOLVE_IN_ROOT would only clamp them.
func clean(name string) (string, error) {
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: path has a .. component", ErrUnsafe)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: NUL in name", ErrUnsafe)
	}
	p := strings.TrimPrefix(path.Clean("/"+name), "/")
	if p == "" {
		p = "."
	}
	return p, nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name, err := clean(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return x.rootEntry(hdr)
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return x.whiteout(dir, base)
	}
	pfd, err := x.parent(dir)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(pfd, name, base, hdr)
	case tar.TypeReg, 0: // 0 is the pre-POSIX regular-file flag (TypeRegA)
		return x.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		return x.symlink(pfd, base, hdr)
	case tar.TypeLink:
		return x.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(pfd, base, hdr)
	default:
		return fmt.Errorf("%w: unsupported tar type %q", ErrUnsafe, hdr.Typeflag)
	}
}

// rootEntry applies an entry naming the layer root itself: only its
// metadata, since the root is always a directory.
func (x *extractor) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: layer root must be a directory", ErrUnsafe)
	}
	fd, err := unix.Openat(x.root, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", ".", err)
	}
	defer unix.Close(fd)
	if err := x.fileMeta(fd, hdr); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTimes{".", times(hdr)})
	return nil
}

// whiteout records a deletion in overlayfs form.
func (x *extractor) whiteout(dir, base string) error {
	pfd, err := x.parent(dir)
	if err != nil {
		return err
	}
	if base == opaqueMarker {
		fd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return pathErr("open", dir, err)
		}
		defer unix.Close(fd)
		name := opaqueXattr
		if userns.Inside() {
			name = opaqueXattrUser
		}
		if err := unix.Fsetxattr(fd, name, []byte("y"), 0); err != nil {
			return pathErr("set opaque xattr", dir, err)
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if strings.HasPrefix(target, whiteoutPrefix) {
		return nil // other .wh..wh. metadata (e.g. .wh..wh.plnk): not content
	}
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafe, target)
	}
	x.invalidate()
	if err := x.removeExisting(pfd, target); err != nil {
		return err
	}
	if err := unix.Mknodat(pfd, target, unix.S_IFCHR, 0); err != nil {
		return pathErr("mknod whiteout", target, err)
	}
	return nil
}

func (x *extractor) mkdir(pfd int, name, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("stat", base, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			x.invalidate()
			if err := x.removeExisting(pfd, base); err != nil {
				return err
			}
			err = unix.Mkdirat(pfd, base, 0o700)
		} else {
			err = nil
		}
	}
	if err != nil {
		return pathErr("mkdir", base, err)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", base, err)
	}
	defer unix.Close(fd)
	if err := x.fileMeta(fd, hdr); err != nil {
		return err
	}
	x.dirs = append(x.dirs, dirTimes{name, times(hdr)})
	return nil
}

func (x *extractor) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	if hdr.Size < 0 {
		return fmt.Errorf("%w: negative size", ErrUnsafe)
	}
	if x.stats.Bytes+hdr.Size > x.opts.MaxBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, x.opts.MaxBytes)
	}
	// Most files need no chown or chmod after they are created with
	// their mode: two syscalls saved per file (layers have thousands).
	mode, exact := x.createMode(hdr)
	fd, err := x.create(pfd, base, mode)
	if err != nil {
		return err
	}
	f := fdWriter(fd)
	_, err = io.CopyBuffer(f, io.LimitReader(r, hdr.Size), x.buf)
	if err == nil {
		if exact && x.ownsNew(hdr) {
			err = setXattrs(fd, hdr)
		} else {
			err = x.fileMeta(fd, hdr)
		}
	}
	if err == nil {
		err = unix.UtimesNanoAt(pfd, base, times(hdr), unix.AT_SYMLINK_NOFOLLOW)
	}
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("write %s: %w", base, err)
	}
	x.stats.Bytes += hdr.Size
	return nil
}

// create makes a new regular file, replacing whatever had the name. It
// never follows a symlink in the last component (O_NOFOLLOW|O_EXCL).
func (x *extractor) create(pfd int, base string, mode uint32) (int, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, base, flags, mode)
	if err == unix.EEXIST {
		x.invalidate()
		if err := x.removeExisting(pfd, base); err != nil {
			return -1, err
		}
		fd, err = unix.Openat(pfd, base, flags, mode)
	}
	if err != nil {
		return -1, pathErr("create", base, err)
	}
	return fd, nil
}

func (x *extractor) symlink(pfd int, base string, hdr *tar.Header) error {
	x.invalidate()
	if err := x.removeExisting(pfd, base); err != nil {
		return err
	}
	// The target is stored verbatim: it is only ever resolved inside the
	// container's root (or through RESOLVE_IN_ROOT here), never by us.
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return pathErr("symlink", base, err)
	}
	return x.linkMeta(pfd, base, hdr)
}

// hardlink links base to an earlier entry of this layer. The target's
// directory is resolved inside the layer, and linkat without
// AT_SYMLINK_FOLLOW links a symlink itself rather than what it names, so
// the link can never reach a file outside.
func (x *extractor) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := clean(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("link target: %w", err)
	}
	if target == "." {
		return fmt.Errorf("%w: hardlink to the layer root", ErrUnsafe)
	}
	tdir, tbase := path.Split(target)
	tdir = strings.TrimSuffix(tdir, "/")
	if tdir == "" {
		tdir = "."
	}
	tfd, err := x.resolve(tdir)
	if err != nil {
		return fmt.Errorf("link target %q: %w", hdr.Linkname, err)
	}
	defer unix.Close(tfd)
	x.invalidate()
	if err := x.removeExisting(pfd, base); err != nil {
		return err
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return pathErr("link to "+hdr.Linkname, base, err)
	}
	return nil
}

// node makes a device node or FIFO. Without CAP_MKNOD (a rootless pull)
// device nodes are skipped, as every rootless runtime does: the container
// gets its devices from the runtime, not the image.
func (x *extractor) node(pfd int, base string, hdr *tar.Header) error {
	x.invalidate()
	if err := x.removeExisting(pfd, base); err != nil {
		return err
	}
	mode := uint32(hdr.Mode & 0o7777)
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
	default:
		mode |= unix.S_IFIFO
	}
	dev := int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	if err := unix.Mknodat(pfd, base, mode, dev); err != nil {
		if err == unix.EPERM && hdr.Typeflag != tar.TypeFifo {
			return nil
		}
		return pathErr("mknod", base, err)
	}
	return x.linkMeta(pfd, base, hdr)
}

// removeExisting deletes whatever has the name base in pfd, so the entry
// can take its place. A non-empty directory is removed with its contents,
// as a later layer entry replacing it means.
func (x *extractor) removeExisting(pfd int, base string) error {
	err := unix.Unlinkat(pfd, base, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return pathErr("remove", base, err)
	}
	return removeAllAt(pfd, base)
}

// removeAllAt removes the directory base under pfd and all it holds,
// through handles only.
func removeAllAt(pfd int, base string) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", base, err)
	}
	names, err := readNames(fd)
	if err == nil {
		for _, n := range names {
			if e := unix.Unlinkat(fd, n, 0); e == unix.EISDIR || e == unix.EPERM {
				err = removeAllAt(fd, n)
			} else if e != nil && e != unix.ENOENT {
				err = pathErr("remove", n, e)
			}
			if err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR); err != nil {
		return pathErr("rmdir", base, err)
	}
	return nil
}

func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if d.name == "." {
			if err := unix.UtimesNanoAt(x.root, ".", d.ts, 0); err != nil {
				return pathErr("set times", ".", err)
			}
			continue
		}
		dir, base := path.Split(d.name)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		fd, err := x.resolve(dir)
		if err != nil {
			return err
		}
		err = unix.UtimesNanoAt(fd, base, d.ts, unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(fd)
		if err != nil && err != unix.ENOENT {
			return pathErr("set times", d.name, err)
		}
	}
	return nil
}

func times(hdr *tar.Header) []unix.Timespec {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	return []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
}
