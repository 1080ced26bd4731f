package pull

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

type env struct {
	st *store.Store
	c  *registry.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return env{st: st, c: registry.New(registry.Config{})}
}

func (e env) pull(t *testing.T, ref string, opts Options) (Result, error) {
	t.Helper()
	r, err := reference.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return Pull(context.Background(), e.st, e.c, r, opts)
}

// recorder keeps events for inspection.
type recorder struct {
	mu sync.Mutex
	ev []progress.Event
}

func (r *recorder) Send(e progress.Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }

func (r *recorder) statuses() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for _, e := range r.ev {
		if e.ID != "" {
			m[e.Status]++
		}
	}
	return m
}

// assertEmpty checks that a failed pull left nothing visible.
func assertEmpty(t *testing.T, st *store.Store) {
	t.Helper()
	imgs, err := st.Images()
	if err != nil || len(imgs) != 0 {
		t.Errorf("store has images %v (err %v) after a failed pull", imgs, err)
	}
	for _, d := range []string{"layers", "ingest"} {
		ents, _ := os.ReadDir(filepath.Join(st.Root(), d))
		if len(ents) != 0 {
			t.Errorf("%s/ holds %d entries after a failed pull", d, len(ents))
		}
	}
}

func TestPullBusybox(t *testing.T) {
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/tools/busybox:1", imagetest.Busybox(t))

	rec := &recorder{}
	res, err := e.pull(t, host+"/tools/busybox:1", Options{Progress: rec})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if got, want := res.Image.RepoTags, []string{host + "/tools/busybox:1"}; !cmp.Equal(got, want) {
		t.Errorf("RepoTags = %v, want %v", got, want)
	}
	if len(res.Image.Layers) != 1 {
		t.Fatalf("Layers = %v, want 1", res.Image.Layers)
	}
	dir := e.st.LayerDir(res.Image.Layers[0])
	want, _ := os.ReadFile(imagetest.BusyboxPath)
	got, err := os.ReadFile(filepath.Join(dir, "bin/busybox"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("unpacked bin/busybox differs from %s (err %v)", imagetest.BusyboxPath, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want busybox", l, err)
	}
	if s := rec.statuses(); s[progress.PullComplete] != 1 {
		t.Errorf("events %v, want one %q", s, progress.PullComplete)
	}

	rec2 := &recorder{}
	res2, err := e.pull(t, host+"/tools/busybox:1", Options{Progress: rec2})
	if err != nil || !res2.UpToDate || res2.Image.ID != res.Image.ID {
		t.Errorf("second Pull = %+v, %v; want up to date, same ID", res2, err)
	}
	if s := rec2.statuses(); s[progress.AlreadyExists] != 1 || s[progress.Downloading] != 0 {
		t.Errorf("second pull events %v, want only %q", s, progress.AlreadyExists)
	}
}

func TestPullLayerTypes(t *testing.T) {
	cases := []struct {
		name string
		comp compression.Compression
	}{{"gzip", compression.GZip}, {"zstd", compression.ZStd}, {"uncompressed", compression.None}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			host := imagetest.Registry(t, nil)
			body := imagetest.Tar(t, imagetest.Entry{Name: "hello", Type: tar.TypeReg, Body: []byte(c.name)})
			img := imagetest.Image(t, "linux/amd64", imagetest.Layer(t, imagetest.BusyboxTar(t), c.comp), imagetest.Layer(t, body, c.comp))
			imagetest.Push(t, host+"/x/"+c.name+":latest", img)
			res, err := e.pull(t, host+"/x/"+c.name, Options{})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			got, err := os.ReadFile(filepath.Join(e.st.LayerDir(res.Image.Layers[1]), "hello"))
			if err != nil || string(got) != c.name {
				t.Errorf("hello = %q, %v; want %q", got, err, c.name)
			}
		})
	}
}

