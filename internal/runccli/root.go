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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
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
	log           *logger
}

// Main runs the CLI with args (without the program name) and returns the
// exit code. Global flags come before the verb, as in runc.
func Main(args []string) int {
	g := &globals{}
	err := run(g, args)
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

func commands(g *globals) []*command {
	return []*command{
		newCreate(g), newStart(g), newRun(g), newState(g), newKill(g), newDelete(g),
		newExec(g), newList(g), newPs(g), newSpec(g), newFeatures(g),
		newPause(g), newResume(g), newUpdate(g), newEvents(g),
	}
}

func run(g *globals, args []string) error {
	fs := newFlagSet("pelagos-runc")
	fs.SetOutput(io.Discard)
	var version, help bool
	fs.StringVar(&g.root, "root", defaultRoot(), "root directory for storage of container state")
	fs.StringVar(&g.logPath, "log", "", "write errors and warnings to this file (default: stderr)")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&g.debug, "debug", false, "log debug messages")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "make the cgroup a systemd scope: cgroupsPath is slice:prefix:name (default :pelagos:<id>)")
	fs.StringVar(&g.rootless, "rootless", "auto", "accepted for compatibility (true, false, auto)")
	fs.String("criu", "criu", "")
	fs.BoolVarP(&version, "version", "v", false, "print the version")
	fs.BoolVarP(&help, "help", "h", false, "print this help")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (see pelagos-runc --help)", err)
	}
	cmds := commands(g)
	rest := fs.Args()
	switch {
	case version:
		fmt.Printf("pelagos-runc version %s\nspec: %s\n", Version, specVersion)
		return nil
	case help || len(rest) == 0 || rest[0] == "help":
		if len(rest) > 1 {
			if c := find(cmds, rest[1]); c != nil {
				c.usage(os.Stdout)
				return nil
			}
		}
		usage(os.Stdout, fs, cmds)
		if len(rest) == 0 && !help {
			return errors.New("no command given")
		}
		return nil
	}
	c := find(cmds, rest[0])
	if c == nil {
		return fmt.Errorf("unknown command %q (see pelagos-runc --help)", rest[0])
	}
	if err := g.setup(); err != nil {
		return err
	}
	return c.run(context.Background(), rest[1:])
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.Name() == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

func usage(w io.Writer, global *flagSet, cmds []*command) {
	fmt.Fprintln(w, "pelagos-runc: pelagos's OCI runtime, with runc's command line")
	fmt.Fprintln(w, "\nUsage: pelagos-runc [global flags] <command> [flags] [arguments]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	global.printDefaults(w)
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
	switch g.logFormat {
	case "json", "text", "":
	default:
		return fmt.Errorf("--log-format %q: use text or json", g.logFormat)
	}
	g.log = &logger{w: w, json: g.logFormat == "json", debug: g.debug}
	abs, err := filepath.Abs(g.root)
	if err != nil {
		return err
	}
	g.root = abs
	return nil
}

// logger writes log lines the way runc (logrus) does, which is what
// engines parse: JSON objects {"level":"error","msg":...,"time":...} with
// lowercase levels, or logfmt text.
type logger struct {
	w     io.Writer
	json  bool
	debug bool
}

func (l *logger) write(level, msg string) {
	now := time.Now().Format(time.RFC3339Nano)
	if l.json {
		b, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
		_, _ = l.w.Write(append(b, '\n'))
		return
	}
	fmt.Fprintf(l.w, "time=%q level=%s msg=%q\n", now, level, msg)
}

// Error logs an error.
func (l *logger) Error(msg string) { l.write("error", msg) }

// Warn logs a warning.
func (l *logger) Warn(msg string) { l.write("warning", msg) }

// Debug logs when --debug is set.
func (l *logger) Debug(msg string) {
	if l.debug {
		l.write("debug", msg)
	}
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
func exactArgs(n int, what string) func(*command, []string) error {
	return func(cmd *command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s: expects %s (got %d arguments)", cmd.Name(), what, len(args))
		}
		return nil
	}
}
