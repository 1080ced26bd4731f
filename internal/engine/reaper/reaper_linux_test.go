package reaper

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"run": 0o755, "noexec": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/nonexistent:"+dir)
	tests := []struct {
		file, want string
		status     int // of a failure; 0: found
	}{
		{"run", filepath.Join(dir, "run"), 0},
		{"noexec", "", 127},
		{"adir", "", 127},
		{"missing", "", 127},
		{"/given/as/path", "/given/as/path", 0},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file)
		switch {
		case tt.status == 0 && (err != nil || got != tt.want):
			t.Errorf("lookPath(%q) = %q, %v, want %q", tt.file, got, err, tt.want)
		case tt.status != 0 && (err == nil || execStatus(err) != tt.status):
			t.Errorf("lookPath(%q) = %q, %v, want status %d", tt.file, got, err, tt.status)
		}
	}
}
