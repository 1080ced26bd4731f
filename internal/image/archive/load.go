package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/ingest"
	"github.com/pelagos-go/pelagos/internal/image/platform"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// maxMetadata bounds manifest.json, index.json, manifests and configs
// read from an archive.
const maxMetadata = 16 << 20

// Loaded is one image an archive held.
type Loaded struct {
	Image store.Image
	Tags  []string // fully qualified
}

// LoadOptions tune a load.
type LoadOptions struct {
	// Unpack bounds each layer and the archive itself.
	Unpack unpack.Options
	// Platform, if set, loads only images for it, and picks it from an
	// index entry; an index entry without it picks the host's.
	Platform *v1.Platform
	// Progress receives "Loading layer" and "Loaded" events; nil
	// discards them.
	Progress progress.Sink
}

// ErrNoPlatform is wrapped when an archive holds no image for the
// platform asked for.
var ErrNoPlatform = errors.New("no image for the platform")

// maxIndexDepth bounds nested indexes in an archive, as a pull does.
const maxIndexDepth = 4

// Load reads a docker-archive or oci-archive (optionally compressed)
// from r into st.
func Load(ctx context.Context, st *store.Store, r io.Reader, o LoadOptions) ([]Loaded, error) {
	if o.Progress == nil {
		o.Progress = progress.Discard{}
	}
	opts := o.Unpack
	use, err := st.Use(ctx)
	if err != nil {
		return nil, err
	}
	defer use.Unlock()
	tmp, err := st.TempDir("load")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	zr, _, err := compress.Reader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// The archive is untrusted: unpack's hardened extraction keeps every
	// member inside tmp, and members are opened below through a handle.
	if _, err := unpack.Unpack(tmp, zr, opts); err != nil {
		return nil, fmt.Errorf("read archive: %w", err)
	}
	a, err := openDir(tmp)
	if err != nil {
		return nil, err
	}
	defer a.close()
	l := &loader{st: st, a: a, opts: opts, platform: o.Platform, sink: o.Progress}
	var out []Loaded
	switch {
	case a.exists("manifest.json"):
		out, err = l.docker(ctx)
	case a.exists("index.json"):
		out, err = l.oci(ctx)
	default:
		return nil, errors.New("not a docker-archive or oci-archive: no manifest.json or index.json")
	}
	if err == nil && len(out) == 0 && o.Platform != nil {
		err = fmt.Errorf("%w %s in the archive", ErrNoPlatform, o.Platform)
	}
	return out, err
}

type loader struct {
	st       *store.Store
	a        *dir
	opts     unpack.Options
	platform *v1.Platform
	sink     progress.Sink
}

// wanted reports whether an image with config cfg is for the platform
// asked for (any, when none was).
func (l *loader) wanted(cfgRaw []byte) bool {
	if l.platform == nil {
		return true
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return true // let image() report the bad config
	}
	return platform.Matches(v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, *l.platform)
}

func (l *loader) docker(ctx context.Context) ([]Loaded, error) {
	var entries []dockerManifestEntry
	if err := l.a.readJSON("manifest.json", &entries); err != nil {
		return nil, err
	}
	var out []Loaded
	for _, e := range entries {
		cfg, err := l.a.read(e.Config)
		if err != nil {
			return nil, err
		}
		if !l.wanted(cfg) {
			continue
		}
		var tags []string
		for _, tg := range e.RepoTags {
			r, err := reference.Parse(tg)
			if err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			tags = append(tags, r.String())
		}
		img, err := l.image(ctx, cfg, e.Layers, nil, tags)
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{Image: img, Tags: tags})
	}
	return out, nil
}

func (l *loader) oci(ctx context.Context) ([]Loaded, error) {
	var idx v1.IndexManifest
	if err := l.a.readJSON("index.json", &idx); err != nil {
		return nil, err
	}
	var out []Loaded
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		digest, err := l.platformManifest(d)
		if err != nil {
			return nil, err
		}
		raw, err := l.a.blob(digest)
		if err != nil {
			return nil, err
		}
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", digest, err)
		}
		cfg, err := l.a.blob(m.Config.Digest)
		if err != nil {
			return nil, err
		}
		if !l.wanted(cfg) {
			continue
		}
		var paths []string
		for _, ld := range m.Layers {
			paths = append(paths, "blobs/"+ld.Digest.Algorithm+"/"+ld.Digest.Hex)
		}
		var tags []string
		if name := ociName(d.Annotations); name != "" {
			tags = []string{name}
		}
		img, err := l.image(ctx, cfg, paths, m.Layers, tags)
		if err != nil {
			return nil, err
		}
		out = append(out, Loaded{Image: img, Tags: tags})
	}
	return out, nil
}

// platformManifest follows an index.json entry to an image manifest:
// itself when it is one, else the manifest for the platform asked for
// (the host's by default) in the index it names, nested indexes
// included, as a pull picks from a registry's index.
func (l *loader) platformManifest(d v1.Descriptor) (v1.Hash, error) {
	want := platform.Host()
	if l.platform != nil {
		want = *l.platform
	}
	for depth := 0; ; depth++ {
		switch {
		case d.MediaType.IsImage():
			return d.Digest, nil
		case !d.MediaType.IsIndex():
			return v1.Hash{}, fmt.Errorf("index.json: entry %s is %s, not an image or an index", d.Digest, d.MediaType)
		case depth == maxIndexDepth:
			return v1.Hash{}, fmt.Errorf("index %s: indexes nested more than %d deep", d.Digest, maxIndexDepth)
		}
		body, err := l.a.blob(d.Digest)
		if err != nil {
			return v1.Hash{}, err
		}
		child, err := platform.Pick(body, want)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("index %s: %w", d.Digest, err)
		}
		idx, _ := v1.ParseIndexManifest(bytes.NewReader(body))
		for _, c := range idx.Manifests {
			if c.Digest == child {
				d = v1.Descriptor{MediaType: c.MediaType, Digest: c.Digest, Annotations: d.Annotations}
			}
		}
	}
}

