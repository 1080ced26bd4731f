package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/engine/monitor"
)

// monitorMode says how a new monitor begins.
type monitorMode struct {
	restartAfter time.Duration
	// conn, when set, receives a connection to the monitor's attach
	// socket made before the container's process starts.
	conn **os.File
}

// startDetached starts c under a new monitor and returns once its process
// runs (or failed to start, with docker's exit status).
func startDetached(g *globals, e *engine.Engine, c *engine.Container) error {
	return startMonitor(g, e, c, monitorMode{})
}

// monitorPath finds pelagos-monitor: $PELAGOS_MONITOR, beside our own
// binary, or on $PATH.
func monitorPath() (string, error) {
	if p := os.Getenv("PELAGOS_MONITOR"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pelagos-monitor")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("pelagos-monitor")
	if err != nil {
		return "", errors.New("pelagos-monitor not found beside pelagos or on $PATH (scripts/build.sh builds it)")
	}
	return p, nil
}

// startMonitor starts a monitor for c in its own session (it outlives
// us) and waits for its first step's result on a status pipe.
func startMonitor(g *globals, e *engine.Engine, c *engine.Container, mode monitorMode) error {
	mon, err := monitorPath()
	if err != nil {
		return withStatus(125, err)
	}
	self, err := os.Executable()
	if err != nil {
		return withStatus(125, err)
	}
	size, files := logLimits(c)
	o := monitor.Options{
		LogPath: c.LogPath(), MaxSize: size, MaxFiles: files, TTY: c.Config.Tty, Stdin: c.Config.OpenStdin,
		RestartAfter: mode.restartAfter, AttachPath: c.AttachPath(),
		Step: []string{self, "--root", g.root, "--runroot", e.RunRoot(), stepName, c.ID},
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return withStatus(125, err)
	}
	defer statusR.Close()
	cmd := exec.Command(mon, o.Args()...)
	cmd.ExtraFiles = []*os.File{statusW}
	cmd.SysProcAttr = detachedAttr()
	err = cmd.Start()
	statusW.Close()
	if err != nil {
		return withStatus(125, fmt.Errorf("start the monitor: %w", err))
	}
	defer cmd.Process.Release()
	if mode.restartAfter > 0 {
		return nil
	}
	if mode.conn != nil {
		// The monitor binds its socket before its first step: connect
		// while the step starts the process.
		*mode.conn, _ = dialNewMonitor(c.AttachPath(), 2*time.Second)
	}
	return readStatus(statusR)
}

// readStatus reads a step's result: "ok", or "error CODE MESSAGE".
func readStatus(r *os.File) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "ok" {
			return nil
		}
		if rest, ok := strings.CutPrefix(line, "error "); ok {
			codeS, msg, _ := strings.Cut(rest, " ")
			code, err := strconv.Atoi(codeS)
			if err != nil {
				code = 125
			}
			return withStatus(code, errors.New(msg))
		}
	}
	return withStatus(125, errors.New("the container's monitor exited without starting it"))
}

const stepName = "__monitor-step"

// newStepCmd is the hidden command a monitor runs for each step (see
// internal/engine/monitor for the descriptors it gets).
func newStepCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:    stepName + " ID MODE [STATUS]",
		Hidden: true,
		Args:   cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Our descriptors from the monitor must not reach the
			// processes we start.
			for fd := monitor.FdReport; fd <= monitor.FdConsole; fd++ {
				unix.CloseOnExec(fd)
			}
			report := os.NewFile(monitor.FdReport, "report")
			status := os.NewFile(monitor.FdStatus, "status")
			err := monitorStep(cmd.Context(), g, args, report, status)
			if err != nil {
				msg := strings.ReplaceAll(err.Error(), "\n", " ")
				fmt.Fprintf(status, "error %d %s\n", stepStatus(err), msg)
				return &statusError{code: 1, err: err, silent: true}
			}
			return nil
		},
	}
}

func stepStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.code
	}
	return engine.StartErrorStatus(err)
}

