// Package image drives the built pelagos binary against a real registry
// server (Debian's docker-registry) on 127.0.0.1 and checks interop with
// skopeo, umoci and podman. Run as root: scripts/install-test-deps.sh
// installs the peers.
package image

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

var pelagosBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pelagos-image-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pelagosBin = filepath.Join(dir, "pelagos")
	if err := testenv.GoBuild(context.Background(), "./cmd/pelagos", pelagosBin, testenv.BuildOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs pelagos with a per-test data root and credential store.
type cli struct {
	t    *testing.T
	root string
	env  []string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	root := t.TempDir()
	return &cli{t: t, root: root, env: append(os.Environ(), "PELAGOS_ROOT="+root, "DOCKER_CONFIG="+t.TempDir(), "HOME="+t.TempDir(), "PELAGOS_REGISTRIES_CONFIG="+filepath.Join(root, "none.json"))}
}

// run returns stdout, stderr and the exit code.
func (c *cli) run(stdin []byte, args ...string) (string, string, int) {
	c.t.Helper()
	return testenv.RunCLI(c.t, pelagosBin, c.env, stdin, args...)
}

// ok runs pelagos and fails the test unless it exits 0.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	return testenv.MustCLI(c.t, pelagosBin, c.env, args...)
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/install-test-deps.sh installs it)", tool)
		}
	}
}

// realRegistry starts Debian's docker-registry (distribution 2.8) on a
// free 127.0.0.1 port and returns host:port.
func realRegistry(t *testing.T) string {
	t.Helper()
	need(t, "docker-registry")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("docker-registry did not listen on %s", addr)
	return ""
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
