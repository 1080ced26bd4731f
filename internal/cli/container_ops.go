package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/network"
)

func newKillCmd(g *globals) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			sig, err := engine.ParseSignal(signal)
			if err != nil {
				return err
			}
			return eachContainer(g, args, func(ref string) error { return e.Kill(ctx, ref, sig) })
		}),
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

func newRmCmd(g *globals) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return eachContainer(g, args, func(ref string) error {
				if volumes {
					return e.RemoveWithVolumes(ctx, ref, force)
				}
				return e.Remove(ctx, ref, force)
			})
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

func newWaitCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			var errs []error
			for _, ref := range args {
				code, err := e.Wait(ctx, ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.out, code)
			}
			return errors.Join(errs...)
		}),
	}
}

func newPauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return eachContainer(g, args, func(ref string) error { return e.Pause(ctx, ref) })
		}),
	}
}

func newUnpauseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return eachContainer(g, args, func(ref string) error { return e.Unpause(ctx, ref) })
		}),
	}
}

func newRenameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return e.Rename(ctx, args[0], args[1])
		}),
	}
}

func newPortCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			c, err := e.Get(ctx, args[0])
			if err != nil {
				return err
			}
			return printPorts(g, c, args[1:])
		}),
	}
}

// printPorts prints docker port's lines: "80/tcp -> 0.0.0.0:8080", or
// for one port just the host addresses.
func printPorts(g *globals, c *engine.Container, only []string) error {
	keys := make([]string, 0, len(c.NetworkSettings.Ports))
	for k := range c.NetworkSettings.Ports {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return portLess(keys[i], keys[j]) })
	want := ""
	if len(only) == 1 {
		p, proto, err := network.ParsePortKey(only[0])
		if err != nil {
			return err
		}
		want = fmt.Sprintf("%d/%s", p, proto)
	}
	found := false
	for _, k := range keys {
		if want != "" && k != want {
			continue
		}
		for _, b := range c.NetworkSettings.Ports[k] {
			found = true
			hp := net.JoinHostPort(b.HostIP, b.HostPort)
			if want != "" {
				fmt.Fprintln(g.out, hp)
			} else {
				fmt.Fprintf(g.out, "%s -> %s\n", k, hp)
			}
		}
	}
	if want != "" && !found {
		return dockerError(fmt.Sprintf("No public port '%s' published for %s", want, c.Name))
	}
	return nil
}

// newTopCmd lists the container's processes with ps(1), as docker top.
func newTopCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			pids, err := e.Top(ctx, args[0])
			if err != nil {
				return err
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			return psTable(g, pids, psArgs)
		}),
	}
	// ps's options follow the container and are ps's, not ours.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// psTable runs ps with psArgs and prints the header and the rows of pids
// as docker does: its daemon splits ps's output into fields (the last
// column keeps its spaces) and its CLI aligns them with a tabwriter of
// 20-column cells.
func psTable(g *globals, pids []int, psArgs []string) error {
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	titles := strings.Fields(lines[0])
	col := slices.Index(titles, "PID")
	if col < 0 {
		return fmt.Errorf("ps %s: no PID column", strings.Join(psArgs, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	tw := tabwriter.NewWriter(g.out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < len(titles) {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			row := append(f[:len(titles)-1:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	return tw.Flush()
}

func newContainerPruneCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if !force {
				fmt.Fprint(g.out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
				var answer string
				fmt.Fscanln(g.in, &answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			ids, err := e.Prune(ctx)
			if len(ids) > 0 {
				fmt.Fprintln(g.out, "Deleted Containers:")
				for _, id := range ids {
					fmt.Fprintln(g.out, id)
				}
				fmt.Fprintln(g.out)
			}
			fmt.Fprintln(g.out, "Total reclaimed space: 0B")
			return err
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}
