package snapshot

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/userns"
)

// Mount mounts s on target. It uses the new mount API, adding each lower
// directory on its own ("lowerdir+", Linux 6.8), so the number of layers
// is not bounded by the one-page limit of mount(2)'s option string; on
// older kernels it falls back to mount(2) with Options.
func Mount(s Spec, target string) error {
	err := mountFS(s, target)
	// Kernels before 6.8 know no lowerdir+ (EINVAL, wrapped by fsmount's
	// "create overlay"), before 5.2 no fsopen (ENOSYS).
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		err = unix.Mount("overlay", target, "overlay", 0, joinOpts(s.Options()))
	}
	if err != nil {
		return fmt.Errorf("mount snapshot %s on %s: %w", s.ID, target, err)
	}
	return nil
}

func joinOpts(o []string) string {
	s := ""
	for i, x := range o {
		if i > 0 {
			s += ","
		}
		s += x
	}
	return s
}

func mountFS(s Spec, target string) error {
	mfd, err := fsmount(s)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// MountDetached mounts s nowhere: the returned directory handle is the
// root of an overlay attached to no mount point, which goes away when the
// last handle on it is closed. It lets a command read or write a stopped
// container's files without a mount that a crash could leave behind.
func MountDetached(s Spec) (*os.File, error) {
	mfd, err := fsmount(s)
	if err != nil {
		return nil, fmt.Errorf("mount snapshot %s: %w", s.ID, err)
	}
	return os.NewFile(uintptr(mfd), "snapshot:"+s.ID), nil
}

// fsmount creates the overlay of s as a detached mount (close-on-exec).
func fsmount(s Spec) (int, error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	for _, l := range s.Lower {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return -1, err
		}
	}
	if s.Upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", s.Upper); err != nil {
			return -1, err
		}
		if err := unix.FsconfigSetString(fd, "workdir", s.Work); err != nil {
			return -1, err
		}
		if s.Volatile {
			// Kernels before 5.10 lack it: the mount is then merely slower
			// to take down.
			_ = unix.FsconfigSetFlag(fd, "volatile")
		}
	}
	if userns.Inside() {
		if err := unix.FsconfigSetFlag(fd, "userxattr"); err != nil {
			return -1, err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return -1, fmt.Errorf("create overlay: %w", err)
	}
	return unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
}

// Unmount detaches a snapshot mounted on target.
func Unmount(target string) error {
	// EINVAL: target is not a mount point, as after a reboot the record
	// of a container still claims: there is nothing to unmount.
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !os.IsNotExist(err) && err != unix.EINVAL {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
