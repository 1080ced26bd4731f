package runtime_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// With the rootfs idmap annotation, a rootfs owned by host root appears
// owned by the container's root (host uid 100000) without a chown, and
// what the container writes there lands as host root; without it the
// same rootfs shows its files as nobody's and refuses the write.
func TestIdmappedRootfs(t *testing.T) {
	for _, idmap := range []bool{true, false} {
		t.Run(fmt.Sprintf("annotation %v", idmap), func(t *testing.T) {
			r := newRuntime(t)
			b := newBundle(t, userNamespace(100000), bundle.WritableRoot(),
				bundle.Args("sh", "-c", "stat -c %u /bin/busybox; touch /made-inside 2>/dev/null && echo wrote || echo refused"),
				func(s *specs.Spec) {
					if idmap {
						s.Annotations = map[string]string{"org.pelagos.rootfs.idmap": "true"}
					}
				})
			openUp(t, b.Rootfs())
			out := strings.Fields(r.mustRun("run", "--bundle", b.Dir, fmt.Sprintf("idmaproot%v", idmap)))
			want := []string{"65534", "refused"}
			if idmap {
				want = []string{"0", "wrote"}
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("rootfs owner and write inside (-want +got):\n%s", diff)
			}
			st, err := os.Stat(filepath.Join(b.Rootfs(), "made-inside"))
			if idmap {
				if err != nil {
					t.Fatalf("the file the container wrote: %v", err)
				}
				if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 0 {
					t.Errorf("file written by the container's root is host uid %d, want 0 (the rootfs owner)", uid)
				}
			} else if err == nil {
				t.Error("the container wrote to a rootfs it does not own")
			}
		})
	}
	// Asked for without a user namespace: refused before anything starts.
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("true"), func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.pelagos.rootfs.idmap": "true"}
	})
	if _, errs, err := r.run("run", "--bundle", b.Dir, "idmaprootnons"); err == nil || !strings.Contains(errs, "org.pelagos.rootfs.idmap") {
		t.Errorf("idmapped rootfs without a user namespace: err %v, stderr %q; want a refusal naming the annotation", err, errs)
	}
}
