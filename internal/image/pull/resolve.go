package pull

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/platform"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// maxIndexDepth bounds nested indexes: real ones nest once at most.
const maxIndexDepth = 4

// resolved is everything known about an image before its layers move.
type resolved struct {
	ref            reference.Reference
	sess           *registry.Session
	topDigest      v1.Hash // what the reference resolved to
	manifestDigest v1.Hash
	manifestType   types.MediaType
	manifest       *v1.Manifest
	configDigest   v1.Hash
	config         *v1.ConfigFile
	chains         []v1.Hash
	blobs          map[v1.Hash][]byte // verified index, manifest and config bodies
}

// resolve finds the image ref names for platform, trying mirrors before
// the origin, and fetches and verifies its manifest and config.
func resolve(ctx context.Context, c *registry.Client, ref reference.Reference, platform v1.Platform) (*resolved, error) {
	var errs []error
	for _, ep := range c.Config.Endpoints(ref.Domain, ref.RegistryHost()) {
		r, err := resolveOn(ctx, c, ep, ref, platform)
		if err == nil {
			return r, nil
		}
		if !ep.Mirror {
			return nil, err
		}
		errs = append(errs, fmt.Errorf("mirror %s: %w", ep.Host, err))
		if ctx.Err() != nil {
			return nil, errors.Join(errs...)
		}
	}
	return nil, errors.Join(errs...)
}

func resolveOn(ctx context.Context, c *registry.Client, ep registry.Endpoint, ref reference.Reference, plat v1.Platform) (*resolved, error) {
	sess, err := c.Open(ctx, ep, ref.Path)
	if err != nil {
		return nil, err
	}
	r := &resolved{ref: ref, sess: sess, blobs: map[v1.Hash][]byte{}}
	want := ref.Tag
	if ref.Digest != "" {
		want = ref.Digest
	}
	m, d, err := r.fetchManifest(ctx, want, ref.Digest)
	if err != nil {
		return nil, err
	}
	r.topDigest = d
	for depth := 0; m.MediaType.IsIndex(); depth++ {
		if depth == maxIndexDepth {
			return nil, fmt.Errorf("indexes nested more than %d deep", maxIndexDepth)
		}
		child, err := platform.Pick(m.Body, plat)
		if err != nil {
			return nil, err
		}
		if m, d, err = r.fetchManifest(ctx, child.String(), child.String()); err != nil {
			return nil, err
		}
	}
	if err := r.image(ctx, m, d); err != nil {
		return nil, err
	}
	return r, nil
}

// fetchManifest gets a manifest and checks it against the digest that
// named it (or, for a tag, against what the registry claimed).
func (r *resolved) fetchManifest(ctx context.Context, ref, wantDigest string) (registry.Manifest, v1.Hash, error) {
	m, err := r.sess.Manifest(ctx, ref)
	if err != nil {
		return m, v1.Hash{}, fmt.Errorf("manifest %s: %w", ref, err)
	}
	got, _, _ := v1.SHA256(bytes.NewReader(m.Body))
	if wantDigest == "" {
		wantDigest = m.Digest
	}
	if wantDigest != "" && wantDigest != got.String() {
		return m, got, fmt.Errorf("manifest %s: %w: registry said %s, content is %s", ref, store.ErrDigestMismatch, wantDigest, got)
	}
	if m.MediaType == "" || (!m.MediaType.IsIndex() && !m.MediaType.IsImage()) {
		m.MediaType = sniffMediaType(m.Body)
	}
	if m.MediaType.IsSchema1() {
		return m, got, fmt.Errorf("manifest %s: Docker schema 1 images are not supported", ref)
	}
	r.blobs[got] = m.Body
	return m, got, nil
}

// sniffMediaType reads the mediaType field of a manifest served with an
// unhelpful Content-Type.
func sniffMediaType(body []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []any           `json:"manifests"`
	}
	if jsonUnmarshal(body, &probe) == nil {
		if probe.MediaType != "" {
			return probe.MediaType
		}
		if probe.Manifests != nil {
			return types.OCIImageIndex
		}
	}
	return types.OCIManifestSchema1
}

// image parses an image manifest and fetches and verifies its config.
func (r *resolved) image(ctx context.Context, m registry.Manifest, d v1.Hash) error {
	man, err := v1.ParseManifest(bytes.NewReader(m.Body))
	if err != nil {
		return fmt.Errorf("parse manifest %s: %w", d, err)
	}
	r.manifest, r.manifestDigest, r.manifestType = man, d, m.MediaType
	if man.Config.Size > registry.MaxConfigSize {
		return fmt.Errorf("config %s is %d bytes, more than the %d allowed", man.Config.Digest, man.Config.Size, registry.MaxConfigSize)
	}
	body, err := r.sess.SmallBlob(ctx, man.Config.Digest, registry.MaxConfigSize)
	if err != nil {
		return fmt.Errorf("config %s: %w", man.Config.Digest, err)
	}
	if got, _, _ := v1.SHA256(bytes.NewReader(body)); got != man.Config.Digest {
		return fmt.Errorf("config %s: %w: content is %s", man.Config.Digest, store.ErrDigestMismatch, got)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("parse config %s: %w", man.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(man.Layers) {
		return fmt.Errorf("manifest %s has %d layers but its config lists %d diff IDs", d, len(man.Layers), len(cfg.RootFS.DiffIDs))
	}
	r.configDigest, r.config = man.Config.Digest, cfg
	r.blobs[man.Config.Digest] = body
	r.chains = store.ChainIDs(cfg.RootFS.DiffIDs)
	return nil
}
