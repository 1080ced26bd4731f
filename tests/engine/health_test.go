package engine

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// health is docker's State.Health as inspect prints it.
type health struct {
	Status        string
	FailingStreak int
	Log           []struct {
		Start, End time.Time
		ExitCode   int
		Output     string
	}
}

func (c *cli) health(ref string) health {
	c.t.Helper()
	var h health
	if err := json.Unmarshal([]byte(c.field(ref, "{{json .State.Health}}")), &h); err != nil {
		c.t.Fatalf("State.Health of %s: %v", ref, err)
	}
	return h
}

// wantJSON compares the JSON that inspect's template gives with want, as
// values (key order aside).
func (c *cli) wantJSON(ref, tmpl, want string) {
	c.t.Helper()
	var got, w any
	out := c.field(ref, tmpl)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		c.t.Fatalf("%s of %s: %v", tmpl, ref, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		c.t.Fatal(err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		c.t.Errorf("%s of %s (-want +got):\n%s", tmpl, ref, diff)
	}
}

// psStatus is ps's STATUS column for one container.
func (c *cli) psStatus(ref string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("ps", "-a", "--filter", "name="+ref, "--format", "{{.Status}}"))
}

// psNames lists the names ps shows with filter.
func (c *cli) psNames(filter string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("ps", "-a", "--filter", filter, "--format", "{{.Names}}"))
}

