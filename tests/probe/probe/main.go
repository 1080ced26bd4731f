// Command probe runs inside test containers and prints, as one JSON
// object on stdout, what the container looks like from inside (see package
// probe's Report). It must be built static (CGO_ENABLED=0): test root
// filesystems have no libc.
//
//	probe            print the report
//	probe -o FILE    write it to FILE instead (e.g. a bind-mounted dir)
//	probe -exit N    exit with status N after reporting
//
// The go:debug settings stop the Go runtime from opening cgroup files to
// size GOMAXPROCS: it keeps them open, and they would be reported as fds
// the container was given.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/pelagos-go/pelagos/tests/probe"
)

func main() {
	out := flag.String("o", "", "write the report to this file instead of stdout")
	code := flag.Int("exit", 0, "exit status after reporting")
	flag.Parse()
	if err := write(probe.Collect(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(125)
	}
	os.Exit(*code)
}

func write(r *probe.Report, path string) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
