package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/hooks"
	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/nsenter"
	"github.com/pelagos-go/pelagos/internal/seccomp"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// CreateOpts are the inputs of Create.
type CreateOpts struct {
	Root   string // runtime state root (--root)
	ID     string
	Bundle string
	// PidFile, when set, receives the init's pid once created.
	PidFile string
	// ConsoleSocket is a connected socket that receives the pty master
	// when process.terminal is set.
	ConsoleSocket *os.File
	NoPivot       bool
	NoNewKeyring  bool
	// PreserveFds passes descriptors 3 .. 3+PreserveFds-1 of this process
	// to the container process.
	PreserveFds int
	// Stdio of the container process; nil means this process's own.
	Stdin, Stdout, Stderr *os.File
	// Warn receives warnings (unsupported capabilities, failed poststart
	// hooks of a 1.0-1.2 config, ...). May be nil.
	Warn func(string)
	// InitBinary is the binary sealed and executed as the init; it must
	// call initproc.Dispatch first in main and link internal/nsenter.
	// Empty means this process's own binary. A small one (pelagos-runc)
	// is faster to start for a large caller.
	InitBinary string
	// SystemdCgroup asks for the systemd cgroup driver (runc's
	// --systemd-cgroup): the cgroup is a transient scope systemd makes.
	SystemdCgroup bool
	// Spec, when set, is the bundle's config.json already decoded, and
	// RawSpec its exact bytes: a caller that has just generated and
	// written the config (the engine) spares Create reading and decoding
	// it again. It is validated as a config read from the bundle is.
	Spec    *specs.Spec
	RawSpec []byte
	// NoCgroup runs the container without a cgroup of its own, as a
	// rootless engine does where no cgroup is delegated to its user (it
	// is root in its user namespace, so the runtime cannot tell). The
	// config must set no resource limits.
	NoCgroup bool
	// StartSoon says the caller starts the container as soon as Create
	// returns: the start message goes to the init the moment it is
	// ready, so that its last steps and the execution of the process
	// overlap the state's save here, and Start only waits for the
	// outcome. Until Start has run, a crash leaves a container that runs
	// while its state says creating; delete --force kills it as any
	// other (its cgroup was recorded first).
	StartSoon bool
}

// creation is one Create in progress: its steps share this, and undo
// holds what to take back if a later step fails.
type creation struct {
	o CreateOpts
	// seccomp is the compiled linux.seccomp, if any; seccompCached is
	// its entry in the runtime root's cache, when it has one.
	seccomp       *seccomp.Program
	seccompCached string
	spec          *specs.Spec
	c             *Container
	lock          *os.File
	cg            *cgroups.Manager
	exe           *os.File
	listen        *os.File
	// cmd is the process the runtime executed; proc is the init, which is
	// cmd's own process unless the init was forked into a new pid
	// namespace (then cmd exits once it has).
	cmd  *exec.Cmd
	proc *os.Process
	conn *initproc.Conn
	fds  initproc.FdSlots
	// sealed delivers the sealed copy of our binary, made in the
	// background; nil once collected.
	sealed chan sealResult
	// rawSpec is config.json as read from the bundle.
	rawSpec []byte
	// prepared are the idmapped mounts made for the init.
	prepared []preparedMount
	// noCgroup is set for a rootless container without a delegated cgroup.
	noCgroup bool
	// newFlags are the namespaces the init creates; clonedIntoCgroup says
	// it was started inside its cgroup (v2).
	newFlags         uintptr
	clonedIntoCgroup bool
	// joinedPidInC: the C constructor joins a pid namespace (an
	// unprivileged runtime joining a user namespace) and forks the init
	// into it.
	joinedPidInC bool
	// childFiles are the child's ends, closed once it has them.
	childFiles []*os.File
	undo       []func()
	// destroyOnFail makes a failure after the runtime hooks started run
	// the poststop hooks too (the lifecycle continues at "destroy").
	destroyOnFail bool
	// cInit: the init runs a plan in C instead of starting the Go
	// runtime (see initproc.CompilePlan).
	cInit bool
	// resolved is the cgroup manager resolved for the plan sent early,
	// before makeCgroup creates its directories.
	resolved *cgroups.Manager
	// planSent: the plan went to the C init right after it started
	// (sendPlanEarly); cgroupPending: the plan waits for MsgCgroup.
	planSent, cgroupPending bool
}

