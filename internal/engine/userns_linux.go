package engine

import (
	"context"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/image/snapshot"
)

// usernsSpec puts c into its user namespace (--userns auto): the
// mappings, and the idmap option on binds of the engine's own files (the
// container's hosts, hostname and resolv.conf, its shareable /dev/shm)
// and of volumes, so that their owners are the same inside as on disk and
// a volume can pass between containers of different ranges. Binds of
// host paths (-v /path:...) are not idmapped, as with podman: the host's
// root-owned files are nobody's inside.
func (e *Engine) usernsSpec(_ context.Context, c *Container, s *specs.Spec, _ *os.File) error {
	u := c.Userns
	if u == nil {
		return nil
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostUID, Size: u.Size}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostGID, Size: u.Size}}
	for i, m := range s.Mounts {
		if m.Type != "bind" {
			continue
		}
		if strings.HasPrefix(m.Source, e.volumesDir()+"/") || strings.HasPrefix(m.Source, c.dir+"/") {
			s.Mounts[i].Options = append(s.Mounts[i].Options, "idmap")
		}
	}
	return nil
}

// mountIDMapped mounts snapshot s on target for a container in user
// namespace u: an overlay of idmapped lower layers (mount_setattr
// MOUNT_ATTR_IDMAP with u's mapping on a clone of each layer, named to
// overlayfs through /proc/self/fd: detached layers are accepted since
// Linux 6.15), so that a file of uid 0 in the image is uid 0 inside and
// HostUID outside, with nothing chowned. Overlayfs itself cannot be
// idmapped (mount_setattr on it is EINVAL), and an idmapped upper layer
// makes it mount read-only: the upper layer stays unmapped, so what the
// container writes lands there with host IDs (HostUID+n), and its root
// directory is given to the container's root.
func mountIDMapped(s snapshot.Spec, target string, u *Userns) error {
	if s.Upper != "" {
		if err := os.Chown(s.Upper, int(u.HostUID), int(u.HostGID)); err != nil {
			return err
		}
	}
	ns, err := container.HoldUserNamespace(
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostUID, Size: u.Size}},
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostGID, Size: u.Size}})
	if err != nil {
		return err
	}
	defer ns.Close()
	var layers []*os.File
	defer func() {
		for _, f := range layers {
			f.Close()
		}
	}()
	for _, l := range s.Lower {
		f, err := idmappedClone(l, ns)
		if err != nil {
			return err
		}
		layers = append(layers, f)
	}
	mfd, err := idmappedOverlay(s, layers)
	if err != nil {
		return fmt.Errorf("mount snapshot %s (idmapped layers need Linux 6.15): %w", s.ID, err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount", Path: target, Err: err}
	}
	return nil
}

// idmappedOverlay creates the overlay of the idmapped layers and s's
// upper and work directories as a detached mount.
func idmappedOverlay(s snapshot.Spec, layers []*os.File) (int, error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen overlay", err)
	}
	defer unix.Close(fd)
	set := func(key, val string) error {
		if err := unix.FsconfigSetString(fd, key, val); err != nil {
			return fmt.Errorf("overlay %s=%s: %w", key, val, err)
		}
		return nil
	}
	for _, f := range layers {
		if err := set("lowerdir+", fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err != nil {
			return -1, err
		}
	}
	if s.Upper != "" {
		if err := set("upperdir", s.Upper); err != nil {
			return -1, err
		}
		if err := set("workdir", s.Work); err != nil {
			return -1, err
		}
		if s.Volatile {
			_ = unix.FsconfigSetFlag(fd, "volatile")
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return -1, os.NewSyscallError("fsconfig create", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	return mfd, os.NewSyscallError("fsmount", err)
}

// idmappedClone is a detached clone of the mount at dir (a symlink to
// it is followed: layers are named through short links) with ns's
// mapping.
func idmappedClone(dir string, ns *os.File) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), "idmapped:"+dir)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		f.Close()
		return nil, fmt.Errorf("idmap %s: %w", dir, os.NewSyscallError("mount_setattr", err))
	}
	return f, nil
}
