// Package compress recognises and undoes a layer's compression (gzip,
// zstd or none) from the stream's first bytes, so a layer is read the
// same way whatever its media type claims, and bounds the memory a zstd
// frame may demand. It does not verify content or read tar.
package compress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Kind is a compression format.
type Kind string

// The formats layers come in.
const (
	None Kind = "none"
	Gzip Kind = "gzip"
	Zstd Kind = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// maxZstdMemory bounds what a zstd frame's declared window may make the
// decoder allocate: a hostile layer cannot ask for gigabytes.
const maxZstdMemory = 256 << 20

// Detect peeks at r's first bytes and names the compression.
func Detect(r *bufio.Reader) (Kind, error) {
	head, err := r.Peek(4)
	if err != nil && err != io.EOF {
		return None, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip, nil
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd, nil
	}
	return None, nil
}

// Reader returns the decompressed stream of r and the compression found.
// Close releases the decoder; it does not close r.
func Reader(r io.Reader) (io.ReadCloser, Kind, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	kind, err := Detect(br)
	if err != nil {
		return nil, kind, err
	}
	switch kind {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, kind, fmt.Errorf("gzip: %w", err)
		}
		return zr, kind, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderMaxMemory(maxZstdMemory), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, kind, fmt.Errorf("zstd: %w", err)
		}
		return zstdCloser{zr}, kind, nil
	}
	return io.NopCloser(br), kind, nil
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }
