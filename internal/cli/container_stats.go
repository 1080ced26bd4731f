package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
)

type statsOptions struct {
	all, noStream, noTrunc bool
	format                 string
}

func newStatsCmd(g *globals) *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return runStats(ctx, g, e, args, o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVar(&o.noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate output")
	f.StringVar(&o.format, "format", "", "format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	return cmd
}

// statsInterval is docker's: one reading a second.
const statsInterval = time.Second

// statsHeaders are docker's column names.
var statsHeaders = map[string]string{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

const statsDefault = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// runStats prints the table once (--no-stream, after two readings so
// that CPU % means something) or redraws it every second until
// interrupted, as docker does.
func runStats(ctx context.Context, g *globals, e *engine.Engine, refs []string, o statsOptions) error {
	prev := map[string]engine.Sample{}
	cs, err := statsTargets(ctx, e, refs, o.all)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if s, err := e.Sample(c); err == nil {
			prev[c.ID] = s
		}
	}
	wait := statsInterval
	if o.noStream {
		wait = statsInterval / 2
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		cs, err = statsTargets(ctx, e, refs, o.all)
		if err != nil {
			return err
		}
		var rows []map[string]string
		next := map[string]engine.Sample{}
		for i, c := range cs {
			s, err := e.Sample(c)
			if err != nil {
				return err
			}
			next[c.ID] = s
			name := c.ID
			if len(refs) > 0 {
				name = refs[i]
			}
			rows = append(rows, statsRow(c, name, s, prev[c.ID], o.noTrunc))
		}
		prev = next
		var buf bytes.Buffer
		if !o.noStream {
			buf.WriteString("\033[2J\033[H") // clear the screen, cursor home
		}
		if err := table(&buf, o.format, statsDefault, statsHeaders, rows); err != nil {
			return err
		}
		if _, err := g.out.Write(buf.Bytes()); err != nil || o.noStream {
			return err
		}
	}
}

// statsTargets are the containers named, or every running one (every
// one with -a).
func statsTargets(ctx context.Context, e *engine.Engine, refs []string, all bool) ([]*engine.Container, error) {
	if len(refs) > 0 {
		var out []*engine.Container
		for _, r := range refs {
			c, err := e.Get(ctx, r)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*engine.Container
	for _, c := range cs {
		if all || c.State.Running {
			out = append(out, c)
		}
	}
	return out, nil
}

func statsRow(c *engine.Container, ref string, s, prev engine.Sample, noTrunc bool) map[string]string {
	id := c.ID
	if !noTrunc {
		id = c.ShortID()
	}
	return map[string]string{
		"Container": ref, "ID": id, "Name": c.Name,
		"CPUPerc":  fmt.Sprintf("%.2f%%", s.CPUPercent(prev)),
		"MemUsage": binarySize(s.MemUsage) + " / " + binarySize(s.MemLimit),
		"MemPerc":  fmt.Sprintf("%.2f%%", s.MemPercent()),
		"NetIO":    decimalSize(s.NetRx) + " / " + decimalSize(s.NetTx),
		"BlockIO":  decimalSize(s.BlkRead) + " / " + decimalSize(s.BlkWrite),
		"PIDs":     fmt.Sprint(s.Pids),
	}
}

// binarySize is docker's units.BytesSize: "1.5MiB" (4 significant digits).
func binarySize(n uint64) string {
	return scaled(float64(n), 1024, "%.4g%s", []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"})
}

// decimalSize is docker's units.HumanSizeWithPrecision(n, 3): "1.2kB".
func decimalSize(n uint64) string {
	return scaled(float64(n), 1000, "%.3g%s", []string{"B", "kB", "MB", "GB", "TB", "PB"})
}

func scaled(f, base float64, format string, units []string) string {
	i := 0
	for f >= base && i < len(units)-1 {
		f /= base
		i++
	}
	return fmt.Sprintf(format, f, units[i])
}
