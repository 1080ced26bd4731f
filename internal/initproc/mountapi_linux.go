package initproc

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// The new mount API (fsopen, fsmount, open_tree, move_mount,
// mount_setattr) works on file descriptors end to end: a mount is built
// detached, given its final attributes, and attached onto a target handle
// in one step. Nothing is resolved through a path the container could
// change, and no mount is ever visible with the wrong flags.

// newFS creates a detached mount of a new filesystem instance of fstype.
func newFS(fstype, source string, o mountopt.Options) (*os.File, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("fsopen "+fstype, err)
	}
	defer unix.Close(fsfd)
	if source != "" {
		if err := unix.FsconfigSetString(fsfd, "source", source); err != nil {
			return nil, fsError(fsfd, "source="+source, err)
		}
	}
	for _, opt := range sbFlagOptions(o.Flags) {
		if err := unix.FsconfigSetFlag(fsfd, opt); err != nil {
			return nil, fsError(fsfd, opt, err)
		}
	}
	if o.Data != "" {
		for _, opt := range strings.Split(o.Data, ",") {
			k, v, hasValue := strings.Cut(opt, "=")
			if hasValue {
				err = unix.FsconfigSetString(fsfd, k, v)
			} else {
				err = unix.FsconfigSetFlag(fsfd, k)
			}
			if err != nil {
				return nil, fsError(fsfd, opt, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, fsError(fsfd, "create", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, int(mountAttrs(o.Flags)))
	if err != nil {
		return nil, os.NewSyscallError("fsmount "+fstype, err)
	}
	return os.NewFile(uintptr(mfd), fstype), nil
}

// fsError adds the kernel's own explanation, which fsopen contexts keep
// as messages readable from the fd.
func fsError(fsfd int, what string, err error) error {
	buf := make([]byte, 256)
	var msgs []string
	for {
		n, rerr := unix.Read(fsfd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("fsconfig %s: %w (%s)", what, err, strings.Join(msgs, "; "))
	}
	return fmt.Errorf("fsconfig %s: %w", what, err)
}

// cloneTree makes a detached copy of the mount at path (relative to dirfd,
// or dirfd itself when path is ""), recursively when recursive is set.
func cloneTree(dirfd int, path string, recursive bool) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if path == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(dirfd, path, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), "tree:"+path), nil
}

// setAttr changes the attributes of the mount behind fd.
func setAttr(fd *os.File, set, clr uint64, recursive bool) error {
	if set == 0 && clr == 0 {
		return nil
	}
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: set, Attr_clr: clr}
	return os.NewSyscallError("mount_setattr", unix.MountSetattr(int(fd.Fd()), "", flags, &attr))
}

// setPropagation changes the propagation type of an attached mount.
func setPropagation(fd *os.File, flag uintptr) error {
	attr := unix.MountAttr{Propagation: uint64(flag &^ unix.MS_REC)}
	flags := uint(unix.AT_EMPTY_PATH)
	if flag&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	return os.NewSyscallError("mount_setattr propagation", unix.MountSetattr(int(fd.Fd()), "", flags, &attr))
}

// attach moves the detached mount mnt onto the target handle.
func attach(mnt, target *os.File) error {
	err := unix.MoveMount(int(mnt.Fd()), "", int(target.Fd()), "",
		unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	return os.NewSyscallError("move_mount", err)
}

// mountAttrs converts per-mount mount(2) flags to MOUNT_ATTR_* bits.
func mountAttrs(flags uintptr) uint64 {
	var a uint64
	pairs := []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY},
		{unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV},
		{unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NODIRATIME, unix.MOUNT_ATTR_NODIRATIME},
		{unix.MS_NOSYMFOLLOW, unix.MOUNT_ATTR_NOSYMFOLLOW},
	}
	for _, p := range pairs {
		if flags&p.ms != 0 {
			a |= p.attr
		}
	}
	switch {
	case flags&unix.MS_NOATIME != 0:
		a |= unix.MOUNT_ATTR_NOATIME
	case flags&unix.MS_STRICTATIME != 0:
		a |= unix.MOUNT_ATTR_STRICTATIME
	}
	return a
}

// atimeChange reports whether flags pick an atime mode, which mount_setattr
// changes only when the whole atime field is cleared.
func atimeChange(flags uintptr) bool {
	return flags&(unix.MS_NOATIME|unix.MS_STRICTATIME|unix.MS_RELATIME) != 0
}

// sbFlagOptions converts superblock mount(2) flags to fsconfig flag names.
func sbFlagOptions(flags uintptr) []string {
	var out []string
	pairs := []struct {
		ms   uintptr
		name string
	}{
		{unix.MS_SYNCHRONOUS, "sync"},
		{unix.MS_DIRSYNC, "dirsync"},
		{unix.MS_LAZYTIME, "lazytime"},
		{unix.MS_MANDLOCK, "mand"},
	}
	for _, p := range pairs {
		if flags&p.ms != 0 {
			out = append(out, p.name)
		}
	}
	return out
}
