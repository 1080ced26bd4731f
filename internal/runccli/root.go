// Package runccli is the runc-compatible command line of pelagos-runc:
// runc's verbs, flags, output formats and exit codes over package
// container, so that containerd, podman, Docker and the OCI validation
// suite can drive it unchanged.
//
// Errors are written once, here: to stderr and, with --log, to the log
// file as JSON lines the way containerd's go-runc reads them.
package runccli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Version is the pelagos-runc version, set by the main package.
var Version = "0.0.0-dev"

type globals struct {
	root          string
	logPath       string
	logFormat     string
	debug         bool
	systemdCgroup bool
	rootless      string
	log           *slog.Logger
}

// Main runs the CLI with args (without the program name) and returns the
// exit code.
func Main(args []string) int {
	g := &globals{}
	cmd := newRoot(g)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	if e, ok := err.(exitStatus); ok {
		return int(e)
	}
	g.logError(err)
	return 1
}

// exitStatus carries a container process's exit code out of run and exec
// without being reported as an error.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "pelagos-runc",
		Short:         "pelagos's OCI runtime, with runc's command line",
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.setup()
		},
	}
	root.SetVersionTemplate(fmt.Sprintf("pelagos-runc version {{.Version}}\nspec: %s\n", specVersion))
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", defaultRoot(), "root directory for storage of container state")
	f.StringVar(&g.logPath, "log", "", "write errors and warnings to this file (default: stderr only)")
	f.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&g.debug, "debug", false, "log debug messages")
	f.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "accepted for compatibility; cgroupsPath in slice:prefix:name form needs systemd")
	f.StringVar(&g.rootless, "rootless", "auto", "accepted for compatibility (true, false, auto)")
	f.String("criu", "criu", "accepted for compatibility; checkpoint/restore is not supported")
	_ = f.MarkHidden("criu")
	root.AddCommand(
		newCreate(g), newStart(g), newRun(g), newState(g), newKill(g), newDelete(g),
		newExec(g), newList(g), newPs(g), newSpec(g), newFeatures(g),
		newPause(g), newResume(g), newUpdate(g), newEvents(g),
	)
	return root
}

func defaultRoot() string {
	if os.Geteuid() != 0 {
		if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
			return filepath.Join(dir, "pelagos-runc")
		}
	}
	return "/run/pelagos-runc"
}

func (g *globals) setup() error {
	var w io.Writer = io.Discard
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("open log file: %w", err)
		}
		w = f
	}
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: lowerLevel}
	switch g.logFormat {
	case "json":
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	case "text", "":
		g.log = slog.New(slog.NewTextHandler(w, opts))
	default:
		return fmt.Errorf("--log-format %q: use text or json", g.logFormat)
	}
	abs, err := filepath.Abs(g.root)
	if err != nil {
		return err
	}
	g.root = abs
	return nil
}

// lowerLevel writes levels as runc (logrus) does: "error", not "ERROR";
// containerd looks for exactly that.
func lowerLevel(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey && len(groups) == 0 {
		return slog.String(slog.LevelKey, strings.ToLower(a.Value.String()))
	}
	return a
}

func (g *globals) logError(err error) {
	fmt.Fprintln(os.Stderr, "pelagos-runc:", err)
	if g.log != nil {
		g.log.Error(err.Error())
	}
}

// warn reports a warning in the log, or on stderr when there is no log
// file (an engine reads --log; a person reads stderr).
func (g *globals) warn(msg string) {
	if g.log != nil && g.logPath != "" {
		g.log.Warn(msg)
		return
	}
	fmt.Fprintln(os.Stderr, "pelagos-runc: warning:", msg)
}

// exactArgs is cobra.ExactArgs with runc-like messages.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: expects %s (got %d arguments)", cmd.Name(), what, len(args))
		}
		return nil
	}
}
