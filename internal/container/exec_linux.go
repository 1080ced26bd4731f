package container

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/nsenter"
	"github.com/pelagos-go/pelagos/internal/seccomp"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// ExecOpts are the inputs of Exec.
type ExecOpts struct {
	Process *specs.Process
	// PidFile, when set, receives the new process's pid.
	PidFile       string
	ConsoleSocket *os.File
	PreserveFds   int
	Stdin         *os.File
	Stdout        *os.File
	Stderr        *os.File
	Warn          func(string)
	// InitBinary is as in CreateOpts.
	InitBinary string
}

// Process is a process started by Exec.
type Process struct {
	cmd *exec.Cmd
	// forked is the process itself when the executed child forked it into
	// a joined pid namespace (rootless exec; see internal/nsenter).
	forked *os.Process
}

// Pid returns the process's pid as the runtime sees it.
func (p *Process) Pid() int {
	if p.forked != nil {
		return p.forked.Pid
	}
	return p.cmd.Process.Pid
}

// Wait waits for the process and returns its exit code (128+signal).
func (p *Process) Wait() (int, error) {
	if p.forked != nil {
		st, err := p.forked.Wait()
		return exitCode(st, err)
	}
	err := p.cmd.Wait()
	return exitCode(p.cmd.ProcessState, err)
}

// Exec starts another process in a created or running container: it
// joins all of the container's namespaces and its cgroup, and gets the
// process's own user, capabilities, terminal and environment. It returns
// once the process has been executed (or failed to).
func (c *Container) Exec(ctx context.Context, o ExecOpts) (*Process, error) {
	if st := c.Status(); st != specs.StateCreated && st != specs.StateRunning {
		return nil, fmt.Errorf("cannot exec in container %s: it is %s: %w", c.rec.ID, st, ErrInvalidState)
	}
	if err := spec.ValidateProcess(o.Process); err != nil {
		return nil, err
	}
	exe, err := sealedExe(o.InitBinary)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	parent, childEnd, err := socketpair()
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	ch := newChild(exe, o.Stdin, o.Stdout, o.Stderr, o.PreserveFds)
	syncFd := ch.slot(childEnd)
	var fds initproc.FdSlots
	if o.ConsoleSocket != nil {
		fds.Console = ch.slot(o.ConsoleSocket)
	}
	nsFiles, err := c.joinNamespaces(ch)
	defer closeAll(nsFiles)
	if err != nil {
		childEnd.Close()
		return nil, err
	}
	how, err := c.execPlan(o.Process)
	if err != nil {
		childEnd.Close()
		return nil, err
	}
	if !how.goInit {
		ch.env = append(ch.env, nsenter.EnvPlan+"=1")
	}
	cmd, err := ch.start(syncFd)
	childEnd.Close()
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd}
	conn := initproc.NewConn(parent)
	if ch.cPid {
		if p.forked, err = awaitForked(conn, cmd, o.Warn); err != nil {
			killProcess(cmd.Process)
			return nil, err
		}
	}
	if err := c.execBootstrap(p.Pid(), conn, o, fds, how); err != nil {
		if p.forked != nil {
			killProcess(p.forked)
		} else {
			killProcess(cmd.Process)
		}
		return nil, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p.Pid()); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// awaitForked learns the pid of the process the executed child forked
// into a joined pid namespace, and reaps the executed child, whose part
// is done.
func awaitForked(conn *initproc.Conn, cmd *exec.Cmd, warn func(string)) (*os.Process, error) {
	m, err := conn.Expect(initproc.MsgPid, warn)
	if err != nil {
		_ = cmd.Wait()
		return nil, fmt.Errorf("exec: %w", err)
	}
	if m.Pid <= 0 {
		return nil, fmt.Errorf("exec: bad pid %d from the process joining the pid namespace", m.Pid)
	}
	forked, err := os.FindProcess(m.Pid)
	if err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		killProcess(forked)
		return nil, fmt.Errorf("exec: the process joining the namespaces: %w", err)
	}
	return forked, nil
}

// joinNamespaces arranges for the child to join every namespace of the
// container, through the init's /proc/<pid>/ns files. The init is pinned
// by a pidfd while they are opened, so they cannot belong to a process
// that reused its pid.
func (c *Container) joinNamespaces(ch *child) ([]*os.File, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	fd, err := pidfd(c.rec.Pid, c.rec.PidStart)
	if err != nil {
		return nil, fmt.Errorf("container %s: init process: %w", c.rec.ID, err)
	}
	defer closeFd(fd)
	var files []*os.File
	ch.allInC = joinsInC(hasNS(cfg, specs.UserNamespace))
	order := append(append([]specs.LinuxNamespaceType{}, cJoined...),
		specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.CgroupNamespace)
	for _, t := range order {
		if !hasNS(cfg, t) {
			continue
		}
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", c.rec.Pid, procNames[t]))
		if err != nil {
			return files, fmt.Errorf("open %s namespace of the init: %w", t, err)
		}
		files = append(files, f)
		ch.addJoin(t, f)
	}
	if !processAlive(c.rec.Pid, c.rec.PidStart) {
		return files, fmt.Errorf("container %s: the init exited", c.rec.ID)
	}
	return files, nil
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// execStart is how an exec's process starts: the container's seccomp
// program (nil for none), and whether the Go init must start it.
type execStart struct {
	seccomp *seccomp.Program
	goInit  bool
}

// execPlan says whether the C init can start process p in this container,
// with the seccomp program either init loads.
func (c *Container) execPlan(p *specs.Process) (*execStart, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	var prog *seccomp.Program
	if cfg.Linux.Seccomp != nil {
		if prog, err = c.seccompProgram(cfg.Linux.Seccomp); err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", err)
		}
	}
	if initproc.PlanUnsupported(cfg, p, initproc.ModeExec, prog != nil && prog.Notify(), false) != "" {
		return &execStart{seccomp: prog, goInit: true}, nil
	}
	return &execStart{seccomp: prog}, nil
}

func (c *Container) execBootstrap(pid int, conn *initproc.Conn, o ExecOpts, fds initproc.FdSlots, how *execStart) error {
	if c.rec.Cgroup != nil {
		if err := cgroups.Load(*c.rec.Cgroup).Apply(pid); err != nil {
			return err
		}
	}
	b := &initproc.Bootstrap{
		Mode:        initproc.ModeExec,
		ID:          c.rec.ID,
		RawSpec:     c.rawConfig,
		Process:     o.Process,
		Pid:         pid,
		Fds:         fds,
		PreserveFds: o.PreserveFds,
	}
	if how.seccomp != nil {
		b.Seccomp, b.SeccompFlags = how.seccomp.Encode(), how.seccomp.Flags
	}
	if !how.goInit {
		b.Spec = c.config
		plan, err := initproc.CompileExecPlan(b)
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		if err := conn.SendRaw(plan); err != nil {
			return err
		}
	} else if err := conn.Send(initproc.Message{Type: initproc.MsgBootstrap, Bootstrap: b}); err != nil {
		return err
	}
	if err := c.awaitExec(context.Background(), conn, pid, o.Warn); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}
