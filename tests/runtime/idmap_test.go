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

// An idmapped bind mount shows the host's files with the ids the mapping
// gives them: in a user namespace mapping root to host uid 100000, a host
// file owned by root is root's inside (not nobody's), and what the
// container's root writes is root's on the host.
func TestIdmappedMounts(t *testing.T) {
	cases := []struct {
		name       string
		hostOwner  int
		mount      specs.Mount
		wantInside string
	}{
		{"container's mapping", 0, specs.Mount{Type: "bind", Options: []string{"rbind", "idmap"}}, "0"},
		{"mount's own mapping", 1234, specs.Mount{Type: "bind", Options: []string{"rbind", "idmap"},
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 1234, HostID: 100000, Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 1234, HostID: 100000, Size: 1}}}, "0"},
		{"plain bind, for contrast", 0, specs.Mount{Type: "bind", Options: []string{"rbind"}}, "65534"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRuntime(t)
			shared := t.TempDir()
			openUp(t, shared)
			f := filepath.Join(shared, "host-file")
			if err := os.WriteFile(f, []byte("x"), 0o666); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{f, shared} {
				if err := os.Chown(p, c.hostOwner, c.hostOwner); err != nil {
					t.Fatal(err)
				}
			}
			m := c.mount
			m.Source, m.Destination = shared, "/shared"
			b := newBundle(t, userNamespace(100000), bundle.WritableRoot(), bundle.Mount(m),
				bundle.Args("sh", "-c", "stat -c %u /shared/host-file; touch /shared/made-inside 2>/dev/null; true"))
			openUp(t, b.Rootfs())
			// The container's root is not the rootfs owner: the mount
			// point must exist already (as with any runtime).
			if err := os.Mkdir(filepath.Join(b.Rootfs(), "shared"), 0o755); err != nil {
				t.Fatal(err)
			}
			out := r.mustRun("run", "--bundle", b.Dir, "idmap"+string(rune('a'+i)))
			if got := strings.TrimSpace(out); got != c.wantInside {
				t.Errorf("owner of the host's file inside = %s, want %s", got, c.wantInside)
			}
			if c.wantInside == "0" {
				st, err := os.Stat(filepath.Join(shared, "made-inside"))
				if err != nil {
					t.Fatalf("the container's root could not write through the idmapped mount: %v", err)
				}
				if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != c.hostOwner {
					t.Errorf("file written by the container's root is host uid %d, want %d", uid, c.hostOwner)
				}
			}
		})
	}
}

// idmap without any mapping to take it from is refused before anything
// is created.
func TestIdmapWithoutUserNamespaceRefused(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("true"), bundle.Mount(specs.Mount{Destination: "/shared", Type: "bind", Source: t.TempDir(), Options: []string{"rbind", "idmap"}}))
	_, errs, err := r.run("run", "--bundle", b.Dir, "idmap-nouserns")
	if err == nil || !strings.Contains(errs, "needs a user namespace") {
		t.Errorf("idmap without a user namespace: err %v, stderr %q", err, errs)
	}
}
