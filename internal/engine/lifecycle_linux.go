package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/atomicfile"
	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/image/snapshot"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// Stdio is what the container process gets: its stdin, stdout and stderr,
// or with a terminal the socket that receives the pty master.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
	ConsoleSocket         *os.File
}

// Started is a container that Start started; Runtime is the runtime's
// container, whose init is a child of the calling process.
type Started struct {
	*Container
	Runtime *container.Container
	// Held are sockets reserving its published host ports: the caller
	// (its monitor) keeps them open until the container exits.
	Held []*os.File
}

// Start starts container ref's process with stdio. The calling process
// is its monitor: the init is its child and it must call Exited when the
// init exits. A failed start is a *StartError when the runtime refused the
// process (not found, not executable ...), and the record keeps the error.
func (e *Engine) Start(ctx context.Context, ref string, stdio Stdio, monitorPid int) (*Started, error) {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	if c.State.Running && e.runtimeAlive(c) {
		return nil, errorf(ErrState, "container %s is already running", c.ShortID())
	}
	c.Monitor = monitorPid
	c.MonitorStart, _ = procStart(monitorPid)
	rc, held, err := e.startLocked(ctx, c, stdio)
	if err != nil {
		return nil, e.failStart(ctx, c, err)
	}
	return &Started{Container: c, Runtime: rc, Held: held}, nil
}

// startLocked brings c up: leftovers of an earlier run go, the rootfs is
// mounted, the spec generated, and the runtime creates and starts it.
// Each step records what it made before making it, so a start killed at
// any point leaves a record from which Reconcile can undo everything.
func (e *Engine) startLocked(ctx context.Context, c *Container, stdio Stdio) (_ *container.Container, held []*os.File, err error) {
	defer func() {
		if err != nil {
			closeAll(held)
			held = nil
		}
	}()
	if err := e.teardown(ctx, c); err != nil {
		return nil, nil, err
	}
	if err := e.mountRootfs(ctx, c); err != nil {
		return nil, nil, err
	}
	if err := e.prepareVolumes(ctx, c); err != nil {
		return nil, nil, err
	}
	dieAt(StepStartMounted)
	// The network comes after the mount: a start killed during it leaves
	// a record claiming the mount, whose reconcile tears the network
	// down too (its lease says what to undo).
	if held, err = e.setupNetwork(ctx, c); err != nil {
		return nil, nil, err
	}
	dieAt(StepStartNetwork)
	rc, err := e.createAndStart(ctx, c, stdio)
	return rc, held, err
}

// createAndStart generates the spec and has the runtime create and start
// the container.
func (e *Engine) createAndStart(ctx context.Context, c *Container, stdio Stdio) (*container.Container, error) {
	s, err := e.spec(ctx, c)
	if err != nil {
		return nil, err
	}
	b, err := spec.Encode(s) // json.Marshal's bytes, without its first-use cost
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Replace(filepath.Join(c.dir, "config.json"), b); err != nil { // made again at every start
		return nil, err
	}
	dieAt(StepStartRecorded) // c.Runtime was recorded with the mount
	rc, err := container.Create(ctx, container.CreateOpts{
		Root: e.RuntimeRoot(), ID: c.ID, Bundle: c.dir,
		Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr,
		ConsoleSocket: stdio.ConsoleSocket, Warn: e.Warn, InitBinary: initBinary(),
		Spec: s, RawSpec: b,
		NoCgroup: e.Rootless,
		// Start follows at once: the init goes on while the runtime
		// saves its state.
		StartSoon: true,
	})
	if err != nil {
		return nil, &StartError{Err: err}
	}
	dieAt(StepStartCreated)
	if err := rc.Start(ctx, e.Warn); err != nil {
		return nil, &StartError{Err: err}
	}
	if wantsInit(&c.HostConfig) {
		awaitReaper(rc.Pid())
	}
	dieAt(StepStartStarted)
	c.State = State{
		Status: StatusRunning, Running: true, Pid: rc.Pid(), StartedAt: time.Now().UTC(),
		FinishedAt: c.State.FinishedAt, Health: healthOnStart(c),
	}
	c.ManualStop = false
	if err := c.save(); err != nil {
		return rc, err
	}
	e.event(c, "start", nil)
	return rc, nil
}

// failStart undoes a failed start and records its error.
func (e *Engine) failStart(ctx context.Context, c *Container, err error) error {
	if terr := e.teardown(ctx, c); terr != nil {
		e.warn(terr.Error())
	}
	if c.State.Status != StatusExited {
		c.State.Status = StatusCreated
	}
	c.State.Running, c.State.Restarting, c.State.Pid = false, false, 0
	c.State.Error = err.Error()
	c.State.ExitCode = StartErrorStatus(err)
	c.Monitor, c.MonitorStart = 0, 0
	if serr := c.save(); serr != nil {
		e.warn(serr.Error())
	}
	return err
}

// snapshotOf makes (or finds) c's writable snapshot of its image.
func (e *Engine) snapshotOf(ctx context.Context, c *Container) (snapshot.Spec, error) {
	st, err := e.Images()
	if err != nil {
		return snapshot.Spec{}, err
	}
	img, err := parseHash(c.Image)
	if err != nil {
		return snapshot.Spec{}, err
	}
	return prepareSnapshot(ctx, st, img, c)
}

