package cgroups

import (
	"os"
	"strings"
	"testing"
)

func TestParseSystemdPath(t *testing.T) {
	for _, tt := range []struct {
		in        string
		wantScope Scope
		wantDir   string
		wantErr   string
	}{
		{in: "system.slice:docker:abc", wantScope: Scope{"docker-abc.scope", "system.slice"}, wantDir: "/system.slice/docker-abc.scope"},
		{in: ":pelagos:c1", wantScope: Scope{"pelagos-c1.scope", "system.slice"}, wantDir: "/system.slice/pelagos-c1.scope"},
		{in: "machine-pod1.slice:crio:c1", wantScope: Scope{"crio-c1.scope", "machine-pod1.slice"}, wantDir: "/machine.slice/machine-pod1.slice/crio-c1.scope"},
		{in: "a-b-c.slice:p:n", wantScope: Scope{"p-n.scope", "a-b-c.slice"}, wantDir: "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"},
		{in: "user.slice::c1", wantScope: Scope{"c1.scope", "user.slice"}, wantDir: "/user.slice/c1.scope"},
		{in: "-.slice:p:n", wantScope: Scope{"p-n.scope", "-.slice"}, wantDir: "/p-n.scope"},
		{in: "system.slice:x:sub.slice", wantErr: "ending in .slice is not supported"},
		{in: "system:docker:abc", wantErr: "want a name ending in .slice"},
		{in: "a--b.slice:p:n", wantErr: "malformed"},
		{in: "-a.slice:p:n", wantErr: "malformed"},
		{in: "a-.slice:p:n", wantErr: "malformed"},
		{in: "../x.slice:p:n", wantErr: "want a name ending in .slice"},
		{in: "system.slice:p:", wantErr: "bad prefix or name"},
		{in: "system.slice:p:../x", wantErr: "bad prefix or name"},
		{in: "system.slice::..", wantErr: "bad prefix or name"},
		{in: "system.slice:..:n", wantErr: "bad prefix or name"},
		{in: "system.slice:p/q:n", wantErr: "bad prefix or name"},
		{in: "system.slice:p:a b", wantErr: "bad prefix or name"},
		{in: "system.slice:p:" + strings.Repeat("x", 250), wantErr: "longer than 255"},
		{in: "a:b", wantErr: "want slice:prefix:name"},
	} {
		scope, dir, err := ParseSystemdPath(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSystemdPath(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || scope != tt.wantScope || dir != tt.wantDir {
			t.Errorf("ParseSystemdPath(%q) = %+v, %q, %v; want %+v, %q", tt.in, scope, dir, err, tt.wantScope, tt.wantDir)
		}
	}
}

func TestIsSystemdPath(t *testing.T) {
	for in, want := range map[string]bool{
		"system.slice:p:n": true,
		"::n":              true,
		"/a:b:c":           false,
		"a/b":              false,
		"a:b":              false,
	} {
		if got := IsSystemdPath(in); got != want {
			t.Errorf("IsSystemdPath(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestUnstartedScopeIsNotOurs: a systemd manager plans to create nothing
// (systemd makes the directories), and until it has started its unit,
// Destroy neither stops a unit (the name may be another container's; no
// systemd is even asked) nor removes a directory at its paths.
func TestUnstartedScopeIsNotOurs(t *testing.T) {
	existing := t.TempDir()
	m := &Manager{
		mode:  Unified,
		paths: map[string]string{"": existing, "x": existing + "/missing/p-c.scope"},
		scope: &Scope{Unit: "p-c.scope", Slice: "system.slice"},
	}
	if got := m.Planned(); len(got.Created) != 0 || got.Scope == nil || got.ScopeStarted {
		t.Errorf("Planned() = %+v, want the scope, not started, and no directories of ours", got)
	}
	if err := Load(m.Planned()).Destroy(); err != nil {
		t.Errorf("Destroy of an unstarted scope: %v", err)
	}
	if _, err := os.Stat(existing); err != nil {
		t.Errorf("Destroy of an unstarted scope removed %s: %v", existing, err)
	}
}
