package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Layer is the record of an unpacked layer.
type Layer struct {
	ChainID   v1.Hash `json:"chainID"`
	DiffID    v1.Hash `json:"diffID"`
	Parent    v1.Hash `json:"parent,omitzero"` // chain ID below, zero for a base layer
	Blob      v1.Hash `json:"blob,omitzero"`   // compressed blob it came from
	MediaType string  `json:"mediaType,omitempty"`
	Size      int64   `json:"size"`     // bytes of file content unpacked
	DiffSize  int64   `json:"diffSize"` // bytes of the uncompressed tar stream
}

// ChainID computes the chain ID of a layer with diff ID diff above the
// layer with chain ID parent (zero for a base layer), as the OCI image
// spec defines it: sha256 of "parent diff".
func ChainID(parent, diff v1.Hash) v1.Hash {
	if parent == (v1.Hash{}) {
		return diff
	}
	h, _, _ := v1.SHA256(bytesReader([]byte(parent.String() + " " + diff.String())))
	return h
}

// ChainIDs maps a config's diff IDs to chain IDs.
func ChainIDs(diffs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffs))
	var parent v1.Hash
	for i, d := range diffs {
		parent = ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// LayerDir is the unpacked content of the layer with the given chain ID,
// in overlayfs form: what snapshots use as a lowerdir.
func (s *Store) LayerDir(chain v1.Hash) string { return s.path("layers", chain.Hex, "diff") }

// HasLayer reports whether a layer is unpacked and committed.
func (s *Store) HasLayer(chain v1.Hash) bool {
	_, err := os.Stat(s.path("layers", chain.Hex, "layer.json"))
	return err == nil
}

// Layer reads a committed layer's record.
func (s *Store) Layer(chain v1.Hash) (Layer, error) {
	var l Layer
	err := readJSON(s.path("layers", chain.Hex, "layer.json"), &l)
	if errors.Is(err, os.ErrNotExist) {
		return l, fmt.Errorf("layer %s: %w", chain, ErrNotFound)
	}
	return l, err
}

// LayerIngest is a layer being unpacked: Dir is where the content goes.
// Nothing reads it until Commit renames it into layers/.
type LayerIngest struct {
	s    *Store
	tmp  string
	Dir  string
	done bool
}

// NewLayer starts a layer in ingest/.
func (s *Store) NewLayer() (*LayerIngest, error) {
	tmp := s.tempName("layer")
	dir := tmp + "/diff"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return &LayerIngest{s: s, tmp: tmp, Dir: dir}, nil
}

// Commit records l and makes the layer visible with one rename. If the
// layer appeared meanwhile (another store user committed it), ours is
// discarded: both are the same verified content.
func (li *LayerIngest) Commit(l Layer) error {
	b, err := json.Marshal(l)
	if err == nil {
		err = writeFile(li.tmp+"/layer.json", b, false)
	}
	if err != nil {
		li.Abort()
		return err
	}
	err = os.Rename(li.tmp, li.s.path("layers", l.ChainID.Hex))
	if err != nil && li.s.HasLayer(l.ChainID) {
		err = nil
	}
	li.done = err == nil
	li.Abort()
	if err != nil {
		return fmt.Errorf("commit layer %s: %w", l.ChainID, err)
	}
	return nil
}

// Abort discards an uncommitted layer; it is a no-op after Commit.
func (li *LayerIngest) Abort() {
	if !li.done {
		os.RemoveAll(li.tmp)
	}
}

// removeLayer deletes a layer: first renamed out of layers/ so it is
// never seen half-deleted.
func (s *Store) removeLayer(hex string) error {
	tmp := s.tempName("rm-layer")
	if err := os.Rename(s.path("layers", hex), tmp); err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}
