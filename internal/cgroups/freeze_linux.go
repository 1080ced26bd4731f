package cgroups

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// FreezerState is what Freeze and Thaw change.
type FreezerState string

const (
	// Thawed processes run.
	Thawed FreezerState = "THAWED"
	// Frozen processes are stopped until thawed.
	Frozen FreezerState = "FROZEN"
)

// freezeWait bounds how long Freeze waits for every task to stop.
const freezeWait = 10 * time.Second

// freezer returns the directory whose freezer the manager uses: the v1
// freezer hierarchy, or the cgroup2 tree (cgroup.freeze) on v2 and on a
// hybrid host without a v1 freezer.
func (m *Manager) freezer() (dir string, v2 bool, err error) {
	if m.mode == Legacy {
		if d, ok := m.Path("freezer"); ok {
			return d, false, nil
		}
	}
	if d, ok := m.Path(""); ok && exists(d, "cgroup.freeze") {
		return d, true, nil
	}
	return "", false, fmt.Errorf("no freezer for this cgroup: %w", ErrNotSupported)
}

// Freeze stops every process in the cgroup and returns once the kernel
// reports all of them frozen (not just asked to freeze). If that does not
// happen within a bounded time the cgroup is thawed again and an error
// returned, so a failed pause never leaves a half-frozen container.
func (m *Manager) Freeze() error {
	dir, v2, err := m.freezer()
	if err != nil {
		return err
	}
	if v2 {
		err = freezeV2(dir)
	} else {
		err = freezeV1(dir)
	}
	if err != nil {
		_ = m.Thaw()
		return fmt.Errorf("freeze %s: %w", dir, err)
	}
	return nil
}

// Thaw lets the processes of a frozen cgroup run again.
func (m *Manager) Thaw() error {
	dir, v2, err := m.freezer()
	if err != nil {
		return err
	}
	if v2 {
		if err := writeFile(dir, "cgroup.freeze", "0"); err != nil {
			return err
		}
		return waitEvents(dir, "frozen", "0")
	}
	return writeFile(dir, "freezer.state", string(Thawed))
}

// FreezerState reports whether the cgroup is frozen. A v1 cgroup still
// FREEZING reads as Thawed: its processes may still run.
func (m *Manager) FreezerState() (FreezerState, error) {
	dir, v2, err := m.freezer()
	if err != nil {
		return "", err
	}
	if v2 {
		s, err := readFile(dir, "cgroup.freeze")
		if err != nil {
			return "", err
		}
		if s == "1" {
			return Frozen, nil
		}
		return Thawed, nil
	}
	s, err := readFile(dir, "freezer.state")
	if err != nil {
		return "", err
	}
	if s == string(Frozen) {
		return Frozen, nil
	}
	return Thawed, nil
}

// freezeV1 asks the v1 freezer to freeze and waits for FROZEN. A task in
// an uninterruptible sleep (vfork, a page fault on a slow filesystem) can
// keep the cgroup FREEZING; thawing and asking again unsticks it, as runc
// found.
func freezeV1(dir string) error {
	deadline := time.Now().Add(freezeWait)
	for attempt := 0; ; attempt++ {
		if err := writeFile(dir, "freezer.state", string(Frozen)); err != nil {
			return err
		}
		for i := 0; i < 100; i++ {
			s, err := readFile(dir, "freezer.state")
			if err != nil {
				return err
			}
			if s == string(Frozen) {
				return nil
			}
			time.Sleep(time.Duration(min(i+1, 10)) * time.Millisecond)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still FREEZING after %v", freezeWait)
		}
		if err := writeFile(dir, "freezer.state", string(Thawed)); err != nil {
			return err
		}
	}
}

func freezeV2(dir string) error {
	if err := writeFile(dir, "cgroup.freeze", "1"); err != nil {
		return err
	}
	return waitEvents(dir, "frozen", "1")
}

// waitEvents waits until cgroup.events has "key value". The kernel updates
// the file once the last task has reached the state.
func waitEvents(dir, key, value string) error {
	deadline := time.Now().Add(freezeWait)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		s, err := readFile(dir, "cgroup.events")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(s, "\n") {
			if line == key+" "+value {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup.events never showed %q within %v", key+" "+value, freezeWait)
		}
		time.Sleep(delay)
	}
}

// Kill sends sig to every process in the cgroup and its children, as
// `kill --all` does. SIGKILL goes through cgroup.kill where the kernel has
// it (5.14+, also in the cgroup2 tree of a hybrid host), which reaches
// processes forked while the signal is delivered. Other signals are sent
// to each process with the cgroup frozen, so that none forks in between.
func (m *Manager) Kill(sig unix.Signal) error {
	if d, ok := m.Path(""); ok && sig == unix.SIGKILL && exists(d, "cgroup.kill") {
		if err := writeFile(d, "cgroup.kill", "1"); err == nil {
			return nil
		}
	}
	// Freeze for the duration unless the container is paused already, in
	// which case it stays paused.
	frozen := false
	if st, err := m.FreezerState(); err == nil && st == Thawed {
		frozen = m.Freeze() == nil
	}
	pids, err := m.Pids()
	if err == nil {
		for _, p := range pids {
			if kerr := unix.Kill(p, sig); kerr != nil && kerr != unix.ESRCH && err == nil {
				err = fmt.Errorf("signal %d: %w", p, kerr)
			}
		}
	}
	if frozen {
		if terr := m.Thaw(); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}
