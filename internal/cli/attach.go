package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/engine/monitor"
)

// defaultDetachKeys is docker's detach sequence.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// errDetached: the user typed the detach keys.
var errDetached = errors.New("read escape sequence")

type attachOptions struct {
	noStdin, sigProxy bool
	detachKeys        string
}

func newAttachCmd(g *globals) *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return attach(ctx, g, e, args[0], o)
		}),
	}
	cmd.Flags().BoolVar(&o.noStdin, "no-stdin", false, "do not attach STDIN")
	cmd.Flags().BoolVar(&o.sigProxy, "sig-proxy", true, "proxy all received signals to the process")
	cmd.Flags().StringVar(&o.detachKeys, "detach-keys", defaultDetachKeys, "override the key sequence for detaching a container")
	return cmd
}

// attach streams a running container's output from its monitor's attach
// socket, sends our stdin when it was started with -i, and exits with the
// container's status, or at once (status 0) on the detach keys.
func attach(ctx context.Context, g *globals, e *engine.Engine, ref string, o attachOptions) error {
	keys, err := parseDetachKeys(o.detachKeys)
	if err != nil {
		return withStatus(125, err)
	}
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	switch {
	case !c.State.Running:
		return dockerError("You cannot attach to a stopped container, start it first")
	case e.Paused(c):
		return dockerError("You cannot attach to a paused container, unpause it first")
	}
	// Signals are caught before we connect: a client that is connected
	// proxies them (tests rely on that order).
	if o.sigProxy && !c.Config.Tty {
		stop := proxySignals(e, c)
		defer stop()
	}
	conn, err := monitor.DialAttach(c.AttachPath())
	if err != nil {
		return fmt.Errorf("container %s is not attachable (a foreground run has no monitor to attach to): %w", c.ShortID(), err)
	}
	defer conn.Close()
	e.EventFor(c, "attach", nil)
	return attachStreams(ctx, g, e, c, conn, !o.noStdin, keys)
}

// attachStreams copies between our stdio and a connection to c's attach
// socket (our stdin only with withStdin, and if c was started with -i)
// until c's process exits or the detach keys are typed.
func attachStreams(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container, conn *os.File, withStdin bool, keys []byte) error {
	detached := make(chan struct{})
	if in := stdinFile(g); in != nil && c.Config.OpenStdin && withStdin {
		if c.Config.Tty && term.IsTerminal(int(in.Fd())) {
			if st, err := term.MakeRaw(int(in.Fd())); err == nil {
				defer term.Restore(int(in.Fd()), st)
			}
			stop := followWindowSize(in, c.State.Pid)
			defer stop()
		}
		go func() {
			if sendInput(conn, in, keys) == errDetached {
				close(detached)
				conn.Close()
				return
			}
			_ = syscall.Shutdown(int(conn.Fd()), syscall.SHUT_WR)
		}()
	}
	code, _ := copyFrames(conn, g.out, g.err)
	select {
	case <-detached:
		fmt.Fprintln(g.err, errDetached.Error())
		e.EventFor(c, "detach", nil)
		return nil
	default:
	}
	if code < 0 {
		// The monitor went away without a status (killed): the record
		// has the truth once reconciled.
		var err error
		if code, err = e.Wait(context.WithoutCancel(ctx), c.ID); err != nil {
			return err
		}
	} else {
		// As docker's CLI, return once the exit is recorded (and an
		// --rm container removed), not merely seen.
		waitRecorded(context.WithoutCancel(ctx), e, c)
	}
	if code == 0 {
		return nil
	}
	return &statusError{code: code, err: fmt.Errorf("exit status %d", code), silent: true}
}

// proxySignals passes the signals we receive to the container's process,
// until stop is called.
func proxySignals(e *engine.Engine, c *engine.Container) (stop func()) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, proxied...)
	go func() {
		for s := range sigs {
			if s == syscall.SIGWINCH {
				continue
			}
			if rc, err := e.Runtime(c); err == nil {
				_ = rc.Kill(s.(syscall.Signal), false)
			}
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// copyFrames demultiplexes the monitor's frames onto stdout and stderr
// until the connection ends; it returns the exit status the monitor sent
// (-1 if none).
func copyFrames(r io.Reader, stdout, stderr io.Writer) (int, error) {
	hdr := make([]byte, monitor.FrameHeader)
	buf := make([]byte, 32<<10)
	code := -1
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return code, err
		}
		n := int(hdr[4])<<24 | int(hdr[5])<<16 | int(hdr[6])<<8 | int(hdr[7])
		var status bytes.Buffer
		w := stdout
		switch hdr[0] {
		case monitor.StreamStderr:
			w = stderr
		case monitor.StreamExit:
			w = &status
		}
		for n > 0 {
			m, err := io.ReadFull(r, buf[:min(n, len(buf))])
			_, _ = w.Write(buf[:m])
			if err != nil {
				return code, err
			}
			n -= m
		}
		if hdr[0] == monitor.StreamExit {
			if c, err := strconv.Atoi(status.String()); err == nil {
				code = c
			}
		}
	}
}

