package pull

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
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
