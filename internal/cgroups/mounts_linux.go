package cgroups

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ContainerMount is one step of building /sys/fs/cgroup inside a
// container: a mount(2) call, or a symbolic link when Symlink is set.
// Target is the path inside the container; a bind Source is a host path.
type ContainerMount struct {
	Source string
	Target string
	Type   string
	Flags  uintptr
	Data   string
	// Symlink, when not empty, means: create Target as a symbolic link
	// pointing at Symlink (a relative name) instead of mounting.
	Symlink string
}

// MountOptions say how the container sees its cgroup.
type MountOptions struct {
	// CgroupNS is true when the container has its own cgroup namespace:
	// the hierarchies are mounted afresh and show the container's cgroup as
	// their root. Otherwise the container's own directories are bound.
	CgroupNS bool
	// Writable leaves the mounts writable (the OCI "rw" option on the
	// /sys/fs/cgroup mount); by default they are read-only.
	Writable bool
}

// CgroupMountPoint is where a container expects its cgroup filesystems.
const CgroupMountPoint = "/sys/fs/cgroup"

// ContainerMounts describes, in order, the mounts that give a container a
// correct /sys/fs/cgroup. The init performs them: each entry's Target
// directory (or its parent for a symlink) must be created first; a bind
// entry is followed by a remount entry that makes it read-only. With
// CgroupNS the init must already be in the container's cgroup and have
// unshared its cgroup namespace, since a fresh mount shows the namespace's
// root; without it, bind sources are host paths and must be mounted before
// pivot_root.
//
//   - v2: one cgroup2 mount, or a bind of the container's directory.
//   - v1: a tmpfs, then each hierarchy (as a fresh cgroup mount, or a bind
//     of the container's directory in it), a symlink per controller of a
//     co-mounted hierarchy ("cpu" -> "cpu,cpuacct"), and finally the tmpfs
//     remounted read-only.
func (m *Manager) ContainerMounts(opts MountOptions) ([]ContainerMount, error) {
	if m.mode == Unified {
		return m.mountsV2(opts)
	}
	return m.mountsV1(opts)
}

const mountFlags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RELATIME

func roFlag(opts MountOptions) uintptr {
	if opts.Writable {
		return 0
	}
	return unix.MS_RDONLY
}

func (m *Manager) mountsV2(opts MountOptions) ([]ContainerMount, error) {
	if opts.CgroupNS {
		return []ContainerMount{{Source: "cgroup2", Target: CgroupMountPoint, Type: "cgroup2", Flags: mountFlags | roFlag(opts)}}, nil
	}
	dir, ok := m.Path("")
	if !ok {
		return nil, fmt.Errorf("no cgroup2 directory to bind")
	}
	return bindMount(dir, CgroupMountPoint, opts), nil
}

// bindMount binds src at target, with a remount for the flags a bind
// ignores on its first mount(2).
func bindMount(src, target string, opts MountOptions) []ContainerMount {
	return []ContainerMount{
		{Source: src, Target: target, Type: "bind", Flags: unix.MS_BIND | unix.MS_REC},
		{Source: src, Target: target, Type: "bind", Flags: unix.MS_BIND | unix.MS_REMOUNT | mountFlags | roFlag(opts)},
	}
}

func (m *Manager) mountsV1(opts MountOptions) ([]ContainerMount, error) {
	out := []ContainerMount{{Source: "tmpfs", Target: CgroupMountPoint, Type: "tmpfs", Flags: mountFlags, Data: "mode=755"}}
	for _, key := range sortedKeys(m.paths) {
		mnt, ok := m.mountPoint(key)
		if !ok {
			return nil, fmt.Errorf("no mount point known for cgroup hierarchy %q", key)
		}
		name := filepath.Base(mnt)
		target := filepath.Join(CgroupMountPoint, name)
		switch {
		case opts.CgroupNS && key == "":
			out = append(out, ContainerMount{Source: "cgroup2", Target: target, Type: "cgroup2", Flags: mountFlags | roFlag(opts)})
		case opts.CgroupNS:
			out = append(out, ContainerMount{Source: "cgroup", Target: target, Type: "cgroup", Flags: mountFlags | roFlag(opts), Data: v1MountData(key)})
		default:
			out = append(out, bindMount(m.paths[key], target, opts)...)
		}
		for _, c := range strings.Split(key, ",") {
			if c != name && c != "" && !strings.HasPrefix(c, "name=") && strings.Contains(key, ",") {
				out = append(out, ContainerMount{Target: filepath.Join(CgroupMountPoint, c), Symlink: name})
			}
		}
	}
	if !opts.Writable {
		out = append(out, ContainerMount{Source: "tmpfs", Target: CgroupMountPoint, Type: "tmpfs", Flags: unix.MS_REMOUNT | unix.MS_RDONLY | mountFlags, Data: "mode=755"})
	}
	return out, nil
}

// v1MountData is the option string that mounts an existing v1 hierarchy:
// its controller list, or "none,name=X" for a named one.
func v1MountData(key string) string {
	if strings.HasPrefix(key, "name=") {
		return "none," + key
	}
	return key
}

func (m *Manager) mountPoint(key string) (string, bool) {
	if mnt, ok := m.mounts[key]; ok {
		return mnt, true
	}
	// A manager loaded from an older state: ask the host again.
	own, err := ownCgroups()
	if err != nil {
		return "", false
	}
	hier, err := hierarchies(m.mode, own)
	if err != nil {
		return "", false
	}
	mnt, ok := hier[key]
	return mnt, ok
}
