// Package systemd_test drives pelagos-runc's systemd cgroup driver
// (--systemd-cgroup, slice:prefix:name cgroupsPaths) against a real
// systemd: Debian's systemd 252, booted as PID 1 of a sandbox of
// namespaces (see sandbox). The sandbox's cgroup2 tree is a part of the
// host's; on these hybrid hosts that tree has no controllers but hugetlb,
// so limits that need memory, cpu, pids or io are tested through the
// cgroup filesystem driver (internal/cgroups, tests/vm) and, for the
// conversion to systemd properties, by unit tests of internal/cgroups.
// What is proved here: systemd accepts the scope pelagos asks for, with
// its properties, and puts the init in it; pause, resume, kill --all and
// the device program work at the scope's path; delete stops the unit and
// leaves nothing; a failure after the scope started stops it again.
package systemd_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// prefix names this package's temporary directories and cgroups.
const prefix = "pelagos-sysd-"

func TestMain(m *testing.M) {
	testenv.Main(m)
}

// runc is pelagos-runc inside a sandbox, with its state under /run/t.
type runc struct {
	s *sandbox
}

func newRunc(t *testing.T, s *sandbox) *runc {
	t.Helper()
	// pelagos-runc runs pelagos-systemd from its own directory.
	if err := copyFile(testenv.Runtime(t), filepath.Join(s.dir, "pelagos-runc")); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(testenv.SystemdHelper(t), filepath.Join(s.dir, "pelagos-systemd")); err != nil {
		t.Fatal(err)
	}
	return &runc{s: s}
}

func (r *runc) args(args ...string) []string {
	return append([]string{inside + "/pelagos-runc", "--root", inside + "/state"}, args...)
}

func (r *runc) run(args ...string) (string, string, error) {
	return r.s.exec(r.s.t.Context(), r.args(args...)...)
}

func (r *runc) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := r.run(args...)
	if err != nil {
		t.Fatalf("pelagos-runc %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// newBundle writes a busybox bundle under the sandbox's directory, as the
// sandbox sees it: /run/t/<name>.
func newBundle(t *testing.T, s *sandbox, name string, mods ...bundle.Modifier) string {
	t.Helper()
	b, err := bundle.New(filepath.Join(s.dir, name), bundle.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.Process.Args = []string{"sleep", "1000"}
	if err := b.Apply(mods...); err != nil {
		t.Fatal(err)
	}
	return inside + "/" + name
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func withCgroupsPath(p string) bundle.Modifier {
	return func(s *specs.Spec) { s.Linux.CgroupsPath = p }
}

func withAnnotations(a map[string]string) bundle.Modifier {
	return func(s *specs.Spec) { s.Annotations = a }
}

// readInside reads a file as the sandbox sees it.
func (s *sandbox) readInside(t *testing.T, path string) string {
	t.Helper()
	return strings.TrimSpace(s.mustExec("cat", path))
}

// existsInside reports whether path exists in the sandbox.
func (s *sandbox) existsInside(path string) bool {
	_, _, err := s.exec(s.t.Context(), "test", "-e", path)
	return err == nil
}
