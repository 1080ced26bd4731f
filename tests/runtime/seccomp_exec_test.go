package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// A process exec'd into a container gets the container's filter, whether
// the runtime loads the program create saved or (without it) compiles the
// profile again, through either init; and a second container with the
// same profile, whose program create takes from the runtime's cache.
func TestSeccompAppliesToExec(t *testing.T) {
	eperm := uint(1)
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"keyctl"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 7, Op: specs.OpEqualTo}}}},
	}
	bothInits(t, func(t *testing.T, r *runtime) {
		b := newBundle(t, withSeccomp(sc), bundle.Args("sleep", "60"))
		r.mustRun("run", "--detach", "--bundle", b.Dir, "scx")
		defer r.mustRun("delete", "--force", "scx")
		for _, saved := range []bool{true, false} {
			if !saved {
				if err := os.Remove(filepath.Join(r.root, "scx", "seccomp.bpf")); err != nil {
					t.Fatalf("the saved program: %v", err)
				}
			}
			out := r.mustRun("exec", "scx", "/bin/attack", "syscall", itoa(sysKeyctl), "7")
			if !strings.Contains(out, "operation not permitted") {
				t.Errorf("saved program %v: keyctl(7) in the exec'd process: %q, want the filter's EPERM", saved, out)
			}
		}
		// The runtime kept the compiled program; a second container with
		// the same profile is created from it and gets the same filter.
		if kept, _ := filepath.Glob(filepath.Join(r.root, ".seccomp", "*")); len(kept) != 1 {
			t.Errorf("compiled programs kept in the runtime root: %v, want one", kept)
		}
		b2 := newBundle(t, withSeccomp(sc), bundle.Args("/bin/attack", "syscall", itoa(sysKeyctl), "7"))
		out, _, _ := r.run("run", "--bundle", b2.Dir, "scy")
		if !strings.Contains(out, "operation not permitted") {
			t.Errorf("second container, program from the cache: keyctl(7): %q, want the filter's EPERM", out)
		}
	})
}
