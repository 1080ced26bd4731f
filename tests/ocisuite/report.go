package ocisuite

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Prober runs one validation program; *Runner is one.
type Prober interface {
	Run(ctx context.Context, program string) Result
}

// RunInterleaved runs every program against every runner, program by
// program, alternating which runner goes first so that neither always
// runs on a machine the other just warmed (or loaded). It stops early when
// ctx ends; results[i] holds runner i's results in program order. done,
// when not nil, is told about each result as it comes.
func RunInterleaved(ctx context.Context, runners []Prober, programs []string, done func(runner int, r Result)) [][]Result {
	results := make([][]Result, len(runners))
	for pi, p := range programs {
		for k := range runners {
			i := k
			if pi%2 == 1 {
				i = len(runners) - 1 - k
			}
			if ctx.Err() != nil {
				return results
			}
			r := runners[i].Run(ctx, p)
			results[i] = append(results[i], r)
			if done != nil {
				done(i, r)
			}
		}
	}
	return results
}

// WriteTable writes one row per program with each runtime's Summary, then
// the totals: programs fully passing and `not ok` count.
func WriteTable(w io.Writer, names []string, results [][]Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "program\t%s\n", strings.Join(names, "\t"))
	rows := 0
	for _, rs := range results {
		rows = max(rows, len(rs))
	}
	for row := 0; row < rows; row++ {
		name := ""
		cells := make([]string, len(results))
		for i, rs := range results {
			if row < len(rs) {
				name, cells[i] = rs[row].Program, rs[row].Summary()
			} else {
				cells[i] = "-"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, strings.Join(cells, "\t"))
	}
	passed, notOk := make([]string, len(results)), make([]string, len(results))
	for i, rs := range results {
		p, n := Totals(rs)
		passed[i] = fmt.Sprintf("%d/%d", p, len(rs))
		notOk[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(tw, "FULLY PASSING\t%s\n", strings.Join(passed, "\t"))
	fmt.Fprintf(tw, "NOT OK\t%s\n", strings.Join(notOk, "\t"))
	return tw.Flush()
}

// WriteFailures writes, for each result that did not fully pass, its
// failing points, its error diagnostics and stderr tail, and what cleanup
// found, so a reader can tell suite defects from runtime bugs.
func WriteFailures(w io.Writer, name string, rs []Result) {
	for _, r := range rs {
		if r.Passed() && len(r.Cleanup) == 0 {
			continue
		}
		fmt.Fprintf(w, "--- %s %s: %s (exit %d, %s)\n", name, r.Program, r.Summary(), r.ExitCode, r.Duration.Round(1e6))
		for _, f := range r.TAP.Failures {
			fmt.Fprintf(w, "    not ok %s\n", f)
		}
		for _, c := range r.Cleanup {
			fmt.Fprintf(w, "    cleanup: %s\n", c)
		}
		if !r.Passed() {
			writeIndented(w, "stdout", tail(r.Stdout, 1500))
			writeIndented(w, "stderr", tail(r.Stderr, 800))
		}
	}
}

func writeIndented(w io.Writer, label, s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	fmt.Fprintf(w, "    %s:\n", label)
	for _, line := range strings.Split(s, "\n") {
		fmt.Fprintf(w, "      %s\n", line)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