type createStep struct {
	name string
	fn   func(*creation) error
}

// The order matters: nothing is created until the config has been
// validated; the state file records the cgroup and pid as soon as they
// exist, so a killed create can be cleaned up by delete --force. The init
// is started as early as it can be, so that its own start (executing the
// binary, creating namespaces, the Go runtime) overlaps the cgroup setup
// here: the Go init does nothing until the bootstrap, by which time it is
// in its cgroup. The C init gets its plan at once (sendPlanEarly) and sets
// up its mounts while the cgroup is made, waiting for MsgCgroup only where
// it needs the cgroup. The start socket listens before that message (the
// init may reach accept() soon after it); the config copy, which only a
// later exec or update reads, comes after. On cgroup v2 the init is cloned
// straight into the cgroup instead, so the cgroup comes first there.
// With StartSoon the start goes to the init right after ready, before the
// state is saved.
var createSteps = []createStep{
	{"config", (*creation).loadConfig},
	{"state directory", (*creation).makeStateDir},
	{"start socket", (*creation).makeStartSocket},
	{"init binary", (*creation).sealBinary},
	{"cgroup", (*creation).makeCgroupV2},
	{"start init", (*creation).startInit},
	{"bootstrap", (*creation).sendPlanEarly},
	{"cgroup", (*creation).makeCgroupV1},
	{"namespaces", (*creation).placeInit},
	{"start socket", (*creation).listenStart},
	{"cgroup", (*creation).cgroupReady},
	{"config copy", (*creation).writeConfigCopy},
	{"idmapped mounts", (*creation).prepareMounts},
	{"bootstrap", (*creation).sendBootstrap},
	{"runtime hooks", (*creation).runtimeHooks},
	{"wait for init", (*creation).waitReady},
	{"start", (*creation).startSoon},
	{"save state", (*creation).saveCreated},
}

// Create creates a container from a bundle and leaves its init waiting
// for Start. On error nothing is left behind: no state directory, cgroup,
// mount or process.
func Create(ctx context.Context, o CreateOpts) (*Container, error) {
	cr := &creation{o: o, sealed: make(chan sealResult, 1)}
	// Copying our binary is kernel work that needs nothing from the
	// config: it runs while the config is parsed. sealBinary collects it
	// (and rollback closes it if it was never collected).
	go func() {
		f, err := sealedExe(o.InitBinary)
		cr.sealed <- sealResult{f, err}
	}()
	go warmPidfd()
	for _, st := range createSteps {
		if err := st.fn(cr); err != nil {
			cr.rollback(ctx)
			return nil, wrapStep(st.name, err)
		}
	}
	cr.closeChildFiles()
	cr.conn.Close()
	cr.lock.Close()
	cr.c.proc = cr.proc
	return cr.c, nil
}

// warmPidfd has the os package make, now, its once-per-process check
// that pidfds work (it clones a child that exits at once and waits for
// it), which starting the init would otherwise pay for on its own path.
func warmPidfd() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Release()
	}
}

func wrapStep(name string, err error) error {
	var se *initproc.StepError
	if errors.As(err, &se) {
		return fmt.Errorf("container init: %w", err)
	}
	if errors.Is(err, spec.ErrInvalid) || errors.Is(err, ErrExist) {
		return err
	}
	return &initproc.StepError{Step: name, Err: err}
}

func (cr *creation) rollback(ctx context.Context) {
	if cr.destroyOnFail && cr.spec.Hooks != nil && len(cr.spec.Hooks.Poststop) > 0 {
		st := cr.c.State()
		st.Status = specs.StateStopped
		if err := hooks.RunAll(ctx, "poststop", cr.spec.Hooks.Poststop, &st); err != nil {
			cr.warn(err.Error())
		}
	}
	for i := len(cr.undo) - 1; i >= 0; i-- {
		cr.undo[i]()
	}
	if cr.sealed != nil {
		if r := <-cr.sealed; r.f != nil {
			r.f.Close()
		}
	}
	if cr.destroyOnFail && cr.c.rec.HostMounts {
		// The init had bound the rootfs in our own mount namespace
		// before it asked for the hooks; it was killed, so detach here.
		_ = unix.Unmount(cr.c.rec.Rootfs, unix.MNT_DETACH)
	}
	cr.closeChildFiles()
}

