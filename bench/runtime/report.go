package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// Metric names, in report order.
const (
	metricRun       = "run /bin/true"
	metricCreate    = "create"
	metricStart     = "start"
	metricDelete    = "delete"
	metricLifecycle = "create+start+delete"
	metricExec      = "exec /bin/true"
	metricSeqBatch  = "containers one after another"
	metricParBatch  = "containers at a time"
	metricRSSRun    = "peak RSS: run (CLI + reaped init)"
	metricRSSCreate = "peak RSS: create (CLI)"
	metricRSSInit   = "peak RSS: init until exec"
	metricRSSExec   = "peak RSS: exec (CLI)"
	metricSize      = "binary size"
)

var metricUnits = map[string]string{
	metricRun: "ms", metricCreate: "ms", metricStart: "ms", metricDelete: "ms",
	metricLifecycle: "ms", metricExec: "ms", metricSeqBatch: "s", metricParBatch: "s",
	metricRSSRun: "MiB", metricRSSCreate: "MiB", metricRSSInit: "MiB", metricRSSExec: "MiB",
	metricSize: "MB",
}

var metricOrder = []string{
	metricRun, metricCreate, metricStart, metricDelete, metricLifecycle, metricExec,
	metricSeqBatch, metricParBatch,
	metricRSSRun, metricRSSCreate, metricRSSInit, metricRSSExec, metricSize,
}

// Report holds every sample of every metric for the two runtimes; index
// 0 is the candidate, 1 the reference.
type Report struct {
	Runtimes [2]string               `json:"runtimes"`
	Paths    [2]string               `json:"paths"`
	Batch    int                     `json:"batch"`
	Parallel int                     `json:"parallel"`
	Samples  map[string][2][]float64 `json:"samples"`
	Medians  map[string][2]float64   `json:"medians"`
	Errors   [2][]string             `json:"errors"`
}

func newReport(cfg config) *Report {
	r := &Report{Batch: cfg.batch, Parallel: cfg.parallel,
		Samples: map[string][2][]float64{}, Medians: map[string][2]float64{}}
	for i, rt := range cfg.runtimes {
		r.Runtimes[i], r.Paths[i] = rt.name, rt.path
	}
	return r
}

func (r *Report) add(idx int, metric string, v float64) {
	s := r.Samples[metric]
	s[idx] = append(s[idx], v)
	r.Samples[metric] = s
	m := r.Medians[metric]
	m[idx] = median(s[idx])
	r.Medians[metric] = m
}

func (r *Report) fail(idx int, err error) {
	r.Errors[idx] = append(r.Errors[idx], err.Error())
}

// writeTable prints one row per metric: each runtime's median and the
// candidate/reference ratio, then any errors.
func (r *Report) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "metric\tunit\t%s\t%s\t%s/%s\tn\t\n", r.Runtimes[0], r.Runtimes[1], r.Runtimes[0], r.Runtimes[1])
	for _, name := range metricOrder {
		s, ok := r.Samples[name]
		if !ok {
			continue
		}
		label := name
		switch name {
		case metricSeqBatch:
			label = fmt.Sprintf("%d %s", r.Batch, name)
		case metricParBatch:
			label = fmt.Sprintf("%d %s, %d %s", r.Batch, "containers", r.Parallel, "at a time")
		}
		m := r.Medians[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", label, metricUnits[name],
			cell(s[0], m[0]), cell(s[1], m[1]), ratio(s, m), len(s[0]), len(s[1]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s = %s\n%s = %s\nmedians of interleaved samples; ratio = %s / %s\n",
		r.Runtimes[0], r.Paths[0], r.Runtimes[1], r.Paths[1], r.Runtimes[0], r.Runtimes[1])
	for i, errs := range r.Errors {
		for _, e := range errs {
			fmt.Fprintf(w, "error (%s): %s\n", r.Runtimes[i], e)
		}
	}
	return nil
}

func cell(s []float64, m float64) string {
	if len(s) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", m)
}

func ratio(s [2][]float64, m [2]float64) string {
	if len(s[0]) == 0 || len(s[1]) == 0 || m[1] == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", m[0]/m[1])
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
