// Package ocisuite builds the OCI runtime validation suite
// (github.com/opencontainers/runtime-tools, its validation/ programs and
// runtimetest) and runs its programs against a runtime binary, counting
// fully passing programs and `not ok` results the way
// /work/shared/TESTING.md (and docs/TESTING.md) describe.
//
// Each program runs from a cgroup the runner created, under a per-program
// timeout, with the runtime wrapped so that its state lives in a private
// --root. The runner removes every container, cgroup, mount and temporary
// directory a program leaves behind; it never touches anything it did not
// create.
package ocisuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// The suite version: master of 2025-05-23 (runtime-spec 1.1.0). `go list`
// shows only v0.9.0, but this pseudo-version resolves on the proxy.
const (
	Module  = "github.com/opencontainers/runtime-tools"
	Version = "v0.9.1-0.20250523060157-0ea5ed0382a2"
)

// Suite is a built validation suite: Dir holds runtimetest and
// rootfs-amd64.tar.gz (the programs expect both in their working
// directory) and bin/ with one executable per validation program.
type Suite struct {
	Dir      string
	Programs []string // names, sorted
}

// Program returns the path of the named validation program.
func (s *Suite) Program(name string) string {
	return filepath.Join(s.Dir, "bin", name)
}

const completeMarker = ".complete"

// Build returns the suite built for this Go toolchain under cacheDir,
// building it first if no complete build is there. Concurrent callers are
// serialised by a lock file; a build is published by renaming a finished
// directory into place, so a killed build leaves nothing that looks done.
// Progress goes to log.
func Build(ctx context.Context, cacheDir string, log io.Writer) (*Suite, error) {
	goVersion, err := goEnv(ctx, "GOVERSION")
	if err != nil {
		return nil, err
	}
	base := filepath.Join(cacheDir, "ocisuite")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	dir := filepath.Join(base, Version+"-"+goVersion)
	if s, err := load(dir); err == nil {
		return s, nil
	}
	unlock, err := lock(filepath.Join(base, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if s, err := load(dir); err == nil {
		return s, nil // built by someone else while we waited
	}
	fmt.Fprintf(log, "ocisuite: building %s@%s into %s\n", Module, Version, dir)
	if err := build(ctx, base, dir); err != nil {
		return nil, fmt.Errorf("build validation suite: %w", err)
	}
	return load(dir)
}

func load(dir string) (*Suite, error) {
	if _, err := os.Stat(filepath.Join(dir, completeMarker)); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(dir, "bin"))
	if err != nil {
		return nil, err
	}
	s := &Suite{Dir: dir}
	for _, e := range ents {
		s.Programs = append(s.Programs, e.Name())
	}
	sort.Strings(s.Programs)
	return s, nil
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644) // os.OpenFile sets O_CLOEXEC
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, os.NewSyscallError("flock", err)
	}
	return func() { f.Close() }, nil
}

// build follows the recipe in docs/TESTING.md: download the module, copy
// its source out of the read-only module cache, drop vendor/ (it is stale
// against go.mod), and build in module mode.
func build(ctx context.Context, base, dir string) error {
	work, err := os.MkdirTemp(base, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	modDir, err := download(ctx, work)
	if err != nil {
		return err
	}
	src, out := filepath.Join(work, "src"), filepath.Join(work, "out")
	steps := []struct {
		name string
		fn   func() error
	}{
		{"copy source", func() error { return copyTree(modDir, src) }},
		{"remove vendor", func() error { return os.RemoveAll(filepath.Join(src, "vendor")) }},
		{"build runtimetest", func() error {
			return goBuild(ctx, src, []string{"CGO_ENABLED=0"}, "-tags", "netgo osusergo", "-o", filepath.Join(out, "runtimetest"), "./cmd/runtimetest")
		}},
		{"build validation programs", func() error {
			return goBuild(ctx, src, nil, "-o", filepath.Join(out, "bin")+"/", "./validation/...")
		}},
		{"copy rootfs", func() error {
			return copyFile(filepath.Join(src, "rootfs-amd64.tar.gz"), filepath.Join(out, "rootfs-amd64.tar.gz"))
		}},
		{"mark complete", func() error { return os.WriteFile(filepath.Join(out, completeMarker), nil, 0o644) }},
		{"publish", func() error { os.RemoveAll(dir); return os.Rename(out, dir) }},
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

func download(ctx context.Context, work string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = work // outside any module
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w: %s", Module, Version, err, stderrOf(err))
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download output: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", Module, Version, info.Error)
	}
	return info.Dir, nil
}

func goBuild(ctx context.Context, dir string, env []string, args ...string) error {
	// -trimpath and stripped: about 60% of the size, and the suite is
	// cached on CI.
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags=-s -w"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false", "GOTOOLCHAIN=local"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// copyTree copies the regular files, directories and symlinks under src
// to dst, making everything writable (the module cache is read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(p, target)
		}
		return nil // sockets, devices: not in a module zip
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
