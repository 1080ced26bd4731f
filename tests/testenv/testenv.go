// Package testenv finds and builds what the tests that drive binaries need:
// the module root, binaries built from this tree (pelagos-runc, the probe),
// the runtime under test and the reference runtime (runc). It also owns the
// cgroups those tests create. It never starts containers itself.
//
// Environment variables:
//
//	PELAGOS_TEST_RUNTIME    path of the runtime to test instead of the
//	                        pelagos-runc built from ./cmd/pelagos-runc
//	                        (PELAGOS_TEST_RUNTIME=/usr/sbin/runc proves the
//	                        tests themselves against runc)
//	PELAGOS_TEST_REFERENCE  path of the reference runtime (default: runc on PATH)
//	PELAGOS_TEST_CACHE      cache directory for slow-to-build test tools
//	                        (default /var/cache/pelagos-test)
package testenv

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Environment variable names; see the package comment.
const (
	EnvRuntime   = "PELAGOS_TEST_RUNTIME"
	EnvReference = "PELAGOS_TEST_REFERENCE"
	EnvCache     = "PELAGOS_TEST_CACHE"
	// EnvSystemdHelper names a built pelagos-systemd (the VM has no Go
	// toolchain to build one).
	EnvSystemdHelper = "PELAGOS_TEST_SYSTEMD_HELPER"
)

// DefaultCacheDir holds slow-to-build test tools between runs (CI keeps it).
const DefaultCacheDir = "/var/cache/pelagos-test"

// Packages of this module that tests build and run.
const (
	PkgRuntime       = "./cmd/pelagos-runc"
	PkgProbe         = "./tests/probe/probe"
	PkgSystemdHelper = "./cmd/pelagos-systemd"
)

// Main runs the tests of a package that uses Build and removes the built
// binaries afterwards. Call it from TestMain.
func Main(m *testing.M) {
	if err := CleanStale(binPrefix); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: clean up after an earlier run:", err)
	}
	code := m.Run()
	builds.cleanup()
	os.Exit(code)
}

// RequireRoot skips t unless it runs as root: everything these tests drive
// needs namespaces, mounts and cgroups. scripts/test.sh always runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (namespaces, mounts, cgroups); run via scripts/test.sh as root")
	}
}

// CacheDir returns the directory for cached test tools, creating it.
func CacheDir() (string, error) {
	dir := os.Getenv(EnvCache)
	if dir == "" {
		dir = DefaultCacheDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("test cache: %w", err)
	}
	return dir, nil
}

// ModuleRoot returns the directory holding this module's go.mod, found by
// walking up from the working directory (go test runs in the package dir).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/pelagos-go/pelagos\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root not found above the working directory")
		}
		dir = parent
	}
}

// BuildOptions says how GoBuild builds a package.
type BuildOptions struct {
	// Static builds with CGO_ENABLED=0 and checks the result has no
	// interpreter, so it runs inside a bare container rootfs.
	Static bool
	// Strip passes -ldflags '-s -w' and -trimpath (release-like size).
	Strip bool
	// Release builds exactly as scripts/build.sh does: cgo on (for
	// internal/nsenter), linked statically, stripped, netgo/osusergo.
	Release bool
}

// GoBuild builds the package pkg (a ./path relative to the module root) into
// the file out. pelagos (./cmd/pelagos) comes with pelagos-registry built
// beside it, as scripts/build.sh installs them: pelagos hands it every
// command that needs a registry.
func GoBuild(ctx context.Context, pkg, out string, opts BuildOptions) error {
	if err := goBuild(ctx, pkg, out, opts); err != nil || pkg != "./cmd/pelagos" {
		return err
	}
	return goBuild(ctx, "./cmd/pelagos-registry", filepath.Join(filepath.Dir(out), "pelagos-registry"), opts)
}

func goBuild(ctx context.Context, pkg, out string, opts BuildOptions) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	switch {
	case opts.Release:
		args = append(args, "-trimpath", "-tags", "netgo osusergo", "-ldflags=-s -w -extldflags=-static")
	case opts.Strip:
		args = append(args, "-trimpath", "-ldflags=-s -w")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if opts.Static {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if opts.Release {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	if opts.Static || opts.Release {
		return CheckStatic(out)
	}
	return nil
}

// CheckStatic returns an error unless path is an ELF executable without a
// program interpreter, i.e. one that runs in a rootfs without a libc.
func CheckStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a static build is needed", path)
		}
	}
	return nil
}

// binPrefix names the directories Build puts binaries in.
const binPrefix = "pelagos-testbin-"

// builds caches the binaries built by this test process.
var builds buildCache

type buildCache struct {
	mu   sync.Mutex
	dir  string
	done map[string]string
}

func (c *buildCache) get(ctx context.Context, pkg string, opts BuildOptions) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := fmt.Sprintf("%s %+v", pkg, opts)
	if p, ok := c.done[key]; ok {
		return p, nil
	}
	if c.dir == "" {
		dir, err := TempDir(binPrefix)
		if err != nil {
			return "", err
		}
		c.dir, c.done = dir, map[string]string{}
	}
	// One directory per build keeps the binary's own name (it shows in
	// test output) while several builds of one package can coexist.
	sub := filepath.Join(c.dir, fmt.Sprint(len(c.done)))
	if err := os.Mkdir(sub, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(sub, filepath.Base(pkg))
	if err := GoBuild(ctx, pkg, out, opts); err != nil {
		return "", err
	}
	c.done[key] = out
	return out, nil
}

func (c *buildCache) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// Build builds pkg once per test process and returns the binary's path.
// The binary is removed by Main.
func Build(t testing.TB, pkg string, opts BuildOptions) string {
	t.Helper()
	p, err := builds.get(context.Background(), pkg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Probe builds the static probe program that reports what a container sees.
func Probe(t testing.TB) string {
	t.Helper()
	return Build(t, PkgProbe, BuildOptions{Static: true})
}

// Runtime returns the runtime under test: $PELAGOS_TEST_RUNTIME, or else
// pelagos-runc built from this tree.
func Runtime(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvRuntime); p != "" {
		abs, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("%s=%s: %v", EnvRuntime, p, err)
		}
		return abs
	}
	return Build(t, PkgRuntime, BuildOptions{Release: true})
}

// SystemdHelper returns pelagos-systemd, the systemd cgroup driver's D-Bus
// side, which pelagos-runc runs from its own directory:
// $PELAGOS_TEST_SYSTEMD_HELPER, or a release build of ./cmd/pelagos-systemd.
func SystemdHelper(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvSystemdHelper); p != "" {
		return p
	}
	return Build(t, PkgSystemdHelper, BuildOptions{Release: true})
}

// Reference returns the reference runtime (runc): $PELAGOS_TEST_REFERENCE or
// runc on PATH. scripts/install-test-deps.sh installs it, so its absence is
// a broken setup and fails the test.
func Reference(t testing.TB) string {
	t.Helper()
	p, err := ReferencePath()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ReferencePath is Reference for programs outside tests.
func ReferencePath() (string, error) {
	name := os.Getenv(EnvReference)
	if name == "" {
		name = "runc"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("reference runtime (install runc via scripts/install-test-deps.sh): %w", err)
	}
	return filepath.Abs(p)
}

// RuntimeName is a short label for a runtime binary in test and report
// output: the base name of its path.
func RuntimeName(path string) string {
	return filepath.Base(path)
}
