package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Processes returns the pids of the processes whose command line (its
// arguments, split at NUL) match accepts: the monitors, DNS servers and
// daemons a test looks for, or kills, by what their arguments name.
func Processes(match func(args []string) bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if match(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// SeccompCacheDir is where pelagos-runc keeps compiled seccomp programs
// in its state root: it belongs to no container.
const SeccompCacheDir = ".seccomp"

// StateEntries lists a runtime state root's entries but its seccomp
// cache: what a refused or deleted container must not leave behind.
func StateEntries(root string) []string {
	entries, _ := os.ReadDir(root)
	var names []string
	for _, e := range entries {
		if e.Name() != SeccompCacheDir {
			names = append(names, e.Name())
		}
	}
	return names
}
