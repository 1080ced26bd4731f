// Command testsummary reads `go test -json` output on stdin, passes the
// human-readable test output through to stdout, and ends with a summary of
// passed, failed and skipped tests per package. It exits non-zero when any
// test or package failed, so CI fails on a failure even when the output is
// piped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type counts struct {
	pass, fail, skip int
	failedPkg        bool
	elapsed          float64
}

func main() {
	verbose := len(os.Args) > 1 && os.Args[1] == "-v"
	pkgs := map[string]*counts{}
	var failed, skipped []string
	r := bufio.NewReaderSize(os.Stdin, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			handle(line, verbose, pkgs, &failed, &skipped)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
	}
	os.Exit(report(pkgs, failed, skipped))
}

// outputs buffers each running test's output, printed if the test fails.
var outputs = map[string][]string{}

func handle(line []byte, verbose bool, pkgs map[string]*counts, failed, skipped *[]string) {
	var e event
	if json.Unmarshal(line, &e) != nil || e.Action == "" {
		// Build errors and other non-JSON lines go straight through.
		os.Stdout.Write(line)
		return
	}
	c := pkgs[e.Package]
	if c == nil {
		c = &counts{}
		pkgs[e.Package] = c
	}
	name := e.Package + "." + e.Test
	switch e.Action {
	case "output":
		switch {
		case verbose || e.Test == "":
			os.Stdout.WriteString(e.Output)
		case strings.Contains(e.Output, "--- SKIP"):
			os.Stdout.WriteString(e.Output)
		default:
			outputs[name] = append(outputs[name], e.Output)
		}
	case "pass":
		delete(outputs, name)
		if e.Test != "" {
			c.pass++
		} else {
			c.elapsed = e.Elapsed
		}
	case "fail":
		if e.Test != "" {
			c.fail++
			*failed = append(*failed, name)
			if !verbose {
				// The failing test's own output (t.Errorf lines, logs).
				for _, l := range outputs[name] {
					os.Stdout.WriteString(l)
				}
			}
			delete(outputs, name)
		} else {
			c.failedPkg = true
			c.elapsed = e.Elapsed
		}
	case "skip":
		delete(outputs, name)
		if e.Test != "" {
			c.skip++
			*skipped = append(*skipped, name)
		}
	}
}

func report(pkgs map[string]*counts, failed, skipped []string) int {
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	var total counts
	fmt.Println("\n==== go test summary ====")
	for _, n := range names {
		c := pkgs[n]
		status := "ok  "
		if c.failedPkg || c.fail > 0 {
			status = "FAIL"
		}
		if c.pass+c.fail+c.skip == 0 && !c.failedPkg {
			continue // no test files
		}
		fmt.Printf("%s %-60s pass %4d  fail %3d  skip %3d  %6.1fs\n", status, n, c.pass, c.fail, c.skip, c.elapsed)
		total.pass += c.pass
		total.fail += c.fail
		total.skip += c.skip
		if c.failedPkg && c.fail == 0 {
			total.fail++ // a package that failed outside any test (build error, panic, TestMain)
			failed = append(failed, n+" (package)")
		}
	}
	for _, s := range skipped {
		fmt.Println("skipped:", s)
	}
	for _, f := range failed {
		fmt.Println("FAILED: ", f)
	}
	fmt.Printf("TOTAL: %d passed, %d failed, %d skipped\n", total.pass, total.fail, total.skip)
	if total.fail > 0 {
		return 1
	}
	return 0
}
