package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSwapAccountingV2(t *testing.T) {
	for _, tc := range []struct {
		name        string
		controllers string
		files       []string
		want        bool
	}{
		{"a child limits swap", "cpu memory pids", []string{"a/memory.max", "a/memory.swap.max"}, true},
		{"swapaccount=0", "cpu memory pids", []string{"a/memory.max"}, false},
		{"no child yet, memory controller", "cpu io memory pids", nil, true},
		{"no memory controller", "cpu pids", nil, false},
	} {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte(tc.controllers+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range tc.files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("max\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := swapAccountingV2(root); got != tc.want {
			t.Errorf("%s: swapAccountingV2 = %v, want %v", tc.name, got, tc.want)
		}
	}
}
