package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// imported puts a one-layer image tagged tag into st.
func imported(t *testing.T, st *store.Store, tag string, files ...string) store.Image {
	t.Helper()
	var ents []imagetest.Entry
	for _, f := range files {
		ents = append(ents, imagetest.Entry{Name: f, Type: tar.TypeReg, Body: []byte(f)})
	}
	img, err := Import(context.Background(), st, bytes.NewReader(imagetest.Tar(t, ents...)), tag, v1.Config{Cmd: []string{"/bin/sh"}}, unpack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func load(t *testing.T, st *store.Store, archive []byte, o LoadOptions) ([]Loaded, error) {
	t.Helper()
	return Load(context.Background(), st, bytes.NewReader(archive), o)
}

// summary is "ID tags" per loaded image, sorted.
func summary(ls []Loaded) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Image.ID.String()+" "+strings.Join(l.Tags, ","))
	}
	sort.Strings(out)
	return out
}

// Both formats carry several images, with their tags, into another
// store unchanged (same image IDs).
func TestSaveLoadRoundTrip(t *testing.T) {
	src := newStore(t)
	a := imported(t, src, "example.com/a:1", "a")
	b := imported(t, src, "example.com/b:2", "b", "c")
	items := []Item{{Image: a, Tags: a.RepoTags}, {Image: b, Tags: b.RepoTags}}
	want := []string{a.ID.String() + " example.com/a:1", b.ID.String() + " example.com/b:2"}
	sort.Strings(want)
	for _, f := range []Format{DockerArchive, OCIArchive} {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Save(&buf, src, f, items); err != nil {
				t.Fatalf("Save: %v", err)
			}
			dst := newStore(t)
			got, err := load(t, dst, buf.Bytes(), LoadOptions{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(want, summary(got)); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
			if _, err := dst.Lookup("example.com/b:2"); err != nil {
				t.Errorf("loaded image not found by tag: %v", err)
			}
		})
	}
}

// ociArchive tars an OCI layout whose index.json holds one entry: an
// index of images for linux/amd64 and linux/arm64, named by annotation.
func ociArchive(t *testing.T) ([]byte, map[string]v1.Hash) {
	t.Helper()
	ids := map[string]v1.Hash{}
	imgs := map[string]v1.Image{}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img := imagetest.Image(t, p, imagetest.Layer(t, imagetest.Tar(t, imagetest.Entry{Name: "arch", Type: tar.TypeReg, Body: []byte(p)}), compression.GZip))
		imgs[p] = img
		ids[p], _ = img.ConfigName()
	}
	idx := imagetest.Index(t, imgs)
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "example.com/multi:1"})); err != nil {
		t.Fatal(err)
	}
	return tarDir(t, dir), ids
}

func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := d.Info()
		h, _ := tar.FileInfoHeader(fi, "")
		h.Name = rel
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// An index.json entry that is itself an index loads the platform asked
// for (the host's by default) under the entry's name.
func TestLoadIndexEntryPicksPlatform(t *testing.T) {
	arch, ids := ociArchive(t)
	for _, c := range []struct {
		platform *v1.Platform
		want     string
	}{
		{nil, "linux/amd64"},
		{&v1.Platform{OS: "linux", Architecture: "arm64"}, "linux/arm64"},
	} {
		t.Run(c.want, func(t *testing.T) {
			got, err := load(t, newStore(t), arch, LoadOptions{Platform: c.platform})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := []string{ids[c.want].String() + " example.com/multi:1"}
			if diff := cmp.Diff(want, summary(got)); diff != "" {
				t.Errorf("loaded (-want +got):\n%s", diff)
			}
		})
	}
	_, err := load(t, newStore(t), arch, LoadOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/s390x") {
		t.Errorf("Load for a platform the index lacks = %v, want one naming the platform", err)
	}
}

