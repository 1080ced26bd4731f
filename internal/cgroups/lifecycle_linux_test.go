package cgroups_test

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// TestBadInputLeavesNothing feeds Set input the host refuses (a device
// that does not exist, unknown unified keys, invalid values) and checks
// that the error is clear and Destroy leaves no directory behind.
func TestBadInputLeavesNothing(t *testing.T) {
	root(t)
	cases := map[string]*specs.LinuxResources{
		"nonexistent block device": {BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{
			{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 250, Minor: 99}, Rate: 1000}}}},
		"unknown unified key":  {Unified: map[string]string{"memory.bogus": "1"}},
		"nonexistent hugepage": {HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}},
		"negative memory":      {Memory: &specs.LinuxMemory{Limit: i64(-5)}},
		"unified traversal":    {Unified: map[string]string{"../../memory.max": "1"}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			parent := fmt.Sprintf("/pelagos-test-cgroups-%d", rand.Int63())
			m, err := cgroups.New(cgroups.Config{Path: parent + "/c"})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Create(); err != nil {
				t.Fatal(err)
			}
			err = m.Set(r)
			if err == nil {
				t.Errorf("Set(%s) succeeded, want an error", name)
			} else {
				t.Logf("error: %v", err)
			}
			destroyAndCheck(t, m)
		})
	}
}

// TestCreateRefusesBusyCgroup: a cgroup that exists and holds processes,
// or is frozen, belongs to someone else; Create must refuse it and a
// Destroy of the refused manager must not touch it.
func TestCreateRefusesBusyCgroup(t *testing.T) {
	owner := newManager(t)
	path := owner.State().Paths
	var cgPath string
	for _, p := range path {
		cgPath = p
		break
	}
	c := startChild(t, owner, "spin")
	c.expect(t, "started")

	intruder := managerAt(t, owner)
	if err := intruder.Create(); !errors.Is(err, cgroups.ErrNotEmpty) {
		t.Errorf("Create on a cgroup with processes = %v, want ErrNotEmpty", err)
	}
	if err := intruder.Destroy(); err != nil {
		t.Errorf("Destroy of the refused manager: %v", err)
	}
	if _, err := os.Stat(cgPath); err != nil {
		t.Errorf("the owner's cgroup %s is gone after the intruder's Destroy: %v", cgPath, err)
	}
	if pids, _ := owner.Pids(); len(pids) != 1 {
		t.Errorf("owner's processes = %v after the intruder's Destroy, want the one child", pids)
	}
}

func TestCreateRefusesFrozenCgroup(t *testing.T) {
	owner := newManager(t)
	if err := owner.Freeze(); err != nil {
		t.Fatal(err)
	}
	intruder := managerAt(t, owner)
	if err := intruder.Create(); !errors.Is(err, cgroups.ErrFrozen) {
		t.Errorf("Create on a frozen cgroup = %v, want ErrFrozen", err)
	}
	if err := owner.Thaw(); err != nil {
		t.Fatal(err)
	}
}

// TestAdoptedCgroupIsKept: an existing empty cgroup may be adopted, but
// Destroy removes only what the manager itself created.
func TestAdoptedCgroupIsKept(t *testing.T) {
	owner := newManager(t)
	adopter := managerAt(t, owner)
	if err := adopter.Create(); err != nil {
		t.Fatal(err)
	}
	if got := adopter.State().Created; len(got) != 0 {
		t.Errorf("adopting manager claims to have created %v", got)
	}
	if err := adopter.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, p := range owner.Paths() {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("adopted cgroup %s removed by a manager that did not create it", p)
		}
	}
}

// managerAt is a second manager for the same cgroup path as m.
func managerAt(t *testing.T, m *cgroups.Manager) *cgroups.Manager {
	t.Helper()
	dir, _ := m.Path("pids")
	if m.Mode() == cgroups.Unified {
		dir, _ = m.Path("")
	}
	mnt := "/sys/fs/cgroup"
	if m.Mode() == cgroups.Legacy {
		mnt += "/pids"
	}
	other, err := cgroups.New(cgroups.Config{Path: dir[len(mnt):]})
	if err != nil {
		t.Fatal(err)
	}
	return other
}

func TestSystemdPathRefused(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd is PID 1 here; this test covers hosts without it")
	}
	_, err := cgroups.New(cgroups.Config{Path: "system.slice:pelagos:abc"})
	if !errors.Is(err, cgroups.ErrNoSystemd) {
		t.Errorf("New with a systemd path on a host without systemd = %v, want ErrNoSystemd", err)
	}
}
