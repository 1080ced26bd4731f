// Command pelagos-monitor is the per-container monitor of a detached
// pelagos container (see internal/engine/monitor). pelagos starts one per
// `run -d` or `start`; it is not meant to be run by hand.
//
// It is a binary of its own, not a mode of pelagos, so that each running
// container costs only what this small program maps and touches: pelagos
// links the image, registry and CLI packages, whose code and
// initialisation a long-lived process would carry for nothing.
//
// Called by the name pelagos-init (the engine mounts it at
// /sbin/pelagos-init for `run --init`), it is the container's init
// instead: see internal/engine/reaper.
package main

import (
	"os"
	"strings"

	"github.com/pelagos-go/pelagos/internal/engine/monitor"
	"github.com/pelagos-go/pelagos/internal/engine/reaper"
)

func main() {
	if name := os.Args[0][strings.LastIndexByte(os.Args[0], '/')+1:]; name == reaper.Name {
		os.Exit(reaper.Main(os.Args[1:]))
	}
	os.Exit(monitor.Main(os.Args[1:]))
}
