package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// createSoon creates a container of bundle b in this process with
// StartSoon, as the engine does.
func createSoon(t *testing.T, b *bundle.Bundle) *container.Container {
	t.Helper()
	c, err := container.Create(context.Background(), container.CreateOpts{
		Root: t.TempDir(), ID: "soon", Bundle: b.Dir,
		InitBinary: testenv.Runtime(t), StartSoon: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), true, nil) })
	return c
}

// createMarking is createSoon of a shell script that may write marks
// into the host directory returned, at /marks.
func createMarking(t *testing.T, script string) (*container.Container, string) {
	t.Helper()
	testenv.RequireRoot(t)
	marks := t.TempDir()
	b := newBundle(t, bundle.Args("/bin/sh", "-c", script), bundle.Mount(specs.Mount{
		Destination: "/marks", Type: "bind", Source: marks, Options: []string{"rbind", "rw"},
	}))
	return createSoon(t, b), marks
}

// awaitMark waits up to 5 s for the container process to make path.
func awaitMark(t *testing.T, path, failure string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(failure)
		}
	}
}

// With StartSoon the process runs without waiting for Start: the init
// got its start message when it was ready.
func TestStartSoonRunsBeforeStart(t *testing.T) {
	c, marks := createMarking(t, "echo ran > /marks/ran")
	awaitMark(t, filepath.Join(marks, "ran"), "the process did not run before Start: the start message was not sent at create")
	if err := c.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v; want 0", code, err)
	}
}

// A process that has exited by the time Start runs was still started:
// Start reports its execution, and its exit status is the process's.
func TestStartSoonProcessExitedBeforeStart(t *testing.T) {
	c, marks := createMarking(t, "touch /marks/done; exit 3")
	awaitMark(t, filepath.Join(marks, "done"), "the process did not run")
	time.Sleep(100 * time.Millisecond) // let it exit
	if err := c.Start(context.Background(), nil); err != nil {
		t.Fatalf("Start after the process exited: %v", err)
	}
	if code, err := c.Wait(); err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v; want 3", code, err)
	}
	if err := c.Delete(context.Background(), false, nil); err != nil {
		t.Fatalf("Delete of the stopped container: %v", err)
	}
}

// A container created with StartSoon whose execve fails (a file of no
// executable format: found at create, refused by the kernel) reports it
// at Start, as one started the usual way does.
func TestStartSoonExecFailureAtStart(t *testing.T) {
	testenv.RequireRoot(t)
	b := newBundle(t, bundle.Args("/bin/garbage"))
	if err := os.WriteFile(filepath.Join(b.Rootfs(), "bin", "garbage"), []byte{0, 1, 2, 3}, 0o755); err != nil {
		t.Fatal(err)
	}
	err := createSoon(t, b).Start(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Fatalf("Start of a file of no executable format: %v; want an exec format error", err)
	}
}