func (cr *creation) warn(msg string) {
	if cr.o.Warn != nil {
		cr.o.Warn(msg)
	}
}

func (cr *creation) closeChildFiles() {
	for _, f := range cr.childFiles {
		f.Close()
	}
	cr.childFiles = nil
}

func (cr *creation) loadConfig() error {
	if err := spec.ValidateID(cr.o.ID); err != nil {
		return err
	}
	bundle, err := filepath.Abs(cr.o.Bundle)
	if err != nil {
		return err
	}
	s, raw := cr.o.Spec, cr.o.RawSpec
	if s == nil || len(raw) == 0 {
		s, raw, err = spec.LoadRaw(bundle)
	} else if err = spec.Validate(s); err != nil {
		err = fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	if err != nil {
		return err
	}
	cr.rawSpec = raw
	if s.Process == nil {
		return fmt.Errorf("config has no process: there is nothing to start: %w", spec.ErrInvalid)
	}
	if err := spec.CheckHost(s); err != nil {
		return err
	}
	if err := cr.checkSeccomp(s.Linux.Seccomp); err != nil {
		return err
	}
	if err := cgroups.Validate(s.Linux.Resources); err != nil {
		return fmt.Errorf("linux.resources: %v: %w", err, spec.ErrInvalid)
	}
	rootfs := s.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if st, err := os.Stat(rootfs); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return fmt.Errorf("root.path %s: %w", rootfs, err)
	}
	cr.spec = s
	hostMounts := !hasNS(s, specs.MountNamespace)
	owner := ""
	if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
		owner = u.Username
	}
	cr.c = &Container{
		dir: filepath.Join(cr.o.Root, cr.o.ID),
		rec: record{
			ID: cr.o.ID, Bundle: bundle, Rootfs: rootfs, Status: specs.StateCreating,
			Created: time.Now().UTC(), Owner: owner,
			Version: s.Version, Annotations: s.Annotations, Hooks: s.Hooks,
			Creator: os.Getpid(), HostMounts: hostMounts,
		},
	}
	_, cr.c.rec.CreatorStart, _ = procStat(os.Getpid())
	return nil
}

func (cr *creation) makeStateDir() error {
	if err := os.MkdirAll(cr.o.Root, rootDirMod); err != nil {
		return err
	}
	if err := os.Mkdir(cr.c.dir, dirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("container %s: %w", cr.o.ID, ErrExist)
		}
		return err
	}
	cr.undo = append(cr.undo, func() { os.RemoveAll(cr.c.dir) })
	lock, err := lockDir(cr.c.dir)
	if err != nil {
		return err
	}
	cr.lock = lock
	cr.undo = append(cr.undo, func() { lock.Close() })
	cr.c.config = cr.spec
	return nil
}

// writeConfigCopy writes the container's copy of its config (the bytes
// read: nothing encodes the config again) and its seccomp program. Only
// exec and update read them, once the container exists, so this runs
// while the init sets up: a new file costs 0.5-1 ms here.
func (cr *creation) writeConfigCopy() error {
	if err := writeAtomic(filepath.Join(cr.c.dir, configFile), cr.rawSpec); err != nil {
		return err
	}
	return cr.saveSeccomp()
}

// makeCgroupV2 creates the cgroup before the init on a cgroup v2 host.
func (cr *creation) makeCgroupV2() error {
	if mode, err := cgroups.DetectMode(); err != nil || mode != cgroups.Unified {
		return err
	}
	if cr.systemd() {
		return nil // the scope needs the init's pid: makeCgroupV1 then placeInit
	}
	return cr.makeCgroup()
}

// makeCgroupV1 creates the cgroup while the init starts, on v1 hosts.
func (cr *creation) makeCgroupV1() error {
	if cr.cg != nil || cr.noCgroup {
		return nil
	}
	err := cr.makeCgroup()
	if err != nil {
		// The init may have forked into a new PID namespace already, as
		// our child: learn its pid so that rollback kills and reaps it,
		// rather than leave it to notice the closed socket on its own,
		// still in the caller's cgroup, after we have returned.
		_ = cr.finishNamespaces(cr.newFlags)
	}
	return err
}

