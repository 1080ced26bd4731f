// Package ingest turns one layer blob, read from any stream (a registry
// response, an archive member, a rootfs tarball), into a stored blob and
// an unpacked layer: bytes → blob file and digest → decompress → diff ID
// hash → untar into an ingest directory. The blob and the layer are
// committed only after the digests the caller expects match; with none
// expected (an import) they are taken from the content.
//
// It does not fetch or lock: callers hold the layer lock and supply the
// stream.
package ingest

import (
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// Want is what the caller knows about a layer; zero fields are unknown.
type Want struct {
	Digest    v1.Hash // the blob's digest
	Size      int64   // the blob's size; 0: read to EOF
	DiffID    v1.Hash // the uncompressed tar's digest
	Parent    v1.Hash // chain ID of the layer below; zero for a base layer
	MediaType string
}

// Result describes a committed layer.
type Result struct {
	Layer store.Layer
	Blob  v1.Hash
	Kind  compress.Kind
}

// Layer reads r to the end (or Want.Size bytes) and commits the blob and
// the layer. Nothing is visible unless it returns nil.
func Layer(st *store.Store, r io.Reader, want Want, opts unpack.Options) (Result, error) {
	li, err := st.NewLayer()
	if err != nil {
		return Result{}, err
	}
	defer li.Abort()
	bw, err := st.NewBlobWriter(want.Digest)
	if err != nil {
		return Result{}, err
	}
	committed := false
	defer func() {
		if !committed {
			bw.Abort()
		}
	}()
	if want.Size > 0 {
		r = io.LimitReader(r, want.Size)
	}
	// The stream reads the source to its end even when unpacking fails,
	// so that a corrupt download (wrong digest: the registry's fault) is
	// told from a well-delivered bad layer.
	s := &stream{src: r, blob: bw, dir: li.Dir, opts: opts, diff: true}
	stats, diff, uerr := s.run()
	kind := s.kind
	wrongDigest := want.Digest != (v1.Hash{}) && bw.Digest() != want.Digest
	if uerr != nil {
		if s.readErr == nil && wrongDigest && (want.Size == 0 || bw.Offset() == want.Size) {
			return Result{}, fmt.Errorf("%w: content is %s", store.ErrDigestMismatch, bw.Digest())
		}
		return Result{}, uerr
	}
	if want.Size > 0 && bw.Offset() != want.Size {
		return Result{}, fmt.Errorf("blob is %d bytes, manifest says %d", bw.Offset(), want.Size)
	}
	if wrongDigest {
		return Result{}, fmt.Errorf("%w: content is %s", store.ErrDigestMismatch, bw.Digest())
	}
	if want.DiffID != (v1.Hash{}) && diff.hash != want.DiffID {
		return Result{}, fmt.Errorf("%w: diff ID is %s, config says %s", store.ErrDigestMismatch, diff.hash, want.DiffID)
	}
	if err := bw.Commit(); err != nil {
		return Result{}, err
	}
	committed = true
	rec := store.Layer{
		ChainID: store.ChainID(want.Parent, diff.hash), DiffID: diff.hash, Parent: want.Parent,
		Blob: bw.Committed(), MediaType: want.MediaType, Size: stats.Bytes, DiffSize: diff.size,
	}
	if st.HasLayer(rec.ChainID) {
		return Result{Layer: rec, Blob: rec.Blob, Kind: kind}, nil
	}
	return Result{Layer: rec, Blob: rec.Blob, Kind: kind}, li.Commit(rec)
}

type diffSum struct {
	hash v1.Hash
	size int64
}

// Extract decompresses the layer blob r and untars it into dir, an empty
// directory, through the same stages a pull uses but with no blob and no
// diff ID: what a local extract costs, the yardstick the pull benchmark
// measures pulls against.
func Extract(r io.Reader, dir string, opts unpack.Options) (unpack.Stats, error) {
	s := &stream{src: r, dir: dir, opts: opts}
	stats, _, err := s.run()
	return stats, err
}
