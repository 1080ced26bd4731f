package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// Buffers between the stages of one layer. Four buffers let a stage run
// ahead while the next one works; 128 KiB amortises each hand-over (a
// channel operation, sometimes a wake-up) over many bytes while keeping
// the memory one layer touches to 1 MiB.
const (
	pipeBuffers = 4
	pipeBuffer  = 128 << 10
)

// stream is one layer's way from compressed bytes to an unpacked
// directory, in three stages on three goroutines:
//
//	read   source → blob writer (file + blob digest)        → raw pipe
//	inflate raw pipe → gzip/zstd                             → tar pipe
//	untar  tar pipe → diff-ID digest → unpack into the directory
//
// Decompression is the one stage that cannot be split, so it gets a core
// of its own; the digests, the blob write and the file writes run beside
// it instead of after it.
type stream struct {
	src  io.Reader
	blob io.Writer // nil: no blob (a local extract)
	dir  string
	opts unpack.Options
	diff bool // compute the diff ID

	kind    compress.Kind
	readErr error // the source's or the blob's failure; nil after a clean EOF
	zErr    error // the decompressor's failure
}

// run extracts the layer and returns what unpack wrote and the diff ID.
// It returns only after every stage's goroutine ended. When the untar
// stage stops early (a bad entry), the read stage still reads the source
// to its end so the blob digest says whether the bytes were the ones the
// manifest named.
func (s *stream) run() (unpack.Stats, diffSum, error) {
	var h hash.Hash
	var size int64
	seen := func(b []byte) { size += int64(len(b)) }
	if s.diff {
		h = sha256.New()
		seen = func(b []byte) { h.Write(b); size += int64(len(b)) }
	}
	raw := newPipe(pipeBuffers, pipeBuffer, nil)
	tarred := newPipe(pipeBuffers, pipeBuffer, seen)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.read(raw) }()
	go func() { defer wg.Done(); s.inflate(raw, tarred) }()
	stats, err := s.untar(tarred)
	tarred.closeRead()
	wg.Wait()
	switch {
	case s.readErr != nil:
		return stats, diffSum{}, s.readErr
	case s.zErr != nil:
		return stats, diffSum{}, fmt.Errorf("decompress: %w", s.zErr)
	case err != nil:
		return stats, diffSum{}, err
	}
	d := diffSum{size: size}
	if h != nil {
		d.hash = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	}
	return stats, d, nil
}

// read is the first stage: source → blob → raw pipe.
func (s *stream) read(raw *pipe) {
	err := raw.fill(func(b []byte) (int, error) {
		n, err := readFull(s.src, b)
		if n > 0 && s.blob != nil {
			if _, werr := s.blob.Write(b[:n]); werr != nil {
				return n, fmt.Errorf("write blob: %w", werr)
			}
		}
		return n, err
	}, true)
	if err != io.EOF {
		s.readErr = err
	}
}

// inflate is the second stage: raw pipe → decompressor → tar pipe.
func (s *stream) inflate(raw, tarred *pipe) {
	defer raw.closeRead()
	zr, kind, err := compress.Reader(raw)
	s.kind = kind
	if err != nil {
		s.zErr = err
		tarred.err = err
		close(tarred.full)
		return
	}
	defer zr.Close()
	// A failure of the source reaches here through the raw pipe too; run
	// reports the source's error first.
	if err := tarred.fill(func(b []byte) (int, error) { return readFull(zr, b) }, false); err != io.EOF && err != errStopped {
		s.zErr = err
	}
}

// untar is the third stage: tar pipe → unpack, then the padding after
// the archive, which the diff ID covers too, bounded like the content.
func (s *stream) untar(tarred *pipe) (unpack.Stats, error) {
	stats, err := unpack.Unpack(s.dir, tarred, s.opts)
	if err != nil {
		return stats, err
	}
	limit := s.opts.MaxBytes
	if limit == 0 {
		limit = unpack.DefaultMaxBytes
	}
	n, err := io.Copy(io.Discard, io.LimitReader(tarred, limit))
	if err != nil {
		return stats, fmt.Errorf("read after the archive: %w", err)
	}
	if n == limit {
		return stats, fmt.Errorf("%w: trailing data after the archive", unpack.ErrTooLarge)
	}
	return stats, nil
}
