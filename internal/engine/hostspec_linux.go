package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// hostSpec applies c's HostOptions to its generated spec s: namespaces
// shared with the host or another container, devices, sysctls, the finer
// cgroup knobs and extra groups. root is the mounted rootfs (groups are
// resolved in the image's /etc/group).
func (e *Engine) hostSpec(ctx context.Context, c *Container, s *specs.Spec, root *os.File) error {
	steps := []func(context.Context, *Container, *specs.Spec, *os.File) error{
		e.namespaceModes, devicesSpec, cgroupKnobsSpec, groupAddSpec, e.usernsSpec,
	}
	for _, step := range steps {
		if err := step(ctx, c, s, root); err != nil {
			return err
		}
	}
	return nil
}

// namespaceModes applies --pid, --ipc, --uts and --cgroupns: "host"
// leaves the namespace out (the container keeps ours), "container:NAME"
// joins that running container's.
func (e *Engine) namespaceModes(ctx context.Context, c *Container, s *specs.Spec, _ *os.File) error {
	hc := &c.HostConfig
	modes := []struct {
		typ  specs.LinuxNamespaceType
		mode string
	}{
		{specs.PIDNamespace, hc.PidMode}, {specs.IPCNamespace, hc.IpcMode},
		{specs.UTSNamespace, hc.UTSMode}, {specs.CgroupNamespace, hc.CgroupnsMode},
	}
	for _, m := range modes {
		i := slices.IndexFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == m.typ })
		if i < 0 {
			continue
		}
		switch ref, joins := strings.CutPrefix(m.mode, modeContainer); {
		case m.mode == modeHostNS:
			s.Linux.Namespaces = slices.Delete(s.Linux.Namespaces, i, i+1)
		case joins:
			pid, err := e.donorPid(ctx, c, ref, m.typ)
			if err != nil {
				return err
			}
			s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, nsFile(m.typ))
		}
	}
	if hc.UTSMode == modeHostNS {
		s.Hostname = "" // the host's, which the container cannot change
	}
	return e.shmSpec(ctx, c, s)
}

// nsFile is the name of a namespace type under /proc/PID/ns.
func nsFile(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "net"
	}
	return string(t)
}

// donorPid is the init pid of the running container ref whose namespace
// of type t c joins. An IPC namespace is shared only by a container that
// offered it (--ipc shareable), as docker requires.
func (e *Engine) donorPid(ctx context.Context, c *Container, ref string, t specs.LinuxNamespaceType) (int, error) {
	other, err := e.Get(ctx, ref)
	if err != nil {
		return 0, err
	}
	if other.ID == c.ID {
		return 0, invalid("cannot join the %s namespace of the container itself", t)
	}
	// The runtime's view, not only the record's: a pid of a process that
	// died may name another one by now.
	if !other.State.Running || other.State.Pid == 0 || !e.runtimeAlive(other) {
		return 0, errorf(ErrState, "cannot join %s namespace of a non running container: %s", t, other.Name)
	}
	if t == specs.IPCNamespace && other.HostConfig.IpcMode != ipcShareable {
		return 0, errorf(ErrState, "cannot join IPC of a non-shareable container %s (hint: run it with --ipc shareable)", other.Name)
	}
	return other.State.Pid, nil
}

// shmSpec gives /dev/shm its source per --ipc: host binds the host's;
// shareable binds a tmpfs mounted in the container's directory on the
// host, which container:NAME binds too (its POSIX shared memory lives
// there: a mount in the donor's own mount namespace cannot be bound from
// another one); none has none; private keeps the spec's tmpfs.
func (e *Engine) shmSpec(ctx context.Context, c *Container, s *specs.Spec) error {
	mode := c.HostConfig.IpcMode
	i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/dev/shm" && m.Type == "tmpfs" && m.Source == "shm" })
	if i < 0 {
		return nil // a user mount replaced it
	}
	switch ref, joins := strings.CutPrefix(mode, modeContainer); {
	case mode == ipcNone:
		s.Mounts = slices.Delete(s.Mounts, i, i+1)
	case mode == modeHostNS:
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"}}
	case mode == ipcShareable:
		if err := mountShm(c); err != nil {
			return err
		}
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shmDir(c), Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"}}
	case joins:
		other, err := e.Get(ctx, ref)
		if err != nil {
			return err
		}
		if _, err := e.donorPid(ctx, c, ref, specs.IPCNamespace); err != nil {
			return err
		}
		s.Mounts[i] = specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shmDir(other), Options: []string{"rbind", "rprivate", "nosuid", "nodev", "noexec"}}
	}
	return nil
}

// shmDir is where a shareable container's /dev/shm is mounted on the
// host.
func shmDir(c *Container) string { return filepath.Join(c.dir, "shm") }

