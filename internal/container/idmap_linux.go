package container

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// preparedMount is a detached mount built here for mounts[index].
type preparedMount struct {
	index int
	mnt   *os.File
}

// prepareMounts builds the idmapped bind mounts. Setting an idmapping
// needs privilege over the source's filesystem, which the runtime has and
// the init (root only in its user namespace) does not; so the runtime
// clones the source, gives the clone its idmapping and flags, and hands it
// to the init, which attaches it.
func (cr *creation) prepareMounts() error {
	if on, err := rootfsIDMap(cr.spec); err != nil {
		return err
	} else if on {
		m := specs.Mount{Source: cr.c.rec.Rootfs, Options: []string{"rbind"}}
		mnt, err := cr.idmappedMount(m, mountopt.Parse(m.Options))
		if err != nil {
			return fmt.Errorf("idmapped rootfs (annotation %s): %w", AnnotationRootfsIDMap, err)
		}
		cr.prepared = append(cr.prepared, preparedMount{index: initproc.RootfsIndex, mnt: mnt})
	}
	for i, m := range cr.spec.Mounts {
		o, ok := idmapped(m)
		if !ok {
			continue
		}
		mnt, err := cr.idmappedMount(m, o)
		if err != nil {
			for _, p := range cr.prepared {
				p.mnt.Close()
			}
			cr.prepared = nil
			return fmt.Errorf("mounts[%d] %s: %w", i, m.Destination, err)
		}
		cr.prepared = append(cr.prepared, preparedMount{index: i, mnt: mnt})
	}
	if err := cr.prepareUnreachable(); err != nil {
		for _, p := range cr.prepared {
			p.mnt.Close()
		}
		cr.prepared = nil
		return err
	}
	return nil
}

// AnnotationRootfsIDMap, set to "true", idmaps the container's rootfs
// with its user namespace's mappings (mount_setattr MOUNT_ATTR_IDMAP), so
// a rootfs owned by host root appears owned by the container's root
// without a chown of every file. The spec has no field for it; crun and
// runc read their own annotations for such extensions.
const AnnotationRootfsIDMap = "org.pelagos.rootfs.idmap"

// rootfsIDMap reports whether the config asks for an idmapped rootfs, and
// refuses the request where it cannot mean anything.
func rootfsIDMap(s *specs.Spec) (bool, error) {
	v, ok := s.Annotations[AnnotationRootfsIDMap]
	if !ok || v == "false" {
		return false, nil
	}
	if v != "true" {
		return false, fmt.Errorf("annotation %s: %q, want \"true\" or \"false\"", AnnotationRootfsIDMap, v)
	}
	if s.Linux == nil || len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0 {
		return false, fmt.Errorf("annotation %s: an idmapped rootfs needs a user namespace with uid and gid mappings", AnnotationRootfsIDMap)
	}
	return true, nil
}

func (cr *creation) idmappedMount(m specs.Mount, o mountopt.Options) (*os.File, error) {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(cr.c.rec.Bundle, src)
	}
	userns, err := cr.mappingNamespace(m)
	if err != nil {
		return nil, err
	}
	defer userns.Close()
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.Flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: src, Err: err}
	}
	mnt := os.NewFile(uintptr(fd), "idmapped:"+src)
	setFlags := uint(unix.AT_EMPTY_PATH)
	if o.RecursiveIDMap {
		setFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", setFlags, &attr); err != nil {
		mnt.Close()
		return nil, fmt.Errorf("idmap (the filesystem of %s may not support idmapped mounts): %w", src, os.NewSyscallError("mount_setattr", err))
	}
	if err := setMountFlags(fd, o); err != nil {
		mnt.Close()
		return nil, err
	}
	return mnt, nil
}

// setMountFlags applies the per-mount and recursive attributes the options
// ask for to a detached mount.
func setMountFlags(fd int, o mountopt.Options) error {
	pairs := []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
	}
	var set uint64
	for _, p := range pairs {
		if o.Flags&p.ms != 0 {
			set |= p.attr
		}
	}
	apply := func(set, clr uint64, flags uint) error {
		if set == 0 && clr == 0 {
			return nil
		}
		attr := unix.MountAttr{Attr_set: set, Attr_clr: clr}
		return os.NewSyscallError("mount_setattr", unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|flags, &attr))
	}
	if err := apply(set, 0, 0); err != nil {
		return err
	}
	return apply(o.AttrSet, o.AttrClr, unix.AT_RECURSIVE)
}

// mappingNamespace returns a user namespace whose mapping is the mount's
// own uidMappings/gidMappings, or else the container's.
func (cr *creation) mappingNamespace(m specs.Mount) (*os.File, error) {
	if len(m.UIDMappings) == 0 {
		return os.Open(fmt.Sprintf("/proc/%d/ns/user", cr.proc.Pid))
	}
	return holdUserNamespace(m.UIDMappings, m.GIDMappings)
}

// holdUserNamespace creates a user namespace with the given mappings and
// returns a handle on it: a short-lived child of ours holds it while the
// handle is opened.
func holdUserNamespace(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	conv := func(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
		var out []syscall.SysProcIDMap
		for _, m := range ms {
			out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
		}
		return out
	}
	// Our own binary as a holder (initproc.Dispatch) blocks on its stdin
	// until we close it, after opening the handle.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	cmd := exec.Command("/proc/self/exe", initproc.UserNSHolderArg)
	cmd.Stdin = r
	cmd.Env = []string{}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER,
		UidMappings: conv(uids), GidMappings: conv(gids),
	}
	err = cmd.Start()
	r.Close()
	if err != nil {
		return nil, fmt.Errorf("user namespace for the mount's mappings: %w", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	return os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
}

// needsPrepared reports whether prepareMounts will make any mount for
// this config (which only the Go init takes).
func (cr *creation) needsPrepared() bool {
	if on, err := rootfsIDMap(cr.spec); err != nil || on {
		return true
	}
	for _, m := range cr.spec.Mounts {
		if _, ok := idmapped(m); ok {
			return true
		}
	}
	return false
}

// idmapped reports whether mount m is an idmapped mount the runtime
// prepares, with its parsed options.
func idmapped(m specs.Mount) (mountopt.Options, bool) {
	o := mountopt.Parse(m.Options)
	return o, o.IDMap || len(m.UIDMappings) > 0
}
