package runtime_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// A foreground run relays the signals it gets to the container's process
// (which handles them here) and exits with that process's status.
func TestRunForwardsSignals(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sh", "-c",
		`trap 'echo got-usr1' USR1; trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`))
	out := filepath.Join(t.TempDir(), "stdout")
	outf, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	cmd := exec.Command(r.bin, "--root", r.root, "run", "--bundle", b.Dir, "sigs")
	cmd.Stdout, cmd.Stderr = outf, outf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitForOutput(t, out, "ready", done)
	if err := cmd.Process.Signal(unix.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitForOutput(t, out, "got-usr1", done)
	if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("run did not exit after SIGTERM, which the container's process handles by exiting")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		b, _ := os.ReadFile(out)
		t.Fatalf("run after SIGTERM: %v, want exit status 42 (the trap's); output:\n%s", err, b)
	}
}

// waitForOutput waits until the file at path holds want, failing if the
// command ends (done) or 10 s pass first.
func waitForOutput(t *testing.T, path, want string, done chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(path)
			t.Fatalf("run exited (%v) before printing %q; output:\n%s", err, want, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("no %q from the container in 10 s; output:\n%s", want, b)
}