func monitorStep(ctx context.Context, g *globals, args []string, report, status *os.File) error {
	// Our own stdio is /dev/null; warnings go to whoever started us.
	g.err = status
	e, err := g.engine()
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	id, mode := args[0], args[1]
	switch mode {
	case monitor.ModeExited:
		code := 255
		if len(args) == 3 {
			if n, err := strconv.Atoi(args[2]); err == nil {
				code = n
			}
		}
		next, err := e.Exited(ctx, id, code)
		if err == nil && next.Restart {
			fmt.Fprintf(report, "restart %d\n", next.Delay.Milliseconds())
		}
		return err
	case monitor.ModeStart, monitor.ModeRestart:
		stdio := engine.Stdio{
			Stdin:  os.NewFile(monitor.FdStdin, "stdin"),
			Stdout: os.NewFile(monitor.FdStdout, "stdout"),
			Stderr: os.NewFile(monitor.FdStderr, "stderr"),
		}
		c, err := e.Get(ctx, id)
		if err != nil {
			return err
		}
		if c.Config.Tty {
			stdio.ConsoleSocket = os.NewFile(monitor.FdConsole, "console")
		}
		var st *engine.Started
		if mode == monitor.ModeStart {
			st, err = e.Start(ctx, id, stdio, os.Getppid())
		} else {
			st, err = e.Restarting(ctx, id, stdio, os.Getppid())
		}
		if err != nil || st == nil {
			return err
		}
		// The monitor holds the sockets reserving the published ports
		// for as long as the process runs.
		if err := monitor.SendHeld(report, st.Held); err != nil {
			return err
		}
		for _, f := range st.Held {
			f.Close()
		}
		fmt.Fprintf(report, "pid %d\n", st.Runtime.Pid())
		if d, ok := engine.HealthDelay(st.Container); ok {
			fmt.Fprintf(report, "health %d\n", d.Milliseconds())
		}
		fmt.Fprintln(status, "ok")
		return nil
	case monitor.ModeHealth:
		next, ok, err := e.HealthCheck(ctx, id)
		if ok {
			fmt.Fprintf(report, "health %d\n", next.Milliseconds())
		}
		return err
	}
	return fmt.Errorf("unknown step %q", mode)
}

func newStartCmd(g *globals) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if (attach || interactive) && len(args) > 1 {
				return withStatus(125, errors.New("you cannot start and attach multiple containers at once"))
			}
			if interactive {
				return startInteractive(ctx, g, e, args[0], detachKeys)
			}
			if attach {
				return startAttached(ctx, g, e, args[0])
			}
			return eachContainer(g, args, func(ref string) error {
				c, err := e.Get(ctx, ref)
				if err != nil {
					return err
				}
				if c.State.Running {
					return nil
				}
				return startOrRemove(ctx, g, e, c)
			})
		}),
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach container's STDIN (and STDOUT/STDERR)")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container")
	return cmd
}

// startOrRemove starts c detached; when the start fails, an --rm
// container is removed with its anonymous volumes, as docker's daemon
// removes it.
func startOrRemove(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container) error {
	err := startDetached(g, e, c)
	if err != nil && c.HostConfig.AutoRemove {
		_ = e.RemoveWithVolumes(context.WithoutCancel(ctx), c.ID, true)
	}
	return err
}

// startAttached starts a container under a monitor, follows its log and
// exits with its status.
func startAttached(ctx context.Context, g *globals, e *engine.Engine, ref string) error {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	since := time.Now()
	e.EventFor(c, "attach", nil)
	if !c.State.Running {
		if err := startOrRemove(ctx, g, e, c); err != nil {
			return err
		}
	}
	if err := printLogs(ctx, g, e, c, engine.LogOptions{Since: since, Tail: -1, Follow: true}, false); err != nil {
		return err
	}
	code, err := e.Wait(ctx, c.ID)
	if err != nil || code == 0 {
		return err
	}
	return &statusError{code: code, err: fmt.Errorf("exit status %d", code), silent: true}
}

func newStopCmd(g *globals) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			sig, t, err := stopArgs(signal, timeout)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string) error { return e.Stop(ctx, ref, sig, t) })
		}),
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", -1, "seconds to wait before killing the container")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "signal to send to the container")
	return cmd
}

// stopArgs parses stop's --signal and --time (negative: the container's
// own stop timeout).
func stopArgs(signal string, timeout int) (unix.Signal, time.Duration, error) {
	var sig unix.Signal
	if signal != "" {
		s, err := engine.ParseSignal(signal)
		if err != nil {
			return 0, 0, err
		}
		sig = s
	}
	t := time.Duration(-1)
	if timeout >= 0 {
		t = time.Duration(timeout) * time.Second
	}
	return sig, t, nil
}

// detachedAttr puts a monitor in a session of its own: no terminal
// signal (Ctrl-C, hangup) of ours reaches it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

func newRestartCmd(g *globals) *cobra.Command {
	var timeout int
	var signal string
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			sig, t, err := stopArgs(signal, timeout)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string) error {
				if err := e.Stop(ctx, ref, sig, t); err != nil {
					return err
				}
				c, err := e.Get(ctx, ref)
				if err != nil {
					return err
				}
				if err := startDetached(g, e, c); err != nil {
					return err
				}
				e.Event(c, "restart")
				return nil
			})
		}),
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", -1, "seconds to wait before killing the container")
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "signal to send to the container")
	return cmd
}
