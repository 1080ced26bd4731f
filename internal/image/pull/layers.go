package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

type puller struct {
	st   *store.Store
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

// fetchLayer streams one layer: registry body → blob file and digest →
// decompress → diff ID hash → untar into a fresh ingest directory. Both
// digests must match before the blob and then the layer are committed.
func (p *puller) fetchLayer(ctx context.Context, desc v1.Descriptor, diff, chain v1.Hash, i int) (store.Layer, error) {
	li, err := p.st.NewLayer()
	if err != nil {
		return store.Layer{}, err
	}
	defer li.Abort()
	bw, err := p.st.NewBlobWriter(desc.Digest)
	if err != nil {
		return store.Layer{}, err
	}
	committed := false
	defer func() {
		if !committed {
			bw.Abort()
		}
	}()
	src := &blobReader{ctx: ctx, sess: p.r.sess, desc: desc, sink: p.opts.Progress, id: shortID(desc.Digest)}
	defer src.close()
	// The blob writer sees every byte exactly once, in order, even across
	// resumed requests, so its digest is the blob's.
	stats, diffGot, uerr := unpackStream(io.TeeReader(io.LimitReader(src, desc.Size), bw), li.Dir, p.opts.Unpack)
	// Read whatever the decompressor did not need (normally nothing) so
	// the blob digest covers the whole blob. After a failed unpack this
	// also tells a corrupt download (wrong digest: the registry's fault)
	// from a well-delivered bad layer.
	if _, err := io.Copy(bw, io.LimitReader(src, desc.Size-bw.Offset())); err != nil {
		if uerr != nil {
			return store.Layer{}, uerr
		}
		return store.Layer{}, err
	}
	if uerr != nil {
		if got := bw.Digest(); bw.Offset() == desc.Size && got != desc.Digest {
			return store.Layer{}, fmt.Errorf("%w: content is %s", store.ErrDigestMismatch, got)
		}
		return store.Layer{}, uerr
	}
	if bw.Offset() != desc.Size {
		return store.Layer{}, fmt.Errorf("blob is %d bytes, manifest says %d", bw.Offset(), desc.Size)
	}
	p.opts.Progress.Send(progress.Event{ID: src.id, Status: progress.Verifying})
	if got := bw.Digest(); got != desc.Digest {
		return store.Layer{}, fmt.Errorf("%w: content is %s", store.ErrDigestMismatch, got)
	}
	if diffGot != diff {
		return store.Layer{}, fmt.Errorf("%w: diff ID is %s, config says %s", store.ErrDigestMismatch, diffGot, diff)
	}
	if err := bw.Commit(); err != nil {
		return store.Layer{}, err
	}
	committed = true
	var parent v1.Hash
	if i > 0 {
		parent = p.r.chains[i-1]
	}
	rec := store.Layer{ChainID: chain, DiffID: diff, Parent: parent, Blob: desc.Digest, MediaType: string(desc.MediaType), Size: stats.Bytes}
	return rec, li.Commit(rec)
}

// unpackStream decompresses r and untars it into dir, returning the diff
// ID: the digest of the whole uncompressed stream, trailing padding
// included.
func unpackStream(r io.Reader, dir string, opts unpack.Options) (unpack.Stats, v1.Hash, error) {
	zr, _, err := compress.Reader(r)
	if err != nil {
		return unpack.Stats{}, v1.Hash{}, err
	}
	defer zr.Close()
	h := sha256.New()
	tr := io.TeeReader(zr, h)
	stats, err := unpack.Unpack(dir, tr, opts)
	if err != nil {
		return stats, v1.Hash{}, err
	}
	// The tar reader stops at the end-of-archive marker; the diff ID
	// covers the padding after it too. Bound it like the content.
	limit := opts.MaxBytes
	if limit == 0 {
		limit = unpack.DefaultMaxBytes
	}
	n, err := io.Copy(h, io.LimitReader(zr, limit))
	if err != nil {
		return stats, v1.Hash{}, fmt.Errorf("decompress: %w", err)
	}
	if n == limit {
		return stats, v1.Hash{}, fmt.Errorf("%w: trailing data after the archive", unpack.ErrTooLarge)
	}
	return stats, digestOf(h), nil
}

func digestOf(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}
