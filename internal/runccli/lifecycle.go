package runccli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/spec"
	"github.com/pelagos-go/pelagos/internal/ttyproxy"
)

type createFlags struct {
	bundle        string
	consoleSocket string
	pidFile       string
	noPivot       bool
	noNewKeyring  bool
	preserveFds   int
}

func (f *createFlags) register(cmd *command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.bundle, "bundle", "b", "", "path to the bundle (default: the current directory)")
	fl.StringVar(&f.consoleSocket, "console-socket", "", "unix socket that receives the pty master when process.terminal is set")
	fl.StringVar(&f.pidFile, "pid-file", "", "write the container's init pid to this file")
	fl.BoolVar(&f.noPivot, "no-pivot", false, "use MS_MOVE and chroot instead of pivot_root (weaker; for ramdisk roots)")
	fl.BoolVar(&f.noNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
	fl.IntVar(&f.preserveFds, "preserve-fds", 0, "pass this many descriptors from 3 up to the container process")
}

func (f *createFlags) opts(g *globals, id string) (container.CreateOpts, error) {
	bundle := f.bundle
	if bundle == "" {
		bundle = "."
	}
	o := container.CreateOpts{
		Root: g.root, ID: id, Bundle: bundle, PidFile: f.pidFile,
		NoPivot: f.noPivot, NoNewKeyring: f.noNewKeyring, PreserveFds: f.preserveFds,
		Warn: g.warn, SystemdCgroup: g.systemdCgroup,
	}
	if f.preserveFds < 0 {
		return o, fmt.Errorf("--preserve-fds %d: must not be negative", f.preserveFds)
	}
	if f.consoleSocket != "" {
		s, err := dialConsole(f.consoleSocket)
		if err != nil {
			return o, err
		}
		o.ConsoleSocket = s
	}
	return o, nil
}

// dialConsole connects to the caller's console socket.
func dialConsole(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("--console-socket %s: %w", path, os.NewSyscallError("connect", err))
	}
	return os.NewFile(uintptr(fd), path), nil
}

func newCreate(g *globals) *command {
	var f createFlags
	cmd := &command{
		Use:   "create [flags] <container-id>",
		Short: "create a container from a bundle; it waits for start",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			o, err := f.opts(g, args[0])
			if err != nil {
				return err
			}
			if o.ConsoleSocket != nil {
				defer o.ConsoleSocket.Close()
			}
			_, err = container.Create(cmd.Context(), o)
			return err
		},
	}
	f.register(cmd)
	return cmd
}

func newStart(g *globals) *command {
	return &command{
		Use:   "start <container-id>",
		Short: "run the process of a created container",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Start(cmd.Context(), g.warn)
		},
	}
}

func newRun(g *globals) *command {
	var f createFlags
	var detach, keep bool
	cmd := &command{
		Use:   "run [flags] <container-id>",
		Short: "create and start a container; without --detach, wait for it and delete it",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			o, err := f.opts(g, args[0])
			if err != nil {
				return err
			}
			var tty *ttyproxy.Proxy
			// The config is decoded once, here, for its terminal flag
			// and for Create; a config that does not load is left for
			// Create to report, after the checks it makes first.
			if s, raw, err := spec.LoadRaw(o.Bundle); err == nil {
				o.Spec, o.RawSpec = s, raw
			}
			if o.ConsoleSocket == nil && !detach && o.Spec != nil && o.Spec.Process != nil && o.Spec.Process.Terminal {
				if tty, err = ttyproxy.New(os.Stdin, os.Stdout, nil); err != nil {
					return err
				}
				defer tty.Close()
				o.ConsoleSocket = tty.Socket()
			}
			sigs, caught := catchSignals()
			defer func() { <-caught }()
			c, err := container.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			<-caught
			if tty != nil {
				if err := tty.Attach(true); err != nil {
					_ = c.Delete(cmd.Context(), true, g.warn)
					return err
				}
			}
			if err := c.Start(cmd.Context(), g.warn); err != nil {
				_ = c.Delete(cmd.Context(), true, g.warn)
				return err
			}
			if detach {
				return nil
			}
			code := waitForwarding(c.Pid(), sigs, c.Wait, tty)
			if !keep {
				if err := c.Delete(cmd.Context(), true, g.warn); err != nil {
					g.warn(err.Error())
				}
			}
			if code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the process runs")
	cmd.Flags().BoolVar(&keep, "keep", false, "do not delete the container after it exits")
	cmd.Flags().Bool("no-subreaper", false, "accepted for compatibility")
	return cmd
}

// catchSignals starts catching every signal, for waitForwarding to relay
// to the container: it must get what we get, not die with us. Catching
// costs a round trip to the Go runtime's signal thread per signal (~65 of
// them; milliseconds on a loaded machine), so it runs in the background
// while the container is created, and caught is closed once it is done;
// the caller waits for it before it starts the container. A signal that
// arrives before then acts on this process as it would have before it
// caught anything. Signals are never released (signal.Stop costs as
// much): this process exits when the container is gone.
func catchSignals() (sigs chan os.Signal, caught <-chan struct{}) {
	sigs = make(chan os.Signal, 64)
	done := make(chan struct{})
	go func() {
		signal.Notify(sigs)
		close(done)
	}()
	return sigs, done
}

// waitForwarding relays signals to pid until wait returns, then reports
// the exit code.
func waitForwarding(pid int, sigs chan os.Signal, wait func() (int, error), tty *ttyproxy.Proxy) int {
	done := make(chan int, 1)
	go func() {
		code, _ := wait()
		done <- code
	}()
	for {
		select {
		case code := <-done:
			if tty != nil {
				tty.Wait()
			}
			return code
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			if !ok {
				continue
			}
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				// Ours, not the container's (SIGURG is the Go
				// runtime's preemption signal).
			case unix.SIGWINCH:
				if tty != nil {
					tty.Resize()
				}
			default:
				_ = unix.Kill(pid, sig)
			}
		}
	}
}

func newState(g *globals) *command {
	return &command{
		Use:   "state <container-id>",
		Short: "print the container's state as JSON",
		Args:  exactArgs(1, "a container id"),
		RunE: func(cmd *command, args []string) error {
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(c.Info(), "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Println(string(b))
			return err
		},
	}
}

func newKill(g *globals) *command {
	var all bool
	cmd := &command{
		Use:   "kill [flags] <container-id> [signal]",
		Short: "send a signal (default SIGTERM) to the container's init",
		Args: func(cmd *command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("kill: expects a container id and an optional signal (got %d arguments)", len(args))
			}
			return nil
		},
		RunE: func(cmd *command, args []string) error {
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = parseSignal(args[1]); err != nil {
					return err
				}
			}
			c, err := container.Load(g.root, args[0])
			if err != nil {
				return err
			}
			return c.Kill(sig, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every process in the container")
	return cmd
}

// parseSignal accepts "9", "KILL", "SIGKILL" and "sigkill".
func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %d is out of range", n)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return unix.Signal(34 + n), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func newDelete(g *globals) *command {
	var force bool
	cmd := &command{
		Use:   "delete [flags] <container-id>...",
		Short: "delete stopped containers (--force: any)",
		Args:  minArgs(1),
		RunE: func(cmd *command, args []string) error {
			var errs []error
			for _, id := range args {
				c, err := container.Load(g.root, id)
				if errors.Is(err, container.ErrNotExist) && force {
					continue
				}
				if err == nil {
					err = c.Delete(cmd.Context(), force, g.warn)
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill the container first if it is not stopped")
	return cmd
}