// mountRootfs mounts the container's overlay on rootfs/.
func (e *Engine) mountRootfs(ctx context.Context, c *Container) error {
	sp, err := e.snapshotOf(ctx, c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.RootfsPath(), 0o755); err != nil {
		return err
	}
	// The runtime container this start creates later is recorded here
	// too: one record write instead of two (creating a file costs more
	// than the rest of a write here). Until it exists, a teardown finds
	// nothing to delete (container.Load answers ErrNotExist).
	c.Mounted, c.Runtime = true, true
	if err := c.save(); err != nil {
		return err
	}
	if c.Userns != nil {
		return mountIDMapped(sp, c.RootfsPath(), c.Userns)
	}
	return snapshot.Mount(sp, c.RootfsPath())
}

// spec generates c's OCI spec; the rootfs must be mounted (users are
// resolved in it).
func (e *Engine) spec(ctx context.Context, c *Container) (*specs.Spec, error) {
	root, err := os.OpenFile(c.RootfsPath(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	u, err := resolveUser(root, c.Config.User)
	if err != nil {
		return nil, err
	}
	hostname := c.Config.Hostname
	if hostname == "" {
		hostname = c.ShortID()
		if c.HostConfig.NetworkMode == "host" || c.HostConfig.UTSMode == modeHostNS {
			hostname, _ = os.Hostname()
		}
	}
	etc, err := e.etcFiles(ctx, c, hostname)
	if err != nil {
		return nil, err
	}
	netns, err := e.netnsPath(ctx, c)
	if err != nil {
		return nil, err
	}
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err != nil {
		return nil, err
	}
	parent := c.HostConfig.CgroupParent
	if parent == "" {
		parent = e.CgroupParent
	}
	if !e.Rootless {
		if err := e.ensureCgroupParent(parent); err != nil {
			return nil, err
		}
	}
	in := specInput{
		user: u, rootfs: c.RootfsPath(), hostname: hostname, etcFiles: etc,
		cgroup: filepath.Join("/", parent, c.ID), nofileMax: nofile.Max, netns: netns,
		volumes: e.volumesDir(),
	}
	if wantsInit(&c.HostConfig) {
		if in.initBinary, err = initBinaryPath(); err != nil {
			return nil, err
		}
	}
	s, err := generateSpec(c, in)
	if err != nil {
		return nil, err
	}
	if e.Rootless {
		rootlessSpec(c, s)
	}
	return s, e.hostSpec(ctx, c, s, root)
}

// teardown removes what a run of c left: the runtime container (killed
// if need be), its network and the rootfs mount. It is idempotent.
func (e *Engine) teardown(ctx context.Context, c *Container) error {
	return e.teardownRecorded(ctx, c, true)
}

// teardownRecorded is teardown that saves the record after each step
// only if record is set. Exited of a --rm container does not: the
// container is removed next, and a removal cut short leaves a record
// claiming a run, whose reconcile tears down again what is already gone
// (a runtime container that does not exist, an unmounted rootfs).
func (e *Engine) teardownRecorded(ctx context.Context, c *Container, record bool) error {
	save := func() error {
		if !record {
			return nil
		}
		return c.save()
	}
	if c.Runtime {
		if err := e.deleteRuntime(ctx, c.ID); err != nil {
			return err
		}
		c.Runtime = false
		if err := save(); err != nil {
			return err
		}
	}
	if err := e.teardownNetwork(ctx, c); err != nil {
		return err
	}
	if c.Mounted {
		unmountShm(c)
		if err := snapshot.Unmount(c.RootfsPath()); err != nil {
			return err
		}
		e.volumeUnmountEvents(c)
		c.Mounted = false
		if err := save(); err != nil {
			return err
		}
	}
	return nil
}

// deleteRuntime deletes the runtime container id, if there is one,
// killing what is left of it.
func (e *Engine) deleteRuntime(ctx context.Context, id string) error {
	rc, err := container.Load(e.RuntimeRoot(), id)
	if errors.Is(err, container.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := rc.Delete(ctx, true, e.Warn); err != nil {
		return fmt.Errorf("delete the runtime container: %w", err)
	}
	return nil
}

// deleteRuntimeAlongside starts deleting the runtime container of c, a
// --rm container whose process exited, while the caller unmounts and
// removes its snapshot: the cgroups' removal (a dozen directories on a
// cgroup v1 host) is kernel work that needs neither, and the other core
// does it. Only when c had a pid namespace of its own, so that nothing of
// it still runs in its rootfs. removeLocked waits for it before the
// record goes (runtimeGone): a removal killed halfway leaves a record
// that still names the runtime container, which the next command deletes.
func (e *Engine) deleteRuntimeAlongside(ctx context.Context, c *Container) {
	if !c.Runtime || (c.HostConfig.PidMode != "" && c.HostConfig.PidMode != modePrivateNS) {
		return
	}
	done := make(chan error, 1)
	go func() { done <- e.deleteRuntime(ctx, c.ID) }()
	c.Runtime = false // in memory only: a --rm container's record is not saved again
	c.runtimeGone = sync.OnceValue(func() error { return <-done })
}

// runtimeAlive reports whether c's runtime container has a live init.
func (e *Engine) runtimeAlive(c *Container) bool {
	if !c.Runtime {
		return false
	}
	rc, err := container.Load(e.RuntimeRoot(), c.ID)
	if err != nil {
		return false
	}
	return rc.Status() != specs.StateStopped
}

// Next is what a monitor does after Exited.
type Next struct {
	// Restart: start the container again after Delay.
	Restart bool
	Delay   time.Duration
}

// Restart backoff, as Docker's restart manager: 100 ms, doubled after
// each restart, at most a minute, back to 100 ms after a run of 10 s.
const (
	backoffStart = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// Exited records that container ref's process exited with status and
// tears the run down; it returns whether the restart policy restarts it.
// An --rm container is removed.
func (e *Engine) Exited(ctx context.Context, ref string, status int) (Next, error) {
	c, l, err := e.lockRecord(ctx, ref)
	if err != nil {
		return Next{}, err
	}
	defer l.unlock()
	oom := e.oomKilled(c)
	// The process is gone: its events come before the teardown's network
	// disconnect and volume unmount, in docker's order.
	if oom {
		e.event(c, "oom", nil)
	}
	e.event(c, "die", map[string]string{"exitCode": strconv.Itoa(status)})
	if c.HostConfig.AutoRemove {
		e.deleteRuntimeAlongside(ctx, c)
		if c.runtimeGone != nil {
			defer c.runtimeGone() // never return with the deletion still running
		}
	}
	if err := e.teardownRecorded(ctx, c, !c.HostConfig.AutoRemove); err != nil {
		return Next{}, err
	}
	dieAt(StepExitedTorn)
	ran := time.Since(c.State.StartedAt)
	c.State = State{
		Status: StatusExited, ExitCode: status, OOMKilled: oom,
		StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC(),
		Health: healthOnExit(c.State.Health),
	}
	if c.HostConfig.AutoRemove {
		return Next{}, e.autoRemove(ctx, c)
	}
	next := restartDecision(c, status, ran)
	if next.Restart {
		c.State.Status, c.State.Restarting = StatusRestarting, true
	} else {
		c.Monitor, c.MonitorStart = 0, 0
	}
	return next, c.save()
}

// restartDecision applies c's restart policy and advances its backoff.
func restartDecision(c *Container, status int, ran time.Duration) Next {
	p := c.HostConfig.RestartPolicy
	switch {
	case c.ManualStop:
		return Next{}
	case p.Name == "always" || p.Name == "unless-stopped":
	case p.Name == "on-failure" && status != 0 && (p.MaximumRetryCount == 0 || c.RestartCount < p.MaximumRetryCount):
	default:
		return Next{}
	}
	delay := c.RestartDelay
	if delay == 0 || ran >= backoffReset {
		delay = backoffStart
	}
	c.RestartCount++
	c.RestartDelay = min(delay*2, backoffMax)
	return Next{Restart: true, Delay: delay}
}

// oomKilled reports whether the kernel's OOM killer killed a process of
// c's run (read before its cgroup goes).
func (e *Engine) oomKilled(c *Container) bool {
	if !c.Runtime {
		return false
	}
	rc, err := container.Load(e.RuntimeRoot(), c.ID)
	if err != nil {
		return false
	}
	n, err := rc.OOMKills()
	return err == nil && n > 0
}

// Restarting is the monitor's restart step: it starts c again unless a
// stop or removal came during the backoff.
func (e *Engine) Restarting(ctx context.Context, ref string, stdio Stdio, monitorPid int) (*Started, error) {
	id, err := e.resolve(ref)
	if err != nil {
		return nil, err
	}
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		return nil, err
	}
	if c.ManualStop || !c.State.Restarting {
		return nil, nil
	}
	return e.Start(ctx, id, stdio, monitorPid)
}

// ensureCgroupParent creates the cgroup under which containers get their
// own, once, and keeps it: were it made by a container's runtime create,
// that container's delete would remove it from under its siblings, and
// siblings created meanwhile would find an uninitialised cpuset.
func (e *Engine) ensureCgroupParent(parent string) error {
	m, err := cgroups.New(cgroups.Config{Path: filepath.Join("/", parent)})
	if err != nil {
		return err
	}
	missing := func() (n int) {
		for _, p := range m.Paths() {
			if _, err := os.Stat(p); err != nil {
				n++
			}
		}
		return n
	}
	if missing() == 0 {
		return nil
	}
	l, err := flock(context.Background(), filepath.Join(e.runRoot, ".cgroup.lock"))
	if err != nil {
		return err
	}
	defer l.unlock()
	switch n := missing(); {
	case n == 0:
		return nil
	case n < len(m.Paths()):
		return fmt.Errorf("cgroup parent %s exists in some cgroup hierarchies only: remove it or create it in all", parent)
	}
	return m.Create()
}
