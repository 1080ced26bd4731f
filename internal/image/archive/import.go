package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/ingest"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// Import makes a one-layer image from a root filesystem tarball (plain,
// gzip or zstd), tagged tag when tag is not empty (fully qualified).
func Import(ctx context.Context, st *store.Store, r interface{ Read([]byte) (int, error) }, tag string, cfg v1.Config, opts unpack.Options) (store.Image, error) {
	use, err := st.Use(ctx)
	if err != nil {
		return store.Image{}, err
	}
	defer use.Unlock()
	res, err := ingest.Layer(st, r, ingest.Want{}, opts)
	if err != nil {
		return store.Image{}, err
	}
	now := time.Now().UTC()
	cf := v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux", Created: v1.Time{Time: now}, Config: cfg,
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{res.Layer.DiffID}},
		History: []v1.History{{Created: v1.Time{Time: now}, CreatedBy: "pelagos import", Comment: "Imported from tarball"}},
	}
	cfgRaw, err := json.Marshal(cf)
	if err != nil {
		return store.Image{}, err
	}
	cd, _, _ := v1.SHA256(bytes.NewReader(cfgRaw))
	fi, err := os.Stat(st.BlobPath(res.Blob))
	if err != nil {
		return store.Image{}, err
	}
	man := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cd, Size: int64(len(cfgRaw))},
		Layers: []v1.Descriptor{{MediaType: layerType(res.Kind, ""), Digest: res.Blob, Size: fi.Size()}}}
	raw, err := json.Marshal(man)
	if err != nil {
		return store.Image{}, err
	}
	md, _, _ := v1.SHA256(bytes.NewReader(raw))
	for d, b := range map[v1.Hash][]byte{md: raw, cd: cfgRaw} {
		if err := st.WriteBlob(d, b); err != nil {
			return store.Image{}, err
		}
	}
	img := store.Image{ID: cd, Manifest: md, MediaType: string(types.OCIManifestSchema1),
		Layers: []v1.Hash{res.Layer.ChainID}, Blobs: []v1.Hash{md, cd, res.Blob}, Size: res.Layer.Size, Created: now, Added: now}
	if tag != "" {
		img.RepoTags = []string{tag}
	}
	if _, err := st.PutImage(ctx, img); err != nil {
		return store.Image{}, err
	}
	return img, nil
}
