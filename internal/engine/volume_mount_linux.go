package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// mountPoints makes c's volume mount points: -v and --mount volumes,
// the --volumes-from containers' volumes (their binds join
// HostConfig.Mounts) where no user mount is, then the image's VOLUME
// entries that no mount covers, each an anonymous volume. Volumes that do not exist yet are created; the
// returned lock (nil without volumes) is held until the container is
// committed, so that no volume rm removes them meanwhile.
func (e *Engine) mountPoints(ctx context.Context, c *Container) (*lock, error) {
	seen := map[string]bool{}
	for _, m := range c.HostConfig.Mounts {
		if seen[m.Target] {
			return nil, errorf(ErrInvalid, "Duplicate mount point: %s", m.Target)
		}
		seen[m.Target] = true
	}
	var mps []MountPoint
	var creates []VolumeCreateOptions
	add := func(m Mount, mode string) {
		mp := MountPoint{Type: "volume", Name: m.Source, Destination: m.Target, Driver: LocalDriver, RW: !m.ReadOnly, Mode: mode, CopyData: true}
		vo := VolumeCreateOptions{Name: m.Source}
		if o := m.VolumeOptions; o != nil {
			mp.CopyData = !o.NoCopy
			vo.Labels = o.Labels
			if o.DriverConfig != nil {
				vo.Driver, vo.Options = o.DriverConfig.Name, o.DriverConfig.Options
			}
		}
		if mp.Name == "" {
			mp.Name, mp.Anonymous = newID(), true
			vo.Name, vo.Labels = mp.Name, map[string]string{AnonymousLabel: ""}
		}
		mps = append(mps, mp)
		creates = append(creates, vo)
	}
	modes := bindModes(c.HostConfig.Binds)
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" {
			mode := modes[m.Target]
			if m.Flag == "" {
				mode = "z" // --mount's volumes, as docker's inspect shows them
			}
			add(m, mode)
		}
	}
	from, fromBinds, err := e.volumesFrom(ctx, c.HostConfig.VolumesFrom)
	if err != nil {
		return nil, err
	}
	for _, m := range fromBinds {
		if !seen[m.Target] {
			seen[m.Target] = true
			m.Flag = "--volumes-from"
			c.HostConfig.Mounts = append(c.HostConfig.Mounts, m)
		}
	}
	for _, mp := range from {
		if !seen[mp.Destination] {
			seen[mp.Destination] = true
			mps = append(mps, mp)
			// Made again if it went meanwhile, as a start would.
			vo := VolumeCreateOptions{Name: mp.Name}
			if mp.Anonymous {
				vo.Labels = map[string]string{AnonymousLabel: ""}
			}
			creates = append(creates, vo)
		}
	}
	var imageVols []string
	for p := range c.Config.Volumes {
		imageVols = append(imageVols, filepath.Join("/", p)) // a relative VOLUME is taken from /
	}
	sort.Strings(imageVols)
	for _, p := range imageVols {
		if !seen[p] && p != "/" {
			add(Mount{Type: "volume", Target: p}, "")
		}
	}
	if len(mps) == 0 {
		return nil, nil
	}
	l, err := e.lockVolumes(ctx)
	if err != nil {
		return nil, err
	}
	for _, vo := range creates {
		if _, err := e.createVolumeLocked(vo); err != nil {
			e.dropAnonymous(mps)
			l.unlock()
			return nil, err
		}
	}
	c.MountPoints = mps
	return l, nil
}

// dropAnonymous removes the anonymous volumes of a create that failed;
// the caller holds the volumes lock.
func (e *Engine) dropAnonymous(mps []MountPoint) {
	for _, mp := range mps {
		if mp.Anonymous && !mp.shared {
			if _, err := e.loadVolume(mp.Name); err == nil {
				_ = e.removeVolumeLocked(mp.Name)
			}
		}
	}
}

// bindModes maps each -v volume's destination to its option string,
// "z" when none was given, as docker's inspect shows it.
func bindModes(binds []string) map[string]string {
	out := map[string]string{}
	for _, b := range binds {
		parts := strings.Split(b, ":")
		switch {
		case len(parts) == 3:
			out[filepath.Clean(parts[1])] = parts[2]
		case len(parts) == 2:
			out[filepath.Clean(parts[1])] = "z"
		}
	}
	return out
}

