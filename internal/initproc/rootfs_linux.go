package initproc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/hooks"
	"github.com/pelagos-go/pelagos/internal/inroot"
	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// prepareRoot stops mount events from reaching the host, then makes the
// rootfs a mount point of its own (pivot_root needs one) and opens the
// handle every later step resolves paths through. rootfsPropagation is
// applied to the new root after pivot_root: applied to the host's tree
// first, "unbindable" would forbid the bind and "shared" would make
// pivot_root fail.
//
// Without a mount namespace of its own the container shares the runtime's:
// the host's propagation is left alone, the rootfs bind is made private so
// nothing we mount under it propagates, and delete detaches it again.
func prepareRoot(s *initState) error {
	if s.b.Mode != ModeCreate {
		return nil
	}
	if s.ownsMounts() {
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make / a slave mount: %w", err)
		}
	}
	if mnt := s.prepared[RootfsIndex]; mnt != nil {
		if err := s.attachRootfs(mnt); err != nil {
			return err
		}
	} else if err := unix.Mount(s.b.Rootfs, s.b.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s: %w", s.b.Rootfs, err)
	}
	if !s.ownsMounts() {
		s.hostBind = true
		if err := unix.Mount("", s.b.Rootfs, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make rootfs private: %w", err)
		}
	}
	if s.root != nil {
		return nil
	}
	var err error
	s.root, err = os.OpenFile(s.b.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	return err
}

// attachRootfs attaches the runtime's clone of the rootfs (idmapped, or
// made because the init may not reach the rootfs by path) where the bind
// would be: on the handle the runtime opened on the rootfs in our mount
// namespace, else on the path. The clone's own handle is then the root.
func (s *initState) attachRootfs(mnt *os.File) error {
	delete(s.prepared, RootfsIndex)
	target, flags := s.b.Rootfs, unix.MOVE_MOUNT_F_EMPTY_PATH
	tfd := unix.AT_FDCWD
	if t := s.prepared[RootfsTargetIndex]; t != nil {
		defer t.Close()
		delete(s.prepared, RootfsTargetIndex)
		target, tfd, flags = "", int(t.Fd()), flags|unix.MOVE_MOUNT_T_EMPTY_PATH
	}
	err := unix.MoveMount(int(mnt.Fd()), "", tfd, target, flags)
	if err != nil {
		mnt.Close()
		return fmt.Errorf("attach the prepared rootfs at %s: %w", s.b.Rootfs, os.NewSyscallError("move_mount", err))
	}
	s.root = mnt
	return nil
}

func mountAll(s *initState) error {
	for i, m := range s.b.Spec.Mounts {
		if mnt := s.prepared[i]; mnt != nil {
			err := s.attachPrepared(m, mnt)
			mnt.Close()
			if err != nil {
				return fmt.Errorf("mounts[%d] %s on %s: %w", i, mountSource(m), m.Destination, err)
			}
			continue
		}
		if err := s.mountOne(m); err != nil {
			return fmt.Errorf("mounts[%d] %s on %s: %w", i, mountSource(m), m.Destination, err)
		}
	}
	return nil
}

func mountSource(m specs.Mount) string {
	if m.Source != "" {
		return m.Source
	}
	return m.Type
}

// procAllowed are the /proc files a bind mount may cover (as in runc):
// anything else under /proc could hide or redirect kernel interfaces the
// runtime and the container rely on.
var procAllowed = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true, "/proc/net/dev": true,
	"/proc/sys/kernel/ns_last_pid": true,
}

func (s *initState) mountOne(m specs.Mount) error {
	dest := filepath.Clean("/" + m.Destination)
	o := mountopt.Parse(m.Options)
	bind := o.IsBind() || m.Type == "bind"
	if err := s.checkDestination(m, dest, bind); err != nil {
		return err
	}
	switch {
	case bind:
		return s.mountBind(m, dest, o)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		return s.mountCgroup(dest, o)
	default:
		return s.mountFS(m, dest, o)
	}
}

