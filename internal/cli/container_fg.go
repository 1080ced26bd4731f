package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/engine/jsonlog"
)

// proxied are the signals a foreground run passes to the container.
var proxied = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// runForeground runs c attached to our stdio and is its monitor: the
// init is our child, its output goes to our stdout and stderr and to the
// log, and we record its exit. It returns the container's exit status.
// A container with a terminal runs under a monitor instead (runTerminal).
func runForeground(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container, sigProxy bool) (int, error) {
	log, err := openLog(c)
	if err != nil {
		return 0, withStatus(125, err)
	}
	defer log.Close()
	e.EventFor(c, "attach", nil) // docker's order: create, attach, start
	var stdio engine.Stdio
	var copies sync.WaitGroup
	var childEnds []*os.File
	// Streams left out by -a are still logged, as docker logs them.
	outs := []io.Writer{io.Discard, io.Discard}
	if c.Config.AttachStdout {
		outs[0] = g.out
	}
	if c.Config.AttachStderr {
		outs[1] = g.err
	}
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, withStatus(125, err)
		}
		childEnds = append(childEnds, w)
		copies.Add(1)
		go func(stream string, dst io.Writer) {
			defer copies.Done()
			defer r.Close()
			_ = log.Copy(stream, r, dst)
		}(stream, outs[i])
	}
	stdio.Stdout, stdio.Stderr = childEnds[0], childEnds[1]
	if c.Config.OpenStdin && c.Config.AttachStdin {
		stdio.Stdin = stdinFile(g)
	}
	if stdio.Stdin == nil {
		null, err := os.Open(os.DevNull)
		if err != nil {
			return 0, withStatus(125, err)
		}
		defer null.Close()
		stdio.Stdin = null
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, proxied...)
	// No signal.Stop on the way out: the process exits when this
	// returns, and Stop costs a round trip to the runtime's signal
	// thread for each signal and a wait for its signal goroutine
	// (~0.45 ms here, after the container has exited). A signal in that
	// last moment goes to the channel, as during the run.
	// From here on our own context's cancellation (Ctrl-C) is for the
	// container, not for us: we must live to record its exit.
	ctx = context.WithoutCancel(ctx)
	st, err := e.Start(ctx, c.ID, stdio, os.Getpid())
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		waitGroupFor(&copies, 2*time.Second)
		if c.HostConfig.AutoRemove {
			_ = e.RemoveWithVolumes(ctx, c.ID, true) // its anonymous volumes too, as docker
		}
		return 0, startErr(err)
	}
	go forwardSignals(sigs, st, sigProxy)
	stopHealth := healthLoop(ctx, e, st.Container)
	code, _ := st.Runtime.Wait()
	stopHealth()
	// The published ports' reservations end with the process.
	for _, f := range st.Held {
		f.Close()
	}
	waitGroupFor(&copies, 2*time.Second)
	next, err := e.Exited(ctx, c.ID, code)
	if err != nil {
		return code, withStatus(125, err)
	}
	if next.Restart {
		// Docker restarts a foreground container behind the client's
		// back; here a detached monitor takes over.
		if err := startMonitor(g, e, c, monitorMode{restartAfter: next.Delay}); err != nil {
			g.warnf("restart policy: %v", err)
		}
	}
	return code, nil
}

func forwardSignals(sigs chan os.Signal, st *engine.Started, proxy bool) {
	for s := range sigs {
		sig := s.(syscall.Signal)
		if sig == syscall.SIGWINCH {
			continue
		}
		if proxy {
			_ = st.Runtime.Kill(sig, false)
		}
	}
}

// openLog opens c's json-file log with its rotation options.
func openLog(c *engine.Container) (*jsonlog.Writer, error) {
	size, files := logLimits(c)
	return jsonlog.Open(c.LogPath(), size, files)
}

func logLimits(c *engine.Container) (int64, int) {
	cfg := c.HostConfig.LogConfig.Config
	size, _ := engine.ParseBytes(cfg["max-size"])
	files, err := strconv.Atoi(cfg["max-file"])
	if err != nil {
		files = 1
	}
	return size, files
}

func (g *globals) warnf(format string, args ...any) {
	g.errf("WARNING: "+format+"\n", args...)
}