func (cr *creation) makeCgroup() error {
	if cr.o.NoCgroup {
		return cr.withoutCgroup(nil)
	}
	l := cr.spec.Linux
	cg, err := cr.resolveCgroup()
	if err != nil {
		return err
	}
	if cg.Systemd() {
		return cr.planScope(cg)
	}
	// Record what is about to be made before making it: a create killed
	// halfway through leaves a state that delete --force cleans up.
	planned := cg.Planned()
	cr.c.rec.Cgroup = &planned
	if err := cr.c.save(); err != nil {
		return err
	}
	if err := cg.Create(); err != nil {
		// Create may have made some directories before failing.
		_ = cg.Destroy()
		if os.Geteuid() != 0 && errors.Is(err, fs.ErrPermission) {
			return cr.withoutCgroup(err)
		}
		return err
	}
	cr.cg = cg
	cr.undo = append(cr.undo, func() { _ = cg.Destroy() })
	if err := cg.Set(withDeviceRules(l)); err != nil {
		return err
	}
	// The record keeps the plan until placeInit or saveCreated writes it
	// again: the plan already lists every directory Create made, which is
	// all delete --force needs after a killed create (a new file costs
	// 0.5-1 ms on this kind of ext4).
	st := cg.State()
	cr.c.rec.Cgroup = &st
	return nil
}

// resolveCgroup resolves the container's cgroup directories, once.
func (cr *creation) resolveCgroup() (*cgroups.Manager, error) {
	if cr.resolved == nil {
		cg, err := cgroups.New(cgroups.Config{
			Path: cr.spec.Linux.CgroupsPath, Name: cr.o.ID,
			Systemd: cr.o.SystemdCgroup, Annotations: cr.spec.Annotations,
		})
		if err != nil {
			return nil, err
		}
		cr.resolved = cg
	}
	return cr.resolved, nil
}

// sendPlanEarly sends the C init its plan as soon as it runs, so that it
// sets up its mounts while (on cgroup v1) the cgroup is made and the start
// socket bound here; the plan waits for MsgCgroup where it needs the
// cgroup (cgroupReady sends it). Where the constructor still
// has to talk to us (a user namespace's id maps, a forked pid-namespace
// init) or systemd makes the cgroup, the plan goes at the usual point.
func (cr *creation) sendPlanEarly() error {
	if !cr.cInit || cr.newFlags&(unix.CLONE_NEWUSER|unix.CLONE_NEWPID) != 0 || cr.joinedPidInC {
		return nil
	}
	cgs, pending := cgroupHierarchies(cr.cg), false
	if cr.cg == nil && !cr.o.NoCgroup && !cr.noCgroup {
		cg, err := cr.resolveCgroup()
		if err != nil || cg.Systemd() {
			return nil // the cgroup step reports the error, under its name
		}
		cgs, pending = cgroupHierarchies(cg), true
	}
	cr.proc = cr.cmd.Process // no pid-namespace fork: the init is the process we started
	if err := cr.sendPlan(cgs, pending); err != nil {
		return err
	}
	cr.planSent, cr.cgroupPending = true, pending
	return nil
}

// cgroupReady tells a C init that got its plan early that it is in its
// cgroup now. If the init has gone, what it said before going is the
// error.
func (cr *creation) cgroupReady() error {
	if !cr.cgroupPending {
		return nil
	}
	if cr.cg == nil {
		return errors.New("the plan waits for a cgroup, but none was made")
	}
	if err := cr.conn.Send(initproc.Message{Type: initproc.MsgCgroup}); err != nil {
		if _, rerr := cr.expect(initproc.MsgReady); rerr != nil {
			return rerr
		}
		return err
	}
	return nil
}

// systemd reports whether the systemd driver makes the cgroup.
func (cr *creation) systemd() bool {
	return cr.o.SystemdCgroup || cgroups.IsSystemdPath(cr.spec.Linux.CgroupsPath)
}

// planScope records the scope about to be made; systemd makes it in
// placeInit, since a scope is created with its first process in it.
func (cr *creation) planScope(cg *cgroups.Manager) error {
	planned := cg.Planned()
	cr.c.rec.Cgroup = &planned
	cr.cg = cg
	cr.undo = append(cr.undo, func() { _ = cg.Destroy() })
	return cr.c.save()
}

// startScope has systemd make the scope with the init in it, then applies
// the limits, and records the result.
func (cr *creation) startScope(pid int) error {
	desc := "pelagos container " + cr.o.ID
	if err := cr.cg.StartScope(context.Background(), desc, pid, withDeviceRules(cr.spec.Linux)); err != nil {
		return err
	}
	st := cr.cg.State()
	cr.c.rec.Cgroup = &st
	return nil
}