// TestHealthTransitions drives a check on a file the test controls:
// starting (failures excused during the start period), healthy once the
// file exists, unhealthy after the retries once it is gone.
func TestHealthTransitions(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.ok("run", "-d", "--name", "hc", "-v", dir+":/probe",
		"--health-cmd", "cat /probe/ok", "--health-interval", "200ms", "--health-start-period", "1h",
		"--health-start-interval", "100ms", "--health-retries", "2", "--health-timeout", "5s",
		"busybox:test", "sleep", "1000")
	c.wantJSON("hc", "{{json .Config.Healthcheck}}", `{"Test":["CMD-SHELL","cat /probe/ok"],"Interval":200000000,"Timeout":5000000000,"StartPeriod":3600000000000,"StartInterval":100000000,"Retries":2}`)
	waitFor(t, "failing probes during the start period", func() bool { return len(c.health("hc").Log) >= 3 })
	h := c.health("hc")
	if h.Status != "starting" || h.FailingStreak != 0 {
		t.Errorf("during the start period: %+v, want starting with no failing streak", h)
	}
	if l := h.Log[len(h.Log)-1]; l.ExitCode != 1 || !strings.Contains(l.Output, "No such file") || l.End.Before(l.Start) {
		t.Errorf("failed probe logged as %+v", l)
	}
	if got := c.psStatus("hc"); !strings.HasPrefix(got, "Up ") || !strings.HasSuffix(got, " (health: starting)") {
		t.Errorf("ps status while starting: %q", got)
	}
	if got := c.psNames("health=starting"); got != "hc" {
		t.Errorf("ps --filter health=starting: %q", got)
	}

	if err := os.WriteFile(filepath.Join(dir, "ok"), []byte("fine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "healthy", func() bool { return c.health("hc").Status == "healthy" })
	h = c.health("hc")
	if l := h.Log[len(h.Log)-1]; l.ExitCode != 0 || l.Output != "fine\n" || h.FailingStreak != 0 {
		t.Errorf("healthy: %+v", h)
	}
	if got := c.psStatus("hc"); !strings.HasSuffix(got, " (healthy)") {
		t.Errorf("ps status when healthy: %q", got)
	}
	if got := c.psNames("health=healthy"); got != "hc" {
		t.Errorf("ps --filter health=healthy: %q", got)
	}

	// Out of the starting state, failures count: two make it unhealthy.
	if err := os.Remove(filepath.Join(dir, "ok")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unhealthy", func() bool { return c.health("hc").Status == "unhealthy" })
	h = c.health("hc")
	if h.FailingStreak < 2 || len(h.Log) > 5 {
		t.Errorf("unhealthy: streak %d, %d log entries (want >= 2, <= 5)", h.FailingStreak, len(h.Log))
	}
	if got := c.psStatus("hc"); !strings.HasSuffix(got, " (unhealthy)") {
		t.Errorf("ps status when unhealthy: %q", got)
	}
	if got := c.psNames("health=healthy"); got != "" {
		t.Errorf("ps --filter health=healthy lists %q", got)
	}
	c.ok("rm", "-f", "hc")
	c.assertClean()
}

// healthImage loads an image whose config has hc as its health check.
func (c *cli) healthImage(tag string, hc *v1.HealthConfig) {
	c.t.Helper()
	img := imagetest.Image(c.t, "linux/amd64", imagetest.Layer(c.t, busyboxTar(c.t), compression.GZip))
	cf, err := img.ConfigFile()
	if err != nil {
		c.t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Healthcheck = hc
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		c.t.Fatal(err)
	}
	ref, err := name.ParseReference(tag)
	if err != nil {
		c.t.Fatal(err)
	}
	p := filepath.Join(c.root, "hc.tar")
	if err := tarball.WriteToFile(p, ref, img); err != nil {
		c.t.Fatal(err)
	}
	c.ok("load", "-i", p)
}

// TestHealthTimeoutAndImageConfig: the image's check applies (and merges
// with flags), a probe past its timeout is killed and logged as docker
// does, --no-healthcheck disables the image's.
func TestHealthTimeoutAndImageConfig(t *testing.T) {
	c := newCLI(t)
	c.healthImage("slow:test", &v1.HealthConfig{
		Test: []string{"CMD-SHELL", "sleep 30"}, Interval: 100 * time.Millisecond,
		Timeout: 150 * time.Millisecond, Retries: 2,
	})
	c.ok("run", "-d", "--name", "slow", "slow:test", "sleep", "1000")
	waitFor(t, "unhealthy after timeouts", func() bool { return c.health("slow").Status == "unhealthy" })
	h := c.health("slow")
	if l := h.Log[len(h.Log)-1]; l.ExitCode != -1 || l.Output != "Health check exceeded timeout (150ms)" {
		t.Errorf("timed-out probe logged as %+v", l)
	}
	// Killed probes do not pile up: at most the one in progress remains.
	time.Sleep(time.Second)
	if n := strings.Count(c.ok("exec", "slow", "ps", "-o", "args"), "sleep 30"); n > 1 {
		t.Errorf("%d timed-out probes still run", n)
	}

	// Flags fill in over the image's check; --no-healthcheck disables it.
	c.ok("create", "--name", "merged", "--health-retries", "7", "slow:test")
	c.wantJSON("merged", "{{json .Config.Healthcheck}}", `{"Test":["CMD-SHELL","sleep 30"],"Interval":100000000,"Timeout":150000000,"Retries":7}`)
	c.ok("run", "-d", "--name", "none", "--no-healthcheck", "slow:test", "sleep", "1000")
	// The image's timings still merge in, as docker's daemon merges them.
	c.wantJSON("none", "{{json .Config.Healthcheck}}", `{"Test":["NONE"],"Interval":100000000,"Timeout":150000000,"Retries":2}`)
	c.wantJSON("none", "{{json .State.Health}}", `null`)
	if got := c.psStatus("none"); strings.Contains(got, "(") {
		t.Errorf("ps status without a health check: %q", got)
	}
	if got := c.psNames("health=none"); got != "merged\nnone" && got != "none\nmerged" {
		t.Errorf("ps --filter health=none: %q", got)
	}
	// Once the process exits, the status is unhealthy, as docker has it.
	c.ok("stop", "-t", "0", "slow")
	if got := c.field("slow", "{{.State.Health.Status}}"); got != "unhealthy" {
		t.Errorf("health after stop: %q", got)
	}
	c.ok("rm", "-f", "slow", "merged", "none")
	c.assertClean()
}

// TestHealthCmdFormAndForeground: an exec-form check (["CMD", ...]) in a
// foreground run, which is its own monitor.
func TestHealthCmdFormAndForeground(t *testing.T) {
	c := newCLI(t)
	c.healthImage("cmdform:test", &v1.HealthConfig{Test: []string{"CMD", "echo", "ok"}, Interval: 100 * time.Millisecond})
	cmd := exec.Command(c.bin, "run", "--name", "fg", "cmdform:test", "sleep", "1000")
	cmd.Env = c.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, "the foreground container to be healthy", func() bool {
		out, _, _ := c.run(nil, "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", "fg")
		return strings.TrimSpace(out) == "healthy"
	})
	if l := c.health("fg").Log; l[len(l)-1].Output != "ok\n" {
		t.Errorf("exec-form probe output %q", l[len(l)-1].Output)
	}
	c.ok("kill", "fg")
	<-done
	if got := c.field("fg", "{{.State.ExitCode}}"); got != strconv.Itoa(128+9) {
		t.Errorf("exit code after kill: %s", got)
	}
	c.ok("rm", "fg")
	c.assertClean()
}

func TestHealthFlagErrors(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--health-interval", "-1s"}, "--health-interval cannot be negative"},
		{[]string{"--health-retries", "-1"}, "--health-retries cannot be negative"},
		{[]string{"--health-cmd", "true", "--health-timeout", "10us"}, "Timeout in Healthcheck cannot be less than 1ms"},
		{[]string{"--health-interval", "soon"}, `invalid argument "soon" for "--health-interval"`},
	} {
		args := append(append([]string{"create"}, tc.args...), "busybox:test")
		if errs := c.fails(125, args...); !strings.Contains(errs, tc.want) {
			t.Errorf("create %v: %q, want %q", tc.args, errs, tc.want)
		}
	}
	if errs := c.fails(1, "ps", "--filter", "health=bogus"); !strings.Contains(errs, "Unrecognised filter value for health: bogus") {
		t.Errorf("ps --filter health=bogus: %q", errs)
	}
	c.assertClean()
}
