package imagetest

import (
	"bytes"
	"io"
	"log"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// uncompressed is a layer whose blob is the plain tar.
type uncompressed struct{ b []byte }

func (u uncompressed) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(u.b))
	return h, err
}
func (u uncompressed) DiffID() (v1.Hash, error) { return u.Digest() }
func (u uncompressed) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(u.b)), nil
}
func (u uncompressed) Uncompressed() (io.ReadCloser, error) { return u.Compressed() }
func (u uncompressed) Size() (int64, error)                 { return int64(len(u.b)), nil }
func (u uncompressed) MediaType() (types.MediaType, error) {
	return types.OCIUncompressedLayer, nil
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
