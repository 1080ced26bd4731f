package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobWriter streams a blob into ingest/ and stores it under its digest
// only when Commit finds the bytes match. It can resume: Offset says how
// much is already written.
type BlobWriter struct {
	s    *Store
	want v1.Hash
	f    *os.File
	bw   *bufio.Writer
	h    hash.Hash
	n    int64
}

// NewBlobWriter starts writing a blob expected to hash to want; a zero
// want stores the blob under whatever digest its content has.
func (s *Store) NewBlobWriter(want v1.Hash) (*BlobWriter, error) {
	if want != (v1.Hash{}) && (want.Algorithm != "sha256" || len(want.Hex) != 64) {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm", want)
	}
	f, err := os.OpenFile(s.tempName("blob"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &BlobWriter{s: s, want: want, f: f, bw: bufio.NewWriterSize(f, 256<<10), h: sha256.New()}, nil
}

// Write appends p to the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	n, err := w.bw.Write(p)
	w.n += int64(n)
	return n, err
}

// Offset is the number of bytes written so far.
func (w *BlobWriter) Offset() int64 { return w.n }

// Digest is the digest of what was written so far.
func (w *BlobWriter) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Commit verifies the digest and moves the blob into place. Without
// fsync: the blob is re-verifiable from its name, and the layer unpacked
// from it is what the image record needs first.
func (w *BlobWriter) Commit() error {
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if w.want == (v1.Hash{}) {
		w.want = w.Digest()
	}
	if got := w.Digest(); got != w.want {
		os.Remove(w.f.Name())
		return fmt.Errorf("%w: blob %s has digest %s", ErrDigestMismatch, w.want, got)
	}
	if err := os.Rename(w.f.Name(), w.s.BlobPath(w.want)); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	return nil
}

// Committed is the digest the blob was stored under (after Commit).
func (w *BlobWriter) Committed() v1.Hash { return w.want }

// Abort discards what was written.
func (w *BlobWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// ErrDigestMismatch is wrapped when content does not hash to the digest
// that named it.
var ErrDigestMismatch = errors.New("digest mismatch")
