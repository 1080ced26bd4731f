package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/hooks"
	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/seccomp"
)

// Start releases a created container: the init runs the startContainer
// hooks and executes the container process. It returns once the process
// runs (or failed to), after the poststart hooks.
func (c *Container) Start(ctx context.Context, warn func(string)) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	// After a Create with StartSoon the process may have run and exited
	// already: its start was sent, and release reports how it went.
	if c.startSent == nil {
		if st := c.Status(); st != specs.StateCreated {
			return fmt.Errorf("cannot start container %s: it is %s, not created: %w", c.rec.ID, st, ErrInvalidState)
		}
	}
	if err := c.release(ctx, warn); err != nil {
		c.stopAfterFailure(ctx, warn)
		return err
	}
	if err := c.markStarted(); err != nil {
		return err
	}
	if h := c.rec.Hooks; h != nil && len(h.Poststart) > 0 {
		// The state as of the start operation: the process may already
		// have exited, but the hooks are about its start.
		st := c.State()
		st.Status, st.Pid = specs.StateRunning, c.rec.Pid
		if err := hooks.RunAll(ctx, "poststart", h.Poststart, &st); err != nil {
			if !failsOnPoststart(c.rec.Version) {
				if warn != nil {
					warn(err.Error())
				}
				return nil
			}
			c.stopAfterFailure(ctx, warn)
			return err
		}
	}
	return nil
}

// failsOnPoststart reports whether a config of this ociVersion makes a
// failing poststart hook an error. Runtime-spec 1.3.0 changed it from a
// warning; each config gets the contract of the version it declares.
func failsOnPoststart(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return true
	}
	return major > 1 || (major == 1 && minor >= 3)
}

// release connects to the init's start socket and waits until it executed
// the process (EOF) or reported the step that failed. Along the way it
// hands a seccomp notify listener to the profile's agent.
func (c *Container) release(ctx context.Context, warn func(string)) error {
	if conn := c.startSent; conn != nil {
		c.startSent = nil
		defer conn.Close()
		return c.awaitExec(ctx, conn, c.rec.Pid, warn)
	}
	conn, err := dialStart(c.dir)
	if err != nil {
		return fmt.Errorf("reach the container init: %w", err)
	}
	defer conn.Close()
	if err := conn.Send(initproc.Message{Type: initproc.MsgStart}); err != nil {
		return err
	}
	return c.awaitExec(ctx, conn, c.rec.Pid, warn)
}

// awaitExec waits for the child on conn to execute its process: EOF means
// it did; an error message names the step that failed.
func (c *Container) awaitExec(ctx context.Context, conn *initproc.Conn, pid int, warn func(string)) error {
	for {
		m, fd, err := conn.RecvFd()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		case m.Type == initproc.MsgWarning:
			if warn != nil {
				warn(m.Error)
			}
		case m.Type == initproc.MsgError:
			return fmt.Errorf("container init: %w", &initproc.StepError{Step: m.Step, Err: errors.New(m.Error)})
		case m.Type == initproc.MsgSeccomp && fd != nil:
			err := c.sendListener(ctx, fd, pid)
			fd.Close()
			if err != nil {
				return err
			}
			if err := conn.Send(initproc.Message{Type: initproc.MsgSeccompDone}); err != nil {
				return err
			}
		default:
			if fd != nil {
				fd.Close()
			}
			return fmt.Errorf("protocol: unexpected %q from the init", m.Type)
		}
	}
}

// sendListener gives the seccomp agent at listenerPath the notify fd,
// with the container's state, as the runtime-spec prescribes.
func (c *Container) sendListener(ctx context.Context, fd *os.File, pid int) error {
	cfg, err := c.Config()
	if err != nil {
		return err
	}
	sc := cfg.Linux.Seccomp
	st := c.State()
	ps := specs.ContainerProcessState{Pid: pid, Metadata: sc.ListenerMetadata, State: st}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return seccomp.SendListener(ctx, sc.ListenerPath, int(fd.Fd()), ps)
}

func dialStart(dir string) (*initproc.Conn, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "start")
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), startSock)}
	if err := unix.Connect(fd, addr); err != nil {
		f.Close()
		return nil, os.NewSyscallError("connect", err)
	}
	return initproc.NewConn(f), nil
}

// stopAfterFailure implements "stop the container and continue the
// lifecycle at destroy" for a failed start: kill, destroy, poststop.
func (c *Container) stopAfterFailure(ctx context.Context, warn func(string)) {
	c.killAll()
	c.waitGone(2 * time.Second)
	if err := c.destroy(ctx); err != nil && warn != nil {
		warn(err.Error())
	}
}