// withoutCgroup lets a rootless container run without a cgroup of its own
// when the user has none delegated, as long as the config asks for no
// limit that would then go unenforced.
func (cr *creation) withoutCgroup(cause error) error {
	if r := cr.spec.Linux.Resources; r != nil {
		limits := *r
		limits.Devices = nil // device rules mean nothing without mknod rights
		if !reflect.DeepEqual(limits, specs.LinuxResources{}) && cause == nil {
			return errors.New("linux.resources sets limits, but the container runs without a cgroup to enforce them")
		}
		if !reflect.DeepEqual(limits, specs.LinuxResources{}) {
			return fmt.Errorf("linux.resources sets limits, but no cgroup is delegated to this user to enforce them: %w", cause)
		}
	}
	if cause != nil {
		cr.warn(fmt.Sprintf("running without a cgroup of its own (none is delegated to this user): %v", cause))
	}
	cr.noCgroup = true
	cr.c.rec.Cgroup = nil
	return cr.c.save()
}

// makeStartSocket listens on <dir>/start.sock (SOCK_SEQPACKET, like the
// sync socket). The path is bound through /proc/self/fd so that a long
// --root never exceeds sun_path.
func (cr *creation) makeStartSocket() error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	cr.listen = os.NewFile(uintptr(fd), "start-listener")
	cr.undo = append(cr.undo, func() {
		if cr.listen != nil {
			cr.listen.Close()
		}
	})
	return nil
}

// listenStart binds and listens on the start socket the init already
// holds (the same socket: binding it here binds it for both), once the
// init is starting: the bind makes a file, which costs a new inode.
// Nothing connects before create has reported the container created.
func (cr *creation) listenStart() error {
	dir, err := os.Open(cr.c.dir)
	if err != nil {
		return err
	}
	defer dir.Close()
	defer func() { cr.listen.Close(); cr.listen = nil }()
	fd := int(cr.listen.Fd())
	addr := &unix.SockaddrUnix{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), startSock)}
	if err := unix.Bind(fd, addr); err != nil {
		return os.NewSyscallError("bind start socket", err)
	}
	return os.NewSyscallError("listen", unix.Listen(fd, 1))
}

// sealResult is what the copy of our binary produced.
type sealResult struct {
	f   *os.File
	err error
}

func (cr *creation) sealBinary() error {
	r := <-cr.sealed
	cr.sealed = nil
	exe, err := r.f, r.err
	if err != nil {
		return err
	}
	cr.exe = exe
	cr.undo = append(cr.undo, func() { exe.Close() })
	cr.c.rec.InitExe, err = fileID(exe)
	return err
}

func (cr *creation) sendBootstrap() error {
	if cr.planSent {
		return nil
	}
	return cr.sendPlan(cgroupHierarchies(cr.cg), false)
}

// sendPlan sends the bootstrap, or the C init's compiled plan, with the
// cgroup hierarchies a cgroup mount shows.
func (cr *creation) sendPlan(cgs []initproc.CgroupHierarchy, cgroupPending bool) error {
	b := &initproc.Bootstrap{
		Mode:            initproc.ModeCreate,
		ID:              cr.o.ID,
		RawSpec:         cr.rawSpec,
		Rootfs:          cr.c.rec.Rootfs,
		Bundle:          cr.c.rec.Bundle,
		Pid:             cr.proc.Pid,
		NoPivot:         cr.o.NoPivot,
		NoNewKeyring:    cr.o.NoNewKeyring,
		UnshareCgroupNS: newNamespace(cr.spec, specs.CgroupNamespace),
		UnshareTimeNS:   newNamespace(cr.spec, specs.TimeNamespace),
		Cgroups:         cgs,
		CgroupPending:   cgroupPending,
		Fds:             cr.fds,
		PreserveFds:     cr.o.PreserveFds,
		PreparedMounts:  len(cr.prepared),
	}
	if cr.seccomp != nil {
		b.Seccomp, b.SeccompFlags = cr.seccomp.Encode(), cr.seccomp.Flags
	}
	if cr.cInit {
		b.Spec = cr.spec
		plan, err := initproc.CompilePlan(b)
		if err != nil {
			return err
		}
		return cr.conn.SendRaw(plan)
	}
	if err := cr.conn.Send(initproc.Message{Type: initproc.MsgBootstrap, Bootstrap: b}); err != nil {
		return err
	}
	for _, p := range cr.prepared {
		err := cr.conn.SendFd(initproc.Message{Type: initproc.MsgMount, Index: p.index}, p.mnt)
		p.mnt.Close()
		if err != nil {
			return err
		}
	}
	cr.prepared = nil
	return nil
}

