// A short-lived command does not need its GOMAXPROCS kept up to date with
// its cgroup's CPU limit: the runtime's first check, on sysmon's first
// round, reads mountinfo and the cgroup's files again, for nothing.

//go:debug updatemaxprocs=0

// Command pelagos-runc is pelagos's OCI runtime with runc's command line, so
// that containerd, podman, Docker and the OCI validation suite can drive it
// unchanged.
//
// The same binary is the container init: the runtime re-executes a sealed
// copy of itself as "pelagos-runc init" inside the new namespaces. That
// path is decided first, before any command-line machinery runs.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/initproc"
	_ "github.com/pelagos-go/pelagos/internal/nsenter" // joins namespaces before the Go runtime starts
	"github.com/pelagos-go/pelagos/internal/runccli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	initproc.Dispatch()
	runccli.Version = version
	os.Exit(runccli.Main(os.Args[1:]))
}
