package container

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

const sealedName = "pelagos-init"

// sealedExe returns a sealed handle on an init binary (our own by
// default), to be executed as the container init. A container process that
// gets hold of the init's /proc/<pid>/exe can only reach this handle's
// file, which cannot be written (CVE-2019-5736: with the binary itself, it
// could overwrite the host's runtime).
//
// The handle is the binary seen through a private read-only overlayfs
// mount that is attached nowhere (overlaySealed), where the kernel allows
// it, and otherwise a sealed memfd copy of the binary (a rootless runtime
// cannot mount overlayfs). The mount costs a tenth of the copy.
//
// The returned file sits at a high descriptor number so that exec.Cmd's
// shuffling of ExtraFiles into slots 3, 4, ... never lands on it: the child
// executes it through /proc/self/fd/N.
func sealedExe(path string) (*os.File, error) {
	if path == "" {
		path = "/proc/self/exe"
	}
	if f, err := overlaySealed(path); err == nil {
		return f, nil
	}
	return memfdSealed(path)
}

// overlaySealed opens path through a new overlayfs mount whose only layers
// are path's directory and an empty tmpfs: without an upper layer the
// mount is read-only (writes fail with EROFS whatever the mount flags),
// and being attached nowhere, nothing but the returned handle reaches it.
// The mount goes away with the last reference to the file.
func overlaySealed(path string) (*os.File, error) {
	real, err := filepath.EvalSymlinks(path) // /proc/self/exe, or a symlinked install
	if err != nil {
		return nil, err
	}
	empty, err := detachedMount("tmpfs", map[string]string{"size": "4k", "mode": "0555"})
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	// Two lower layers, as overlayfs wants without an upper one. The
	// binary's directory is the top layer, so an entry of the same name
	// below could never shadow it.
	lower := filepath.Dir(real) + ":/proc/self/fd/" + strconv.Itoa(empty)
	mnt, err := detachedMount("overlay", map[string]string{"lowerdir": lower})
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(real), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open sealed", Path: real, Err: err}
	}
	return highFd(fd, "overlay:"+sealedName)
}

// detachedMount makes a read-only, nosuid, nodev mount of fstype with the
// options given and returns its mount descriptor, attached nowhere.
func detachedMount(fstype string, opts map[string]string) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen "+fstype, err)
	}
	defer unix.Close(fs)
	for k, v := range opts {
		if err := unix.FsconfigSetString(fs, k, v); err != nil {
			return -1, fmt.Errorf("%s option %s=%s: %w", fstype, k, v, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, os.NewSyscallError("fsconfig create "+fstype, err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, os.NewSyscallError("fsmount "+fstype, err)
	}
	return mnt, nil
}

// highFd moves fd to a close-on-exec descriptor numbered 100 or more.
func highFd(fd int, name string) (*os.File, error) {
	high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 100)
	unix.Close(fd)
	if err != nil {
		return nil, os.NewSyscallError("fcntl(F_DUPFD_CLOEXEC)", err)
	}
	return os.NewFile(uintptr(high), name), nil
}

// memfdSealed is a sealed in-memory copy of the binary at path.
func memfdSealed(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(sealedName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+sealedName)
	if err := copyAll(mem, src, st.Size()); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy our binary to a memfd: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	mem.Close()
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(high), "memfd:"+sealedName), nil
}

// fileID returns f's identity.
func fileID(f *os.File) (*FileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	return &FileID{Dev: st.Dev, Ino: st.Ino}, nil
}

// copyAll copies size bytes with sendfile (in the kernel, no user-space
// buffer), falling back to io.Copy.
func copyAll(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(size-off))
		if err != nil || n == 0 {
			if off == 0 {
				_, err = io.Copy(dst, src)
				return err
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
