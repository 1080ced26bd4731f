package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
