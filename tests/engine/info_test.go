package engine

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	c := newCLI(t)
	out := c.ok("version")
	for _, want := range []string{"Client:\n Version:", "Server: pelagos (daemonless)\n Engine:\n  Version:", "OS/Arch:           linux/"} {
		if !strings.Contains(out, want) {
			t.Errorf("version has no %q:\n%s", want, out)
		}
	}
	v := strings.TrimSpace(c.ok("version", "--format", "{{.Client.Version}} {{.Server.Version}}"))
	if f := strings.Fields(v); len(f) != 2 || f[0] != f[1] || f[0] == "" {
		t.Errorf("version --format: %q", v)
	}
	var j map[string]map[string]any
	if err := json.Unmarshal([]byte(c.ok("version", "--format", "json")), &j); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"Client", "Server"} {
		for _, k := range []string{"Version", "GitCommit", "GoVersion", "Os", "Arch"} {
			if _, ok := j[side][k]; !ok {
				t.Errorf("version json: no %s.%s in %v", side, k, j)
			}
		}
	}
	c.fails(125, "version", "--format", "{{.Client")
}

func TestInfo(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "running", "busybox:test", "sleep", "1000")
	c.ok("run", "-d", "--name", "paused", "busybox:test", "sleep", "1000")
	c.ok("pause", "paused")
	c.ok("create", "--name", "stopped", "busybox:test", "true")
	got := strings.TrimSpace(c.ok("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}}"))
	if got != "3 1 1 1 1" {
		t.Errorf("info counts %q, want 3 1 1 1 1", got)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(c.ok("system", "info", "--format", "json")), &j); err != nil {
		t.Fatal(err)
	}
	if j["DockerRootDir"] != c.root || j["OSType"] != "linux" || j["Driver"] != "overlay" || j["LoggingDriver"] != "json-file" {
		t.Errorf("info json: %v", j)
	}
	if v := j["CgroupVersion"]; v != "1" && v != "2" {
		t.Errorf("CgroupVersion %v", v)
	}
	if n, _ := j["NCPU"].(float64); n < 1 {
		t.Errorf("NCPU %v", j["NCPU"])
	}
	out := c.ok("info")
	for _, want := range []string{" Containers: 3\n  Running: 1\n  Paused: 1\n  Stopped: 1\n Images: 1\n", " Storage Driver: overlay\n", " Docker Root Dir: " + c.root + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("info has no %q:\n%s", want, out)
		}
	}
	c.ok("unpause", "paused")
	c.ok("rm", "-f", "running", "paused", "stopped")
	c.assertClean()
}
