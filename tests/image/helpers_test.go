package image

import (
	"bytes"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

func imagetest_push(t *testing.T, ref string, img v1.Image) { imagetest.Push(t, ref, img) } //nolint:revive

func emptyIndex() v1.ImageIndex { return empty.Index }

func v1Digest(b []byte) string {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h.Hex[:16]
}