func TestPullWhiteoutsBecomeOverlayForm(t *testing.T) {
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	l1 := imagetest.Tar(t,
		imagetest.Entry{Name: "etc/", Type: tar.TypeDir},
		imagetest.Entry{Name: "etc/gone", Type: tar.TypeReg, Body: []byte("x")},
		imagetest.Entry{Name: "data/", Type: tar.TypeDir},
		imagetest.Entry{Name: "data/old", Type: tar.TypeReg, Body: []byte("x")})
	l2 := imagetest.Tar(t,
		imagetest.Entry{Name: "etc/.wh.gone", Type: tar.TypeReg},
		imagetest.Entry{Name: "data/", Type: tar.TypeDir},
		imagetest.Entry{Name: "data/.wh..wh..opq", Type: tar.TypeReg},
		imagetest.Entry{Name: "data/new", Type: tar.TypeReg, Body: []byte("y")})
	img := imagetest.Image(t, "linux/amd64", imagetest.Layer(t, l1, compression.GZip), imagetest.Layer(t, l2, compression.GZip))
	imagetest.Push(t, host+"/w/img:1", img)
	res, err := e.pull(t, host+"/w/img:1", Options{})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	top := e.st.LayerDir(res.Image.Layers[1])
	var st os.FileInfo
	if st, err = os.Lstat(filepath.Join(top, "etc/gone")); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("etc/gone in top layer = %v, %v; want a whiteout char device", st, err)
	}
	buf := make([]byte, 4)
	if n, err := lgetxattr(filepath.Join(top, "data"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("data opaque xattr = %q, %v; want y", buf[:n], err)
	}
}

func TestPullIndexPlatforms(t *testing.T) {
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	mk := func(arch string) v1.Image {
		l := imagetest.Tar(t, imagetest.Entry{Name: "arch", Type: tar.TypeReg, Body: []byte(arch)})
		return imagetest.Image(t, "linux/"+arch, imagetest.Layer(t, l, compression.GZip))
	}
	inner := imagetest.Index(t, map[string]v1.Image{"linux/arm64/v8": mk("arm64")})
	idx := imagetest.Index(t, map[string]v1.Image{"linux/amd64": mk("amd64"), "linux/s390x": mk("s390x")})
	// A nested index without platform (as some tools emit) holding arm64,
	// and an attestation manifest that must be ignored.
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: inner})
	att := mk("attestation")
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}})
	imagetest.Push(t, host+"/multi/img:1", idx)
	idxDigest, _ := idx.Digest()

	for _, c := range []struct{ platform, want string }{{"linux/amd64", "amd64"}, {"linux/s390x", "s390x"}, {"linux/arm64", "arm64"}} {
		p, _ := v1.ParsePlatform(c.platform)
		res, err := e.pull(t, host+"/multi/img:1", Options{Platform: *p})
		if err != nil {
			t.Fatalf("Pull %s: %v", c.platform, err)
		}
		got, _ := os.ReadFile(filepath.Join(e.st.LayerDir(res.Image.Layers[0]), "arch"))
		if string(got) != c.want {
			t.Errorf("platform %s: arch file = %q, want %q", c.platform, got, c.want)
		}
		if res.Digest != idxDigest {
			t.Errorf("platform %s: resolved digest %s, want the index's %s", c.platform, res.Digest, idxDigest)
		}
	}
	_, err := e.pull(t, host+"/multi/img:1", Options{Platform: v1.Platform{OS: "linux", Architecture: "riscv64"}})
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/riscv64") {
		t.Errorf("Pull riscv64 err = %v, want no image for platform", err)
	}
}

// corrupt flips one byte in the body of every blob GET whose path ends in suffix.
func corrupt(suffix string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, suffix) {
				h.ServeHTTP(w, r)
				return
			}
			rec := &bufWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			b := rec.buf.Bytes()
			if len(b) > 100 {
				b[len(b)/2] ^= 0xff
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			w.Write(b)
		})
	}
}

