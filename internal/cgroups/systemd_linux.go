package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd driver. As runc's: the container's cgroup is a transient
// scope unit that systemd creates over D-Bus (StartTransientUnit) with the
// init's pid in it and every limit systemd has a property for; then the
// cgroup filesystem driver (v1 or v2) joins the pid in every hierarchy and
// writes every limit at the scope's path exactly as without systemd, for
// what systemd cannot express. Everything else (freeze, kill, stats, OOM
// events, the container's /sys/fs/cgroup) is the filesystem driver's work
// at that path. Delete stops the unit; update sets its properties, then
// writes the files.

// systemdTimeout bounds each conversation with systemd, job included.
const systemdTimeout = 30 * time.Second

// systemdRunning reports whether systemd is the init of this system, as
// sd_booted(3) decides it.
func systemdRunning() error {
	if fi, err := os.Lstat("/run/systemd/system"); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: /run/systemd/system is not a directory, systemd is not the init here", ErrNoSystemd)
	}
	return nil
}

// dialSystemd connects to systemd: over the system bus, or, as root,
// straight to systemd's private socket /run/systemd/private, which works
// without a D-Bus daemon (go-systemd tries them in that order, as runc).
func dialSystemd(ctx context.Context) (*sdbus.Conn, error) {
	c, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoSystemd, err)
	}
	return c, nil
}

