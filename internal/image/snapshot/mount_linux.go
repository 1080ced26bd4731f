package snapshot

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Mount mounts s on target. It uses the new mount API, adding each lower
// directory on its own ("lowerdir+", Linux 6.8), so the number of layers
// is not bounded by the one-page limit of mount(2)'s option string; on
// older kernels it falls back to mount(2) with Options.
func Mount(s Spec, target string) error {
	err := mountFS(s, target)
	if err == unix.ENOSYS || err == unix.EINVAL {
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
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, l := range s.Lower {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return err
		}
	}
	if s.Upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", s.Upper); err != nil {
			return err
		}
		if err := unix.FsconfigSetString(fd, "workdir", s.Work); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("create overlay: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
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
