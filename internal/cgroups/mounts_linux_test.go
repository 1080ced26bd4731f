package cgroups_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// TestContainerMounts checks the description against this host's layout:
// every hierarchy appears under /sys/fs/cgroup, binds point at the
// container's own directories, and everything ends read-only.
func TestContainerMounts(t *testing.T) {
	m := newManager(t)
	for _, ns := range []bool{false, true} {
		got, err := m.ContainerMounts(cgroups.MountOptions{CgroupNS: ns})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatal("no mounts")
		}
		if m.Mode() == cgroups.Unified {
			want := "cgroup2"
			if !ns {
				want = "bind"
			}
			if got[0].Type != want || got[0].Target != "/sys/fs/cgroup" {
				t.Errorf("cgroupns=%v: first mount %+v, want %s at /sys/fs/cgroup", ns, got[0], want)
			}
			continue
		}
		if got[0].Type != "tmpfs" || got[0].Target != "/sys/fs/cgroup" {
			t.Errorf("cgroupns=%v: first mount %+v, want the tmpfs", ns, got[0])
		}
		last := got[len(got)-1]
		if last.Flags&unix.MS_REMOUNT == 0 || last.Flags&unix.MS_RDONLY == 0 {
			t.Errorf("cgroupns=%v: last step %+v, want the read-only remount of the tmpfs", ns, last)
		}
		targets := map[string]cgroups.ContainerMount{}
		for _, cm := range got {
			targets[cm.Target] = cm
		}
		for key, dir := range m.Paths() {
			mnt := filepath.Join("/sys/fs/cgroup", filepath.Base(filepath.Dir(filepath.Dir(dir))))
			cm, ok := targets[mnt]
			if !ok {
				t.Errorf("cgroupns=%v: hierarchy %q has no mount at %s", ns, key, mnt)
				continue
			}
			if !ns && cm.Source != dir {
				t.Errorf("cgroupns=%v: %s binds %s, want the container's %s", ns, mnt, cm.Source, dir)
			}
		}
	}
	rw, err := m.ContainerMounts(cgroups.MountOptions{Writable: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range rw {
		if cm.Flags&unix.MS_RDONLY != 0 {
			t.Errorf("writable mounts include a read-only step %+v", cm)
		}
	}
}
