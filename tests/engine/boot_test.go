package engine

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

// simulateReboot leaves the test's containers as a host reboot leaves
// them: monitors and container processes killed with SIGKILL (nobody
// records an exit), cgroups gone, nothing mounted under the data root, and
// the runtime root empty.
func (c *cli) simulateReboot() {
	c.t.Helper()
	for _, pid := range c.monitors() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitFor(c.t, "the monitors to die", func() bool { return len(c.monitors()) == 0 })
	for _, dir := range c.cgroupDirs() {
		if err := testenv.RemoveCgroupTree(dir); err != nil {
			c.t.Fatalf("remove the cgroups: %v", err)
		}
	}
	if _, err := testenv.UnmountUnder(c.root); err != nil {
		c.t.Fatalf("unmount under the data root: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(c.root, "run")); err != nil {
		c.t.Fatal(err)
	}
}

// TestSystemBoot: after a simulated reboot, system boot starts the
// containers docker's daemon would start (always, even stopped by hand;
// unless-stopped unless stopped by hand), after the containers whose
// namespaces they join, with their networks; the others stay exited; a
// second boot starts nothing.
func TestSystemBoot(t *testing.T) {
	c := newCLI(t)
	runs := []struct {
		name string
		args []string
	}{
		{"joiner", []string{"--restart", "always", "--network", "container:always"}},
		{"always", []string{"--restart", "always", "--network", "none"}},
		{"unless", []string{"--restart", "unless-stopped"}},
		{"always-stopped", []string{"--restart", "always", "--network", "none"}},
		{"unless-stopped", []string{"--restart", "unless-stopped", "--network", "none"}},
		{"onfailure", []string{"--restart", "on-failure", "--network", "none"}},
		{"norestart", []string{"--network", "none"}},
	}
	// "joiner" is created first (and so listed last) but must start
	// after "always": create it once "always" runs.
	for _, r := range append(runs[1:], runs[0]) {
		args := append(append([]string{"run", "-d", "--name", r.name}, r.args...), "busybox:test", "sleep", "1000")
		c.ok(args...)
	}
	c.ok("stop", "-t", "0", "always-stopped", "unless-stopped")
	c.simulateReboot()

	out := c.ok("system", "boot")
	want := []string{"always", "always-stopped", "joiner", "unless"}
	got := strings.Fields(out)
	if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, want) {
		t.Errorf("system boot started %v, want %v", got, want)
	}
	if slices.Index(got, "joiner") < slices.Index(got, "always") {
		t.Errorf("system boot started joiner before always, whose network it joins: %v", got)
	}
	for _, r := range runs {
		wantState := "exited"
		if slices.Contains(want, r.name) {
			wantState = "running"
		}
		if st := c.field(r.name, "{{.State.Status}}"); st != wantState {
			t.Errorf("after boot, %s is %s, want %s", r.name, st, wantState)
		}
	}
	if n := len(c.monitors()); n != len(want) {
		t.Errorf("%d monitors after boot, want %d", n, len(want))
	}
	// The joiner shares always's network namespace; unless is on the
	// default bridge again, with an address.
	if a, j := c.ok("exec", "always", "readlink", "/proc/self/ns/net"), c.ok("exec", "joiner", "readlink", "/proc/self/ns/net"); a != j {
		t.Errorf("joiner's network namespace %q is not always's %q", j, a)
	}
	ip := c.field("unless", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
	if ip == "" || !strings.Contains(c.ok("exec", "unless", "ip", "-4", "addr"), ip) {
		t.Errorf("unless after boot: address %q is not on its interface", ip)
	}
	// The restarted containers still obey stop: nothing restarts them.
	c.ok("stop", "-t", "0", "unless")
	if st := c.field("unless", "{{.State.Status}}"); st != "exited" {
		t.Errorf("unless after stop: %s", st)
	}
	if out := c.ok("system", "boot"); out != "" {
		t.Errorf("a second system boot started %q, want nothing", out)
	}
	for _, r := range runs {
		c.ok("rm", "-f", r.name)
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}

// TestSystemdUnit: the unit in contrib/systemd is one systemd accepts,
// a oneshot after network-online.target that runs `pelagos system boot`
// and leaves the monitors alone when it stops.
func TestSystemdUnit(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "contrib/systemd/pelagos-boot.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, line := range []string{"Type=oneshot", "After=network-online.target", "Wants=network-online.target",
		"ExecStart=/usr/local/bin/pelagos system boot", "RemainAfterExit=yes", "KillMode=process", "WantedBy=multi-user.target"} {
		if !strings.Contains(unit, "\n"+line) {
			t.Errorf("the unit has no line %q", line)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skipf("systemd-analyze not installed (scripts/install-test-deps.sh installs systemd): %v", err)
	}
	// Verify it as installed, with ExecStart pointing at a built binary.
	bin := testenv.Build(t, "./cmd/pelagos", testenv.BuildOptions{Release: true})
	dir := t.TempDir()
	path := filepath.Join(dir, "pelagos-boot.service")
	unit = strings.Replace(unit, "/usr/local/bin/pelagos", bin, 1)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
