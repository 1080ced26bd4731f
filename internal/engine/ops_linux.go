package engine

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/image/snapshot"
)

// Runtime returns c's runtime container, when it runs.
func (e *Engine) Runtime(c *Container) (*container.Container, error) {
	// docker's words, with the full ID.
	if !c.State.Running {
		return nil, errorf(ErrState, "Container %s is not running", c.ID)
	}
	rc, err := container.Load(e.RuntimeRoot(), c.ID)
	if err != nil {
		return nil, errorf(ErrState, "Container %s is not running", c.ID)
	}
	return rc, nil
}

// Stop stops container ref: sig (its stop signal when 0), then SIGKILL to
// every process after timeout (its stop timeout, or 10 s, when negative).
// It returns once its monitor recorded the exit. No restart policy
// applies afterwards.
func (e *Engine) Stop(ctx context.Context, ref string, sig unix.Signal, timeout time.Duration) error {
	c, err := e.markStopped(ctx, ref)
	if err != nil || !c.State.Running {
		return err
	}
	if sig == 0 {
		sig, err = ParseSignal(c.Config.StopSignal)
		if err != nil {
			sig = unix.SIGTERM
		}
	}
	if timeout < 0 {
		timeout = 10 * time.Second
		if c.Config.StopTimeout != nil {
			timeout = time.Duration(*c.Config.StopTimeout) * time.Second
		}
	}
	rc, err := container.Load(e.RuntimeRoot(), c.ID)
	defer func() {
		if err == nil {
			e.event(c, "stop", nil)
		}
	}()
	if err == nil {
		e.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
		pid, start := rc.Pid(), uint64(0)
		start, _ = procStart(pid)
		awaitReaperOf(c, pid)
		if err := rc.Kill(sig, false); err == nil && waitExit(pid, start, int(timeout/time.Millisecond)) {
			return e.awaitExit(ctx, c.ID)
		}
		e.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(unix.SIGKILL))})
		_ = rc.Kill(unix.SIGKILL, true)
		waitExit(pid, start, 10000)
	}
	return e.awaitExit(ctx, c.ID)
}

// markStopped sets ManualStop, and ends a restart backoff.
func (e *Engine) markStopped(ctx context.Context, ref string) (*Container, error) {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	c.ManualStop = true
	if c.State.Restarting {
		c.State.Restarting, c.State.Status = false, StatusExited
	}
	return c, c.saveConfig()
}

