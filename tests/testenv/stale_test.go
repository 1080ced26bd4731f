package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestStaleEntries(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid // exited and reaped
	parent := t.TempDir()
	names := map[string]bool{ // name -> stale
		fmt.Sprintf("pelagos-x-%d-abc", dead):        true,
		fmt.Sprintf("pelagos-x-%d-1", dead):          true,
		fmt.Sprintf("pelagos-x-%d-abc", os.Getpid()): false, // we are alive
		"pelagos-x-2750879633":                       false, // os.MkdirTemp's random digits, no dash
		"pelagos-x-99999999-abc":                     false, // above any pid
		fmt.Sprintf("pelagos-y-%d-abc", dead):        false, // another prefix
		"pelagos-x-abc-1":                            false,
	}
	var want []string
	for n, stale := range names {
		if err := os.Mkdir(filepath.Join(parent, n), 0o755); err != nil {
			t.Fatal(err)
		}
		if stale {
			want = append(want, filepath.Join(parent, n))
		}
	}
	// A plain file with a stale name is not a directory of ours.
	if err := os.WriteFile(filepath.Join(parent, fmt.Sprintf("pelagos-x-%d-file", dead)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := staleEntries(parent, "pelagos-x-")
	if diff := cmp.Diff(got, want, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("staleEntries (-got +want):\n%s", diff)
	}
}

func TestCleanStaleRefusesForeignPrefix(t *testing.T) {
	if err := CleanStale("ocitest"); err == nil {
		t.Error("CleanStale(\"ocitest\") succeeded, want a refusal")
	}
}
