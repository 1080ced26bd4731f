package cgroups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

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
//
// The D-Bus conversations happen in a helper, pelagos-systemd (cmd/
// pelagos-systemd, package internal/systemd): linking a D-Bus client (and
// with it package net) made every process of pelagos-runc map ~650 KiB
// more, whatever its cgroup driver.

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
	extra := map[string]string{}
	for k, v := range cfg.Annotations {
		if strings.HasPrefix(k, AnnotationPrefix) {
			extra[k] = v
		}
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
	if err := m.callHelper(ctx, SystemdRequest{
		Op: "start", Scope: *m.scope, Description: desc, Pid: pid, Mode: m.mode, Resources: r, Annotations: m.extra,
	}); err != nil {
		return err
	}
	m.started = true
	if err := m.joinScope(pid, r); err != nil {
		_ = m.Destroy()
		return err
	}
	return nil
}

// SystemdRequest is what the runtime asks of pelagos-systemd, as JSON on
// its stdin: start the scope (Op "start"), stop it ("stop"), or set the
// properties for Resources ("update").
type SystemdRequest struct {
	Op          string                `json:"op"`
	Scope       Scope                 `json:"scope"`
	Description string                `json:"description,omitempty"`
	Pid         int                   `json:"pid,omitempty"`
	Mode        Mode                  `json:"mode"`
	Resources   *specs.LinuxResources `json:"resources,omitempty"`
	Annotations map[string]string     `json:"annotations,omitempty"`
}

// SystemdUnreachable is pelagos-systemd's exit status when it cannot talk
// to systemd at all (the caller reports ErrNoSystemd).
const SystemdUnreachable = 3

// SystemdHelper finds pelagos-systemd: $PELAGOS_SYSTEMD_HELPER, else
// beside the running binary (as scripts/build.sh installs them), else on
// PATH.
func SystemdHelper() (string, error) {
	if p := os.Getenv("PELAGOS_SYSTEMD_HELPER"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pelagos-systemd")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("pelagos-systemd")
	if err != nil {
		return "", fmt.Errorf("the systemd cgroup driver needs pelagos-systemd beside this binary or on PATH: %w", err)
	}
	return p, nil
}

// callHelper runs one request through pelagos-systemd, bounded by
// systemdTimeout; its error message comes back as the error.
func (m *Manager) callHelper(ctx context.Context, req SystemdRequest) error {
	bin, err := SystemdHelper()
	if err != nil {
		return err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, systemdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(in), &stderr
	err = cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() == SystemdUnreachable:
		return fmt.Errorf("%w: %s", ErrNoSystemd, msg)
	case msg != "":
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", bin, err)
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

// stopScope stops the unit (systemd kills what is left in it and removes
// its cgroup) and clears a failed state so that the name can be reused.
// A unit that is already gone is not an error.
func (m *Manager) stopScope() error {
	return m.callHelper(context.Background(), SystemdRequest{Op: "stop", Scope: *m.scope, Mode: m.mode})
}

// updateScope gives systemd the new values of what it has properties for,
// so that systemd (on a reload, say) never puts old limits back.
func (m *Manager) updateScope(r *specs.LinuxResources) error {
	return m.callHelper(context.Background(), SystemdRequest{Op: "update", Scope: *m.scope, Mode: m.mode, Resources: r})
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