// awaitExit waits until the container's record no longer says running:
// its monitor recorded the exit, or (the monitor being gone) Reconcile
// did.
func (e *Engine) awaitExit(ctx context.Context, id string) error {
	delay := 2 * time.Millisecond
	for {
		c, err := e.load(ctx, id)
		if err != nil {
			return nil // removed (--rm)
		}
		if !c.State.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// Wait waits until container ref is not running and returns its exit
// code (Docker's `wait`). A container removed meanwhile (--rm) gives the
// code its monitor recorded last, if any was seen.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	id, err := e.resolve(ref)
	if err != nil {
		return 0, err
	}
	delay := 2 * time.Millisecond
	for {
		c, err := e.load(ctx, id)
		if err != nil {
			return 0, err
		}
		if !c.State.Running && !c.State.Restarting {
			return c.State.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// Kill sends sig to container ref's init. No restart policy applies
// afterwards.
func (e *Engine) Kill(ctx context.Context, ref string, sig unix.Signal) error {
	c, err := e.markStopped(ctx, ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return errorf(ErrState, "Cannot kill container: %s: Container %s is not running", ref, c.ID)
	}
	rc, err := e.Runtime(c)
	if err != nil {
		return err
	}
	e.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	awaitReaperOf(c, rc.Pid())
	return rc.Kill(sig, false)
}

// Pause freezes container ref.
func (e *Engine) Pause(ctx context.Context, ref string) error {
	return e.freeze(ctx, ref, true)
}

// Unpause thaws container ref.
func (e *Engine) Unpause(ctx context.Context, ref string) error {
	return e.freeze(ctx, ref, false)
}

func (e *Engine) freeze(ctx context.Context, ref string, on bool) error {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	rc, err := e.Runtime(c)
	if err != nil {
		return err
	}
	paused := rc.Status() == container.StatePaused
	switch {
	case on && paused:
		return errorf(ErrState, "container %s is already paused", c.ID)
	case !on && !paused:
		return errorf(ErrState, "Container %s is not paused", c.ID)
	case on:
		err = rc.Pause()
		if err == nil {
			e.event(c, "pause", nil)
		}
		return err
	}
	if err := rc.Resume(); err != nil {
		return err
	}
	e.event(c, "unpause", nil)
	return nil
}

// Paused reports whether c's processes are frozen.
func (e *Engine) Paused(c *Container) bool {
	if !c.State.Running {
		return false
	}
	rc, err := container.Load(e.RuntimeRoot(), c.ID)
	return err == nil && rc.Status() == container.StatePaused
}

// Remove removes container ref; force kills it (and its monitor) first.
func (e *Engine) Remove(ctx context.Context, ref string, force bool) error {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return err
	}
	defer l.unlock()
	monitor := alive(c.Monitor, c.MonitorStart)
	running := (c.State.Running || c.State.Restarting) && (monitor || e.runtimeAlive(c))
	if running && !force {
		return errorf(ErrState, "You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID)
	}
	if monitor {
		// The monitor goes first, so that it restarts nothing.
		_ = signalProcess(c.Monitor, c.MonitorStart, unix.SIGKILL)
		waitExit(c.Monitor, c.MonitorStart, 5000)
	}
	if running && c.State.Running {
		// The teardown kills the init: docker's events for rm -f.
		e.event(c, "kill", map[string]string{"signal": strconv.Itoa(int(unix.SIGKILL))})
		e.event(c, "die", map[string]string{"exitCode": strconv.Itoa(128 + int(unix.SIGKILL))})
	}
	return e.removeLocked(ctx, c)
}

// removeLocked removes everything of c: run, snapshot, directory, name.
func (e *Engine) removeLocked(ctx context.Context, c *Container) error {
	if err := e.teardown(ctx, c); err != nil {
		return err
	}
	st, err := e.Images()
	if err != nil {
		return err
	}
	if err := snapshot.Remove(ctx, st, c.ID); err != nil {
		return err
	}
	if c.runtimeGone != nil {
		if err := c.runtimeGone(); err != nil {
			return err
		}
	}
	nl, err := e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer nl.unlock()
	// Renamed away first: the container disappears from every listing at
	// once, even if the removal of its files is cut short.
	gone := filepath.Join(e.containersDir(), rmPrefix+c.ID)
	if err := os.Rename(c.dir, gone); err != nil {
		return err
	}
	dieAt(StepRemoveRenamed)
	e.releaseName(c.Name, c.ID)
	if err := os.RemoveAll(gone); err != nil {
		return err
	}
	e.event(c, "destroy", nil)
	return nil
}

// needsReconcile reports whether c's record may be stale: it claims a
// run, or holds runtime state or a mount, and no monitor is alive to
// account for it.
func (e *Engine) needsReconcile(c *Container) bool {
	if !(c.State.Running || c.State.Restarting || c.Runtime || c.Mounted) {
		return false
	}
	return !alive(c.Monitor, c.MonitorStart)
}

// reconcile brings a container whose monitor died in line with reality:
// a process still running keeps running (unmonitored); a start that never
// finished is undone; an exit nobody recorded is recorded (status 255,
// unknown, as Docker records it).
func (e *Engine) reconcile(ctx context.Context, id string) (*Container, error) {
	l, err := e.lockContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil || !e.needsReconcile(c) {
		return c, err
	}
	if c.State.Running && e.runtimeAlive(c) {
		return c, nil
	}
	if err := e.teardown(ctx, c); err != nil {
		return nil, err
	}
	if c.State.Running || c.State.Restarting {
		c.State = State{
			Status: StatusExited, ExitCode: 255, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC(),
			Error:  "the container's monitor exited before recording the container's exit",
			Health: healthOnExit(c.State.Health),
		}
		e.event(c, "die", map[string]string{"exitCode": "255"})
	}
	c.Monitor, c.MonitorStart = 0, 0
	if c.HostConfig.AutoRemove && c.State.Status == StatusExited {
		if err := e.autoRemove(ctx, c); err != nil {
			return nil, err
		}
		return nil, errorf(ErrNotFound, "No such container: %s", id)
	}
	return c, c.save()
}

// Prune removes every stopped container and returns their IDs, then
// clears what killed commands left: temporary directories, image holds
// without a container, and network leases, namespaces, veths and rules
// of containers that do not run.
func (e *Engine) Prune(ctx context.Context) ([]string, error) {
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, c := range cs {
		if c.State.Running || c.State.Restarting {
			continue
		}
		if err := e.Remove(ctx, c.ID, false); err != nil {
			return removed, err
		}
		removed = append(removed, c.ID)
	}
	if err := e.sweep(ctx); err != nil {
		return removed, err
	}
	e.PruneEvent("container", 0) // the CLI reports 0B reclaimed too
	return removed, e.SweepNetwork(ctx)
}

// tmpPrefix and rmPrefix name a container directory being created (with
// the creator's pid and the ID after it) or being removed.
const (
	tmpPrefix = ".tmp-"
	rmPrefix  = ".rm-"
)

// sweep removes what killed creates and removals left: their
// directories, names without a container, and image holds of containers
// that do not exist (and are not being created).
func (e *Engine) sweep(ctx context.Context) error {
	nl, err := e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer nl.unlock()
	ents, err := os.ReadDir(e.containersDir())
	if err != nil {
		return err
	}
	creating := map[string]bool{}
	for _, d := range ents {
		n := d.Name()
		switch {
		case strings.HasPrefix(n, rmPrefix):
		case strings.HasPrefix(n, tmpPrefix):
			pidS, id, _ := strings.Cut(strings.TrimPrefix(n, tmpPrefix), "-")
			if pid, err := strconv.Atoi(pidS); err == nil && alive(pid, 0) {
				creating[id] = true
				continue
			}
		case lostRecord(filepath.Join(e.containersDir(), n)):
		default:
			continue
		}
		if err := os.RemoveAll(filepath.Join(e.containersDir(), n)); err != nil {
			return err
		}
	}
	if err := e.sweepNames(); err != nil {
		return err
	}
	st, err := e.Images()
	if err != nil {
		return err
	}
	holds, err := st.Holds()
	if err != nil {
		return err
	}
	for _, h := range holds {
		if len(h.ID) != 64 || !isHex(h.ID) || creating[h.ID] {
			continue // not a container's, or one being created
		}
		if _, err := os.Stat(filepath.Join(e.containersDir(), h.ID)); os.IsNotExist(err) {
			if err := snapshot.Remove(ctx, st, h.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// sweepNames removes names whose container does not exist; the caller
// holds the names lock.
func (e *Engine) sweepNames() error {
	ents, err := os.ReadDir(e.namesDir())
	if err != nil {
		return err
	}
	for _, d := range ents {
		p := filepath.Join(e.namesDir(), d.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(e.containersDir(), strings.TrimSpace(string(b)))); os.IsNotExist(err) {
			os.Remove(p)
		}
	}
	return nil
}

// Rename gives container ref a new name.
func (e *Engine) Rename(ctx context.Context, ref, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	id, err := e.resolve(ref)
	if err != nil {
		return err
	}
	l, err := e.lockContainer(ctx, id)
	if err != nil {
		return err
	}
	defer l.unlock()
	nl, err := e.lockNames(ctx)
	if err != nil {
		return err
	}
	defer nl.unlock()
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		return err
	}
	name = trimSlash(name)
	if name == c.Name {
		return errorf(ErrInvalid, "Renaming a container with the same name as its current name")
	}
	if err := e.reserveName(name, c.ID); err != nil {
		return err
	}
	old := c.Name
	c.Name = name
	if err := c.saveConfig(); err != nil {
		e.releaseName(name, c.ID)
		return err
	}
	e.releaseName(old, c.ID)
	e.event(c, "rename", map[string]string{"oldName": "/" + old})
	return nil
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// Top lists the pids of container ref's processes.
func (e *Engine) Top(ctx context.Context, ref string) ([]int, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	rc, err := e.Runtime(c)
	if err != nil {
		return nil, err
	}
	if rc.Status() == specs.StateStopped {
		return nil, errorf(ErrState, "Container %s is not running", c.ID)
	}
	pids, err := rc.Processes()
	if err == nil {
		e.event(c, "top", nil)
	}
	return pids, err
}
