// Package stored presents an image from the store as a
// go-containerregistry v1.Image, whose layers read the stored compressed
// blobs byte for byte: what push and save hand to registries and
// archives, with the digests the image was pulled with.
package stored

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Image returns img as a v1.Image.
func Image(st *store.Store, img store.Image) (v1.Image, error) {
	man, err := st.ReadBlob(img.Manifest)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	cfg, err := st.ReadBlob(img.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.ID, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(man))
	if err != nil {
		return nil, fmt.Errorf("image %s manifest: %w", img.ID, err)
	}
	mt := types.MediaType(img.MediaType)
	if mt == "" {
		mt = m.MediaType
	}
	return partial.CompressedToImage(&core{st: st, man: man, cfg: cfg, m: m, mt: mt})
}

type core struct {
	st  *store.Store
	man []byte
	cfg []byte
	m   *v1.Manifest
	mt  types.MediaType
}

func (c *core) RawConfigFile() ([]byte, error)      { return c.cfg, nil }
func (c *core) RawManifest() ([]byte, error)        { return c.man, nil }
func (c *core) MediaType() (types.MediaType, error) { return c.mt, nil }

func (c *core) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range c.m.Layers {
		if d.Digest == h {
			return &layer{st: c.st, desc: d}, nil
		}
	}
	if c.m.Config.Digest == h {
		return &layer{st: c.st, desc: c.m.Config}, nil
	}
	return nil, fmt.Errorf("blob %s: %w", h, store.ErrNotFound)
}

// layer is a stored compressed blob.
type layer struct {
	st   *store.Store
	desc v1.Descriptor
}

func (l *layer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *layer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *layer) Compressed() (io.ReadCloser, error) {
	f, err := l.st.OpenBlob(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	return f, nil
}
