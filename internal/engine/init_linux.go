package engine

import (
	"errors"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/engine/reaper"
)

// wantsInit reports whether c runs under the reaper (--init).
func wantsInit(hc *HostConfig) bool { return hc.Init != nil && *hc.Init }

// applyInit makes the reaper the container's init: the binary is
// bind-mounted read-only at reaper.Path and runs the process's command
// after "--", as docker runs tini.
func applyInit(s *specs.Spec, binary string) {
	s.Process.Args = append([]string{reaper.Path, "--"}, s.Process.Args...)
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: reaper.Path, Type: "bind", Source: binary,
		Options: []string{"bind", "ro", "nosuid", "nodev"},
	})
}

// initBinaryPath finds pelagos-monitor, whose pelagos-init mode is the
// reaper: $PELAGOS_MONITOR, or beside our own binary.
func initBinaryPath() (string, error) {
	if p := os.Getenv("PELAGOS_MONITOR"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pelagos-monitor")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("--init: pelagos-monitor (which provides the init) not found beside pelagos; set PELAGOS_MONITOR")
}