// runtimeHooks runs prestart and createRuntime hooks when the init asks:
// its namespaces exist and its mounts are done, pivot_root is not.
func (cr *creation) runtimeHooks() error {
	if cr.cInit && !initproc.PlanAsksHooks(cr.spec) {
		return nil // the plan does not stop for them: there are none
	}
	if _, err := cr.expect(initproc.MsgHooks); err != nil {
		return err
	}
	cr.destroyOnFail = true
	if h := cr.spec.Hooks; h != nil {
		st := cr.c.State()
		// By the spec's lifecycle these hooks run after step 2, when the
		// container counts as created.
		st.Status = specs.StateCreated
		st.Pid = cr.proc.Pid
		//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
		prestart := h.Prestart
		if err := hooks.Run(context.Background(), "prestart", prestart, &st); err != nil {
			return err
		}
		if err := hooks.Run(context.Background(), "createRuntime", h.CreateRuntime, &st); err != nil {
			return err
		}
	}
	return cr.conn.Send(initproc.Message{Type: initproc.MsgHooksDone})
}

func (cr *creation) waitReady() error {
	_, err := cr.expect(initproc.MsgReady)
	return err
}

// startSoon sends the start the moment the init is ready, for a caller
// that starts at once (CreateOpts.StartSoon); Start awaits the outcome.
func (cr *creation) startSoon() error {
	if !cr.o.StartSoon {
		return nil
	}
	conn, err := dialStart(cr.c.dir)
	if err != nil {
		return fmt.Errorf("reach the container init: %w", err)
	}
	cr.undo = append(cr.undo, func() { conn.Close() })
	if err := conn.Send(initproc.Message{Type: initproc.MsgStart}); err != nil {
		return err
	}
	cr.c.startSent = conn
	return nil
}

// expect waits for a message from the init; if the init died without
// saying why, its exit status is the error.
func (cr *creation) expect(typ string) (initproc.Message, error) {
	m, err := cr.conn.Expect(typ, cr.warn)
	if errors.Is(err, io.EOF) {
		p := cr.proc
		if p == nil {
			p = cr.cmd.Process
		}
		st, werr := p.Wait()
		if werr == nil {
			werr = errors.New(st.String())
		}
		return m, fmt.Errorf("container init died before %s: %w", typ, werr)
	}
	return m, err
}

func (cr *creation) saveCreated() error {
	cr.c.rec.Status = specs.StateCreated
	cr.c.rec.Creator, cr.c.rec.CreatorStart = 0, 0
	if err := cr.c.save(); err != nil {
		return err
	}
	if cr.o.PidFile != "" {
		return writePidFile(cr.o.PidFile, cr.proc.Pid)
	}
	return nil
}

// writePidFile writes the pid atomically (a reader never sees a partial
// number).
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, abs)
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, os.NewSyscallError("flock", err)
	}
	return f, nil
}

func newNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path == ""
		}
	}
	return false
}

// cgroupHierarchies describes, for the init, what a cgroup mount inside
// the container shows.
func cgroupHierarchies(cg *cgroups.Manager) []initproc.CgroupHierarchy {
	var out []initproc.CgroupHierarchy
	if cg == nil {
		return nil
	}
	if cg.Mode() == cgroups.Unified {
		dir, _ := cg.Path("")
		return []initproc.CgroupHierarchy{{Name: "", Type: "cgroup2", Dir: dir}}
	}
	paths := cg.Paths()
	keys := make([]string, 0, len(paths))
	for key := range paths {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		dir := paths[key]
		h := initproc.CgroupHierarchy{Type: "cgroup", Options: key, Dir: dir}
		switch {
		case key == "":
			h.Name, h.Type, h.Options = "unified", "cgroup2", ""
		case len(key) > 5 && key[:5] == "name=":
			h.Name = key[5:]
		default:
			h.Name = key
		}
		out = append(out, h)
	}
	return out
}

