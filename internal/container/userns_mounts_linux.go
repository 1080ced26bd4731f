package container

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/mountopt"
	"github.com/pelagos-go/pelagos/internal/userns"
)

// prepareUnreachable makes, for an init in a user namespace of its own,
// the mounts it would otherwise make by path: the rootfs and every bind
// mount. Root only in its namespace, the init has no access to host
// directories owned by host root, such as a 0700 data root that holds a
// container's rootfs, hosts file and volumes; the runtime, root in the
// host's namespace, clones them before the init needs them (as runc 1.2
// does) and widens no permission on the host. Idmapped mounts were
// prepared already; a runtime that is not root, or is itself in a user
// namespace (rootless), has no more access than its container and leaves
// the init to it.
func (cr *creation) prepareUnreachable() error {
	if !newNamespace(cr.spec, specs.UserNamespace) || !newNamespace(cr.spec, specs.MountNamespace) || os.Geteuid() != 0 || userns.Inside() {
		return nil
	}
	done := map[int]bool{}
	for _, p := range cr.prepared {
		done[p.index] = true
	}
	if err := cr.prepareRootfs(done[initproc.RootfsIndex]); err != nil {
		return err
	}
	for i, m := range cr.spec.Mounts {
		o := mountopt.Parse(m.Options)
		if done[i] || !(o.IsBind() || m.Type == "bind") || m.Source == "" {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(cr.c.rec.Bundle, src)
		}
		mnt, err := initproc.CloneBind(src, o)
		if err != nil {
			return fmt.Errorf("mounts[%d] %s on %s: %w", i, m.Source, m.Destination, err)
		}
		cr.prepared = append(cr.prepared, preparedMount{index: i, mnt: mnt})
	}
	return nil
}

// prepareRootfs clones the rootfs, as the init's rbind would (unless an
// idmapped clone was made), and opens the rootfs directory inside the
// init's mount namespace, through its /proc/PID/root, for the init to
// attach the clone on.
func (cr *creation) prepareRootfs(cloned bool) error {
	if !cloned {
		mnt, err := initproc.CloneBind(cr.c.rec.Rootfs, mountopt.Options{Flags: unix.MS_BIND | unix.MS_REC})
		if err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
		cr.prepared = append(cr.prepared, preparedMount{index: initproc.RootfsIndex, mnt: mnt})
	}
	p := fmt.Sprintf("/proc/%d/root%s", cr.proc.Pid, cr.c.rec.Rootfs)
	target, err := os.OpenFile(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("rootfs in the init's mount namespace: %w", err)
	}
	cr.prepared = append(cr.prepared, preparedMount{index: initproc.RootfsTargetIndex, mnt: target})
	return nil
}
