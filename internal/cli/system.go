package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/snapshot"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

func addSystemCommands(root *cobra.Command, g *globals) {
	sys := &cobra.Command{Use: "system", Short: "Manage pelagos"}
	sys.AddCommand(newDfCmd(g), newSystemPruneCmd(g), newBootCmd(g))
	addInfoCommands(root, sys, g)
	root.AddCommand(sys)
}

// newDfCmd reports disk use as docker system df does: images, the
// containers' writable layers (snapshots), volumes, and build cache,
// which pelagos does not have.
func newDfCmd(g *globals) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "df",
		Short: "Show disk usage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			if verbose {
				e, err := g.engine()
				if err != nil {
					return err
				}
				return dfVerbose(cmd.Context(), g, e, st)
			}
			images, err := imageUsage(st)
			if err != nil {
				return err
			}
			containers, err := containerUsage(st)
			if err != nil {
				return err
			}
			volumes, err := volumeUsage(g)
			if err != nil {
				return err
			}
			// pelagos has no build cache: its row says so, as docker's
			// does when there is none.
			rows := []map[string]string{images, containers, volumes, usageRow("Build Cache", 0, 0, 0, 0)}
			headers := map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
			return table(g.out, format, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", headers, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "format output with a Go template")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	return cmd
}

// imageUsage counts images, those containers hold, unpacked layer bytes
// (each shared layer once), and what removing unheld images would free.
func imageUsage(st *store.Store) (map[string]string, error) {
	imgs, err := st.Images()
	if err != nil {
		return nil, err
	}
	holds, err := st.Holds()
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	heldLayers := map[string]bool{}
	for _, h := range holds {
		held[h.Image.Hex] = true
		for _, l := range h.Layers {
			heldLayers[l.Hex] = true
		}
	}
	seen := map[string]bool{}
	var total, reclaim int64
	active := 0
	for _, img := range imgs {
		if held[img.ID.Hex] {
			active++
		}
		for _, c := range img.Layers {
			if seen[c.Hex] {
				continue
			}
			seen[c.Hex] = true
			if l, err := st.Layer(c); err == nil {
				total += l.Size
				if !heldLayers[c.Hex] {
					reclaim += l.Size
				}
			}
		}
	}
	return usageRow("Images", len(imgs), active, total, reclaim), nil
}

// containerUsage counts container snapshots, those mounted (running or
// prepared), the bytes containers wrote, and what the unmounted ones
// hold.
func containerUsage(st *store.Store) (map[string]string, error) {
	us, err := snapshot.Usages(st)
	if err != nil {
		return nil, err
	}
	var total, reclaim int64
	active := 0
	for _, u := range us {
		total += u.Size
		if u.Mounted {
			active++
		} else {
			reclaim += u.Size
		}
	}
	return usageRow("Containers", len(us), active, total, reclaim), nil
}

// volumeUsage counts volumes, those containers use, the bytes of their
// files, and what the unused ones hold.
func volumeUsage(g *globals) (map[string]string, error) {
	e, err := g.engine()
	if err != nil {
		return nil, err
	}
	vols, err := e.Volumes()
	if err != nil {
		return nil, err
	}
	users, err := e.VolumeUsers()
	if err != nil {
		return nil, err
	}
	var active int
	var total, reclaim int64
	for _, v := range vols {
		size := engine.VolumeSize(v)
		total += size
		if len(users[v.Name]) > 0 {
			active++
		} else {
			reclaim += size
		}
	}
	return usageRow("Local Volumes", len(vols), active, total, reclaim), nil
}

// usageRow is one line of system df, in docker's words and units.
func usageRow(kind string, count, active int, size, reclaim int64) map[string]string {
	r := progress.HumanSize(reclaim)
	if size > 0 {
		r += fmt.Sprintf(" (%d%%)", reclaim*100/size)
	}
	return map[string]string{
		"Type": kind, "TotalCount": fmt.Sprint(count), "Active": fmt.Sprint(active),
		"Size": progress.HumanSize(size), "Reclaimable": r,
	}
}

// newSystemPruneCmd removes stopped containers and unused networks, and
// reclaims what killed commands and monitors left (mounts, network
// namespaces, veths, leases, rules). Images are pruned by image prune.
func newSystemPruneCmd(g *globals) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			warning := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container"
			if volumes {
				warning += "\n  - all anonymous volumes not used by at least one container"
			}
			if !force && !confirm(g, warning) {
				return nil
			}
			ids, err := e.Prune(ctx)
			if len(ids) > 0 {
				fmt.Fprintln(g.out, "Deleted Containers:")
				for _, id := range ids {
					fmt.Fprintln(g.out, id)
				}
				fmt.Fprintln(g.out)
			}
			if err != nil {
				return err
			}
			names, err := pruneNetworks(ctx, e)
			if len(names) > 0 {
				fmt.Fprintln(g.out, "Deleted Networks:")
				for _, n := range names {
					fmt.Fprintln(g.out, n)
				}
				fmt.Fprintln(g.out)
			}
			var reclaimed int64
			if err == nil && volumes {
				var vols []string
				vols, reclaimed, err = e.PruneVolumes(ctx, false, nil)
				if len(vols) > 0 {
					fmt.Fprintln(g.out, "Deleted Volumes:")
					for _, n := range vols {
						fmt.Fprintln(g.out, n)
					}
					fmt.Fprintln(g.out)
				}
			}
			fmt.Fprintln(g.out, "Total reclaimed space:", progress.HumanSize(reclaimed))
			return err
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	return cmd
}

// newBootCmd is `pelagos system boot`: after a host reboot it starts the
// containers whose restart policy says they come back (see
// engine.BootList), each under a new monitor. contrib/systemd has the
// unit that runs it at boot.
func newBootCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "boot",
		Short: "Start the containers whose restart policy is always or unless-stopped (run at host boot)",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, _ []string) error {
			cs, err := e.BootList(ctx)
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range cs {
				if err := startDetached(g, e, c); err != nil {
					fmt.Fprintf(g.err, "Error: start %s: %v\n", c.Name, err)
					failed++
					continue
				}
				fmt.Fprintln(g.out, c.Name)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d containers did not start", failed, len(cs))
			}
			return nil
		}),
	}
}
