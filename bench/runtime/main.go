// Command runtime benchmarks OCI runtimes against each other on the same
// busybox bundle, in one run, interleaved sample by sample so that both
// see the same machine noise. It reports medians and candidate/reference
// ratios (the first -runtime is the candidate, the second the reference):
//
//   - run of /bin/true end to end (`runtime run`);
//   - create, start and delete timed separately, each sample after a full
//     lifecycle of the previous container;
//   - exec of /bin/true into a running container;
//   - 100 containers run one after another, and 8 at a time;
//   - peak RSS (wait4 ru_maxrss) of the runtime CLI for run, create and
//     exec, and of the container's init until it execs the process;
//   - the runtime binary's size.
//
// See bench/README.md. Run as root:
//
//	go run ./bench/runtime                      # pelagos-runc vs runc
//	go run ./bench/runtime -runtime a=/usr/sbin/runc -runtime b=/usr/sbin/runc
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

type runtimeFlags []string

func (r *runtimeFlags) String() string     { return strings.Join(*r, ",") }
func (r *runtimeFlags) Set(v string) error { *r = append(*r, v); return nil }

// config is what the flags ask for.
type config struct {
	runtimes []runtimeSpec
	samples  int // per single-operation metric
	batch    int // containers per batch
	parallel int // concurrency of the parallel batch
	rounds   int // batches per runtime
	jsonOut  string
}

type runtimeSpec struct{ name, path string }

func main() {
	var rts runtimeFlags
	flag.Var(&rts, "runtime", "name=path of a runtime; the first is the candidate, the second the reference (default pelagos-runc built from this tree, and runc)")
	samples := flag.Int("n", 30, "samples per single-operation metric")
	batch := flag.Int("batch", 100, "containers per batch")
	parallel := flag.Int("parallel", 8, "containers at a time in the parallel batch")
	rounds := flag.Int("rounds", 3, "batches per runtime (the median is reported)")
	jsonOut := flag.String("json", "", "also write the raw samples and medians as JSON to this file")
	flag.Parse()
	cfg := config{samples: *samples, batch: *batch, parallel: *parallel, rounds: *rounds, jsonOut: *jsonOut}
	if err := run(cfg, rts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config, rts []string) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the runtimes create namespaces, mounts and cgroups")
	}
	if cfg.samples < 1 || cfg.batch < 1 || cfg.parallel < 1 || cfg.rounds < 1 {
		return errors.New("-n, -batch, -parallel and -rounds must be at least 1")
	}
	// Containers' inits are reparented to us when create returns: as a
	// subreaper we can wait4 them for their exit and peak RSS.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_CHILD_SUBREAPER", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := testenv.CleanStale("pelagos-bench-"); err != nil {
		return fmt.Errorf("clean up after an earlier run: %w", err)
	}
	work, err := testenv.TempDir("pelagos-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	if cfg.runtimes, err = resolveRuntimes(ctx, rts, work); err != nil {
		return err
	}
	b, err := newBench(ctx, cfg, work)
	if err != nil {
		return err
	}
	defer b.close()
	report := b.measure(ctx)
	if err := report.writeTable(os.Stdout); err != nil {
		return err
	}
	if cfg.jsonOut != "" {
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonOut, data, 0o644); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(report.Errors[0])+len(report.Errors[1]) > 0 {
		return errors.New("a runtime failed; its metrics are incomplete (see the errors above)")
	}
	return nil
}

// resolveRuntimes turns name=path flags into runtimes; with none it builds
// pelagos-runc (stripped, like the distribution's runc) and finds runc.
func resolveRuntimes(ctx context.Context, rts []string, work string) ([]runtimeSpec, error) {
	if len(rts) == 0 {
		pelagos := filepath.Join(work, "pelagos-runc")
		fmt.Fprintln(os.Stderr, "bench: building pelagos-runc as scripts/build.sh does (static, stripped)")
		if err := testenv.GoBuild(ctx, testenv.PkgRuntime, pelagos, testenv.BuildOptions{Release: true}); err != nil {
			return nil, err
		}
		runc, err := testenv.ReferencePath()
		if err != nil {
			return nil, err
		}
		rts = []string{"pelagos-runc=" + pelagos, "runc=" + runc}
	}
	if len(rts) != 2 {
		return nil, fmt.Errorf("want two runtimes (candidate and reference), got %d", len(rts))
	}
	var out []runtimeSpec
	for _, r := range rts {
		name, path, ok := strings.Cut(r, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-runtime %q: want name=path", r)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("runtime %s: %w", name, err)
		}
		out = append(out, runtimeSpec{name, abs})
	}
	if out[0].name == out[1].name {
		out[1].name += "-2"
	}
	return out, nil
}