// Kill sends sig to the init, or with all to every process in the
// container's cgroup.
func (c *Container) Kill(sig unix.Signal, all bool) error {
	st := c.Status()
	if all && st == specs.StateStopped {
		// Processes can outlive a stopped container's init when it has
		// no PID namespace of its own; containerd signals them this way
		// before delete, and runc lets it. Only the cgroup is signalled:
		// the init is gone.
		cg, err := c.cgroup()
		if err != nil {
			return nil
		}
		return cg.Kill(sig)
	}
	if st != specs.StateCreated && st != specs.StateRunning && st != StatePaused {
		return fmt.Errorf("cannot kill container %s: it is %s: %w", c.rec.ID, st, ErrInvalidState)
	}
	if all {
		return c.signalAll(sig)
	}
	fd, err := pidfd(c.rec.Pid, c.rec.PidStart)
	if err != nil {
		return fmt.Errorf("container %s: init process: %w", c.rec.ID, err)
	}
	defer unix.Close(fd)
	return os.NewSyscallError("pidfd_send_signal", unix.PidfdSendSignal(fd, sig, nil, 0))
}

func (c *Container) signalAll(sig unix.Signal) error {
	if cg, err := c.cgroup(); err == nil {
		if err := cg.Kill(sig); err != nil {
			return err
		}
	}
	// The init may not be in the cgroup (a joined cgroup namespace); it
	// always gets the signal.
	if fd, err := pidfd(c.rec.Pid, c.rec.PidStart); err == nil {
		_ = unix.PidfdSendSignal(fd, sig, nil, 0)
		unix.Close(fd)
	}
	return nil
}

func (c *Container) killAll() {
	_ = c.signalAll(unix.SIGKILL)
	// A frozen task dies only once thawed.
	if cg, err := c.cgroup(); err == nil {
		_ = cg.Thaw()
	}
}

// waitGone waits until the init has exited (or timeout).
func (c *Container) waitGone(timeout time.Duration) bool {
	fd, err := pidfd(c.rec.Pid, c.rec.PidStart)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(timeout)
	for {
		// A pidfd polls readable when the process exits, even while it
		// is still a zombie of its parent.
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return false
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if err == unix.EINTR {
			continue
		}
		return n > 0
	}
}

// Processes lists the pids in the container's cgroup.
func (c *Container) Processes() ([]int, error) {
	if c.rec.Cgroup == nil {
		return nil, nil
	}
	return cgroups.Load(*c.rec.Cgroup).Pids()
}

// Delete removes a stopped container: its cgroup and state, then the
// poststop hooks. With force, a container in any state is killed first.
func (c *Container) Delete(ctx context.Context, force bool, warn func(string)) error {
	if c.startSent != nil {
		c.startSent.Close()
		c.startSent = nil
	}
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	st := c.Status()
	if st != specs.StateStopped {
		if !force {
			return fmt.Errorf("cannot delete container %s: it is %s (stop it first, or use --force): %w", c.rec.ID, st, ErrInvalidState)
		}
		c.killAll()
		if !c.waitGone(10 * time.Second) {
			return fmt.Errorf("container %s: the init did not exit after SIGKILL", c.rec.ID)
		}
	}
	err = c.destroy(ctx)
	if err != nil && warn != nil && errors.As(err, new(*hooks.Error)) {
		warn(err.Error())
		return nil
	}
	return err
}

// destroy undoes create: cgroup, state directory; then poststop hooks,
// whose failures are returned as *hooks.Error for the caller to log.
func (c *Container) destroy(ctx context.Context) error {
	if c.rec.Cgroup != nil {
		if err := cgroups.Load(*c.rec.Cgroup).Destroy(); err != nil {
			return err
		}
	}
	if c.rec.HostMounts && c.rec.Rootfs != "" {
		if err := unix.Unmount(c.rec.Rootfs, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			return fmt.Errorf("detach the rootfs mounts from the host: %w", err)
		}
	}
	state := c.State()
	state.Status = specs.StateStopped
	if err := removeDir(c.dir); err != nil {
		return err
	}
	if h := c.rec.Hooks; h != nil && len(h.Poststop) > 0 {
		return hooks.RunAll(ctx, "poststop", h.Poststop, &state)
	}
	return nil
}

// Wait waits for the init to exit and returns its exit code (128+signal
// for a signal). It works only in the process that created the container.
func (c *Container) Wait() (int, error) {
	if c.proc == nil {
		return -1, errors.New("not the parent of this container")
	}
	st, err := c.proc.Wait()
	return exitCode(st, err)
}

func exitCode(ps *os.ProcessState, err error) (int, error) {
	if ps == nil {
		return -1, err
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok {
		return ps.ExitCode(), nil
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
