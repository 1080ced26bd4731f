package pull

import (
	"context"
	"errors"
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/ingest"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

type puller struct {
	st   *store.Store
	c    *registry.Client
	r    *resolved
	opts Options
}

func shortID(d v1.Hash) string {
	if len(d.Hex) < 12 {
		return d.Hex
	}
	return d.Hex[:12]
}

// layers brings every layer of the image into the store at once. The
// first failure cancels the rest; whatever did not commit is discarded.
func (p *puller) layers(ctx context.Context) error {
	man := p.r.manifest
	for _, l := range man.Layers {
		p.opts.Progress.Send(progress.Event{ID: shortID(l.Digest), Status: progress.PullingFS})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	par := p.opts.Parallel
	if par <= 0 {
		par = len(man.Layers)
	}
	sem := make(chan struct{}, max(par, 1))
	errs := make([]error, len(man.Layers))
	var wg sync.WaitGroup
	for i := range man.Layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			if errs[i] = p.layer(ctx, i); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// Report the first real failure, not the cancellations it caused.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

// layer brings layer i into the store unless it is there. The layer lock
// makes a concurrent pull of the same layer wait and then find it done.
func (p *puller) layer(ctx context.Context, i int) error {
	desc := p.r.manifest.Layers[i]
	chain, diff := p.r.chains[i], p.r.config.RootFS.DiffIDs[i]
	id := shortID(desc.Digest)
	if p.st.HasLayer(chain) && p.st.HasBlob(desc.Digest) {
		p.opts.Progress.Send(progress.Event{ID: id, Status: progress.AlreadyExists})
		return nil
	}
	lock, err := p.st.LockLayer(ctx, chain.Hex)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if p.st.HasLayer(chain) && p.st.HasBlob(desc.Digest) {
		p.opts.Progress.Send(progress.Event{ID: id, Status: progress.AlreadyExists})
		return nil
	}
	if err := checkLayerType(desc.MediaType); err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	rec, err := p.fetchLayer(ctx, desc, diff, chain, i)
	if err != nil {
		return fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	_ = rec
	p.opts.Progress.Send(progress.Event{ID: id, Status: progress.PullComplete})
	return nil
}

func checkLayerType(mt types.MediaType) error {
	switch mt {
	case types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer,
		types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer,
		types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer,
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
		return nil
	}
	return fmt.Errorf("unsupported layer media type %q", mt)
}

// fetchLayer streams one layer from the registry through ingest, which
// commits the blob and the layer only after both digests verified.
func (p *puller) fetchLayer(ctx context.Context, desc v1.Descriptor, diff, chain v1.Hash, i int) (store.Layer, error) {
	src := &blobReader{ctx: ctx, sources: sources(p.c, p.r.sess, desc), desc: desc, sink: p.opts.Progress, id: shortID(desc.Digest)}
	defer src.close()
	var parent v1.Hash
	if i > 0 {
		parent = p.r.chains[i-1]
	}
	res, err := ingest.Layer(p.st, src, ingest.Want{Digest: desc.Digest, Size: desc.Size, DiffID: diff, Parent: parent, MediaType: string(desc.MediaType)}, p.opts.Unpack)
	if err != nil {
		return store.Layer{}, err
	}
	if res.Layer.ChainID != chain {
		return store.Layer{}, fmt.Errorf("chain ID %s, expected %s", res.Layer.ChainID, chain)
	}
	return res.Layer, nil
}
