package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// rfc3339NanoFixed is docker's timestamp form in logs -t: always nine
// fractional digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

func newLogsCmd(g *globals) *cobra.Command {
	var follow, timestamps bool
	var tail, since, until string
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			o := engine.LogOptions{Follow: follow, Tail: -1}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return fmt.Errorf("invalid value for \"tail\": %s", tail)
				}
				o.Tail = n
			}
			var err error
			now := time.Now()
			if o.Since, err = parseTimeArg(since, now); err != nil {
				return err
			}
			if o.Until, err = parseTimeArg(until, now); err != nil {
				return err
			}
			c, err := e.Get(ctx, args[0])
			if err != nil {
				return err
			}
			return printLogs(ctx, g, e, c, o, timestamps)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "follow log output")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show timestamps")
	f.StringVarP(&tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&since, "since", "", "show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&until, "until", "", "show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	return cmd
}

func printLogs(ctx context.Context, g *globals, e *engine.Engine, c *engine.Container, o engine.LogOptions, timestamps bool) error {
	return e.Logs(ctx, c, o, func(en engine.LogEntry) error {
		w := g.out
		if en.Stream == "stderr" {
			w = g.err
		}
		if timestamps {
			if _, err := fmt.Fprint(w, en.Time.UTC().Format(rfc3339NanoFixed), " "); err != nil {
				return err
			}
		}
		_, err := fmt.Fprint(w, en.Log)
		return err
	})
}

// parseTimeArg parses docker's --since/--until: an RFC 3339 time (or a
// date), a Unix time with optional fraction, or a duration before now.
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// "0" is Unix time 0, not a duration (docker's GetTimestamp).
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	sec, frac, _ := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var ns int64
		if frac != "" {
			f := (frac + "000000000")[:9]
			if ns, err = strconv.ParseInt(f, 10, 64); err != nil {
				return time.Time{}, fmt.Errorf("invalid time %q", s)
			}
		}
		return time.Unix(n, ns), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want an RFC 3339 time, a Unix time or a duration such as 10m", s)
}