func (cr *creation) startInit() error {
	parent, childEnd, err := socketpair()
	if err != nil {
		return err
	}
	cr.childFiles = append(cr.childFiles, childEnd)
	cr.undo = append(cr.undo, func() { parent.Close() })
	ch := newChild(cr.exe, cr.o.Stdin, cr.o.Stdout, cr.o.Stderr, cr.o.PreserveFds)
	syncFd := ch.slot(childEnd)
	cr.fds.Start = ch.slot(cr.listen)
	if cr.o.ConsoleSocket != nil {
		cr.fds.Console = ch.slot(cr.o.ConsoleSocket)
	}
	opened, err := ch.setupNamespaces(cr.spec)
	if err != nil {
		return err
	}
	notify := cr.seccomp != nil && cr.seccomp.Notify()
	if initproc.PlanUnsupported(cr.spec, cr.spec.Process, initproc.ModeCreate, notify, cr.needsPrepared()) == "" {
		cr.cInit = true
		ch.env = append(ch.env, nsenter.EnvPlan+"=1")
	}
	cr.childFiles = append(cr.childFiles, opened...)
	if cr.cg != nil && cr.cg.Mode() == cgroups.Unified {
		// Clone straight into the cgroup: the child is never outside it.
		dir, _ := cr.cg.Path("")
		if fd, err := os.Open(dir); err == nil {
			cr.childFiles = append(cr.childFiles, fd)
			ch.attr.UseCgroupFD, ch.attr.CgroupFD = true, int(fd.Fd())
		}
	}
	cmd, err := ch.start(syncFd)
	if err != nil {
		return err
	}
	cr.cmd = cmd
	cr.undo = append(cr.undo, func() { killProcess(cmd.Process) })
	cr.conn = initproc.NewConn(parent)
	cr.closeChildFiles()
	cr.newFlags, cr.clonedIntoCgroup, cr.joinedPidInC = ch.newFlags, ch.attr.UseCgroupFD, ch.cPid
	return nil
}

// placeInit waits for the init's namespaces and puts the init in its
// cgroup (unless it was cloned into it; a forked init inherits it). Its
// pid is recorded by saveCreated: an init whose create dies exits when
// its sync socket closes, and delete --force kills whatever is left in
// the planned cgroup. A systemd scope is recorded at once (its unit must
// be stopped).
func (cr *creation) placeInit() error {
	if err := cr.finishNamespaces(cr.newFlags); err != nil {
		return err
	}
	pid := cr.proc.Pid
	cr.c.rec.Pid = pid
	_, cr.c.rec.PidStart, _ = procStat(pid)
	switch {
	case cr.cg != nil && cr.cg.Systemd():
		if err := cr.startScope(pid); err != nil {
			return err
		}
		return cr.c.save()
	case !cr.clonedIntoCgroup && cr.cg != nil:
		return cr.cg.Apply(pid)
	}
	return nil
}

// withDeviceRules returns the resources with an allow rule for every
// device in linux.devices appended: a device the config creates is one the
// container may use, unless the config has a rule naming that very device
// (docker's --device /dev/x:/dev/x:r asks for read access only).
func withDeviceRules(l *specs.Linux) *specs.LinuxResources {
	if len(l.Devices) == 0 {
		return l.Resources
	}
	r := &specs.LinuxResources{}
	if l.Resources != nil {
		c := *l.Resources
		r = &c
	}
	r.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	for _, d := range l.Devices {
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue // fifos are not devices
		}
		major, minor := d.Major, d.Minor
		if slices.ContainsFunc(r.Devices, func(rule specs.LinuxDeviceCgroup) bool {
			return rule.Type == typ && rule.Major != nil && *rule.Major == major && rule.Minor != nil && *rule.Minor == minor
		}) {
			continue
		}
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	return r
}

