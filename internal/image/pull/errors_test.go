package pull

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// answering makes GETs whose path ends in suffix answer code with a
// registry error body; everything else goes to the registry.
func answering(suffix string, code int) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, suffix) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprintf(w, `{"errors":[{"code":"X","message":"nope %d"}]}`, code)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// replacing serves body instead of the registry's answer for GETs whose
// path ends in suffix.
func replacing(suffix string, body []byte) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, suffix) {
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.Write(body)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// oneLine checks that err is one line that starts with "pull REF:" and
// contains every one of want.
func oneLine(t *testing.T, err error, ref string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("pull %s succeeded, want an error with %q", ref, want)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "pull "+ref+": ") {
		t.Errorf("error %q: want one line starting %q", msg, "pull "+ref+": ")
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q: want it to say %q", msg, w)
		}
	}
}

// Every way a registry can refuse a layer or a config names the image,
// the blob and the answer, in one line, and leaves nothing behind.
func TestPullBlobStatusErrors(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	cd, _ := img.ConfigName()
	for _, blob := range []struct{ what, hex, name string }{
		{"layer", ld.Hex, "layer " + ld.String()},
		{"config", cd.Hex, "config " + cd.String()},
	} {
		for _, code := range []int{401, 403, 404, 429, 500} {
			t.Run(fmt.Sprint(blob.what, code), func(t *testing.T) {
				e := newEnv(t)
				host := imagetest.Registry(t, answering(blob.hex, code))
				imagetest.Push(t, host+"/e/img:1", img)
				_, err := e.pull(t, host+"/e/img:1", Options{})
				oneLine(t, err, host+"/e/img:1", blob.name, fmt.Sprintf("%s answered %d %s", host, code, http.StatusText(code)))
				assertEmpty(t, e.st)
			})
		}
	}
}

func TestPullCorruptConfig(t *testing.T) {
	img := imagetest.Busybox(t)
	cd, _ := img.ConfigName()
	raw, _ := img.RawConfigFile()
	e := newEnv(t)
	host := imagetest.Registry(t, replacing(cd.Hex, bytes.Replace(raw, []byte("/bin/sh"), []byte("/bin/xx"), 1)))
	imagetest.Push(t, host+"/e/img:1", img)
	_, err := e.pull(t, host+"/e/img:1", Options{})
	oneLine(t, err, host+"/e/img:1", "config "+cd.String(), "digest mismatch")
	if !errors.Is(err, store.ErrDigestMismatch) {
		t.Errorf("error %v does not wrap ErrDigestMismatch", err)
	}
	assertEmpty(t, e.st)
}

// A truncated layer (the registry sends fewer bytes and ends cleanly,
// over and over) is not taken for a complete one.
func TestPullTruncatedLayer(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	rc, _ := layers[0].Compressed()
	var b bytes.Buffer
	b.ReadFrom(rc)
	rc.Close()
	e := newEnv(t)
	host := imagetest.Registry(t, replacing(ld.Hex, b.Bytes()[:b.Len()/2]))
	imagetest.Push(t, host+"/e/img:1", img)
	_, err := e.pull(t, host+"/e/img:1", Options{})
	oneLine(t, err, host+"/e/img:1", "layer "+ld.String())
	assertEmpty(t, e.st)
}

func TestPullOversizedManifest(t *testing.T) {
	e := newEnv(t)
	huge := bytes.Repeat([]byte(" "), registry.MaxManifestSize+1)
	host := imagetest.Registry(t, replacing("/manifests/1", huge))
	imagetest.Push(t, host+"/e/img:1", imagetest.Busybox(t))
	_, err := e.pull(t, host+"/e/img:1", Options{})
	oneLine(t, err, host+"/e/img:1", "manifest 1", "more than")
	assertEmpty(t, e.st)
}

func TestPullOversizedConfig(t *testing.T) {
	img := imagetest.Busybox(t)
	cd, _ := img.ConfigName()
	e := newEnv(t)
	host := imagetest.Registry(t, replacing(cd.Hex, bytes.Repeat([]byte(" "), registry.MaxConfigSize+1)))
	imagetest.Push(t, host+"/e/img:1", img)
	_, err := e.pull(t, host+"/e/img:1", Options{})
	oneLine(t, err, host+"/e/img:1", "config "+cd.String(), "more than")
	assertEmpty(t, e.st)
}

// A decompression bomb: a small blob that inflates past the bound.
func TestPullDecompressionBomb(t *testing.T) {
	zeros := imagetest.Tar(t, imagetest.Entry{Name: "zeros", Type: tar.TypeReg, Body: make([]byte, 4<<20)})
	img := imagetest.Image(t, "linux/amd64", imagetest.Layer(t, zeros, compression.GZip))
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/e/bomb:1", img)
	_, err := e.pull(t, host+"/e/bomb:1", Options{Unpack: unpack.Options{MaxBytes: 1 << 20}})
	oneLine(t, err, host+"/e/bomb:1", "layer "+ld.String(), "layer too large")
	if !errors.Is(err, unpack.ErrTooLarge) {
		t.Errorf("error %v does not wrap ErrTooLarge", err)
	}
	assertEmpty(t, e.st)
}

