// Package imagetest builds test images from Debian's busybox-static and
// serves them from an in-process registry. Only tests import it.
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is where busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// Entry is one tar entry of a test layer.
type Entry struct {
	Name, Link string
	Type       byte
	Body       []byte
	Mode       int64
}

// Tar packs entries into an uncompressed tar stream.
func Tar(t testing.TB, ents ...Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range ents {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode,
			ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.Type == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.Type == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.Body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// BusyboxTar is a minimal root filesystem: busybox-static with a few
// applet links, /etc and /tmp.
func BusyboxTar(t testing.TB) []byte {
	t.Helper()
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("busybox-static not installed (scripts/install-test-deps.sh installs it): %v", err)
	}
	ents := []Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Type: tar.TypeReg, Body: bb, Mode: 0o755},
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Type: tar.TypeReg, Body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{Name: "etc/group", Type: tar.TypeReg, Body: []byte("root:x:0:\n")},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
	}
	for _, a := range []string{"sh", "ls", "cat", "echo", "true", "mkdir", "rm"} {
		ents = append(ents, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	return Tar(t, ents...)
}

// BusyboxApplets are bin/busybox (busybox-static) and a link to it for
// every applet it has: the programs of a root filesystem on which tests
// run any command. Callers add /etc and the rest.
func BusyboxApplets(t testing.TB) []Entry {
	t.Helper()
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("busybox-static not installed (scripts/install-test-deps.sh installs it): %v", err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	ents := []Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Type: tar.TypeReg, Body: bb, Mode: 0o755},
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			ents = append(ents, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
		}
	}
	return ents
}

// Layer makes a layer from an uncompressed tar with the given
// compression (compression.GZip, compression.ZStd or compression.None).
func Layer(t testing.TB, tarball_ []byte, comp compression.Compression) v1.Layer {
	t.Helper()
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarball_)), nil }
	var opts []tarball.LayerOption
	switch comp {
	case compression.ZStd:
		opts = append(opts, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	case compression.None:
		return uncompressed{tarball_}
	}
	l, err := tarball.LayerFromOpener(opener, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image stacks layers into an image for platform (e.g. "linux/amd64")
// with a config that runs /bin/sh.
func Image(t testing.TB, platform string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	os_, arch, _ := strings.Cut(platform, "/")
	arch, variant, _ := strings.Cut(arch, "/")
	cf.OS, cf.Architecture, cf.Variant = os_, arch, variant
	cf.Created = v1.Time{Time: time.Unix(1700000000, 0).UTC()}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/bin"}
	for range layers {
		cf.History = append(cf.History, v1.History{Created: cf.Created, CreatedBy: "imagetest layer"})
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Busybox is a one-layer busybox image for the host platform.
func Busybox(t testing.TB) v1.Image {
	return Image(t, "linux/amd64", Layer(t, BusyboxTar(t), compression.GZip))
}

// Registry serves an in-process registry (go-containerregistry's) on
// 127.0.0.1, optionally behind wrap, and returns its host:port.
func Registry(t testing.TB, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(discardLogger()))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Push writes img to host/repo:tag (or an index when img is a v1.ImageIndex).
func Push(t testing.TB, ref string, img any) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.Image:
		err = remote.Write(r, x)
	case v1.ImageIndex:
		err = remote.WriteIndex(r, x)
	}
	if err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

// Index makes a multi-platform index of images keyed by platform.
func Index(t testing.TB, imgs map[string]v1.Image) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = empty.Index
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	for p, img := range imgs {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	return idx
}