// checkSeccomp compiles the profile (or finds it compiled in the runtime
// root's cache) before anything is created, so a bad profile fails with
// nothing to clean up; the init loads this program.
func (cr *creation) checkSeccomp(cfg *specs.LinuxSeccomp) error {
	if cfg == nil {
		return nil
	}
	p, cached, err := compileSeccomp(cr.o.Root, cfg, func(p *seccomp.Program) error {
		if len(p.UnknownSyscalls) > 0 {
			// A name no architecture has is a mistake in the profile, not
			// a syscall of a newer kernel: refuse it, naming the rule.
			return fmt.Errorf("linux.seccomp.syscalls[%d]: unknown syscall %q: %w",
				ruleOf(cfg, p.UnknownSyscalls[0]), p.UnknownSyscalls[0], spec.ErrInvalid)
		}
		if p.Notify() && cfg.ListenerPath == "" {
			return fmt.Errorf("linux.seccomp uses SCMP_ACT_NOTIFY but sets no listenerPath: %w", spec.ErrInvalid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cr.seccomp, cr.seccompCached = p, cached // the init loads it as compiled here
	return nil
}

// finishNamespaces serves the C constructor while it creates the new
// namespaces: it writes the id maps of a new user namespace, and learns
// the pid of an init forked into a new pid namespace.
func (cr *creation) finishNamespaces(flags uintptr) error {
	cr.proc = cr.cmd.Process
	if flags&unix.CLONE_NEWUSER != 0 {
		if _, err := cr.expect(initproc.MsgUserNS); err != nil {
			return err
		}
		if err := writeIDMaps(cr.cmd.Process.Pid, cr.spec.Linux); err != nil {
			return err
		}
		if err := cr.conn.Send(initproc.Message{Type: initproc.MsgUserNSDone}); err != nil {
			return err
		}
	}
	if flags&unix.CLONE_NEWPID == 0 && !cr.joinedPidInC {
		return nil
	}
	m, err := cr.expect(initproc.MsgPid)
	if err != nil {
		return err
	}
	// The forked init is our child too (CLONE_PARENT); the process we
	// executed has done its part and exits.
	proc, err := os.FindProcess(m.Pid)
	if err != nil {
		return err
	}
	cr.proc = proc
	cr.undo = append(cr.undo, func() { killProcess(proc) })
	if _, err := cr.cmd.Process.Wait(); err != nil {
		return err
	}
	return nil
}

// writeIDMaps writes the user namespace's uid and gid maps for pid. Root
// writes them directly; an unprivileged user can write only the mapping of
// its own ids, and needs the setuid helpers newuidmap/newgidmap (and
// /etc/subuid, /etc/subgid) for anything more.
func writeIDMaps(pid int, l *specs.Linux) error {
	if os.Geteuid() != 0 && !onlySelf(l) {
		if err := idMapHelper("newuidmap", pid, l.UIDMappings); err != nil {
			return err
		}
		return idMapHelper("newgidmap", pid, l.GIDMappings)
	}
	write := func(file string, maps []specs.LinuxIDMapping) error {
		var b strings.Builder
		for _, m := range maps {
			fmt.Fprintf(&b, "%d %d %d\n", m.ContainerID, m.HostID, m.Size)
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, file)
		if err := os.WriteFile(path, []byte(b.String()), 0); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		return nil
	}
	if os.Geteuid() != 0 {
		// Without privilege the gid map is accepted only once
		// setgroups is denied.
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/setgroups", pid), []byte("deny"), 0); err != nil {
			return err
		}
	}
	if err := write("uid_map", l.UIDMappings); err != nil {
		return err
	}
	return write("gid_map", l.GIDMappings)
}

// onlySelf reports whether the mappings map exactly the caller's own uid
// and gid, which an unprivileged user may write itself.
func onlySelf(l *specs.Linux) bool {
	self := func(maps []specs.LinuxIDMapping, id int) bool {
		return len(maps) == 1 && maps[0].Size == 1 && int(maps[0].HostID) == id
	}
	return self(l.UIDMappings, os.Geteuid()) && self(l.GIDMappings, os.Getegid())
}

// idMapHelper writes a map through newuidmap or newgidmap.
func idMapHelper(tool string, pid int, maps []specs.LinuxIDMapping) error {
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.FormatUint(uint64(m.ContainerID), 10),
			strconv.FormatUint(uint64(m.HostID), 10), strconv.FormatUint(uint64(m.Size), 10))
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s (an unprivileged user needs it, and ranges in /etc/sub%cid, to map more than its own id): %v: %s",
			tool, tool[3], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ruleOf returns the index of the first seccomp rule naming syscall.
func ruleOf(cfg *specs.LinuxSeccomp, syscall string) int {
	for i, r := range cfg.Syscalls {
		for _, n := range r.Names {
			if n == syscall {
				return i
			}
		}
	}
	return -1
}
