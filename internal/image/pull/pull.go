// Package pull brings an image from a registry into the store: it
// resolves the reference (mirrors first, index to the wanted platform),
// then fetches every missing layer at once, each streamed through digest
// verification, decompression and untar straight into its layer
// directory, which becomes visible only after both its blob digest and
// its diff ID verified. It records the image last, so a pull killed at
// any moment leaves nothing visible, and the next pull redoes only the
// layers that never committed.
package pull

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/platform"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// Options tune a pull.
type Options struct {
	// Platform selects from an index; zero means the host's.
	Platform v1.Platform
	// Progress receives events; nil discards them.
	Progress progress.Sink
	// Unpack bounds each layer.
	Unpack unpack.Options
	// Parallel bounds concurrent layer downloads; 0 means all at once.
	Parallel int
}

// Result says what a pull did.
type Result struct {
	Image    store.Image
	Digest   v1.Hash // the digest the reference resolved to (index or manifest)
	UpToDate bool    // the image was already stored under this name
}

// Pull fetches ref into st through c.
func Pull(ctx context.Context, st *store.Store, c *registry.Client, ref reference.Reference, opts Options) (Result, error) {
	if opts.Platform.OS == "" {
		opts.Platform = platform.Host()
	}
	if opts.Progress == nil {
		opts.Progress = progress.Discard{}
	}
	st.SweepIfIdle()
	use, err := st.Use(ctx)
	if err != nil {
		return Result{}, err
	}
	defer use.Unlock()

	r, err := resolve(ctx, c, ref, opts.Platform)
	if err != nil {
		return Result{}, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	// Docker's message stream: the "id" of this line is the tag (or
	// digest) asked for, and clients print it as "latest: Pulling from ...".
	id := r.ref.Tag
	if id == "" {
		id = r.topDigest.String()
	}
	opts.Progress.Send(progress.Event{ID: id, Status: "Pulling from " + ref.Path})
	p := &puller{st: st, c: c, r: r, opts: opts}
	if err := p.layers(ctx); err != nil {
		return Result{}, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	img, upToDate, err := p.record(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("pull %s: %w", ref.Familiar(), err)
	}
	opts.Progress.Send(progress.Event{Status: "Digest: " + r.topDigest.String()})
	if upToDate {
		opts.Progress.Send(progress.Event{Status: "Status: Image is up to date for " + ref.Familiar()})
	} else {
		opts.Progress.Send(progress.Event{Status: "Status: Downloaded newer image for " + ref.Familiar()})
	}
	return Result{Image: img, Digest: r.topDigest, UpToDate: upToDate}, nil
}

// record stores the manifest, config and index blobs, then the image
// record: the last step, which makes the image visible.
func (p *puller) record(ctx context.Context) (store.Image, bool, error) {
	r := p.r
	blobs := []v1.Hash{r.manifestDigest, r.configDigest}
	for d, body := range r.blobs {
		if err := p.st.WriteBlob(d, body); err != nil {
			return store.Image{}, false, err
		}
		if d != r.manifestDigest && d != r.configDigest {
			blobs = append(blobs, d)
		}
	}
	var size int64
	for _, l := range r.manifest.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, c := range r.chains {
		if l, err := p.st.Layer(c); err == nil {
			size += l.Size
		}
	}
	img := store.Image{
		ID:          r.configDigest,
		Manifest:    r.manifestDigest,
		MediaType:   string(r.manifestType),
		RepoDigests: []string{r.ref.Repository() + "@" + r.topDigest.String()},
		Layers:      r.chains,
		Blobs:       blobs,
		Size:        size,
		Created:     r.config.Created.Time,
		Added:       time.Now().UTC(),
	}
	upToDate := false
	if r.ref.Tag != "" {
		tag := r.ref.Repository() + ":" + r.ref.Tag
		img.RepoTags = []string{tag}
		if old, err := p.st.Lookup(tag); err == nil && old.ID == img.ID {
			upToDate = true
		}
	}
	if _, err := p.st.PutImage(ctx, img); err != nil {
		return img, false, err
	}
	img, err := p.st.Lookup(img.ID.String())
	return img, upToDate, err
}
