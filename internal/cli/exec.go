package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/ttyproxy"
)

func newExecCmd(g *globals) *cobra.Command {
	var o struct {
		interactive, tty, detach, privileged bool
		env, envFile                         []string
		workdir, user                        string
	}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return withStatus(125, err)
			}
			eo := engine.ExecOptions{Cmd: args[1:], WorkDir: o.workdir, User: o.user, Tty: o.tty, Privileged: o.privileged}
			for _, p := range o.envFile {
				env, err := engine.ParseEnvFile(p)
				if err != nil {
					return withStatus(125, err)
				}
				eo.Env = append(eo.Env, env...)
			}
			eo.Env = append(eo.Env, engine.ExpandEnv(o.env)...)
			return runExec(cmd.Context(), g, e, args[0], eo, o.interactive, o.detach)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&o.tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&o.detach, "detach", "d", false, "detached mode: run command in the background")
	f.BoolVar(&o.privileged, "privileged", false, "give extended privileges to the command")
	stringsVarP(f, &o.env, "env", "e", "set environment variables")
	stringsVar(f, &o.envFile, "env-file", "read in a file of environment variables")
	f.StringVarP(&o.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&o.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	return cmd
}

// runExec runs the process attached to our stdio (or detached) and
// returns its exit status as ours.
func runExec(ctx context.Context, g *globals, e *engine.Engine, ref string, eo engine.ExecOptions, interactive, detach bool) error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return withStatus(125, err)
	}
	defer null.Close()
	var tty *ttyproxy.Proxy
	var copies sync.WaitGroup
	var childEnds []*os.File
	switch {
	case detach:
		eo.Stdio = engine.Stdio{Stdin: null, Stdout: null, Stderr: null}
		if eo.Tty {
			// A detached terminal has no reader: give it none.
			eo.Tty = false
		}
	case eo.Tty:
		tty, err = ttyproxy.New(stdinFile(g), g.out, nil)
		if err != nil {
			return withStatus(125, err)
		}
		defer tty.Close()
		eo.Stdio.ConsoleSocket = tty.Socket()
	default:
		eo.Stdio.Stdin = null
		if interactive && stdinFile(g) != nil {
			eo.Stdio.Stdin = stdinFile(g)
		}
		outs := []io.Writer{g.out, g.err}
		var ends [2]*os.File
		for i := range ends {
			r, w, err := os.Pipe()
			if err != nil {
				return withStatus(125, err)
			}
			ends[i] = w
			childEnds = append(childEnds, w)
			copies.Add(1)
			go func(dst io.Writer) {
				defer copies.Done()
				defer r.Close()
				_, _ = io.Copy(dst, r)
			}(outs[i])
		}
		eo.Stdio.Stdout, eo.Stdio.Stderr = ends[0], ends[1]
	}
	eo.ExecID = engine.NewExecID()
	proc, err := e.Exec(ctx, ref, eo)
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		waitGroupFor(&copies, time.Second)
		if _, ok := err.(*engine.StartError); ok {
			return startErr(err)
		}
		return err // docker's exit status 1 for "not running", "no such container" ...
	}
	if detach {
		return nil
	}
	if tty != nil {
		if err := tty.Attach(interactive); err != nil {
			g.warnf("%v", err)
		}
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			if tty != nil {
				tty.Resize()
			}
		}
	}()
	code, _ := proc.Wait()
	e.ExecDied(ctx, ref, eo.ExecID, code)
	waitGroupFor(&copies, 2*time.Second)
	if tty != nil {
		tty.Wait()
	}
	if code != 0 {
		return &statusError{code: code, err: fmt.Errorf("exit status %d", code), silent: true}
	}
	return nil
}
