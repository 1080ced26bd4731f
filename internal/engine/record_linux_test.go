package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A --rm container's record is written without an fsync, so a host crash
// may leave it empty: such a container is gone for every command, its
// name can be taken again, and prune removes what is left of it.
func TestLostRecordIsNoContainer(t *testing.T) {
	e := testEngine(t)
	must(t, os.MkdirAll(e.namesDir(), 0o711))
	ctx := context.Background()
	lost := strings.Repeat("ab", 32)
	dir := filepath.Join(e.containersDir(), lost)
	must(t, os.MkdirAll(filepath.Join(dir, "rootfs"), 0o711))
	must(t, os.WriteFile(filepath.Join(dir, recordFile), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(e.namesDir(), "gone"), []byte(lost), 0o644))
	// A healthy record beside it stays.
	kept := &Container{ID: strings.Repeat("cd", 32), Name: "kept", dir: filepath.Join(e.containersDir(), strings.Repeat("cd", 32))}
	must(t, os.MkdirAll(kept.dir, 0o711))
	must(t, kept.saveConfig())

	cs, err := e.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(cs) != 1 || cs[0].ID != kept.ID {
		t.Errorf("List = %d containers, want only %s", len(cs), kept.ID[:12])
	}
	if _, err := loadRecord(dir); !errors.Is(err, ErrNotFound) {
		t.Errorf("loadRecord of an empty record: %v, want ErrNotFound", err)
	}
	must(t, e.reserveName("gone", strings.Repeat("ef", 32)))
	must(t, os.WriteFile(filepath.Join(e.namesDir(), "gone"), []byte(lost), 0o644))

	must(t, e.sweep(ctx))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("sweep left the lost container's directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.namesDir(), "gone")); !os.IsNotExist(err) {
		t.Errorf("sweep left the lost container's name: %v", err)
	}
	if _, err := loadRecord(kept.dir); err != nil {
		t.Errorf("sweep touched a healthy container: %v", err)
	}
}

// The container lock (a flock on the container's directory) excludes a
// second holder until the first lets go, and creates no file.
func TestLockContainerExcludes(t *testing.T) {
	e := testEngine(t)
	id := strings.Repeat("ab", 32)
	dir := filepath.Join(e.containersDir(), id)
	must(t, os.MkdirAll(dir, 0o711))
	ctx := context.Background()
	l, err := e.lockContainer(ctx, id)
	must(t, err)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if l2, err := e.lockContainer(short, id); !errors.Is(err, context.DeadlineExceeded) {
		l2.unlock()
		t.Fatalf("second lock while held: %v, want a timeout", err)
	}
	l.unlock()
	l2, err := e.lockContainer(ctx, id)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.unlock()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("locking created %v in the container's directory", ents)
	}
	if _, err := e.lockContainer(ctx, strings.Repeat("cd", 32)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock of a container without a directory: %v, want ErrNotExist", err)
	}
}
