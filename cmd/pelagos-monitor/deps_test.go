package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the monitor small: every running container pays
// for what it links (docs/ENGINE.md measures it), and the reaper runs in
// containers from this binary. The engine, the runtime core and the heavy
// or reflecting packages must stay out.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	forbidden := map[string]bool{
		"github.com/pelagos-go/pelagos/internal/engine":    true,
		"github.com/pelagos-go/pelagos/internal/container": true,
		"github.com/spf13/cobra":                           true,
		"encoding/json":                                    true,
		"fmt":                                              true,
		"flag":                                             true,
		"net":                                              true,
		"os/exec":                                          true,
	}
	for _, p := range strings.Fields(string(out)) {
		if forbidden[p] {
			t.Errorf("pelagos-monitor links %s", p)
		}
	}
}