// checkDestination refuses destinations that would subvert /proc or /sys.
func (s *initState) checkDestination(m specs.Mount, dest string, bind bool) error {
	if dest == "/proc" || dest == "/sys" {
		link, err := inroot.IsSymlink(s.root, dest)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if link {
			return fmt.Errorf("%s is a symlink in the rootfs: refusing to mount over it", dest)
		}
	}
	if strings.HasPrefix(dest, "/proc/") && bind && !procAllowed[dest] {
		if src, err := s.bindSource(m); err == nil && isProcfs(src) {
			return nil
		}
		return fmt.Errorf("mounting over %s is not allowed", dest)
	}
	return nil
}

func isProcfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// bindSource is the host path of a bind mount's source; a relative source
// is relative to the bundle.
func (s *initState) bindSource(m specs.Mount) (string, error) {
	src := m.Source
	if src == "" {
		return "", errors.New("bind mount without a source")
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(s.b.Bundle, src)
	}
	return src, nil
}

func (s *initState) mountBind(m specs.Mount, dest string, o mountopt.Options) error {
	src, err := s.bindSource(m)
	if err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	target, err := s.mkTarget(dest, st.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	tree, err := CloneBind(src, o)
	if err != nil {
		return err
	}
	defer tree.Close()
	if err := attach(tree, target); err != nil {
		return err
	}
	return applyPropagation(tree, o)
}

func (s *initState) mountFS(m specs.Mount, dest string, o mountopt.Options) error {
	target, err := s.mkTarget(dest, true)
	if err != nil {
		return err
	}
	defer target.Close()
	mnt, err := newFS(m.Type, m.Source, o)
	if errors.Is(err, unix.EPERM) && m.Type == "sysfs" && s.userNS {
		// A user namespace without its own network namespace may not
		// mount sysfs: give it the host's, read-only, as runc does.
		return s.mountBind(specs.Mount{Source: "/sys", Destination: dest}, dest,
			mountopt.Parse(append([]string{"rbind", "ro"}, m.Options...)))
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	if o.TmpCopyUp {
		if err := copyTree(target, mnt); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
	}
	if err := setAttr(mnt, o.AttrSet, o.AttrClr, true); err != nil {
		return err
	}
	if err := attach(mnt, target); err != nil {
		return err
	}
	return applyPropagation(mnt, o)
}

// attachPrepared attaches a mount the runtime built (attributes set) at
// the mount's destination.
func (s *initState) attachPrepared(m specs.Mount, mnt *os.File) error {
	dest := filepath.Clean("/" + m.Destination)
	o := mountopt.Parse(m.Options)
	if err := s.checkDestination(m, dest, true); err != nil {
		return err
	}
	st, err := inroot.Fstat(mnt)
	if err != nil {
		return err
	}
	target, err := s.mkTarget(dest, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := attach(mnt, target); err != nil {
		return err
	}
	return applyPropagation(mnt, o)
}

func applyPropagation(mnt *os.File, o mountopt.Options) error {
	for _, p := range o.Propagation {
		if err := setPropagation(mnt, p); err != nil {
			return err
		}
	}
	return nil
}

// mkTarget creates the mount point inside the rootfs (a directory, or an
// empty file for a non-directory source) and returns a handle on it.
func (s *initState) mkTarget(dest string, dir bool) (*os.File, error) {
	if dir {
		return inroot.MkdirAll(s.root, dest, 0o755)
	}
	return inroot.MkFile(s.root, dest, 0o644)
}

// hostCgroupRoot is where the host's cgroup filesystems live.
const hostCgroupRoot = "/sys/fs/cgroup"

// mountCgroup gives the container its view of the cgroup filesystem: the
// cgroup2 tree, or on v1 a tmpfs holding one directory per hierarchy.
// Inside a cgroup namespace fresh cgroup filesystems are mounted (they show
// the container's cgroup as their root); otherwise the container's own
// cgroup directories are bind-mounted.
func (s *initState) mountCgroup(dest string, o mountopt.Options) error {
	target, err := s.mkTarget(dest, true)
	if err != nil {
		return err
	}
	defer target.Close()
	ns := hasNamespace(s.b.Spec, specs.CgroupNamespace)
	if len(s.b.Cgroups) == 0 {
		// No cgroup of its own (rootless, nothing delegated): show the
		// host's tree, read-only, as runc does.
		bind := o
		bind.Flags |= unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY
		return s.mountBind(specs.Mount{Source: hostCgroupRoot, Destination: dest}, dest, bind)
	}
	if len(s.b.Cgroups) == 1 && s.b.Cgroups[0].Name == "" {
		return s.mountHierarchy(s.b.Cgroups[0], target, o, ns)
	}
	// v1: a tmpfs to hold the hierarchies, read-only at the end if asked.
	tmpOpts := o
	tmpOpts.Flags &^= unix.MS_RDONLY
	tmpOpts.Data = "mode=755"
	tmp, err := newFS("tmpfs", "tmpfs", tmpOpts)
	if err != nil {
		return err
	}
	defer tmp.Close()
	if err := attach(tmp, target); err != nil {
		return err
	}
	for _, h := range s.b.Cgroups {
		sub, err := inroot.MkdirAll(s.root, filepath.Join(dest, h.Name), 0o755)
		if err != nil {
			return err
		}
		err = s.mountHierarchy(h, sub, o, ns)
		sub.Close()
		if err != nil {
			return fmt.Errorf("cgroup hierarchy %s: %w", h.Name, err)
		}
		// Co-mounted controllers ("cpu,cpuacct") are reachable by each
		// name, as on the host.
		if strings.Contains(h.Name, ",") {
			for _, c := range strings.Split(h.Name, ",") {
				_ = unix.Symlinkat(h.Name, int(tmp.Fd()), c)
			}
		}
	}
	if o.Flags&unix.MS_RDONLY != 0 {
		return setAttr(tmp, unix.MOUNT_ATTR_RDONLY, 0, false)
	}
	return nil
}

func (s *initState) mountHierarchy(h CgroupHierarchy, target *os.File, o mountopt.Options, ns bool) error {
	var mnt *os.File
	var err error
	if ns {
		opts := o
		opts.Data = h.Options
		mnt, err = newFS(h.Type, h.Type, opts)
	} else {
		mnt, err = cloneTree(unix.AT_FDCWD, h.Dir, false)
		if err == nil {
			err = setAttr(mnt, mountAttrs(o.Flags), 0, false)
		}
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	return attach(mnt, target)
}

// copyTree copies the contents of the directory src into dst (both
// handles), preserving modes, owners and symlinks: the tmpcopyup option.
func copyTree(src, dst *os.File) error {
	from, err := inroot.Open(src, ".", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer from.Close()
	entries, err := from.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := copyEntry(from, dst, e.Name()); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(from.Fd()), &st); err == nil {
		_ = unix.Fchmodat(int(dst.Fd()), ".", st.Mode&0o7777, 0)
		_ = unix.Fchownat(int(dst.Fd()), ".", int(st.Uid), int(st.Gid), 0)
	}
	return nil
}

func copyEntry(from, dst *os.File, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(int(from.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	dfd := int(dst.Fd())
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dfd, name, st.Mode&0o7777); err != nil {
			return err
		}
		sub, err := openBeneath(from, name, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer sub.Close()
		dsub, err := openBeneath(dst, name, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer dsub.Close()
		if err := copyTree(sub, dsub); err != nil {
			return err
		}
	case unix.S_IFLNK:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(from.Fd()), name, buf)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(string(buf[:n]), dfd, name); err != nil {
			return err
		}
	case unix.S_IFREG:
		if err := copyFile(from, dst, name, st.Mode&0o7777); err != nil {
			return err
		}
	default:
		if err := unix.Mknodat(dfd, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	}
	return unix.Fchownat(dfd, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
}

func copyFile(from, dst *os.File, name string, mode uint32) error {
	in, err := openBeneath(from, name, unix.O_RDONLY|unix.O_NOFOLLOW)
	if err != nil {
		return err
	}
	defer in.Close()
	ofd, err := unix.Openat(int(dst.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(ofd), name)
	defer out.Close()
	_, err = out.ReadFrom(in)
	return err
}

// openBeneath opens name directly inside dir, refusing symlinks and "..".
func openBeneath(dir *os.File, name string, flags int) (*os.File, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	fd, err := unix.Openat2(int(dir.Fd()), name, &how)
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

func createCwd(s *initState) error {
	d, err := inroot.MkdirAll(s.root, s.proc.Cwd, 0o755)
	if err != nil {
		return fmt.Errorf("process.cwd %s: %w", s.proc.Cwd, err)
	}
	return d.Close()
}

func createContainerHooks(s *initState) error {
	if s.b.Spec.Hooks == nil {
		return nil
	}
	return hooks.Run(context.Background(), "createContainer", s.b.Spec.Hooks.CreateContainer, s.hookState(specs.StateCreated))
}

func startContainerHooks(s *initState) error {
	if s.b.Spec.Hooks == nil {
		return nil
	}
	return hooks.Run(context.Background(), "startContainer", s.b.Spec.Hooks.StartContainer, s.hookState(specs.StateCreated))
}

func (s *initState) hookState(status specs.ContainerState) *specs.State {
	return &specs.State{
		Version:     specs.Version,
		ID:          s.b.ID,
		Status:      status,
		Pid:         s.b.Pid,
		Bundle:      s.b.Bundle,
		Annotations: s.b.Spec.Annotations,
	}
}

// pivotRoot makes the rootfs the root. The old root is stacked under the
// new one by pivot_root(".", "."), made a slave so unmounting it cannot
// propagate to the host, and detached.
func pivotRoot(s *initState) error {
	if !s.ownsMounts() {
		// pivot_root in a shared mount namespace would change the root
		// of every process in it: confine only ourselves.
		if err := unix.Fchdir(int(s.root.Fd())); err != nil {
			return err
		}
		if err := unix.Chroot("."); err != nil {
			return os.NewSyscallError("chroot", err)
		}
		return s.enterNewRoot()
	}
	if s.b.NoPivot {
		return moveRoot(s)
	}
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	if err := unix.Fchdir(int(s.root.Fd())); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return os.NewSyscallError("pivot_root", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root a slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return s.enterNewRoot()
}

// moveRoot is --no-pivot: move the rootfs over / and chroot into it. The
// host's root stays reachable to anything that escapes the chroot, which is
// why this is not the default.
func moveRoot(s *initState) error {
	if err := unix.Fchdir(int(s.root.Fd())); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return os.NewSyscallError("chroot", err)
	}
	return s.enterNewRoot()
}

func (s *initState) enterNewRoot() error {
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	s.root.Close()
	var err error
	s.root, err = os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if p := s.b.Spec.Linux.RootfsPropagation; p != "" && s.ownsMounts() {
		flag, _ := mountopt.Propagation(p)
		if err := unix.Mount("", "/", "", flag, ""); err != nil {
			return fmt.Errorf("rootfsPropagation %s: %w", p, err)
		}
	}
	return nil
}

// maskPaths covers each masked path (an empty read-only tmpfs over a
// directory, the host's /dev/null over a file) and makes each read-only
// path a read-only bind of itself. Targets are resolved inside the root
// and the /dev/null source is our own handle, so a container that swapped
// a path for a symlink cannot redirect either (CVE-2025-31133).
func maskPaths(s *initState) error {
	l := s.b.Spec.Linux
	for _, p := range l.MaskedPaths {
		if err := s.maskPath(p); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, p := range l.ReadonlyPaths {
		if err := s.readonlyPath(p); err != nil {
			return fmt.Errorf("readonly %s: %w", p, err)
		}
	}
	return nil
}

func (s *initState) maskPath(p string) error {
	target, err := inroot.OpenPath(s.root, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	st, err := inroot.Fstat(target)
	if err != nil {
		return err
	}
	var mnt *os.File
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		mnt, err = newFS("tmpfs", "tmpfs", mountopt.Options{Flags: unix.MS_RDONLY, Data: "size=0,mode=755"})
	} else {
		mnt, err = cloneTree(int(s.devNull.Fd()), "", false)
	}
	if err != nil {
		return err
	}
	defer mnt.Close()
	return attach(mnt, target)
}

func (s *initState) readonlyPath(p string) error {
	target, err := inroot.OpenPath(s.root, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer target.Close()
	mnt, err := cloneTree(int(target.Fd()), "", true)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if err := setAttr(mnt, unix.MOUNT_ATTR_RDONLY, 0, true); err != nil {
		return err
	}
	return attach(mnt, target)
}

func readonlyRoot(s *initState) error {
	if !s.b.Spec.Root.Readonly {
		return nil
	}
	return setAttr(s.root, unix.MOUNT_ATTR_RDONLY, 0, false)
}
