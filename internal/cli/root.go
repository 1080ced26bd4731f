// Package cli is the pelagos command line: cobra commands that translate
// flags into calls on the image, container and other packages, and those
// packages' errors into messages and exit codes. It holds no logic of its
// own beyond presentation.
//
// Each command group lives in its own files (image*.go, login.go, ...);
// root.go only assembles them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/rootless"
)

// DefaultRoot is where pelagos keeps its data unless --root or
// PELAGOS_ROOT says otherwise.
const DefaultRoot = "/var/lib/pelagos"

// Main runs the CLI with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// An unprivileged user's command runs in the user's rootless
	// namespaces: this re-executes it there (or returns at once).
	if err := rootless.Enter(); err != nil {
		fmt.Fprintln(stderr, "Error: rootless mode:", err)
		return 125
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelOnSignal(cancel)
	g := &globals{args: args, in: stdin, out: stdout, err: stderr}
	root := newRootFor(g, args)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var se *statusError
		if !errors.As(err, &se) || !se.silent {
			fmt.Fprintln(stderr, "Error:", err)
		}
		return exitCode(err)
	}
	return 0
}

// cancelOnSignal cancels the command's context at SIGINT or SIGTERM, as
// signal.NotifyContext does, registering on another goroutine: the
// process's first registration starts the runtime's signal thread and
// waits for it to change its signal mask, once per signal (0.3-0.9 ms
// here), which the command need not wait for. Until the registration is
// in, a signal has its default effect, as it has before main runs.
func cancelOnSignal(cancel context.CancelFunc) {
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		cancel()
	}()
}

func newRoot(g *globals) *cobra.Command {
	root := newBareRoot(g)
	addImageCommands(root, g)
	addContainerCommands(root, g)
	addLoginCommands(root, g)
	addSystemCommands(root, g)
	addNetworkCommands(root, g)
	addVolumeCommands(root, g)
	refuseUnknownSubcommands(root)
	dockerArgErrors(root)
	return root
}

// newRootFor is newRoot for the command line args. When they name a
// top-level container command (pelagos run ...) or the monitor's step,
// the tree holds that command alone: building all of them, each with its
// flags (run and create have a hundred each, and every container command
// is built twice, for "container X" too), cost 2-5 ms and about a
// hundred page faults of every command's start. Anything else (help, completion,
// an unknown command or flag) gets the whole tree, so cobra answers as
// it always does.
func newRootFor(g *globals, args []string) *cobra.Command {
	name := commandName(args)
	mk := standalone(name)
	if mk == nil {
		return newRoot(g)
	}
	root := newBareRoot(g)
	cmd := mk(g)
	dockerArgErrors(cmd)
	root.AddCommand(cmd)
	return root
}

// standalone returns the maker of top-level command name if it can run
// in a tree of its own, or nil.
func standalone(name string) func(*globals) *cobra.Command {
	if name == stepName {
		return newStepCmd
	}
	for _, c := range containerCommands {
		if c.name == name {
			return c.make
		}
	}
	return nil
}

// globalFlags are the root's flags (all take a value; a test checks
// them against newBareRoot's).
var globalFlags = []string{"root", "registries-config", "runroot"}

// commandName returns the first of args that is neither a global flag
// nor its value: the top-level command's name; "" if something else
// comes first (another flag, "--").
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return a
		}
		name, _, inline := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !slices.Contains(globalFlags, name) {
			return ""
		}
		if !inline {
			i++ // its value
		}
	}
	return ""
}

// newBareRoot is the root command without subcommands: the global flags
// and what runs before every command.
func newBareRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "pelagos",
		Short:         "A fast, daemonless container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.root, "root", envOr("PELAGOS_ROOT", defaultRoot()), "data directory (env PELAGOS_ROOT)")
	root.PersistentFlags().StringVar(&g.registriesConfig, "registries-config", envOr("PELAGOS_REGISTRIES_CONFIG", ""), "registries config file: mirrors and insecure registries (env PELAGOS_REGISTRIES_CONFIG)")
	root.PersistentFlags().StringVar(&g.runRoot, "runroot", os.Getenv("PELAGOS_RUNROOT"), "runtime state directory (env PELAGOS_RUNROOT; default /run/pelagos, or <root>/run with another --root)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return g.loadConfig(cmd) }
	// Docker's words and status for a bad flag: the error, then where to
	// look (unknown flag: --x / See 'pelagos run --help'.), exit 125.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withStatus(125, &seeHelpError{err: err, cmd: c.CommandPath()})
	})
	return root
}

// defaultRoot is DefaultRoot, or the rootless engine's data directory.
func defaultRoot() string {
	if rootless.Active() {
		return rootless.Current().Data
	}
	return DefaultRoot
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
