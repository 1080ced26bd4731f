package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/engine/fsarchive"
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
	devicesAsBinds(c, s)
	return nil
}

// devicesAsBinds turns --device nodes into binds of the host's nodes, as
// podman does in a user namespace: no one may mknod there, and the
// runtime's own fallback binds the host node of the container's path,
// which for --device /dev/x:/dev/y is not the one asked for. The device
// cgroup rules stay.
func devicesAsBinds(c *Container, s *specs.Spec) {
	for _, d := range c.HostConfig.Devices {
		dest := filepath.Clean(d.PathInContainer)
		s.Linux.Devices = slices.DeleteFunc(s.Linux.Devices, func(dev specs.LinuxDevice) bool {
			return dev.Path == dest || strings.HasPrefix(dev.Path, dest+"/")
		})
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dest, Type: "bind", Source: d.PathOnHost, Options: []string{"rbind", "nosuid", "noexec"}})
	}
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
	mnt, err := mountIDMappedDetached(s, u)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if err := unix.MoveMount(int(mnt.Fd()), "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "move_mount", Path: target, Err: err}
	}
	return nil
}

// mountIDMappedDetached is mountIDMapped's overlay, attached nowhere.
func mountIDMappedDetached(s snapshot.Spec, u *Userns) (*os.File, error) {
	if s.Upper != "" {
		if err := os.Chown(s.Upper, int(u.HostUID), int(u.HostGID)); err != nil {
			return nil, err
		}
	}
	ns, err := u.hold()
	if err != nil {
		return nil, err
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
			return nil, err
		}
		layers = append(layers, f)
	}
	mfd, err := idmappedOverlay(s, layers)
	if err != nil {
		return nil, fmt.Errorf("mount snapshot %s (idmapped layers need Linux 6.15): %w", s.ID, err)
	}
	return os.NewFile(uintptr(mfd), "snapshot:"+s.ID), nil
}

// hold returns a handle on a user namespace with u's mapping, for
// idmapped mounts made outside the container's own create.
func (u *Userns) hold() (*os.File, error) {
	return container.HoldUserNamespace(
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostUID, Size: u.Size}},
		[]specs.LinuxIDMapping{{ContainerID: 0, HostID: u.HostGID, Size: u.Size}})
}

// ContainerIDs shows host IDs of c's range as the IDs they are inside,
// for what cp, export and commit read from its files; nil without a user
// namespace. Other IDs are left as they are.
func (c *Container) ContainerIDs() fsarchive.IDMap {
	u := c.Userns
	if u == nil {
		return nil
	}
	return func(uid, gid int) (int, int) {
		return shiftID(uid, int(u.HostUID), 0, u.Size), shiftID(gid, int(u.HostGID), 0, u.Size)
	}
}

// HostIDs is ContainerIDs' reverse, for what cp writes into c.
func (c *Container) HostIDs() fsarchive.IDMap {
	u := c.Userns
	if u == nil {
		return nil
	}
	return func(uid, gid int) (int, int) {
		return shiftID(uid, 0, int(u.HostUID), u.Size), shiftID(gid, 0, int(u.HostGID), u.Size)
	}
}

// shiftID moves id from the range of size IDs at from to the one at to;
// an ID outside it stays.
func shiftID(id, from, to int, size uint32) int {
	if id >= from && id-from < int(size) {
		return id - from + to
	}
	return id
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

// AsRoot runs fn with the filesystem IDs of c's root on the host (for a
// --userns auto container; for any other it just runs fn), so that what
// fn creates through the container's idmapped mounts (its volumes) can
// be created at all: the kernel refuses (EOVERFLOW) a creator whose fsuid
// the mount cannot map, as host root's cannot. The filesystem
// capabilities are kept, so fn still writes anywhere and chowns.
func (c *Container) AsRoot(fn func() error) error {
	u := c.Userns
	if u == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with its changed IDs instead
		// of returning to the pool.
		runtime.LockOSThread()
		if err := setFSIDs(int(u.HostUID), int(u.HostGID)); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// setFSIDs sets this thread's fsuid and fsgid, and raises again the
// capabilities the kernel drops from the effective set when the fsuid
// leaves 0 (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER ...).
func setFSIDs(uid, gid int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return os.NewSyscallError("capget", err)
	}
	_, _ = unix.SetfsgidRetGid(gid)
	_, _ = unix.SetfsuidRetUid(uid)
	// setfsuid reports no failure: read the IDs back.
	if got, _ := unix.SetfsuidRetUid(-1); got != uid {
		return fmt.Errorf("setfsuid %d: the thread's fsuid is %d", uid, got)
	}
	if got, _ := unix.SetfsgidRetGid(-1); got != gid {
		return fmt.Errorf("setfsgid %d: the thread's fsgid is %d", gid, got)
	}
	return os.NewSyscallError("capset", unix.Capset(&hdr, &caps[0]))
}
