package push

import (
	"archive/tar"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/pull"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

type recorder struct {
	mu sync.Mutex
	ev []progress.Event
}

func (r *recorder) Send(e progress.Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }

// final is each layer's last status.
func (r *recorder) final() map[string]string {
	m := map[string]string{}
	for _, e := range r.ev {
		if e.ID != "" {
			m[e.ID] = e.Status
		}
	}
	return m
}

func (r *recorder) count(status string) map[string]int {
	m := map[string]int{}
	for _, e := range r.ev {
		if e.Status == status {
			m[e.ID]++
		}
	}
	return m
}

type env struct {
	st *store.Store
	c  *registry.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return env{st: st, c: registry.New(registry.Config{})}
}

func (e env) pull(t *testing.T, ref string) store.Image {
	t.Helper()
	r, err := reference.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pull.Pull(context.Background(), e.st, e.c, r, pull.Options{})
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return res.Image
}

func (e env) push(t *testing.T, img store.Image, ref string) (*recorder, time.Duration) {
	t.Helper()
	r, err := reference.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	start := time.Now()
	d, err := Push(context.Background(), e.st, e.c, img, r, rec)
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	if d != img.Manifest {
		t.Errorf("push %s sent manifest %s, want the stored %s byte for byte", ref, d, img.Manifest)
	}
	return rec, time.Since(start)
}

// Pushing to a registry uploads every blob, with progress at most ten
// times a second; pushing again finds them there. (Cross-repository
// mounts need a registry that keeps blobs per repository, which the
// in-process one does not: tests/image checks them against
// docker-registry.)
func TestPushUploadsThenSkips(t *testing.T) {
	extra := imagetest.Tar(t, imagetest.Entry{Name: "data", Type: tar.TypeReg, Body: make([]byte, 3<<20)})
	src := imagetest.Image(t, "linux/amd64",
		imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip), imagetest.Layer(t, extra, compression.None))
	a := imagetest.Registry(t, nil)
	b := imagetest.Registry(t, nil)
	imagetest.Push(t, a+"/src/img:1", src)
	e := newEnv(t)
	img := e.pull(t, a+"/src/img:1")
	ls, _ := src.Layers()
	var ids []string
	for _, l := range ls {
		d, _ := l.Digest()
		ids = append(ids, d.Hex[:12])
	}
	all := func(status string) map[string]string {
		m := map[string]string{}
		for _, id := range ids {
			m[id] = status
		}
		return m
	}

	rec, took := e.push(t, img, b+"/other/img:1")
	if diff := cmp.Diff(all(progress.Pushed), rec.final()); diff != "" {
		t.Errorf("push to another registry (-want +got):\n%s", diff)
	}
	// The bound follows from the throttle, whatever the machine's speed:
	// one event per 100 ms of the push, plus the last byte's.
	bound := int(took/progressEvery) + 2
	for id, n := range rec.count(progress.Pushing) {
		if n > bound {
			t.Errorf("layer %s: %d Pushing events in %v, want at most %d", id, n, took, bound)
		}
	}
	// What was pushed pulls back to the same image.
	e2 := newEnv(t)
	if got := e2.pull(t, b+"/other/img:1"); got.ID != img.ID {
		t.Errorf("pulled back %s, want %s", got.ID, img.ID)
	}
	rec, _ = e.push(t, img, b+"/other/img:1")
	if diff := cmp.Diff(all(progress.LayerExists), rec.final()); diff != "" {
		t.Errorf("push again (-want +got):\n%s", diff)
	}
}
