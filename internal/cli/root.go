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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{in: stdin, out: stdout, err: stderr}
	root := newRoot(g)
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

func newRoot(g *globals) *cobra.Command {
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
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return withStatus(125, err) })
	addImageCommands(root, g)
	addContainerCommands(root, g)
	addLoginCommands(root, g)
	addSystemCommands(root, g)
	addNetworkCommands(root, g)
	addVolumeCommands(root, g)
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
