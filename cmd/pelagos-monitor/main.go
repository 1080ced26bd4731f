// Command pelagos-monitor is the per-container monitor of a detached
// pelagos container (see internal/engine/monitor). pelagos starts one per
// `run -d` or `start`; it is not meant to be run by hand.
//
// It is a binary of its own, not a mode of pelagos, so that each running
// container costs only what this small program maps and touches: pelagos
// links the image, registry and CLI packages, whose code and
// initialisation a long-lived process would carry for nothing.
package main

import (
	"os"

	"github.com/pelagos-go/pelagos/internal/engine/monitor"
)

func main() {
	os.Exit(monitor.Main(os.Args[1:]))
}
