package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/pull"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// pulled pushes layers as an image to an in-process registry and pulls
// it into a fresh store.
func pulled(t *testing.T, layers ...[]byte) (*store.Store, store.Image) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	host := imagetest.Registry(t, nil)
	var ls []v1.Layer
	for _, l := range layers {
		ls = append(ls, imagetest.Layer(t, l, compression.GZip))
	}
	imagetest.Push(t, host+"/snap/img:1", imagetest.Image(t, "linux/amd64", ls...))
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := reference.Parse(host + "/snap/img:1")
	res, err := pull.Pull(context.Background(), st, registry.New(registry.Config{}), ref, pull.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, res.Image
}

func mountTarget(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "pelagos-image-snap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Unmount(d); os.Remove(d) })
	return d
}

func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		s := rel
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			s += "=" + string(b)
		}
		out = append(out, s)
		return nil
	})
	sort.Strings(out)
	return out
}

func file(name, body string) imagetest.Entry {
	return imagetest.Entry{Name: name, Type: tar.TypeReg, Body: []byte(body)}
}

func dirEnt(name string) imagetest.Entry { return imagetest.Entry{Name: name, Type: tar.TypeDir} }

func TestPrepareMountsLayersWithWhiteouts(t *testing.T) {
	st, img := pulled(t,
		imagetest.Tar(t, dirEnt("etc/"), file("etc/keep", "1"), file("etc/gone", "1"), dirEnt("data/"), file("data/old", "1")),
		imagetest.Tar(t, imagetest.Entry{Name: "etc/.wh.gone", Type: tar.TypeReg}, dirEnt("data/"),
			imagetest.Entry{Name: "data/.wh..wh..opq", Type: tar.TypeReg}, file("data/new", "2"), file("etc/keep", "2")),
	)
	ctx := context.Background()
	s, err := Prepare(ctx, st, img.ID, "pelagos-image-test-c1")
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	target := mountTarget(t)
	if err := Mount(s, target); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	want := []string{"data", "data/new=2", "etc", "etc/keep=2"}
	if diff := cmp.Diff(want, listTree(t, target)); diff != "" {
		t.Errorf("merged rootfs (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(target, "etc/written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Upper, "etc/written")); err != nil {
		t.Errorf("write did not land in the upper dir: %v", err)
	}
	for _, l := range img.Layers {
		if _, err := os.Stat(filepath.Join(st.LayerDir(l), "etc/written")); err == nil {
			t.Errorf("write reached shared layer %s", l)
		}
	}
	if err := st.RemoveImage(ctx, img.ID, false); !errors.Is(err, store.ErrInUse) {
		t.Errorf("RemoveImage of a held image err = %v, want ErrInUse", err)
	}
	if err := Unmount(target); err != nil {
		t.Fatal(err)
	}
	if err := Remove(ctx, st, s.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(dir(st, s.ID)); !os.IsNotExist(err) {
		t.Errorf("snapshot dir still there: %v", err)
	}
	if err := st.RemoveImage(ctx, img.ID, false); err != nil {
		t.Errorf("RemoveImage after Remove: %v", err)
	}
}

func TestManyLayers(t *testing.T) {
	const n = 160
	var layers [][]byte
	for i := 0; i < n; i++ {
		layers = append(layers, imagetest.Tar(t, file(fmt.Sprintf("f%03d", i), fmt.Sprint(i)), file("top", fmt.Sprint(i))))
	}
	st, img := pulled(t, layers...)
	s, err := Prepare(context.Background(), st, img.ID, "pelagos-image-test-many")
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	defer Remove(context.Background(), st, s.ID)
	if l := len(strings.Join(s.Options(), ",")); l < 4096 {
		t.Fatalf("options are %d bytes; the test must exceed mount(2)'s 4096-byte limit", l)
	}
	target := mountTarget(t)
	if err := Mount(s, target); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	got := listTree(t, target)
	if len(got) != n+1 || got[len(got)-1] != fmt.Sprintf("top=%d", n-1) || got[0] != "f000=0" {
		t.Errorf("merged rootfs has %d entries (first %q, last %q), want %d with top=%d", len(got), got[0], got[len(got)-1], n+1, n-1)
	}
}

func TestViewIsReadOnly(t *testing.T) {
	st, img := pulled(t, imagetest.Tar(t, file("a", "1")))
	s, err := View(context.Background(), st, img.ID, "pelagos-image-test-view")
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	defer Remove(context.Background(), st, s.ID)
	target := mountTarget(t)
	if err := Mount(s, target); err != nil {
		t.Fatalf("Mount: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "a")); err != nil || string(b) != "1" {
		t.Errorf("a = %q, %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(target, "b"), nil, 0o644); err == nil {
		t.Errorf("write to a read-only view succeeded")
	}
}

// Usages counts what each container wrote and whether its overlay is
// mounted.
func TestUsages(t *testing.T) {
	st, img := pulled(t, imagetest.Tar(t, dirEnt("etc/"), file("etc/keep", "1")))
	ctx := context.Background()
	var specs []Spec
	for _, id := range []string{"pelagos-image-test-u1", "pelagos-image-test-u2"} {
		s, err := Prepare(ctx, st, img.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Remove(ctx, st, id) })
		specs = append(specs, s)
	}
	target := mountTarget(t)
	if err := Mount(specs[0], target); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "etc/new"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specs[1].Upper, "x"), make([]byte, 300), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Usages(st)
	if err != nil {
		t.Fatal(err)
	}
	want := []Usage{{ID: "pelagos-image-test-u1", Size: 1000, Mounted: true}, {ID: "pelagos-image-test-u2", Size: 300}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Usages (-want +got):\n%s", diff)
	}
}

// Preparing a snapshot again (every start of a container does) keeps the
// hold file as it is instead of rewriting it, each rewrite costing an
// fsync; a volatile snapshot holds its image like any other.
func TestPrepareAgainKeepsHold(t *testing.T) {
	st, img := pulled(t, imagetest.Tar(t, file("a", "1")))
	ctx := context.Background()
	for _, tc := range []struct {
		id       string
		prepare  func(context.Context, *store.Store, v1.Hash, string) (Spec, error)
		volatile bool
	}{
		{"pelagos-image-test-again", Prepare, false},
		{"pelagos-image-test-volatile", PrepareVolatile, true},
	} {
		s, err := tc.prepare(ctx, st, img.ID, tc.id)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		t.Cleanup(func() { Remove(ctx, st, tc.id) })
		if s.Volatile != tc.volatile || s.Upper == "" {
			t.Errorf("%s: Volatile %v, Upper %q; want Volatile %v and an upper layer", tc.id, s.Volatile, s.Upper, tc.volatile)
		}
		holdFile := filepath.Join(st.Root(), "holds", tc.id+".json")
		before, err := os.Stat(holdFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tc.prepare(ctx, st, img.ID, tc.id); err != nil {
			t.Fatalf("%s again: %v", tc.id, err)
		}
		after, err := os.Stat(holdFile)
		if err != nil || !os.SameFile(before, after) {
			t.Errorf("%s: the second prepare replaced the hold file (%v)", tc.id, err)
		}
	}
	if err := st.RemoveImage(ctx, img.ID, false); !errors.Is(err, store.ErrInUse) {
		t.Errorf("RemoveImage of a held image err = %v, want ErrInUse", err)
	}
	for _, id := range []string{"pelagos-image-test-again", "pelagos-image-test-volatile"} {
		if err := Remove(ctx, st, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RemoveImage(ctx, img.ID, false); err != nil {
		t.Errorf("RemoveImage after Remove: %v", err)
	}
}
