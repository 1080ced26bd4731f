package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/network"
	"github.com/pelagos-go/pelagos/internal/rootless"
)

// addContainerCommands adds the container commands, both as
// `pelagos container VERB` and, as docker has them, at the top level.
func addContainerCommands(root *cobra.Command, g *globals) {
	group := &cobra.Command{Use: "container", Short: "Manage containers"}
	for _, c := range containerCommands {
		root.AddCommand(c.make(g))
		group.AddCommand(c.make(g))
	}
	ls := newPsCmd(g)
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list"}
	group.AddCommand(ls, newContainerPruneCmd(g), newInspectContainerCmd(g, false))
	root.AddCommand(newInspectContainerCmd(g, true))
	root.AddCommand(group, newStepCmd(g), newEventsCmd(g))
}

// containerCommands are the container commands that docker also has at
// the top level, by name.
var containerCommands = []struct {
	name string
	make func(*globals) *cobra.Command
}{
	{"run", newRunCmd}, {"create", newCreateCmd}, {"start", newStartCmd},
	{"stop", newStopCmd}, {"restart", newRestartCmd}, {"kill", newKillCmd},
	{"rm", newRmCmd}, {"ps", newPsCmd}, {"logs", newLogsCmd},
	{"exec", newExecCmd}, {"wait", newWaitCmd}, {"top", newTopCmd},
	{"port", newPortCmd}, {"rename", newRenameCmd}, {"pause", newPauseCmd},
	{"unpause", newUnpauseCmd}, {"attach", newAttachCmd}, {"cp", newCpCmd},
	{"stats", newStatsCmd}, {"update", newUpdateCmd}, {"diff", newDiffCmd},
	{"export", newExportCmd}, {"commit", newCommitCmd},
}

// engine opens the engine on the data and runtime roots.
func (g *globals) engine() (*engine.Engine, error) {
	run := g.runRoot
	if run == "" {
		run = engine.DefaultRunRoot
		if rootless.Active() {
			run = rootless.Current().Run
		}
		if filepath.Clean(g.root) != defaultRoot() {
			run = filepath.Join(g.root, "run")
		}
	}
	e, err := engine.Open(g.root, run)
	if err != nil {
		return nil, err
	}
	if p := g.cgroupParent(); p != "" {
		e.CgroupParent = p
	}
	e.Rootless = rootless.Active()
	e.Warn = func(msg string) { fmt.Fprintln(g.err, "WARNING:", msg) }
	e.Net.DNSServer = dnsServerPath()
	for _, p := range g.config().DefaultAddressPools {
		base, err := netip.ParsePrefix(p.Base)
		if err != nil {
			return nil, err // config.Load checked it
		}
		e.Net.Pools = append(e.Net.Pools, network.AddressPool{Base: base, Size: p.Size})
	}
	return e, nil
}

// eachContainer runs fn on every argument, prints each one done (as
// docker's stop, rm, kill ... print the names they were given), and
// reports the failures after trying them all.
func eachContainer(g *globals, refs []string, fn func(ref string) error) error {
	var errs []error
	for _, ref := range refs {
		if err := fn(ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(g.out, ref)
	}
	return errors.Join(errs...)
}

// withEngine wraps a command body that needs the engine.
func withEngine(g *globals, fn func(ctx context.Context, e *engine.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := g.engine()
		if err != nil {
			return err
		}
		return fn(cmd.Context(), e, args)
	}
}

func (g *globals) errf(format string, args ...any) { fmt.Fprintf(g.err, format, args...) }

// dockerError is an error worded exactly as docker words it (capitalised
// where docker capitalises: scripts match these messages).
type dockerError string

func (e dockerError) Error() string { return string(e) }
