// A short-lived command does not need its GOMAXPROCS kept up to date with
// its cgroup's CPU limit: the runtime's first check, on sysmon's first
// round, reads mountinfo and the cgroup's files again, for nothing.

//go:debug updatemaxprocs=0

// Command pelagos is the docker-like user CLI: it needs no daemon.
//
// The same binary can be the init of the containers it starts (the runtime
// core re-executes a sealed copy of an init binary: pelagos-runc beside
// this one when it is there, being much smaller to copy; this binary
// otherwise), so that path is decided first, before any command-line
// machinery runs.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/cli"
	_ "github.com/pelagos-go/pelagos/internal/hugeheap" // the heap on a huge page: fewer page faults
	"github.com/pelagos-go/pelagos/internal/initproc"
	_ "github.com/pelagos-go/pelagos/internal/nsenter" // joins namespaces before the Go runtime starts
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	initproc.Dispatch()
	cli.Version = version
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