// prepareVolumes readies c's volumes for a start, with c's rootfs
// mounted: a named volume removed meanwhile is made again (as -v NAME
// would), a volume with -o options is mounted on its _data, and an empty
// volume gets the image's content at its destination on the first start.
func (e *Engine) prepareVolumes(ctx context.Context, c *Container) error {
	if len(c.MountPoints) == 0 {
		return nil
	}
	copied := false
	for i := range c.MountPoints {
		mp := &c.MountPoints[i]
		v, err := e.loadVolume(mp.Name)
		if errors.Is(err, ErrNoVolume) {
			o := VolumeCreateOptions{Name: mp.Name}
			if mp.Anonymous {
				o.Labels = map[string]string{AnonymousLabel: ""}
			}
			v, err = e.CreateVolume(ctx, o)
		}
		if err != nil {
			return err
		}
		if err := mountVolume(v); err != nil {
			return fmt.Errorf("mount volume %s: %w", v.Name, err)
		}
		e.volumeMountEvent(c, *mp)
		if mp.CopyData {
			if err := e.copyUpOnce(ctx, c, mp, v); err != nil {
				return fmt.Errorf("copy the image's %s into volume %s: %w", mp.Destination, v.Name, err)
			}
			mp.CopyData, copied = false, true
		}
	}
	if copied {
		return c.save()
	}
	return nil
}

// copyUpOnce copies the image's content at mp.Destination into v if v
// is empty, under v's lock so that two containers starting at once on
// one empty volume copy once.
func (e *Engine) copyUpOnce(ctx context.Context, c *Container, mp *MountPoint, v *Volume) error {
	l, err := flock(ctx, filepath.Join(e.volumeDir(v.Name), ".lock"))
	if err != nil {
		return err
	}
	defer l.unlock()
	root, err := os.OpenFile(c.RootfsPath(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	dst, err := os.OpenFile(v.Mountpoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer dst.Close()
	if err := CopyUp(root, mp.Destination, dst); err != nil {
		return err
	}
	dieAt(StepVolumeCopied)
	return nil
}

// volumeSpecMounts are c's volumes as OCI bind mounts.
func volumeSpecMounts(c *Container, volumesDir string) []specs.Mount {
	var out []specs.Mount
	for _, mp := range c.MountPoints {
		opts := []string{"rbind", "rprivate"}
		if !mp.RW {
			opts = append(opts, "ro")
		}
		out = append(out, specs.Mount{
			Destination: mp.Destination, Type: "bind",
			Source: filepath.Join(volumesDir, mp.Name, "_data"), Options: opts,
		})
	}
	return out
}

// sortMounts orders user mounts by the depth of their destination, as
// docker does, so that a mount inside another's destination (a bind at
// /data/x, a volume at /data) lands on top of it.
func sortMounts(ms []specs.Mount) {
	sort.SliceStable(ms, func(i, j int) bool {
		return strings.Count(filepath.Clean(ms[i].Destination), "/") < strings.Count(filepath.Clean(ms[j].Destination), "/")
	})
}

// mountVolume mounts a volume with -o options (docker's local driver:
// type, device, o) on its _data, once: it stays mounted until the
// volume is removed (docker unmounts it when the last container stops).
func mountVolume(v *Volume) error {
	if len(v.Options) == 0 {
		return nil
	}
	if mounted, err := isMountPoint(v.Mountpoint); err != nil || mounted {
		return err
	}
	o := mountopt.Parse(strings.Split(v.Options["o"], ","))
	typ := v.Options["type"]
	if typ == "none" {
		typ = ""
	}
	if err := unix.Mount(v.Options["device"], v.Mountpoint, typ, o.Flags, o.Data); err != nil {
		return &os.PathError{Op: "mount", Path: v.Mountpoint, Err: err}
	}
	return nil
}

// unmountVolume unmounts what mountVolume mounted on dir, if anything.
func unmountVolume(dir string) error {
	mounted, err := isMountPoint(dir)
	if err != nil || !mounted {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "umount", Path: dir, Err: err}
	}
	return nil
}

// isMountPoint reports whether dir is the root of a mount.
func isMountPoint(dir string) (bool, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, 0, &st); err != nil {
		return false, &os.PathError{Op: "statx", Path: dir, Err: err}
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}
