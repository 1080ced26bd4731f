package cli

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

var psHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
	"Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
	"Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
}

type psOptions struct {
	all, quiet, size, latest, noTrunc bool
	last                              int
	filters                           []string
	format                            string
}

func newPsCmd(g *globals) *cobra.Command {
	var o psOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return ps(ctx, g, e, o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVarP(&o.size, "size", "s", false, "display total file sizes")
	f.BoolVarP(&o.latest, "latest", "l", false, "show the latest created container (includes all states)")
	f.IntVarP(&o.last, "last", "n", -1, "show n last created containers (includes all states)")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	stringsVarP(f, &o.filters, "filter", "f", "filter output based on conditions provided")
	f.StringVar(&o.format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	return cmd
}

func ps(ctx context.Context, g *globals, e *engine.Engine, o psOptions) error {
	cs, err := e.List(ctx)
	if err != nil {
		return err
	}
	if o.latest {
		o.last = 1
	}
	if o.last >= 0 {
		o.all = true
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Created.After(cs[j].Created) })
		if len(cs) > o.last {
			cs = cs[:o.last]
		}
	}
	match, err := psFilter(e, o.filters)
	if err != nil {
		return err
	}
	// As docker's CLI: a template that shows .Size (json shows every
	// field) gets sizes without -s.
	wantSize := o.size || templateUses(o.format, "Size")
	var rows []map[string]string
	for _, c := range cs {
		if !o.all && !c.State.Running && !c.State.Restarting {
			continue
		}
		if !match(c) {
			continue
		}
		if o.quiet {
			fmt.Fprintln(g.out, psID(c, o.noTrunc))
			continue
		}
		rows = append(rows, psRow(e, c, o, wantSize))
	}
	if o.quiet {
		return nil
	}
	def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	if o.size {
		def += "\t{{.Size}}"
	}
	return table(g.out, o.format, def, psHeaders, rows)
}

func psID(c *engine.Container, noTrunc bool) string {
	if noTrunc {
		return c.ID
	}
	return c.ShortID()
}

// psRow is one container in docker ps's fields, as strings.
func psRow(e *engine.Engine, c *engine.Container, o psOptions, wantSize bool) map[string]string {
	cmd := psCommand(c)
	if !o.noTrunc {
		cmd = ellipsis(cmd, 20)
	}
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	size := "0B"
	if wantSize {
		size = containerSize(e, c)
	}
	return map[string]string{
		"ID": psID(c, o.noTrunc), "Image": c.Config.Image, "Command": strconv.Quote(cmd),
		"CreatedAt": c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), "RunningFor": since(c.Created),
		"Ports": portsColumn(c), "State": containerState(e, c), "Status": containerStatus(e, c), "Size": size,
		"Names": c.Name, "Labels": strings.Join(labels, ","), "Mounts": mountNames(c),
		"Networks": networksColumn(c), "LocalVolumes": strconv.Itoa(len(c.MountPoints)),
	}
}

// psCommand is docker's Command: the path and arguments joined by
// spaces, an argument holding a space in single quotes (docker's daemon
// builds it so, and its CLI quotes and truncates the result).
func psCommand(c *engine.Container) string {
	parts := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func mountNames(c *engine.Container) string {
	var out []string
	for _, mp := range c.MountPoints {
		out = append(out, ellipsis(mp.Name, 15))
	}
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "volume" || m.Flag == "--tmpfs" {
			continue // a volume is a MountPoint; docker lists no --tmpfs
		}
		// docker's CLI: the name, else the source (a tmpfs has neither).
		out = append(out, ellipsis(m.Source, 15))
	}
	return strings.Join(out, ",")
}

// containerState is docker's State column (paused is observed).
func containerState(e *engine.Engine, c *engine.Container) string {
	if e.Paused(c) {
		return engine.StatusPaused
	}
	return c.State.Status
}

