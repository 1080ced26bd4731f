// Package push sends a stored image to a registry: blobs the registry
// already has are skipped, blobs another repository of the same registry
// holds are mounted across instead of uploaded, and the manifest goes
// last, byte for byte as stored so the digest does not change.
package push

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/stored"
)

// Push sends img to ref and returns the pushed manifest's digest.
func Push(ctx context.Context, st *store.Store, c *registry.Client, img store.Image, ref reference.Reference, sink progress.Sink) (v1.Hash, error) {
	if sink == nil {
		sink = progress.Discard{}
	}
	vimg, err := stored.Image(st, img)
	if err != nil {
		return v1.Hash{}, err
	}
	insecure := c.Config.IsInsecure(ref.RegistryHost())
	dst, err := ggcrName(ref, insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	tracked := &tracker{sink: sink, touched: map[string]bool{}, mounted: map[string]string{}}
	vimg, err = mountable(vimg, img, ref, insecure, tracked)
	if err != nil {
		return v1.Hash{}, err
	}
	rt := &mountWatch{rt: c.Transport(insecure), t: tracked}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(c.Keychain), remote.WithTransport(rt)}
	if err := remote.Write(dst, vimg, opts...); err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref.Familiar(), err)
	}
	tracked.finish()
	return img.Manifest, nil
}

// mountable wraps each layer so that reading it reports progress and, when
// the image came from another repository of the same registry, the
// registry is asked to mount the blob from there.
func mountable(vimg v1.Image, img store.Image, dst reference.Reference, insecure bool, t *tracker) (v1.Image, error) {
	var from name.Reference
	for _, rd := range img.RepoDigests {
		r, err := reference.Parse(rd)
		if err == nil && r.Domain == dst.Domain && r.Path != dst.Path {
			if n, err := ggcrName(r, insecure); err == nil {
				from = n
				break
			}
		}
	}
	layers, err := vimg.Layers()
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for _, l := range layers {
		var wrapped v1.Layer = &progressLayer{Layer: l, t: t}
		d, _ := l.Digest()
		t.add(d)
		if from != nil {
			wrapped = &remote.MountableLayer{Layer: wrapped, Reference: from}
		}
		adds = append(adds, mutate.Addendum{Layer: wrapped})
	}
	_ = adds
	// The manifest must stay byte-identical, so instead of rebuilding the
	// image we substitute layers by digest.
	return &substituted{Image: vimg, layers: adds}, nil
}

type substituted struct {
	v1.Image
	layers []mutate.Addendum
}

func (s *substituted) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(s.layers))
	for i, a := range s.layers {
		out[i] = a.Layer
	}
	return out, nil
}

func (s *substituted) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, a := range s.layers {
		if d, err := a.Layer.Digest(); err == nil && d == h {
			return a.Layer, nil
		}
	}
	return s.Image.LayerByDigest(h)
}

// tracker turns layer reads into per-layer events: a layer never read was
// mounted from another repository (the registry answered a mount request
// with 201) or was already in the registry.
type tracker struct {
	sink    progress.Sink
	mu      sync.Mutex
	order   []v1.Hash
	touched map[string]bool   // digest hex → uploaded
	mounted map[string]string // digest hex → repository mounted from
}

func (t *tracker) add(d v1.Hash) {
	t.order = append(t.order, d)
	t.sink.Send(progress.Event{ID: short(d), Status: progress.Preparing})
}

func (t *tracker) finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.order {
		switch from, mounted := t.mounted[d.Hex]; {
		case t.touched[d.Hex]:
			t.sink.Send(progress.Event{ID: short(d), Status: progress.Pushed})
		case mounted:
			t.sink.Send(progress.Event{ID: short(d), Status: progress.Mounted + " " + from})
		default:
			t.sink.Send(progress.Event{ID: short(d), Status: progress.LayerExists})
		}
	}
}

func short(d v1.Hash) string { return d.Hex[:12] }

type progressLayer struct {
	v1.Layer
	t *tracker
}

func (p *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := p.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, _ := p.Layer.Digest()
	size, _ := p.Layer.Size()
	p.t.mu.Lock()
	p.t.touched[d.Hex] = true
	p.t.mu.Unlock()
	return &countReader{rc: rc, id: short(d), total: size, sink: p.t.sink}, nil
}

type countReader struct {
	rc    io.ReadCloser
	id    string
	n     int64
	total int64
	sink  progress.Sink
	last  time.Time
	ended bool // the last event was sent
}

// progressEvery is the least time between two progress events of one
// upload; the last byte is always reported.
const progressEvery = 100 * time.Millisecond

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	end := c.n >= c.total || err != nil
	if now := time.Now(); (now.Sub(c.last) >= progressEvery && !end) || (end && !c.ended) {
		c.last, c.ended = now, end
		c.sink.Send(progress.Event{ID: c.id, Status: progress.Pushing, Current: c.n, Total: c.total})
	}
	return n, err
}

func (c *countReader) Close() error { return c.rc.Close() }

// mountWatch sees the registry's answers to cross-repository mount
// requests (POST .../blobs/uploads/?mount=DIGEST&from=REPO): 201 Created
// means the blob was mounted and will not be uploaded.
type mountWatch struct {
	rt http.RoundTripper
	t  *tracker
}

func (m *mountWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.rt.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || resp.StatusCode != http.StatusCreated {
		return resp, err
	}
	q := req.URL.Query()
	if d, err := v1.NewHash(q.Get("mount")); err == nil && q.Get("from") != "" {
		m.t.mu.Lock()
		m.t.mounted[d.Hex] = q.Get("from")
		m.t.mu.Unlock()
	}
	return resp, nil
}

// ggcrName converts r to go-containerregistry's form, which its remote
// package speaks. A digest wins over a tag. insecure allows plain HTTP.
func ggcrName(r reference.Reference, insecure bool) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo := r.RegistryHost() + "/" + r.Path
	if r.Digest != "" {
		return name.NewDigest(repo+"@"+r.Digest, opts...)
	}
	return name.NewTag(repo+":"+r.Tag, opts...)
}
