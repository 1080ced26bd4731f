package store

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/jsondec"
	"github.com/pelagos-go/pelagos/internal/jsonenc"
)

// The image index is read by every command that resolves an image
// (create, run), and a hold is written by every container: both are
// coded by hand here, with encoding/json's results, so that a short-lived
// process pays no encoding/json first-use cost for them (see packages
// jsondec and jsonenc). Tests hold them to encoding/json. The index is
// still written with encoding/json (pull, import, tag: not on a
// container's path).

// readIndexFile decodes the image index at p as readJSON would.
func readIndexFile(p string, ix *imageIndex) error {
	return readWith(p, func(b []byte) error { return unmarshalIndex(b, ix) })
}

// readHoldFile decodes the hold at p as readJSON would.
func readHoldFile(p string, h *Hold) error {
	return readWith(p, func(b []byte) error { return unmarshalHold(b, h) })
}

// readWith is readJSON with another decoder.
func readWith(p string, unmarshal func([]byte) error) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := unmarshal(b); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// unmarshalIndex decodes an image index as json.Unmarshal would.
func unmarshalIndex(b []byte, ix *imageIndex) error {
	return unmarshalWith(b, func(d *jsondec.Decoder) error {
		return d.Fields("imageIndex", func(k string) (bool, error) {
			if k != "images" {
				return false, nil
			}
			return true, jsondec.Slice(d, &ix.Images, decodeImage)
		})
	})
}

// unmarshalHold decodes a hold as json.Unmarshal would.
func unmarshalHold(b []byte, h *Hold) error {
	return unmarshalWith(b, func(d *jsondec.Decoder) error { return decodeHold(d, h) })
}

// unmarshalWith runs decode on b; input that is no JSON value gets
// json.Unmarshal's error.
func unmarshalWith(b []byte, decode func(*jsondec.Decoder) error) error {
	d, err := jsondec.NewValue(b)
	if err != nil {
		return err
	}
	return decode(d)
}

func decodeImage(d *jsondec.Decoder, img *Image) error {
	return d.Fields("Image", func(k string) (bool, error) {
		switch k {
		case "id":
			return true, decodeHash(d, &img.ID)
		case "manifest":
			return true, decodeHash(d, &img.Manifest)
		case "mediatype":
			return true, jsondec.String(d, &img.MediaType)
		case "repotags":
			return true, jsondec.Slice(d, &img.RepoTags, jsondec.String)
		case "repodigests":
			return true, jsondec.Slice(d, &img.RepoDigests, jsondec.String)
		case "layers":
			return true, jsondec.Slice(d, &img.Layers, decodeHash)
		case "blobs":
			return true, jsondec.Slice(d, &img.Blobs, decodeHash)
		case "size":
			return true, jsondec.Int(d, &img.Size)
		case "created":
			return true, jsondec.Time(d, &img.Created)
		case "added":
			return true, jsondec.Time(d, &img.Added)
		}
		return false, nil
	})
}

func decodeHold(d *jsondec.Decoder, h *Hold) error {
	return d.Fields("Hold", func(k string) (bool, error) {
		switch k {
		case "id":
			return true, jsondec.String(d, &h.ID)
		case "image":
			return true, decodeHash(d, &h.Image)
		case "layers":
			return true, jsondec.Slice(d, &h.Layers, decodeHash)
		}
		return false, nil
	})
}

// decodeHash stores a digest as v1.Hash's UnmarshalJSON would (which
// encoding/json calls, with null too): a string that parses as a hash;
// anything else, null included, is an error.
func decodeHash(d *jsondec.Decoder, h *v1.Hash) error {
	var s string
	if err := jsondec.String(d, &s); err != nil {
		return err
	}
	return h.UnmarshalText([]byte(s))
}

// marshalHold encodes h as json.MarshalIndent(h, "", "  ") does, with
// writeJSONFile's final newline.
func marshalHold(h *Hold) []byte {
	b := jsonenc.String(append(make([]byte, 0, 256), "{\n  \"id\": "...), h.ID)
	b = jsonenc.String(append(b, ",\n  \"image\": "...), h.Image.String())
	b = append(b, ",\n  \"layers\": "...)
	switch {
	case h.Layers == nil:
		b = append(b, "null"...)
	case len(h.Layers) == 0:
		b = append(b, "[]"...)
	default:
		for i, l := range h.Layers {
			if i == 0 {
				b = append(b, "[\n    "...)
			} else {
				b = append(b, ",\n    "...)
			}
			b = jsonenc.String(b, l.String())
		}
		b = append(b, "\n  ]"...)
	}
	return append(b, "\n}\n"...)
}
