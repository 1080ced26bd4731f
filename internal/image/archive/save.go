// Package archive writes stored images to tar archives and reads them
// back: docker-archive (what docker save writes: manifest.json, configs
// and uncompressed layer tars) and oci-archive (a tarred OCI image
// layout), several images per archive; and import of a plain rootfs
// tarball as a one-layer image. Archives read are untrusted: member names
// are checked, members are opened through a handle on the extraction
// directory, and every layer goes through ingest's digest checks.
package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Format names an archive format.
type Format string

// The formats save writes and load reads.
const (
	DockerArchive Format = "docker-archive"
	OCIArchive    Format = "oci-archive"
)

// Item is one image to save and the tags (fully qualified) to record
// for it in the archive.
type Item struct {
	Image store.Image
	Tags  []string
}

// dockerManifestEntry is one element of docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// tarWriter adds files to an archive once each.
type tarWriter struct {
	tw   *tar.Writer
	seen map[string]bool
}

var epoch = time.Unix(0, 0)

func (t *tarWriter) dir(name string) error {
	if t.seen[name] {
		return nil
	}
	t.seen[name] = true
	return t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch})
}

func (t *tarWriter) file(name string, size int64, r io.Reader) error {
	if t.seen[name] {
		return nil
	}
	t.seen[name] = true
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	n, err := io.Copy(t.tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: wrote %d bytes, expected %d", name, n, size)
	}
	return err
}

func (t *tarWriter) bytes(name string, b []byte) error {
	return t.file(name, int64(len(b)), bytes.NewReader(b))
}

// Save writes items to w in format f.
func Save(w io.Writer, st *store.Store, f Format, items []Item) error {
	t := &tarWriter{tw: tar.NewWriter(w), seen: map[string]bool{}}
	var err error
	switch f {
	case DockerArchive:
		err = saveDocker(t, st, items)
	case OCIArchive:
		err = saveOCI(t, st, items)
	default:
		err = fmt.Errorf("unknown archive format %q (want docker-archive or oci-archive)", f)
	}
	if err != nil {
		return err
	}
	return t.tw.Close()
}

// saveDocker writes docker save's layout: configs and uncompressed
// layers under blobs/sha256/, named by digest and diff ID, and
// manifest.json tying them to tags.
func saveDocker(t *tarWriter, st *store.Store, items []Item) error {
	var entries []dockerManifestEntry
	if err := t.dir("blobs/"); err != nil {
		return err
	}
	if err := t.dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, it := range items {
		cfg, err := st.ReadBlob(it.Image.ID)
		if err != nil {
			return err
		}
		e := dockerManifestEntry{Config: "blobs/sha256/" + it.Image.ID.Hex, RepoTags: familiarTags(it.Tags)}
		if err := t.bytes(e.Config, cfg); err != nil {
			return err
		}
		for _, chain := range it.Image.Layers {
			l, err := st.Layer(chain)
			if err != nil {
				return err
			}
			name := "blobs/sha256/" + l.DiffID.Hex
			e.Layers = append(e.Layers, name)
			if err := writeUncompressed(t, st, l, name); err != nil {
				return err
			}
		}
		entries = append(entries, e)
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	return t.bytes("manifest.json", b)
}

// writeUncompressed streams a stored layer blob decompressed into the
// archive: the tar docker load expects, hashing to the diff ID.
func writeUncompressed(t *tarWriter, st *store.Store, l store.Layer, name string) error {
	if t.seen[name] {
		return nil
	}
	f, err := st.OpenBlob(l.Blob)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, _, err := compress.Reader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	return t.file(name, l.DiffSize, zr)
}

func familiarTags(tags []string) []string {
	out := []string{}
	for _, tg := range tags {
		if r, err := reference.Parse(tg); err == nil {
			out = append(out, r.Familiar())
		}
	}
	return out
}

// saveOCI writes an OCI image layout: blobs as stored (docker manifests
// are rewritten with OCI media types, which OCI tools require), and an
// index naming each tag with org.opencontainers.image.ref.name.
func saveOCI(t *tarWriter, st *store.Store, items []Item) error {
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := t.dir(d); err != nil {
			return err
		}
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, it := range items {
		desc, err := writeOCIImage(t, st, it.Image)
		if err != nil {
			return err
		}
		tags := it.Tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, tg := range tags {
			d := desc
			if tg != "" {
				d.Annotations = map[string]string{
					"org.opencontainers.image.ref.name": tagOf(tg),
					"io.containerd.image.name":          tg,
				}
			}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	if err := t.bytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return t.bytes("index.json", b)
}

func tagOf(full string) string {
	if r, err := reference.Parse(full); err == nil && r.Tag != "" {
		return r.Tag
	}
	return full
}

func writeOCIImage(t *tarWriter, st *store.Store, img store.Image) (v1.Descriptor, error) {
	raw, err := st.ReadBlob(img.Manifest)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if m.MediaType == types.DockerManifestSchema2 || img.MediaType == string(types.DockerManifestSchema2) {
		if raw, err = toOCI(m); err != nil {
			return v1.Descriptor{}, err
		}
	}
	blobs := append([]v1.Descriptor{m.Config}, m.Layers...)
	for _, d := range blobs {
		if err := copyBlob(t, st, d.Digest, d.Size); err != nil {
			return v1.Descriptor{}, err
		}
	}
	md, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := t.bytes("blobs/sha256/"+md.Hex, raw); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: md, Size: int64(len(raw))}, nil
}

func copyBlob(t *tarWriter, st *store.Store, d v1.Hash, size int64) error {
	f, err := st.OpenBlob(d)
	if err != nil {
		return err
	}
	defer f.Close()
	return t.file("blobs/sha256/"+d.Hex, size, f)
}

// toOCI rewrites a Docker schema 2 manifest with the equivalent OCI
// media types; blobs are unchanged.
func toOCI(m *v1.Manifest) ([]byte, error) {
	o := *m
	o.MediaType = types.OCIManifestSchema1
	o.Config.MediaType = types.OCIConfigJSON
	o.Layers = append([]v1.Descriptor(nil), m.Layers...)
	for i := range o.Layers {
		switch o.Layers[i].MediaType {
		case types.DockerLayer:
			o.Layers[i].MediaType = types.OCILayer
		case types.DockerUncompressedLayer:
			o.Layers[i].MediaType = types.OCIUncompressedLayer
		case types.DockerForeignLayer:
			o.Layers[i].MediaType = types.OCIRestrictedLayer
		}
	}
	return json.Marshal(o)
}