// mountShm mounts a shareable container's /dev/shm tmpfs on the host.
// It is mounted only while the rootfs is (Mounted is recorded), so the
// teardown that unmounts the rootfs unmounts it too (unmountShm).
func mountShm(c *Container) error {
	dir := shmDir(c)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	size := c.HostConfig.ShmSize
	if size <= 0 {
		size = defaultShmSize
	}
	unmountShm(c)
	data := "mode=1777,size=" + strconv.FormatInt(size, 10)
	if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, data); err != nil {
		return fmt.Errorf("mount /dev/shm of a shareable container: %w", os.NewSyscallError("mount", err))
	}
	return nil
}

// unmountShm unmounts what mountShm mounted, if anything (every layer:
// a start killed between two mounts may have stacked them). It stops at
// the first error: EINVAL (not a mount point) or ENOENT (never made).
func unmountShm(c *Container) {
	for i := 0; i < 8; i++ {
		if unix.Unmount(shmDir(c), unix.MNT_DETACH) != nil {
			return
		}
	}
}

// devicesSpec adds --device nodes (created in the container's /dev, with
// a cgroup rule of the asked permissions), --device-cgroup-rule and
// --sysctl.
func devicesSpec(_ context.Context, c *Container, s *specs.Spec, _ *os.File) error {
	hc := &c.HostConfig
	r := s.Linux.Resources
	for _, d := range hc.Devices {
		devs, err := hostDevices(d)
		if err != nil {
			return err
		}
		for _, dev := range devs {
			s.Linux.Devices = append(s.Linux.Devices, dev)
			major, minor := dev.Major, dev.Minor
			r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: dev.Type, Major: &major, Minor: &minor, Access: d.CgroupPermissions})
		}
	}
	for _, rule := range hc.DeviceCgroupRules {
		dr, err := ParseDeviceCgroupRule(rule)
		if err != nil {
			return err
		}
		r.Devices = append(r.Devices, dr)
	}
	if len(hc.Sysctls) > 0 {
		s.Linux.Sysctl = map[string]string{}
		for k, v := range hc.Sysctls {
			s.Linux.Sysctl[k] = v
		}
	}
	return nil
}

// cgroupKnobsSpec maps --cpu-shares, --cpuset-cpus, --cpuset-mems,
// --memory-reservation, --oom-kill-disable and --oom-score-adj.
func cgroupKnobsSpec(_ context.Context, c *Container, s *specs.Spec, _ *os.File) error {
	hc := &c.HostConfig
	r := s.Linux.Resources
	if hc.CPUShares > 0 || hc.CpusetCpus != "" || hc.CpusetMems != "" {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if hc.CPUShares > 0 {
			sh := uint64(hc.CPUShares)
			r.CPU.Shares = &sh
		}
		r.CPU.Cpus, r.CPU.Mems = hc.CpusetCpus, hc.CpusetMems
	}
	if hc.MemoryReservation > 0 || (hc.OomKillDisable != nil && *hc.OomKillDisable) {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if hc.MemoryReservation > 0 {
			res := hc.MemoryReservation
			r.Memory.Reservation = &res
		}
		if hc.OomKillDisable != nil && *hc.OomKillDisable {
			t := true
			r.Memory.DisableOOMKiller = &t
		}
	}
	// Only an explicit value: lowering the score below ours needs
	// CAP_SYS_RESOURCE, and 0 would lower a caller's positive one.
	if hc.OomScoreAdj != 0 {
		adj := hc.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	return nil
}

// groupAddSpec adds --group-add groups (names resolved in the image's
// /etc/group, through root).
func groupAddSpec(_ context.Context, c *Container, s *specs.Spec, root *os.File) error {
	if len(c.HostConfig.GroupAdd) == 0 {
		return nil
	}
	groups, err := readEtc(root, "/etc/group")
	if err != nil {
		return err
	}
	for _, g := range c.HostConfig.GroupAdd {
		gid, ok := lookupGroup(groups, g)
		if !ok {
			return invalid("Unable to find group %s: no matching entries in group file", g)
		}
		if !slices.Contains(s.Process.User.AdditionalGids, gid) {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, gid)
		}
	}
	return nil
}

// defaultCgroupnsMode is docker's default --cgroupns: a cgroup namespace
// of its own on a cgroup v2 host, the host's on a v1 or hybrid one, where
// docker never changed it (tools there find their container in the full
// path /proc/self/cgroup shows).
func defaultCgroupnsMode() string {
	if mode, err := cgroups.DetectMode(); err == nil && mode == cgroups.Unified {
		return modePrivateNS
	}
	return modeHostNS
}