type bufWriter struct {
	header http.Header
	buf    bytes.Buffer
	code   int
}

func (b *bufWriter) Header() http.Header         { return b.header }
func (b *bufWriter) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *bufWriter) WriteHeader(c int)           { b.code = c }

func TestPullWrongDigest(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	e := newEnv(t)
	host := imagetest.Registry(t, corrupt(ld.Hex))
	imagetest.Push(t, host+"/bad/img:1", img)
	_, err := e.pull(t, host+"/bad/img:1", Options{})
	if !errors.Is(err, store.ErrDigestMismatch) || !strings.Contains(err.Error(), "layer "+ld.String()) {
		t.Fatalf("Pull err = %v, want a digest mismatch naming layer %s", err, ld)
	}
	assertEmpty(t, e.st)
}

func TestPullWrongDiffID(t *testing.T) {
	img := imagetest.Busybox(t)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/bad/diff:1", img)
	_, err = e.pull(t, host+"/bad/diff:1", Options{})
	if !errors.Is(err, store.ErrDigestMismatch) || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("Pull err = %v, want a diff ID mismatch", err)
	}
	assertEmpty(t, e.st)
}

// dropper cuts the connection after half of each of the first n GETs of
// the blob with the given digest hex.
func dropper(digestHex string, n int32) (func(http.Handler) http.Handler, *atomic.Int32) {
	var drops atomic.Int32
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, digestHex) || drops.Load() >= n {
				h.ServeHTTP(w, r)
				return
			}
			drops.Add(1)
			rec := &bufWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			b := rec.buf.Bytes()
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
	}, &drops
}

func TestPullResumesDroppedConnection(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	wrap, drops := dropper(ld.Hex, 2)
	e := newEnv(t)
	host := imagetest.Registry(t, wrap)
	imagetest.Push(t, host+"/drop/img:1", img)
	rec := &recorder{}
	if _, err := e.pull(t, host+"/drop/img:1", Options{Progress: rec}); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if drops.Load() != 2 || rec.statuses()[progress.Retrying] != 2 {
		t.Errorf("drops = %d, retry events = %d; want 2 and 2", drops.Load(), rec.statuses()[progress.Retrying])
	}
}

func TestPullGivesUpOnEndlessDrops(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	wrap, _ := dropper(ld.Hex, 1000)
	e := newEnv(t)
	host := imagetest.Registry(t, wrap)
	imagetest.Push(t, host+"/drop/img:1", img)
	_, err := e.pull(t, host+"/drop/img:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "download interrupted") || !strings.Contains(err.Error(), ld.String()) {
		t.Fatalf("Pull err = %v, want download interrupted naming the layer", err)
	}
	assertEmpty(t, e.st)
}

func TestPullStatusErrors(t *testing.T) {
	for _, code := range []int{401, 403, 404, 429, 500} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			e := newEnv(t)
			host := imagetest.Registry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(code)
						fmt.Fprintf(w, `{"errors":[{"code":"X","message":"nope %d"}]}`, code)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			imagetest.Push(t, host+"/e/img:1", imagetest.Busybox(t))
			_, err := e.pull(t, host+"/e/img:1", Options{})
			want := fmt.Sprintf("pull %s/e/img:1: manifest 1: %s answered %d %s", host, host, code, http.StatusText(code))
			if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Pull err = %v, want one line starting %q", err, want)
			}
			assertEmpty(t, e.st)
		})
	}
}

func TestPullUnknownHost(t *testing.T) {
	e := newEnv(t)
	_, err := e.pull(t, "nonexistent.invalid/a/b:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "nonexistent.invalid") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Pull err = %v, want one line naming the host", err)
	}
	assertEmpty(t, e.st)
}

