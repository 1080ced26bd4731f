package runtime_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// Bad input gets a clear error and leaves nothing behind: no state
// directory, cgroup, mount or process.
func TestBadInputLeavesNothing(t *testing.T) {
	r := newRuntime(t)
	tests := []struct {
		name  string
		id    string
		setup func(t *testing.T, b *bundle.Bundle)
		want  string // in stderr
	}{
		{"malformed config", "bad-json", func(t *testing.T, b *bundle.Bundle) {
			writeConfig(t, b, `{"ociVersion": "1.0.2", "process": {`)
		}, "malformed JSON"},
		{"missing rootfs", "no-rootfs", func(t *testing.T, b *bundle.Bundle) {
			if err := os.RemoveAll(b.Rootfs()); err != nil {
				t.Fatal(err)
			}
		}, "root.path"},
		{"unknown namespace", "bad-ns", func(t *testing.T, b *bundle.Bundle) {
			apply(t, b, func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			})
		}, `unknown namespace type "bogus"`},
		{"nonexistent executable", "no-exe", func(t *testing.T, b *bundle.Bundle) {
			apply(t, b, bundle.Args("/no/such/program"))
		}, "no such file or directory"},
		{"command not in PATH", "no-cmd", func(t *testing.T, b *bundle.Bundle) {
			apply(t, b, bundle.Args("no-such-command"))
		}, "executable file not found in $PATH"},
		{"id with ..", "../x", nil, "container id"},
		{"id with slash", "a/b", nil, "container id"},
		{"empty id", "", nil, "container id"},
		{"1024-character id", strings.Repeat("x", 1024), nil, "container id"},
		{"failing createRuntime hook", "hook-fails", func(t *testing.T, b *bundle.Bundle) {
			apply(t, b, func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
			})
		}, "createRuntime hook /bin/false"},
		// Refused while the init is already starting (v1 hosts set the
		// cgroup up in parallel with it): the init must not outlive create.
		{"resource the host lacks", "no-leaf-weight", func(t *testing.T, b *bundle.Bundle) {
			apply(t, b, func(s *specs.Spec) {
				w := uint16(300)
				s.Linux.Resources.BlockIO = &specs.LinuxBlockIO{LeafWeight: &w}
			})
		}, "leafWeight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cgPath, cgDir := uniqueCgroup(t, "bad")
			b := newBundle(t, bundle.Args("true"), bundle.CgroupsPath(cgPath))
			if tt.setup != nil {
				tt.setup(t, b)
			}
			before := len(initProcesses())
			_, errs, err := r.run("create", "--bundle", b.Dir, tt.id)
			if err == nil {
				t.Fatalf("create succeeded")
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr %q does not say %q", errs, tt.want)
			}
			if strings.Count(strings.TrimSpace(errs), "\n") > 0 {
				t.Errorf("error is more than one line: %q", errs)
			}
			assertNothingLeft(t, r, tt.id, b, cgDir, before)
		})
	}
}

func TestDuplicateIDRefused(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sleep", "60"))
	r.mustRun("create", "--bundle", b.Dir, "dup")
	pid := r.state("dup").Pid
	b2 := newBundle(t, bundle.Args("sleep", "60"))
	_, errs, err := r.run("create", "--bundle", b2.Dir, "dup")
	if err == nil || !strings.Contains(errs, "already exists") {
		t.Fatalf("second create with the same id: err %v, stderr %q", err, errs)
	}
	st := r.state("dup")
	if st.Pid != pid || st.Status != specs.StateCreated || st.Bundle != b.Dir {
		t.Errorf("the first container changed: %+v", st)
	}
	if m := mountsUnder(t, b2.Rootfs()); len(m) > 0 {
		t.Errorf("mounts left under the refused bundle: %v", m)
	}
}

func writeConfig(t *testing.T, b *bundle.Bundle, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.Dir, "config.json"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func apply(t *testing.T, b *bundle.Bundle, mods ...bundle.Modifier) {
	t.Helper()
	if err := b.Apply(mods...); err != nil {
		t.Fatal(err)
	}
}

func assertNothingLeft(t *testing.T, r *runtime, id string, b *bundle.Bundle, cgDir string, initsBefore int) {
	t.Helper()
	if id != "" && len(id) < 256 && !strings.Contains(id, "/") && !strings.Contains(id, "..") {
		if _, err := os.Stat(filepath.Join(r.root, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("state directory for %q left behind", id)
		}
	}
	if entries := testenv.StateEntries(r.root); len(entries) > 0 {
		t.Errorf("state root not empty: %v", entries)
	}
	if _, err := os.Stat(cgDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cgroup %s left behind", cgDir)
	}
	if _, err := os.Stat(filepath.Dir(cgDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("parent cgroup %s left behind", filepath.Dir(cgDir))
	}
	if m := mountsUnder(t, b.Rootfs()); len(m) > 0 {
		t.Errorf("mounts left under the rootfs: %v", m)
	}
	if n := len(initProcesses()); n > initsBefore {
		t.Errorf("%d init processes left running", n-initsBefore)
	}
}
