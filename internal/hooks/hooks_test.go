package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunPassesStateAndArgs(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	state := &specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreated, Pid: 42, Bundle: "/b"}
	hook := specs.Hook{
		Path: "/bin/sh",
		Args: []string{"sh", "-c", `cat > "$OUT"; echo >> "$OUT"; echo "$0" >> "$OUT"`, "arg1"},
		Env:  []string{"OUT=" + out},
	}
	if err := Run(context.Background(), "prestart", []specs.Hook{hook}, state); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 2)
	var got specs.State
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("hook stdin %q is not the state: %v", lines[0], err)
	}
	if got.ID != "c1" || got.Pid != 42 || got.Status != specs.StateCreated {
		t.Errorf("hook got state %+v", got)
	}
	if strings.TrimSpace(lines[1]) != "arg1" {
		t.Errorf("hook args = %q, want %q", lines[1], "arg1")
	}
}

func TestRunFailureAndTimeout(t *testing.T) {
	one := 1
	tests := []struct {
		name string
		hook specs.Hook
		want string
	}{
		{"exit status", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo boom >&2; exit 3"}}, "exit status 3: boom"},
		{"timeout", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 10"}, Timeout: &one}, "timed out after 1s"},
		{"missing", specs.Hook{Path: "/nonexistent/hook"}, "no such file"},
	}
	for _, tt := range tests {
		err := Run(context.Background(), "createRuntime", []specs.Hook{tt.hook}, &specs.State{})
		var he *Error
		if !errors.As(err, &he) || he.Kind != "createRuntime" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Run error = %v, want a createRuntime hook error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRunAllContinues(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	list := []specs.Hook{
		{Path: "/bin/false"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "echo ran > " + out}},
	}
	err := RunAll(context.Background(), "poststart", list, &specs.State{})
	if err == nil {
		t.Error("RunAll returned no error for a failing hook")
	}
	if b, _ := os.ReadFile(out); string(b) != "ran\n" {
		t.Errorf("second hook did not run after the first failed: output %q", b)
	}
}