// A layer whose tar tries to escape fails the pull naming the layer and
// the entry, and nothing is stored.
func TestPullMaliciousLayer(t *testing.T) {
	evil := imagetest.Tar(t,
		imagetest.Entry{Name: "link", Type: tar.TypeSymlink, Link: "/etc"},
		imagetest.Entry{Name: "x/../../escape", Type: tar.TypeReg, Body: []byte("x")},
	)
	img := imagetest.Image(t, "linux/amd64", imagetest.Layer(t, evil, compression.GZip))
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/e/evil:1", img)
	_, err := e.pull(t, host+"/e/evil:1", Options{})
	oneLine(t, err, host+"/e/evil:1", "layer "+ld.String(), `entry "x/../../escape"`, "unsafe layer entry")
	assertEmpty(t, e.st)
}

// Names the blob digest of a layer whose media type pelagos cannot read.
func TestPullUnknownLayerType(t *testing.T) {
	img := imagetest.Busybox(t)
	m, _ := img.Manifest()
	e := newEnv(t)
	raw, _ := img.RawManifest()
	bad := bytes.Replace(raw, []byte(m.Layers[0].MediaType), []byte("application/x-weird"), 1)
	d, _, _ := v1.SHA256(bytes.NewReader(bad))
	host := imagetest.Registry(t, replacing("/manifests/"+d.String(), bad))
	imagetest.Push(t, host+"/e/img:1", img)
	_, err := e.pull(t, host+"/e/img@"+d.String(), Options{})
	oneLine(t, err, host+"/e/img@"+d.String(), "layer "+m.Layers[0].Digest.String(), `unsupported layer media type "application/x-weird"`)
	assertEmpty(t, e.st)
}

// A pull streams Docker's JSON messages: what the Docker API answers
// /images/create with. Each layer goes Pulling fs layer → Downloading →
// Verifying Checksum → Download complete → Pull complete; the stream
// opens with "Pulling from" under the tag and ends with the digest and
// the status line.
func TestPullJSONMessages(t *testing.T) {
	img := imagetest.Busybox(t)
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	e := newEnv(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/j/img:1", img)
	var b bytes.Buffer
	res, err := e.pull(t, host+"/j/img:1", Options{Progress: &progress.JSON{W: &b}})
	if err != nil {
		t.Fatal(err)
	}
	type msg struct {
		Status, ID     string
		ProgressDetail *struct{ Current, Total int64 }
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m msg
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if m.Status == progress.Downloading {
			if m.ProgressDetail == nil || m.ProgressDetail.Total == 0 {
				t.Errorf("Downloading without progress: %s", line)
			}
			if len(got) > 0 && got[len(got)-1] == m.ID+" "+m.Status {
				continue // progress within one status
			}
		}
		got = append(got, strings.TrimPrefix(m.ID+" "+m.Status, " "))
	}
	id := ld.Hex[:12]
	want := []string{
		"1 Pulling from j/img",
		id + " Pulling fs layer",
		id + " Downloading",
		id + " Verifying Checksum",
		id + " Download complete",
		id + " Pull complete",
		"Digest: " + res.Digest.String(),
		"Status: Downloaded newer image for " + host + "/j/img:1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON stream (-want +got):\n%s", diff)
	}
}

// A non-distributable layer is fetched from the URLs its descriptor
// lists (the registry does not have it), trying them in order; when none
// has it, the error names each.
func TestPullNondistributableLayerFromURLs(t *testing.T) {
	base := imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip)
	blob, _ := base.Compressed()
	var body bytes.Buffer
	body.ReadFrom(blob)
	blob.Close()
	var gets []string
	var mu sync.Mutex
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets = append(gets, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/layer.tar.gz" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("registry credentials sent to a layer URL")
		}
		http.ServeContent(w, r, "layer", time.Time{}, bytes.NewReader(body.Bytes()))
	}))
	defer files.Close()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: base, MediaType: types.DockerForeignLayer,
		URLs: []string{files.URL + "/missing", files.URL + "/layer.tar.gz"}})
	if err != nil {
		t.Fatal(err)
	}
	ld, _ := base.Digest()
	// The registry does not serve the layer, as for a real foreign layer.
	host := imagetest.Registry(t, answering(ld.Hex, http.StatusNotFound))
	imagetest.Push(t, host+"/nd/img:1", img)
	e := newEnv(t)
	if _, err := e.pull(t, host+"/nd/img:1", Options{}); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if diff := cmp.Diff([]string{"/missing", "/layer.tar.gz"}, gets); diff != "" {
		t.Errorf("URL requests (-want +got):\n%s", diff)
	}
	if !e.st.HasBlob(ld) {
		t.Errorf("layer blob %s not stored", ld)
	}

	img, _ = mutate.Append(empty.Image, mutate.Addendum{Layer: base, MediaType: types.DockerForeignLayer, URLs: []string{files.URL + "/gone"}})
	imagetest.Push(t, host+"/nd/gone:1", img)
	e = newEnv(t)
	_, err = e.pull(t, host+"/nd/gone:1", Options{})
	oneLine(t, err, host+"/nd/gone:1", "layer "+ld.String(), files.URL+"/gone: ", "404 Not Found", "; registry: "+host+" answered 404")
	assertEmpty(t, e.st)
}