// sendInput copies in to w until in ends (nil) or the detach keys are
// typed (errDetached). Bytes that begin the sequence are held back until
// it is complete or broken, as docker's escape proxy does.
func sendInput(w io.Writer, in io.Reader, keys []byte) error {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := in.Read(buf)
		out := make([]byte, 0, n+len(keys))
		for _, b := range buf[:n] {
			if len(keys) > 0 && b == keys[matched] {
				matched++
				if matched == len(keys) {
					_, _ = w.Write(out)
					return errDetached
				}
				continue
			}
			out = append(out, keys[:matched]...)
			matched = 0
			if len(keys) > 0 && b == keys[0] {
				matched = 1
				continue
			}
			out = append(out, b)
		}
		if len(out) > 0 {
			if _, werr := w.Write(out); werr != nil {
				return werr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// parseDetachKeys parses docker's detach-keys format: comma-separated
// keys, each a single character or ctrl-X (X a letter or one of @[\]^_).
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				out = append(out, c-'@')
			default:
				return nil, dockerError(fmt.Sprintf("Invalid detach keys (%s) provided", s))
			}
		default:
			return nil, dockerError(fmt.Sprintf("Invalid detach keys (%s) provided", s))
		}
	}
	return out, nil
}

// followWindowSize gives the container's terminal our terminal's size,
// now and on every SIGWINCH, until stop is called. The monitor holds the
// pty master; the slave is reached as the container's init's stdin,
// checked to be a terminal before it is resized (the init may have
// replaced its stdin with any file of the container's).
func followWindowSize(in *os.File, pid int) (stop func()) {
	resize := func() {
		ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			return
		}
		f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", pid), os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
			_ = unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, ws)
		}
	}
	resize()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for range sigs {
			resize()
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// dialNewMonitor connects to the attach socket of a monitor that is
// starting: it retries while the socket is missing or still the one a
// killed monitor left, for at most d.
func dialNewMonitor(path string, d time.Duration) (*os.File, error) {
	deadline := time.Now().Add(d)
	for {
		conn, err := monitor.DialAttach(path)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(time.Millisecond)
	}
}

// startInteractive is `start -i`: it connects to the new monitor before
// the process starts (no output is missed), then attaches our stdio.
func startInteractive(ctx context.Context, g *globals, e *engine.Engine, ref, detachKeys string) error {
	keys, err := parseDetachKeys(detachKeys)
	if err != nil {
		return withStatus(125, err)
	}
	c, err := e.Get(ctx, ref)
	if err != nil {
		return err
	}
	if c.State.Running {
		return attach(ctx, g, e, ref, attachOptions{sigProxy: true, detachKeys: detachKeys})
	}
	return startAndAttach(ctx, g, e, c, keys, !c.Config.Tty)
}

// runTerminal is a foreground `run -t`: as under docker, the container
// runs under a monitor and we attach to it, so that the detach keys can
// leave it running. (Without a terminal a foreground run is its own
// monitor: no extra process.)
func runTerminal(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container, detachKeys string) error {
	keys, err := parseDetachKeys(detachKeys)
	if err != nil {
		return withStatus(125, err)
	}
	err = startAndAttach(ctx, g, e, c, keys, false)
	var se *statusError
	if err != nil && c.HostConfig.AutoRemove && !(errors.As(err, &se) && se.silent) {
		// A start that failed leaves the container, which --rm removes
		// (with its anonymous volumes), as docker's daemon does.
		_ = e.RemoveWithVolumes(context.WithoutCancel(ctx), c.ID, true)
	}
	return err
}

// startAndAttach starts c under a new monitor, connected to its attach
// socket before the process starts, and attaches our stdio.
func startAndAttach(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container, keys []byte, sigProxy bool) error {
	e.EventFor(c, "attach", nil) // docker's order: create, attach, start
	var conn *os.File
	err := startMonitor(g, e, c, monitorMode{conn: &conn})
	if conn != nil {
		defer conn.Close()
	}
	if err != nil {
		return err
	}
	if conn == nil {
		return fmt.Errorf("container %s started, but its monitor's attach socket did not answer", c.ShortID())
	}
	// The running record (its pid); an --rm container may be gone
	// already, its status still comes through the socket.
	if cur, err := e.Get(ctx, c.ID); err == nil {
		c = cur
	}
	if sigProxy {
		stop := proxySignals(e, c)
		defer stop()
	}
	return attachStreams(ctx, g, e, c, conn, true, keys)
}

// waitRecorded waits until c's record no longer says it runs, or with
// --rm until c is gone and its monitor (the one c names) exited (at most a
// minute: a monitor that stops mid-way is reconciled by the next load).
func waitRecorded(ctx context.Context, e *engine.Engine, c *engine.Container) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	delay := time.Millisecond
	for {
		cur, err := e.Get(ctx, c.ID)
		if err == nil && !c.HostConfig.AutoRemove && !cur.State.Running {
			return
		}
		// Removed: its monitor exits right after, nothing is left once
		// it did.
		if err != nil && !c.MonitorAlive() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}