// ociName is the image name an OCI index entry carries: containerd's
// full-name annotation, or a ref.name that is itself a full reference.
func ociName(ann map[string]string) string {
	for _, k := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
		if v := ann[k]; v != "" && (strings.Contains(v, "/") || strings.Contains(v, ":")) {
			if r, err := reference.Parse(v); err == nil {
				return r.String()
			}
		}
	}
	return ""
}

// image ingests one image's layers (checking them against the config's
// diff IDs and, when the archive has a manifest, the manifest's digests)
// and records it with an OCI manifest describing the stored blobs.
func (l *loader) image(ctx context.Context, cfgRaw []byte, paths []string, descs []v1.Descriptor, tags []string) (store.Image, error) {
	cfgDigest, _, _ := v1.SHA256(bytes.NewReader(cfgRaw))
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return store.Image{}, fmt.Errorf("config %s: %w", cfgDigest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(paths) {
		return store.Image{}, fmt.Errorf("config %s lists %d diff IDs for %d layers", cfgDigest, len(cfg.RootFS.DiffIDs), len(paths))
	}
	chains := store.ChainIDs(cfg.RootFS.DiffIDs)
	man := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(cfgRaw))}}
	var size int64
	for i, p := range paths {
		want := ingest.Want{DiffID: cfg.RootFS.DiffIDs[i]}
		if i > 0 {
			want.Parent = chains[i-1]
		}
		if descs != nil {
			want.Digest, want.Size, want.MediaType = descs[i].Digest, descs[i].Size, string(descs[i].MediaType)
		}
		res, err := l.layer(ctx, p, chains[i], want)
		if err != nil {
			return store.Image{}, fmt.Errorf("layer %s: %w", p, err)
		}
		fi, err := os.Stat(l.st.BlobPath(res.Blob))
		if err != nil {
			return store.Image{}, err
		}
		man.Layers = append(man.Layers, v1.Descriptor{MediaType: layerType(res.Kind, want.MediaType), Digest: res.Blob, Size: fi.Size()})
		size += res.Layer.Size
	}
	raw, err := json.Marshal(man)
	if err != nil {
		return store.Image{}, err
	}
	md, _, _ := v1.SHA256(bytes.NewReader(raw))
	for d, b := range map[v1.Hash][]byte{md: raw, cfgDigest: cfgRaw} {
		if err := l.st.WriteBlob(d, b); err != nil {
			return store.Image{}, err
		}
	}
	img := store.Image{ID: cfgDigest, Manifest: md, MediaType: string(types.OCIManifestSchema1), RepoTags: tags,
		Layers: chains, Blobs: []v1.Hash{md, cfgDigest}, Size: size, Created: cfg.Created.Time, Added: time.Now().UTC()}
	for _, d := range man.Layers {
		img.Blobs = append(img.Blobs, d.Digest)
	}
	if _, err := l.st.PutImage(ctx, img); err != nil {
		return store.Image{}, err
	}
	return l.st.Lookup(img.ID.String())
}

func (l *loader) layer(ctx context.Context, path string, chain v1.Hash, want ingest.Want) (ingest.Result, error) {
	lock, err := l.st.LockLayer(ctx, chain.Hex)
	if err != nil {
		return ingest.Result{}, err
	}
	defer lock.Unlock()
	f, err := l.a.open(path)
	if err != nil {
		return ingest.Result{}, err
	}
	defer f.Close()
	id := want.DiffID.Hex[:min(12, len(want.DiffID.Hex))]
	l.sink.Send(progress.Event{ID: id, Status: progress.LoadingLayer})
	res, err := ingest.Layer(l.st, f, want, l.opts)
	if err == nil {
		l.sink.Send(progress.Event{ID: id, Status: progress.LoadedComplete})
	}
	return res, err
}

func layerType(k compress.Kind, given string) types.MediaType {
	if given != "" {
		return types.MediaType(given)
	}
	switch k {
	case compress.Gzip:
		return types.OCILayer
	case compress.Zstd:
		return types.OCILayerZStd
	}
	return types.OCIUncompressedLayer
}

// dir is a handle on an extracted archive; members are opened through
// it with RESOLVE_IN_ROOT, so a symlink member cannot lead outside.
type dir struct{ fd int }

func openDir(p string) (*dir, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return &dir{fd: fd}, nil
}

func (d *dir) close() { unix.Close(d.fd) }

func (d *dir) open(name string) (*os.File, error) {
	fd, err := unix.Openat2(d.fd, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("archive member %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("archive member %s is not a regular file", name)
	}
	return f, nil
}

func (d *dir) exists(name string) bool {
	f, err := d.open(name)
	if err == nil {
		f.Close()
	}
	return err == nil
}

func (d *dir) read(name string) ([]byte, error) {
	f, err := d.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err == nil && len(b) > maxMetadata {
		err = fmt.Errorf("archive member %s is larger than %d bytes", name, maxMetadata)
	}
	return b, err
}

func (d *dir) readJSON(name string, v any) error {
	b, err := d.read(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("archive member %s: %w", name, err)
	}
	return nil
}

// blob reads a metadata blob of an OCI layout and checks its digest.
func (d *dir) blob(h v1.Hash) ([]byte, error) {
	b, err := d.read("blobs/" + h.Algorithm + "/" + h.Hex)
	if err != nil {
		return nil, err
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(b)); got != h {
		return nil, fmt.Errorf("blob %s: %w: content is %s", h, store.ErrDigestMismatch, got)
	}
	return b, nil
}