// containerStatus is docker's human status: "Up 5 seconds", "Exited (0)
// 2 minutes ago", "Created", "Restarting (1) 1 second ago".
func containerStatus(e *engine.Engine, c *engine.Container) string {
	s := c.State
	switch {
	case s.Restarting:
		return fmt.Sprintf("Restarting (%d) %s", s.ExitCode, since(s.FinishedAt))
	case s.Running:
		up := "Up " + humanDuration(time.Since(s.StartedAt))
		if e.Paused(c) {
			return up + " (Paused)"
		}
		if s.Health != nil {
			return up + " (" + healthString(s.Health.Status) + ")"
		}
		return up
	case s.Status == engine.StatusExited:
		return fmt.Sprintf("Exited (%d) %s", s.ExitCode, since(s.FinishedAt))
	}
	return "Created"
}

// containerSize is docker's "SIZE": the container's writable layer, and
// with the image's, the virtual size.
func containerSize(e *engine.Engine, c *engine.Container) string {
	st, err := e.Images()
	if err != nil {
		return "0B"
	}
	rw := containerRW(st, c)
	virtual := rw
	if img, err := st.Lookup(c.Image); err == nil {
		virtual += img.Size
	}
	// docker's CLI: three significant digits, the virtual size only when
	// there is one.
	if virtual == 0 {
		return decimalSize(uint64(rw))
	}
	return fmt.Sprintf("%s (virtual %s)", decimalSize(uint64(rw)), decimalSize(uint64(virtual)))
}

// containerRW is the bytes of the files in c's writable layer.
func containerRW(st *store.Store, c *engine.Container) int64 {
	var rw int64
	filepath.WalkDir(filepath.Join(st.Root(), "snapshots", c.ID, "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				rw += fi.Size()
			}
		}
		return nil
	})
	return rw
}

// psFilter compiles --filter id=, name=, label=, status=, exited=,
// health=, ancestor=.
func psFilter(e *engine.Engine, filters []string) (func(*engine.Container) bool, error) {
	var preds []func(*engine.Container) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k {
		case "id":
			preds = append(preds, func(c *engine.Container) bool { return strings.HasPrefix(c.ID, v) })
		case "name":
			preds = append(preds, func(c *engine.Container) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) })
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			preds = append(preds, func(c *engine.Container) bool {
				got, ok := c.Config.Labels[lk]
				return ok && (!hasV || got == lv)
			})
		case "status":
			switch v {
			case "created", "restarting", "running", "removing", "paused", "exited", "dead":
			default:
				return nil, dockerError(fmt.Sprintf("Invalid filter 'status=%s'", v))
			}
			preds = append(preds, func(c *engine.Container) bool { return containerState(e, c) == v })
		case "exited":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, dockerError(fmt.Sprintf("Invalid filter 'exited=%s'", v))
			}
			preds = append(preds, func(c *engine.Container) bool {
				return c.State.Status == engine.StatusExited && c.State.ExitCode == n
			})
		case "health":
			switch v {
			case engine.HealthStarting, engine.HealthHealthy, engine.HealthUnhealthy, engine.HealthNone:
			default:
				return nil, dockerError("Unrecognised filter value for health: " + v)
			}
			preds = append(preds, func(c *engine.Container) bool { return healthStatus(c) == v })
		case "ancestor":
			preds = append(preds, func(c *engine.Container) bool {
				return c.Config.Image == v || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), strings.TrimPrefix(v, "sha256:"))
			})
		default:
			return nil, dockerError(fmt.Sprintf("Invalid filter '%s'", k))
		}
	}
	return func(c *engine.Container) bool {
		for _, p := range preds {
			if !p(c) {
				return false
			}
		}
		return true
	}, nil
}

// healthString is docker's health suffix of the status column.
func healthString(status string) string {
	if status == engine.HealthStarting {
		return "health: starting"
	}
	return status
}

// healthStatus is c's health status for --filter health= ("none" without
// a health check).
func healthStatus(c *engine.Container) string {
	if c.State.Health == nil {
		return engine.HealthNone
	}
	return c.State.Health.Status
}
