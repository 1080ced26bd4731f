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
	"crypto/sha256"
	"encoding/hex"
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
	stats, diff, kind, uerr := unpackStream(io.TeeReader(r, bw), li.Dir, opts)
	// Read whatever the decompressor did not need (normally nothing) so
	// the blob digest covers the whole blob. After a failed unpack this
	// also tells a corrupt download (wrong digest: the registry's fault)
	// from a well-delivered bad layer.
	if _, err := io.Copy(bw, r); err != nil {
		if uerr != nil {
			return Result{}, uerr
		}
		return Result{}, err
	}
	wrongDigest := want.Digest != (v1.Hash{}) && bw.Digest() != want.Digest
	if uerr != nil {
		if wrongDigest && (want.Size == 0 || bw.Offset() == want.Size) {
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

// unpackStream decompresses r and untars it into dir, returning the diff
// ID: the digest of the whole uncompressed stream, trailing padding
// included.
func unpackStream(r io.Reader, dir string, opts unpack.Options) (unpack.Stats, diffSum, compress.Kind, error) {
	zr, kind, err := compress.Reader(r)
	if err != nil {
		return unpack.Stats{}, diffSum{}, kind, err
	}
	defer zr.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(zr, h)}
	stats, err := unpack.Unpack(dir, cr, opts)
	if err != nil {
		return stats, diffSum{}, kind, err
	}
	// The tar reader stops at the end-of-archive marker; the diff ID
	// covers the padding after it too. Bound it like the content.
	limit := opts.MaxBytes
	if limit == 0 {
		limit = unpack.DefaultMaxBytes
	}
	n, err := io.Copy(io.Discard, io.LimitReader(cr, limit))
	if err != nil {
		return stats, diffSum{}, kind, fmt.Errorf("decompress: %w", err)
	}
	if n == limit {
		return stats, diffSum{}, kind, fmt.Errorf("%w: trailing data after the archive", unpack.ErrTooLarge)
	}
	return stats, diffSum{hash: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, size: cr.n}, kind, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
