// Command ocisuite runs the OCI runtime validation suite against one or
// more runtime binaries, program by program and interleaved, and prints a
// per-program table with totals (programs fully passing, `not ok` count).
// It builds the suite on first use and caches it (see docs/TESTING.md).
// Run it as root:
//
//	go run ./scripts/ocisuite -runtime /usr/sbin/runc
//	go run ./scripts/ocisuite -runtime bin/pelagos-runc -runtime /usr/sbin/runc -v
//	go run ./scripts/ocisuite -runtime /usr/sbin/runc -run 'linux_ns|hostname'
//	go run ./scripts/ocisuite -build-only     # fill the cache (install-test-deps.sh)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"time"

	"github.com/pelagos-go/pelagos/tests/ocisuite"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

type runtimes []string

func (r *runtimes) String() string     { return strings.Join(*r, ",") }
func (r *runtimes) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var rts runtimes
	flag.Var(&rts, "runtime", "runtime binary to test (repeat to compare; default runc on PATH)")
	timeout := flag.Duration("timeout", 60*time.Second, "per-program timeout")
	run := flag.String("run", "", "only programs matching this regexp")
	cache := flag.String("cache", "", "cache directory for the built suite (default $"+testenv.EnvCache+" or "+testenv.DefaultCacheDir+")")
	verbose := flag.Bool("v", false, "print the output of programs that did not fully pass")
	buildOnly := flag.Bool("build-only", false, "build (or find) the cached suite and exit")
	flag.Parse()
	var err error
	if *buildOnly {
		err = build(*cache)
	} else {
		err = main1(rts, *timeout, *run, *cache, *verbose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocisuite:", err)
		os.Exit(1)
	}
}

func build(cache string) error {
	if cache == "" {
		var err error
		if cache, err = testenv.CacheDir(); err != nil {
			return err
		}
	}
	s, err := ocisuite.Build(context.Background(), cache, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("validation suite: %d programs in %s\n", len(s.Programs), s.Dir)
	return nil
}

func main1(rts []string, timeout time.Duration, run, cache string, verbose bool) error {
	if os.Geteuid() != 0 {
		return errors.New("run as root: the suite creates namespaces, mounts and cgroups")
	}
	if len(rts) == 0 {
		ref, err := testenv.ReferencePath()
		if err != nil {
			return err
		}
		rts = []string{ref}
	}
	filter, err := regexp.Compile(run)
	if err != nil {
		return err
	}
	if cache == "" {
		if cache, err = testenv.CacheDir(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	suite, err := ocisuite.Build(ctx, cache, os.Stderr)
	if err != nil {
		return err
	}
	var programs []string
	for _, p := range suite.Programs {
		if filter.MatchString(p) {
			programs = append(programs, p)
		}
	}
	var probers []ocisuite.Prober
	for _, rt := range rts {
		r, err := ocisuite.NewRunner(suite, ocisuite.RunnerOptions{Runtime: rt, Timeout: timeout})
		if err != nil {
			return err
		}
		defer r.Close()
		probers = append(probers, r)
	}
	results := ocisuite.RunInterleaved(ctx, probers, programs, func(i int, r ocisuite.Result) {
		fmt.Fprintf(os.Stderr, "%-40s %-14s %s (%s)\n", r.Program, rts[i], r.Summary(), r.Duration.Round(time.Millisecond))
	})
	if verbose {
		for i, rs := range results {
			ocisuite.WriteFailures(os.Stdout, rts[i], rs)
		}
	}
	if err := ocisuite.WriteTable(os.Stdout, rts, results); err != nil {
		return err
	}
	return ctx.Err()
}
