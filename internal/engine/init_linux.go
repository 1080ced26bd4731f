package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

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

// awaitReaper waits, for a container under the reaper, until the reaper
// at pid is ready to forward signals: it starts the command only once it
// catches every signal, so a child means ready. A signal sent earlier
// would be lost (pid 1 of a namespace drops one it has no handler for) or
// end the reaper alone (the Go runtime's default handler, before the
// reaper's own, exits with status 2). Bounded: a reaper whose command
// already exited has no child either.
func awaitReaper(c *Container, pid int) {
	if !wantsInit(&c.HostConfig) || pid <= 0 {
		return
	}
	path := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	delay := 100 * time.Microsecond
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		b, err := os.ReadFile(path)
		if err != nil || len(bytes.TrimSpace(b)) > 0 {
			return
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
	}
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
