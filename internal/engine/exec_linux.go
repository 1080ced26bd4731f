package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/container"
)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	WorkDir    string
	User       string // empty: the container's
	Tty        bool
	Privileged bool
	Stdio      Stdio
	// ExecID, when set, journals docker's exec_create and exec_start
	// events under it (the caller records exec_die with ExecDied). Health
	// probes leave it empty: unlike docker's, their execs stay out of the
	// journal, which would otherwise grow by three lines per probe.
	ExecID string
}

// Exec starts a process in running container ref; the caller waits for
// it. Failures to start it are *StartError.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions) (*container.Process, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	if e.Paused(c) {
		return nil, errorf(ErrState, "container %s is paused, unpause the container before exec", c.ID)
	}
	cfg, err := rc.Config()
	if err != nil {
		return nil, err
	}
	p, err := execProcess(c, cfg.Process, o)
	if err != nil {
		return nil, err
	}
	if o.ExecID != "" {
		e.event(c, execAction("exec_create", p.Args), map[string]string{"execID": o.ExecID})
	}
	proc, err := rc.Exec(ctx, container.ExecOpts{
		Process: p, Stdin: o.Stdio.Stdin, Stdout: o.Stdio.Stdout, Stderr: o.Stdio.Stderr,
		ConsoleSocket: o.Stdio.ConsoleSocket, Warn: e.Warn, InitBinary: initBinary(),
	})
	if err != nil {
		err = &StartError{Err: err}
		if o.ExecID != "" {
			e.event(c, "exec_die", map[string]string{"execID": o.ExecID, "exitCode": strconv.Itoa(StartErrorStatus(err))})
		}
		return nil, err
	}
	if o.ExecID != "" {
		e.event(c, execAction("exec_start", p.Args), map[string]string{"execID": o.ExecID})
	}
	return proc, nil
}

// execProcess derives the exec'd process from the container's own: its
// environment (overridden by o.Env), capabilities, rlimits; its user
// unless o.User names another (resolved in the container's image).
func execProcess(c *Container, base *specs.Process, o ExecOptions) (*specs.Process, error) {
	p := *base
	p.Args = o.Cmd
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = mergeEnv(base.Env, o.Env)
	if o.Tty && !slices.ContainsFunc(p.Env, func(e string) bool { return len(e) > 5 && e[:5] == "TERM=" }) {
		p.Env = append(p.Env, "TERM=xterm")
	}
	if o.WorkDir != "" {
		p.Cwd = o.WorkDir
	}
	if o.User != "" {
		root, err := os.OpenFile(c.RootfsPath(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		u, err := resolveUser(root, o.User)
		root.Close()
		if err != nil {
			return nil, err
		}
		p.User = specs.User{UID: u.uid, GID: u.gid, AdditionalGids: u.groups}
	}
	if base.Capabilities != nil {
		cs := *base.Capabilities
		if o.Privileged {
			all := heldCaps()
			cs.Bounding, cs.Effective, cs.Permitted = all, all, all
		}
		if p.User.UID != 0 {
			cs.Effective, cs.Permitted = nil, nil
		} else if cs.Effective == nil {
			cs.Effective, cs.Permitted = cs.Bounding, cs.Bounding
		}
		p.Capabilities = &cs
	}
	return &p, nil
}

// initBinary is the binary the runtime core copies to be each container's
// init: pelagos-runc installed beside pelagos (a third of its size, so a
// third of the copy and of the pages the init touches), or pelagos itself.
func initBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "pelagos-runc")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}
