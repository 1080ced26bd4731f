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

// awaitReaperOf is awaitReaper for a stop or kill of container c: a
// reaper restarted by its monitor, or started by another command, may
// still be starting.
func awaitReaperOf(c *Container, pid int) {
	if wantsInit(&c.HostConfig) && pid > 0 {
		awaitReaper(pid)
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

// awaitReaper waits, up to a second, until the reaper (host pid pid) has
// started the container's command, or has exited. The reaper asks for
// every signal before it starts the command; until then its Go runtime
// is starting, and a signal is lost (PID 1 of a pid namespace ignores
// what it does not handle) or ends it with status 2: a stop right after
// `run -d --init` waited out its whole timeout, or reported exit 2.
// docker's tini, in C, handles signals microseconds after its exec; the
// engine reports the start only once ours can.
func awaitReaper(pid int) {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, alive := procStart(pid); !alive || hasChild(pid) {
			return
		}
	}
}

// hasChild reports whether a thread of process pid has a child process
// (a Go program forks from whichever thread runs the goroutine).
func hasChild(pid int) bool {
	tasks := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(tasks)
	if err != nil {
		return false
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(tasks, e.Name(), "children"))
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return true
		}
	}
	return false
}
