// Command pelagos is the docker-like user CLI: it needs no daemon.
//
// The same binary is the init of the containers it starts (the runtime
// core re-executes a sealed copy of it inside the new namespaces), so that
// path is decided first, before any command-line machinery runs.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/cli"
	"github.com/pelagos-go/pelagos/internal/initproc"
	_ "github.com/pelagos-go/pelagos/internal/nsenter" // joins namespaces before the Go runtime starts
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv(initproc.EnvInitPipe) != "" {
		initproc.Main()
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
