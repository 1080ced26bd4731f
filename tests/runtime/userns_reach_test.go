package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// A user-namespaced container whose rootfs and bind-mount sources lie
// under directories only host root may enter (0700, as the engine's data
// root is) still starts: the runtime, not the init (root only in its own
// namespace), opens them and hands the mounts over. Nothing on the host
// is opened up for it: the directories are still 0700 afterwards.
func TestUserNSUnreachableSources(t *testing.T) {
	r := newRuntime(t)
	hidden := filepath.Join(t.TempDir(), "hidden")
	if err := os.Mkdir(hidden, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hidden, "hosts"), []byte("10.9.8.7 hidden-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(hidden, "data")
	if err := os.Mkdir(data, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	b := newBundle(t, userNamespace(100000),
		bundle.Mount(specs.Mount{Type: "bind", Source: filepath.Join(hidden, "hosts"), Destination: "/etc/hosts", Options: []string{"bind", "ro"}}),
		bundle.Mount(specs.Mount{Type: "bind", Source: data, Destination: "/data", Options: []string{"rbind"}}),
		bundle.Args("sh", "-c", "cat /etc/hosts; echo hi > /data/made && echo wrote; touch /etc/hosts 2>/dev/null || echo ro"))
	for _, d := range []string{filepath.Dir(b.Dir), b.Dir} {
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(b.Rootfs(), "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := r.mustRun("run", "--bundle", b.Dir, "unreachable")
	for _, want := range []string{"10.9.8.7 hidden-host", "wrote", "ro"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	st, err := os.Stat(filepath.Join(data, "made"))
	if err != nil {
		t.Fatalf("the file written through the bind: %v", err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 100000 {
		t.Errorf("the container's root wrote through the bind as host uid %d, want 100000", uid)
	}
	for _, d := range []string{hidden, filepath.Dir(b.Dir), b.Dir} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v after the run, want it left 0700", d, st.Mode().Perm())
		}
	}
}