func TestConcurrentPullsShareWork(t *testing.T) {
	e := newEnv(t)
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	var blobGets atomic.Int32
	host := imagetest.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ld.Hex) {
				blobGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	imagetest.Push(t, host+"/c/img:1", img)
	blobGets.Store(0)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each pull opens the store itself, as separate commands would.
			st, err := store.Open(e.st.Root())
			if err == nil {
				ref, _ := reference.Parse(host + "/c/img:1")
				_, err = Pull(context.Background(), st, e.c, ref, Options{})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	if n := blobGets.Load(); n != 1 {
		t.Errorf("layer blob fetched %d times, want once (pulls must share the work)", n)
	}
	imgs, _ := e.st.Images()
	if len(imgs) != 1 {
		t.Errorf("store has %d images, want 1", len(imgs))
	}
}

func TestPullKilledMidLayerLeavesNothing(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	host := imagetest.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first := false
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ld.Hex) {
				once.Do(func() { first = true })
			}
			if !first {
				h.ServeHTTP(w, r)
				return
			}
			rec := &bufWriter{header: http.Header{}}
			h.ServeHTTP(rec, r)
			w.Header().Set("Content-Length", fmt.Sprint(rec.buf.Len()))
			w.WriteHeader(200)
			w.Write(rec.buf.Bytes()[:rec.buf.Len()/2])
			w.(http.Flusher).Flush()
			close(started)
			<-release
		})
	})
	defer close(release)
	imagetest.Push(t, host+"/k/img:1", img)
	e := newEnv(t)
	ref, _ := reference.Parse(host + "/k/img:1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { _, err := Pull(ctx, e.st, e.c, ref, Options{}); done <- err }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull err = %v, want context.Canceled", err)
	}
	assertEmpty(t, e.st)
	if _, err := Pull(context.Background(), e.st, e.c, ref, Options{}); err != nil {
		t.Fatalf("next Pull: %v", err)
	}
}

func TestPullAuth(t *testing.T) {
	cases := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		user    string
		wantErr string
	}{
		{"basic ok", basicAuth("alice", "s3cret"), "alice", ""},
		{"basic wrong", basicAuth("alice", "s3cret"), "mallory", "401 Unauthorized"},
		{"token ok", tokenAuth("alice", "s3cret"), "alice", ""},
		{"token wrong", tokenAuth("alice", "s3cret"), "mallory", "401 Unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			host := imagetest.Registry(t, c.wrap)
			pushAuthed(t, host+"/auth/img:1", imagetest.Busybox(t), "alice", "s3cret")
			e.c.Keychain = staticKeychain{authn.FromConfig(authn.AuthConfig{Username: c.user, Password: "s3cret"})}
			_, err := e.pull(t, host+"/auth/img:1", Options{})
			if c.wantErr == "" && err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("Pull err = %v, want %q", err, c.wantErr)
			}
		})
	}
}

func TestPullMirrorFallsBack(t *testing.T) {
	e := newEnv(t)
	origin := imagetest.Registry(t, nil)
	mirror := imagetest.Registry(t, nil)
	imagetest.Push(t, origin+"/m/img:1", imagetest.Busybox(t))
	other := imagetest.Busybox(t)
	other, _ = mutate.Config(other, v1.Config{Cmd: []string{"from-mirror"}})
	imagetest.Push(t, mirror+"/m/img:1", other)
	wantMirror, _ := other.ConfigName()

	e.c.Config = registry.Config{Mirrors: map[string][]string{origin: {"127.0.0.1:1", mirror}}}
	res, err := e.pull(t, origin+"/m/img:1", Options{})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if res.Image.ID != wantMirror {
		t.Errorf("pulled %s, want the mirror's %s (first mirror is down, second serves)", res.Image.ID, wantMirror)
	}
	e.c.Config = registry.Config{Mirrors: map[string][]string{origin: {"127.0.0.1:1"}}}
	res, err = e.pull(t, origin+"/m/img:2x", Options{})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Pull of a missing tag err = %v, want the origin's 404", err)
	}
	_ = res
}

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }
