package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/snapshot"
	"github.com/pelagos-go/pelagos/internal/inroot"
)

// FS is a container's filesystem opened for cp, export and commit: Root
// is a handle on its root directory, to be resolved in only through
// package inroot (or fsarchive), never by joining strings to a path.
type FS struct {
	Container *Container
	Root      *os.File
	// Live: the container runs and Root is its own view (/proc/PID/root:
	// its volumes and tmpfs mounts included).
	Live  bool
	close func()
}

// Close releases the handle, the detached mount of a stopped container,
// and its lock.
func (f *FS) Close() {
	f.Root.Close()
	if f.close != nil {
		f.close()
	}
}

// OpenFS opens container ref's filesystem. A running container's is its
// root as its processes see it; a stopped container's is its overlay,
// mounted detached (no mount point: closing the handle unmounts it, so a
// command killed meanwhile leaves nothing), and the container stays
// locked (no start) until Close.
func (e *Engine) OpenFS(ctx context.Context, ref string) (*FS, error) {
	return e.openFS(ctx, ref, openProcRoot)
}

// OpenRootfs is OpenFS without the running container's own mounts: its
// overlay alone (for export and commit).
func (e *Engine) OpenRootfs(ctx context.Context, ref string) (*FS, error) {
	return e.openFS(ctx, ref, nil)
}

func (e *Engine) openFS(ctx context.Context, ref string, procRoot func(int) (*os.File, error)) (*FS, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c.State.Running && e.runtimeAlive(c) {
		var root *os.File
		if procRoot != nil {
			root, err = procRoot(c.State.Pid)
		} else {
			// Our own mount point, in the host's mount namespace.
			root, err = os.OpenFile(c.RootfsPath(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
		if err == nil {
			return &FS{Container: c, Root: root, Live: true}, nil
		}
	}
	l, err := e.lockContainer(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	c, err = loadRecord(filepath.Join(e.containersDir(), c.ID))
	if err != nil {
		l.unlock()
		return nil, err
	}
	if c.State.Running || c.Mounted {
		// It started (or a start is being undone) meanwhile.
		l.unlock()
		return nil, errorf(ErrState, "container %s changed state, try again", c.ShortID())
	}
	root, err := e.mountDetached(ctx, c)
	if err != nil {
		l.unlock()
		return nil, err
	}
	if procRoot != nil {
		if err := e.attachBinds(root, c); err != nil {
			root.Close()
			l.unlock()
			return nil, err
		}
	}
	return &FS{Container: c, Root: root, close: l.unlock}, nil
}

// attachBinds mounts c's bind mounts onto its detached rootfs, as docker
// mounts a stopped container's volumes for cp: what is copied to or from
// a volume's path is the volume's. Detached trees accept mounts from
// Linux 6.15; on older kernels cp sees the rootfs alone (with a warning).
func (e *Engine) attachBinds(root *os.File, c *Container) error {
	var binds []Mount
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "bind" {
			binds = append(binds, m)
		}
	}
	for _, mp := range c.MountPoints {
		binds = append(binds, Mount{Type: "bind", Source: filepath.Join(e.volumeDir(mp.Name), "_data"), Target: mp.Destination, ReadOnly: !mp.RW})
	}
	// Shallow targets first, as a start mounts them (sortMounts).
	sort.SliceStable(binds, func(i, j int) bool {
		return strings.Count(filepath.Clean(binds[i].Target), "/") < strings.Count(filepath.Clean(binds[j].Target), "/")
	})
	var idmap *os.File
	if c.Userns != nil && len(binds) > 0 {
		// Volumes (and binds with idmap) are idmapped binds in the
		// container: the same here.
		ns, err := c.Userns.hold()
		if err != nil {
			return err
		}
		defer ns.Close()
		idmap = ns
	}
	for _, m := range binds {
		var ns *os.File
		if strings.HasPrefix(m.Source, e.volumesDir()+"/") || (m.BindOptions != nil && m.BindOptions.IDMap) {
			ns = idmap
		}
		if err := attachBind(root, m, ns); err != nil {
			if errors.Is(err, unix.EINVAL) {
				e.warn(fmt.Sprintf("%s is not mounted for this copy (the kernel cannot mount on a detached tree): %v", m.Target, err))
				continue
			}
			return fmt.Errorf("mount %s on %s: %w", m.Source, m.Target, err)
		}
	}
	return nil
}

// attachBind mounts m on its target in root, idmapped with the user
// namespace idmap when that is not nil.
func attachBind(root *os.File, m Mount, idmap *os.File) error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	bind, err := unix.OpenTree(unix.AT_FDCWD, m.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return err
	}
	defer unix.Close(bind)
	if idmap != nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(idmap.Fd())}
		if err := unix.MountSetattr(bind, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return os.NewSyscallError("mount_setattr idmap", err)
		}
	}
	if m.ReadOnly {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(bind, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return err
		}
	}
	// The mount point is made inside the root, as the runtime makes it
	// at start.
	var target *os.File
	if fi.IsDir() {
		target, err = inroot.MkdirAll(root, m.Target, 0o755)
	} else {
		target, err = inroot.MkFile(root, m.Target, 0o644)
	}
	if err != nil {
		return err
	}
	defer target.Close()
	return unix.MoveMount(bind, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// openProcRoot opens /proc/PID/root of a container's init, checking that
// the pid still names the same process after the open.
func openProcRoot(pid int) (*os.File, error) {
	start, ok := procStart(pid)
	if !ok {
		return nil, fmt.Errorf("process %d is gone", pid)
	}
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if !alive(pid, start) {
		root.Close()
		return nil, fmt.Errorf("process %d is gone", pid)
	}
	return root, nil
}

// mountDetached mounts c's overlay with no mount point.
func (e *Engine) mountDetached(ctx context.Context, c *Container) (*os.File, error) {
	sp, err := e.snapshotOf(ctx, c)
	if err != nil {
		return nil, err
	}
	if c.Userns != nil {
		// The same view as the running container's rootfs mount.
		return mountIDMappedDetached(sp, c.Userns)
	}
	return snapshot.MountDetached(sp)
}
