package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
)

func newEventsCmd(g *globals) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  cobra.NoArgs,
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, _ []string) error {
			now := time.Now()
			var o engine.EventsOptions
			var err error
			if o.Since, err = parseEventTime(since, now); err != nil {
				return withStatus(125, err)
			}
			if o.Until, err = parseEventTime(until, now); err != nil {
				return withStatus(125, err)
			}
			o.Follow = o.Until.IsZero() || o.Until.After(now)
			match, err := eventFilter(filters)
			if err != nil {
				return withStatus(125, err)
			}
			printEv, err := eventPrinter(g, format)
			if err != nil {
				return withStatus(125, err)
			}
			// Ctrl-C ends a follow quietly, as docker's does.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !o.Until.IsZero() && o.Follow {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, o.Until)
				defer cancel()
			}
			return e.Events(ctx, o, func(ev engine.Event) error {
				if !match(ev) {
					return nil
				}
				return printEv(ev)
			})
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "show all events created since timestamp")
	fl.StringVar(&until, "until", "", "stream events until this timestamp")
	stringsVarP(fl, &filters, "filter", "f", "filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "format output using a custom template: 'json' or a Go template")
	return cmd
}

// parseEventTime reads docker's --since/--until values: a duration before
// now ("10m"), Unix seconds with optional fraction, or an RFC 3339 date
// (time, zone optional).
func parseEventTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// "0" is Unix time 0, not a duration (docker's GetTimestamp).
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return now.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(s, "."); !strings.ContainsAny(s, "-:T") {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			var ns int64
			if ok {
				frac = (frac + "000000000")[:9]
				ns, err = strconv.ParseInt(frac, 10, 64)
			}
			if err == nil {
				return time.Unix(n, ns), nil
			}
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want a duration (10m), Unix seconds or an RFC 3339 date", s)
}

// eventFilter compiles --filter container=, volume=, network=, event=,
// type=, image=, label=, scope=: values of one key are alternatives, keys
// must all match. container, volume and network match the event's actor
// by ID (or prefix) or name, as docker's do.
func eventFilter(filters []string) (func(engine.Event) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k {
		case "container", "volume", "network", "event", "type", "image", "label", "scope":
		default:
			return nil, dockerError(fmt.Sprintf("Invalid filter '%s'", k))
		}
		by[k] = append(by[k], v)
	}
	one := func(k string, ev engine.Event, v string) bool {
		a := ev.Actor.Attributes
		switch k {
		case "container", "volume", "network":
			return ev.Actor.ID != "" && strings.HasPrefix(ev.Actor.ID, v) || a["name"] == strings.TrimPrefix(v, "/")
		case "scope":
			return ev.Scope == v
		case "event":
			return ev.Action == v || strings.HasPrefix(ev.Action, v+":")
		case "type":
			return ev.Type == v
		case "image":
			return a["image"] == v
		}
		lk, lv, hasV := strings.Cut(v, "=")
		got, ok := a[lk]
		return ok && (!hasV || got == lv)
	}
	return func(ev engine.Event) bool {
		for k, vs := range by {
			if !slices.ContainsFunc(vs, func(v string) bool { return one(k, ev, v) }) {
				return false
			}
		}
		return true
	}, nil
}

// eventPrinter prints events as docker does: its line format by default,
// `json` or a template on the event otherwise.
func eventPrinter(g *globals, format string) (func(engine.Event) error, error) {
	if format == "" {
		return func(ev engine.Event) error {
			_, err := fmt.Fprintln(g.out, eventLine(ev))
			return err
		}, nil
	}
	if format == "json" {
		format = "{{json .}}"
	}
	tmpl, err := template.New("f").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return func(ev engine.Event) error {
		if err := tmpl.Execute(g.out, ev); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		_, err := fmt.Fprintln(g.out)
		return err
	}, nil
}

// eventLine is docker's default line: time type action id (k=v, ...).
func eventLine(ev engine.Event) string {
	keys := make([]string, 0, len(ev.Actor.Attributes))
	for k := range ev.Actor.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]string, len(keys))
	for i, k := range keys {
		attrs[i] = k + "=" + ev.Actor.Attributes[k]
	}
	line := time.Unix(0, ev.TimeNano).Format(rfc3339NanoFixed) + " " + ev.Type + " " + ev.Action + " " + ev.Actor.ID
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}
