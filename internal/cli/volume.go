package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/progress"
)

func addVolumeCommands(root *cobra.Command, g *globals) {
	v := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	v.AddCommand(newVolumeCreateCmd(g), newVolumeLsCmd(g), newVolumeInspectCmd(g), newVolumeRmCmd(g), newVolumePruneCmd(g))
	root.AddCommand(v)
}

func newVolumeCreateCmd(g *globals) *cobra.Command {
	var o engine.VolumeCreateOptions
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if len(args) == 1 {
				if o.Name != "" && o.Name != args[0] {
					return withStatus(125, fmt.Errorf("conflicting options: either specify --name or provide positional arg, not both"))
				}
				o.Name = args[0]
			}
			var err error
			if o.Labels, err = keyValues(labels, "label"); err != nil {
				return err
			}
			if o.Options, err = keyValues(opts, "opt"); err != nil {
				return err
			}
			// Empty maps, not null: docker's CLI sends them and its
			// inspect shows {} for a volume made by volume create (null
			// for one that -v made).
			v, err := e.CreateVolume(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.out, v.Name)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Driver, "driver", "d", engine.LocalDriver, "specify volume driver name (local)")
	f.StringVar(&o.Name, "name", "", "specify volume name")
	_ = f.MarkHidden("name")
	stringsVar(f, &labels, "label", "set metadata for a volume")
	stringsVarP(f, &opts, "opt", "o", "set driver specific options (type=, device=, o=)")
	return cmd
}

var volumeHeaders = map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Availability": "AVAILABILITY",
	"Group": "GROUP", "Status": "STATUS",
}

func newVolumeLsCmd(g *globals) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			match, err := volumeFilter(filters)
			if err != nil {
				return err
			}
			vols, err := e.Volumes()
			if err != nil {
				return err
			}
			users, err := e.VolumeUsers()
			if err != nil {
				return err
			}
			// docker's CLI lists volumes in natural order (v2 before v10).
			sort.SliceStable(vols, func(i, j int) bool { return naturalLess(vols[i].Name, vols[j].Name) })
			var rows []map[string]string
			for _, v := range vols {
				if !match(v, len(users[v.Name])) {
					continue
				}
				if quiet {
					fmt.Fprintln(g.out, v.Name)
					continue
				}
				rows = append(rows, volumeRow(v, len(users[v.Name])))
			}
			if quiet {
				return nil
			}
			return table(g.out, format, "table {{.Driver}}\t{{.Name}}", volumeHeaders, rows)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	f.StringVar(&format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	stringsVarP(f, &filters, "filter", "f", "provide filter values (dangling=true|false, driver=, label=, name=)")
	return cmd
}

// naturalLess orders strings with runs of digits compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// digitRun is the length of the run of digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// volumeRow is one volume of volume ls, with docker's fields (N/A for
// what only cluster volumes or `system df -v` fill).
func volumeRow(v *engine.Volume, users int) map[string]string {
	return map[string]string{
		"Name": v.Name, "Driver": v.Driver, "Scope": v.Scope, "Mountpoint": v.Mountpoint,
		"Labels": joinLabels(v.Labels), "Links": "N/A", "Size": "N/A",
		"Availability": "N/A", "Group": "N/A", "Status": "N/A",
	}
}

// volumeFilter makes volume ls's --filter predicate over a volume and the
// number of containers that use it.
func volumeFilter(filters []string) (func(*engine.Volume, int) bool, error) {
	var preds []func(*engine.Volume, int) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errors.New("bad format of filter (expected name=value)")
		}
		switch k {
		case "name":
			preds = append(preds, func(vol *engine.Volume, _ int) bool { return strings.Contains(vol.Name, v) })
		case "driver":
			preds = append(preds, func(vol *engine.Volume, _ int) bool { return vol.Driver == v })
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(vol *engine.Volume, _ int) bool {
				got, ok := vol.Labels[lk]
				return ok && (!hasV || got == lv)
			})
		case "label!":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(vol *engine.Volume, _ int) bool {
				got, ok := vol.Labels[lk]
				return !(ok && (!hasV || got == lv))
			})
		case "dangling":
			want, err := strconv.ParseBool(v)
			if err != nil {
				return nil, dockerError(fmt.Sprintf("Invalid filter 'dangling=%s'", v))
			}
			preds = append(preds, func(_ *engine.Volume, users int) bool { return (users == 0) == want })
		default:
			return nil, dockerError(fmt.Sprintf("Invalid filter '%s'", k))
		}
	}
	return func(vol *engine.Volume, users int) bool {
		for _, p := range preds {
			if !p(vol, users) {
				return false
			}
		}
		return true
	}, nil
}

// inspectVolume is docker's volume inspect shape: CreatedAt as RFC 3339
// in local time; Labels and Options as recorded (null for a volume that
// -v made, {} for one volume create made without any, as docker).
type inspectVolume struct {
	CreatedAt  string            `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

func toInspectVolume(v *engine.Volume) inspectVolume {
	return inspectVolume{
		CreatedAt: v.CreatedAt.Local().Format(time.RFC3339), Driver: v.Driver, Labels: v.Labels,
		Mountpoint: v.Mountpoint, Name: v.Name, Options: v.Options, Scope: v.Scope,
	}
}

func newVolumeInspectCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return inspectEach(g, format, args, func(name string) (any, error) {
				v, err := e.Volume(name)
				if err != nil {
					return nil, err
				}
				return toInspectVolume(v), nil
			})
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "format the output using the given Go template")
	return cmd
}

func newVolumeRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			var errs []error
			for _, name := range args {
				if err := e.RemoveVolume(ctx, name, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.out, name)
			}
			return errors.Join(errs...)
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not error if the volume does not exist")
	return cmd
}

func newVolumePruneCmd(g *globals) *cobra.Command {
	var force, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			match, err := volumeFilter(filters)
			if err != nil {
				return err
			}
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !confirm(g, warning) {
				return nil
			}
			names, reclaimed, err := e.PruneVolumes(ctx, all, func(v *engine.Volume) bool { return match(v, 0) })
			if len(names) > 0 {
				fmt.Fprintln(g.out, "Deleted Volumes:")
				for _, n := range names {
					fmt.Fprintln(g.out, n)
				}
				fmt.Fprintln(g.out)
			}
			fmt.Fprintln(g.out, "Total reclaimed space:", progress.HumanSize(reclaimed))
			return err
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	f.BoolVarP(&all, "all", "a", false, "remove all unused volumes, not just anonymous ones")
	stringsVar(f, &filters, "filter", "provide filter values (label=, label!=, name=)")
	return cmd
}

// volumeMounts are c's volumes in inspect's Mounts.
func volumeMounts(e *engine.Engine, c *engine.Container) []inspectMount {
	var out []inspectMount
	for _, mp := range c.MountPoints {
		src := ""
		if v, err := e.Volume(mp.Name); err == nil {
			src = v.Mountpoint
		}
		out = append(out, inspectMount{
			Type: "volume", Name: mp.Name, Source: src, Destination: mp.Destination,
			Driver: mp.Driver, Mode: mp.Mode, RW: mp.RW,
		})
	}
	return out
}