// A platform filter skips images of other platforms in a docker-archive,
// and says so when nothing is left.
func TestLoadPlatformFilter(t *testing.T) {
	src := newStore(t)
	a := imported(t, src, "example.com/a:1", "a")
	var buf bytes.Buffer
	if err := Save(&buf, src, DockerArchive, []Item{{Image: a, Tags: a.RepoTags}}); err != nil {
		t.Fatal(err)
	}
	host := hostPlatform(t, src, a)
	if got, err := load(t, newStore(t), buf.Bytes(), LoadOptions{Platform: &host}); err != nil || len(got) != 1 {
		t.Errorf("Load for the image's own platform = %d images, %v; want 1", len(got), err)
	}
	dst := newStore(t)
	_, err := load(t, dst, buf.Bytes(), LoadOptions{Platform: &v1.Platform{OS: "linux", Architecture: "riscv64"}})
	if !errors.Is(err, ErrNoPlatform) {
		t.Errorf("Load for another platform = %v, want ErrNoPlatform", err)
	}
	if imgs, _ := dst.Images(); len(imgs) != 0 {
		t.Errorf("Load for another platform stored %d images", len(imgs))
	}
}

func hostPlatform(t *testing.T, st *store.Store, img store.Image) v1.Platform {
	t.Helper()
	raw, err := st.ReadBlob(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v1.Platform{OS: cf.OS, Architecture: cf.Architecture}
}

// Hostile or broken archives fail with one line and store nothing.
func TestLoadRefusesBadArchives(t *testing.T) {
	layer := imagetest.Tar(t, imagetest.Entry{Name: "f", Type: tar.TypeReg, Body: []byte("x")})
	img, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t, layer, compression.None))
	if err != nil {
		t.Fatal(err)
	}
	cfgRaw, _ := img.RawConfigFile()
	badDiff := bytes.Replace(cfgRaw, []byte(mustDiffID(t, img).Hex), []byte(strings.Repeat("0", 64)), 1)
	manifest := func(cfg, layer string) []byte {
		return []byte(`[{"Config":"` + cfg + `","RepoTags":["example.com/x:1"],"Layers":["` + layer + `"]}]`)
	}
	cases := []struct {
		name    string
		members []imagetest.Entry
		want    string
	}{
		// The link resolves inside the archive, where there is no
		// /etc/passwd: the host's is never read.
		{"symlink out", []imagetest.Entry{
			{Name: "manifest.json", Type: tar.TypeSymlink, Link: "/etc/passwd"},
		}, "no manifest.json or index.json"},
		{"member escapes", []imagetest.Entry{
			{Name: "../manifest.json", Type: tar.TypeReg, Body: manifest("c.json", "l.tar")},
		}, "unsafe layer entry"},
		{"layer path escapes", []imagetest.Entry{
			{Name: "manifest.json", Type: tar.TypeReg, Body: manifest("c.json", "../../../etc/passwd")},
			{Name: "c.json", Type: tar.TypeReg, Body: cfgRaw},
		}, "archive member ../../../etc/passwd: no such file"},
		{"wrong diff ID", []imagetest.Entry{
			{Name: "manifest.json", Type: tar.TypeReg, Body: manifest("c.json", "l.tar")},
			{Name: "c.json", Type: tar.TypeReg, Body: badDiff},
			{Name: "l.tar", Type: tar.TypeReg, Body: layer},
		}, "digest mismatch"},
		{"neither format", []imagetest.Entry{
			{Name: "README", Type: tar.TypeReg, Body: []byte("hi")},
		}, "not a docker-archive or oci-archive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newStore(t)
			_, err := load(t, st, imagetest.Tar(t, c.members...), LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Load = %v, want one line with %q", err, c.want)
			}
			imgs, _ := st.Images()
			layers, _ := os.ReadDir(filepath.Join(st.Root(), "layers"))
			if len(imgs) != 0 || len(layers) != 0 {
				t.Errorf("failed load left %d images and %d layers", len(imgs), len(layers))
			}
		})
	}
}

func mustDiffID(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs[0]
}
