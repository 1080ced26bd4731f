// A short-lived command does not need its GOMAXPROCS kept up to date with
// its cgroup's CPU limit: the runtime's first check, on sysmon's first
// round, reads mountinfo and the cgroup's files again, for nothing.

//go:debug updatemaxprocs=0

// Command pelagos-registry is the pelagos CLI with the registry client
// linked in. pelagos does not link it, so that its other commands do not
// pay its start-up cost; a command of pelagos that needs a registry (pull,
// push, login, logout, and run or create of an image to pull) replaces
// itself with this binary, installed beside it, on the same command line.
// It can also be run directly, as pelagos.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/cli"
	"github.com/pelagos-go/pelagos/internal/cli/remote"
	"github.com/pelagos-go/pelagos/internal/initproc"
	_ "github.com/pelagos-go/pelagos/internal/nsenter" // joins namespaces before the Go runtime starts
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	initproc.Dispatch()
	cli.Version = version
	cli.UseRegistry(remote.Registry{})
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