// newSystemd resolves a systemd cgroup path: the scope, and its directory
// in every hierarchy. Nothing is created until StartScope.
func newSystemd(cfg Config, mode Mode, inner string) (*Manager, error) {
	if !IsSystemdPath(inner) {
		return nil, fmt.Errorf("cgroupsPath %q: the systemd cgroup driver wants slice:prefix:name", inner)
	}
	scope, dir, err := ParseSystemdPath(inner)
	if err != nil {
		return nil, err
	}
	extra, err := AnnotationProperties(cfg.Annotations)
	if err != nil {
		return nil, err
	}
	if err := systemdRunning(); err != nil {
		return nil, fmt.Errorf("cgroupsPath %q: %w", inner, err)
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	hier, err := hierarchies(mode, own)
	if err != nil {
		return nil, err
	}
	m := &Manager{mode: mode, paths: map[string]string{}, mounts: hier, scope: &scope, extra: extra}
	for key, mnt := range hier {
		m.paths[key] = filepath.Join(mnt, dir)
	}
	return m, nil
}

// Systemd reports whether systemd owns this manager's cgroup: StartScope
// then takes the place of Create, Apply and Set.
func (m *Manager) Systemd() bool { return m.scope != nil }

// StartScope creates the container's scope with pid in it and applies r:
// systemd first, with the properties it understands, then the cgroup files
// for everything (as runc does; writing what systemd already wrote is
// harmless, and the files are what the non-systemd driver is tested on).
// On failure the unit is stopped and nothing is left.
func (m *Manager) StartScope(ctx context.Context, desc string, pid int, r *specs.LinuxResources) error {
	if m.scope == nil {
		return errors.New("cgroup: StartScope without a systemd scope")
	}
	props, err := scopeProperties(*m.scope, desc, pid, m.mode, r, m.extra)
	if err != nil {
		return err
	}
	if err := m.startUnit(ctx, props); err != nil {
		return err
	}
	m.started = true
	if err := m.joinScope(pid, r); err != nil {
		_ = m.Destroy()
		return err
	}
	return nil
}

// startUnit asks systemd for the scope and waits for the job's result. A
// unit of the same name left failed by an earlier container is reset and
// the start tried once more, as runc does; an active one is refused.
func (m *Manager) startUnit(ctx context.Context, props []sdbus.Property) error {
	return withSystemd(ctx, func(ctx context.Context, conn *sdbus.Conn) error {
		unit := m.scope.Unit
		start := func(ch chan<- string) error {
			_, err := conn.StartTransientUnitContext(ctx, unit, "replace", props, ch)
			return err
		}
		err := runJob(ctx, unit, start)
		if isDBusError(err, "org.freedesktop.systemd1.UnitExists") {
			_ = conn.ResetFailedUnitContext(ctx, unit)
			err = runJob(ctx, unit, start)
		}
		if err != nil {
			return fmt.Errorf("start systemd unit %s: %w", unit, err)
		}
		return nil
	})
}

// withSystemd runs f with a connection to systemd, both bounded by
// systemdTimeout.
func withSystemd(ctx context.Context, f func(context.Context, *sdbus.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, systemdTimeout)
	defer cancel()
	conn, err := dialSystemd(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return f(ctx, conn)
}

// joinScope makes the directories systemd did not (on v1, the hierarchies
// systemd does not manage), joins pid everywhere and writes the limits.
func (m *Manager) joinScope(pid int, r *specs.LinuxResources) error {
	for _, key := range sortedKeys(m.paths) {
		made, _, err := mkdirAll(m.paths[key])
		m.created = append(m.created, made...)
		if err != nil {
			return err
		}
		if strings.Contains(","+key+",", ",cpuset,") {
			if err := initCpuset(m.paths[key]); err != nil {
				return err
			}
		}
	}
	if err := m.Apply(pid); err != nil {
		return err
	}
	return m.Set(r)
}

// runJob starts a systemd job with start and waits until systemd reports
// it removed. A job that ends in anything but "done" is an error.
func runJob(ctx context.Context, unit string, start func(chan<- string) error) error {
	ch := make(chan string, 1)
	if err := start(ch); err != nil {
		return err
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("job for %s ended %q", unit, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("job for %s: %w", unit, ctx.Err())
	}
}

func isDBusError(err error, name string) bool {
	var e dbus.Error
	return errors.As(err, &e) && e.Name == name
}

// stopScope stops the unit (systemd kills what is left in it and removes
// its cgroup) and clears a failed state so that the name can be reused.
// A unit that is already gone is not an error: an empty scope is stopped
// and collected by systemd on its own as soon as its last process exits.
func (m *Manager) stopScope() error {
	return withSystemd(context.Background(), func(ctx context.Context, conn *sdbus.Conn) error {
		unit := m.scope.Unit
		err := runJob(ctx, unit, func(ch chan<- string) error {
			_, err := conn.StopUnitContext(ctx, unit, "replace", ch)
			return err
		})
		if err != nil && !isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
			return fmt.Errorf("stop systemd unit %s: %w", unit, err)
		}
		_ = conn.ResetFailedUnitContext(ctx, unit)
		return nil
	})
}

// updateScope gives systemd the new values of what it has properties for,
// so that systemd (on a reload, say) never puts old limits back.
func (m *Manager) updateScope(r *specs.LinuxResources) error {
	props, err := resourceProperties(m.mode, r)
	if err != nil || len(props) == 0 {
		return err
	}
	return withSystemd(context.Background(), func(ctx context.Context, conn *sdbus.Conn) error {
		if err := conn.SetUnitPropertiesContext(ctx, m.scope.Unit, true, props...); err != nil {
			return fmt.Errorf("set properties of systemd unit %s: %w", m.scope.Unit, err)
		}
		return nil
	})
}

// destroyScope removes a systemd container's cgroup: what is still inside
// is killed and waited for first (a stopped scope's processes would get
// SIGTERM and TimeoutStopSec, 90 s by default, before SIGKILL), then the
// unit is stopped, which removes the directories systemd made, and last the
// directories joinScope made itself.
func (m *Manager) destroyScope() error {
	if !m.started {
		// The unit was never ours (a create that failed or was killed
		// before systemd started it; the name may belong to another
		// container). An init that systemd did put in a scope whose
		// start was not recorded leaves it empty when it dies, and
		// systemd collects an empty scope by itself.
		return m.removeCreated()
	}
	if err := m.killAndWait(); err != nil {
		return err
	}
	if err := m.stopScope(); err != nil && (!errors.Is(err, ErrNoSystemd) || m.anyPathExists()) {
		// Without systemd, a scope whose directories never came to be
		// (a create killed before it started the unit) has nothing to
		// stop; anything else must not be forgotten.
		return err
	}
	if err := m.removeCreated(); err != nil {
		return err
	}
	m.started = false
	// What systemd made is gone with the unit; a directory that is still
	// there (a stop that raced with a sub-cgroup the container made) is
	// the container's and goes too.
	for _, key := range sortedKeys(m.paths) {
		if err := removeCgroup(m.paths[key]); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) anyPathExists() bool {
	for _, p := range m.paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
