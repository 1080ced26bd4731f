// Package nsenter joins user, mount and time namespaces before the Go
// runtime starts, for the container init and for exec, and holds the C
// init (cinit.c), which runs a plan compiled by the runtime (Plan, built
// by initproc.CompilePlan) without ever starting the Go runtime. Import it
// for its side effect from the binary that re-executes itself as the
// init:
//
//	import _ "github.com/pelagos-go/pelagos/internal/nsenter"
//
// The C constructor in nsenter.c reads its instructions from the
// environment variables named here; it does nothing when they are unset.
// Keep this package the only C in the project: the C carries out
// operations, every decision stays in Go.
package nsenter

// #cgo CFLAGS: -Wall -Wextra -O2
import "C"

// Environment variables the constructor reads.
const (
	// EnvJoin lists namespace file descriptors to setns(2), in order.
	EnvJoin = "_PELAGOS_NSENTER"
	// EnvUnshare holds clone flags to unshare(2) after joining.
	EnvUnshare = "_PELAGOS_UNSHARE"
	// EnvInitPipe names the sync socket fd where errors are reported.
	EnvInitPipe = "_PELAGOS_INITPIPE"
)
