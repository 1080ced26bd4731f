package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// pelagos links no registry client: a pull replaces the process with
// pelagos-registry on the same command line (seen through a wrapper that
// records its arguments), a local command does not start it, and without
// the helper the command fails saying what is missing.
func TestRegistryCommandsGoToTheHelper(t *testing.T) {
	host := realRegistry(t)
	imagetest.Push(t, host+"/lib/bb:1", twoLayer(t))
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "helper")
	real := filepath.Join(filepath.Dir(pelagosBin), "pelagos-registry")
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	c.env = append(c.env, "PELAGOS_REGISTRY_HELPER="+wrapper)
	c.ok("--root", c.root, "pull", "-q", host+"/lib/bb:1")
	if got := strings.TrimSpace(c.ok("images", "--format", "{{.Repository}}")); got != host+"/lib/bb" {
		t.Errorf("images after the helper's pull: %q", got)
	}
	b, _ := os.ReadFile(calls)
	if got, want := strings.TrimSpace(string(b)), "--root "+c.root+" pull -q "+host+"/lib/bb:1"; got != want {
		t.Errorf("the helper ran with %q, want exactly one run with %q", got, want)
	}

	c.env = append(c.env, "PELAGOS_REGISTRY_HELPER="+filepath.Join(dir, "missing"))
	_, stderr, code := c.run(nil, "pull", host+"/lib/bb:1")
	if code == 0 || !strings.Contains(stderr, "missing") {
		t.Errorf("pull without its helper: exit %d, stderr %q; want a failure naming the helper", code, stderr)
	}
}
