package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Hold records that a container uses an image and its layers: rmi
// refuses the image and garbage collection keeps the layers while it
// exists.
type Hold struct {
	ID     string    `json:"id"` // the holder, e.g. a container ID
	Image  v1.Hash   `json:"image"`
	Layers []v1.Hash `json:"layers"`
}

func validHoldID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return fmt.Errorf("invalid holder id %q", id)
	}
	return nil
}

// PutHold records h, replacing any hold with the same ID. It fails if
// the image is gone, under the same lock rmi takes, so an image cannot
// be removed between a container choosing it and holding it.
func (s *Store) PutHold(ctx context.Context, h Hold) error { return s.putHold(ctx, h, true) }

// PutVolatileHold is PutHold for a holder that does not outlive a host
// crash (a container run with --rm, whose overlay is volatile): the hold
// is written without an fsync (1 to 10 ms here), so a crash may lose it
// together with its holder.
func (s *Store) PutVolatileHold(ctx context.Context, h Hold) error { return s.putHold(ctx, h, false) }

func (s *Store) putHold(ctx context.Context, h Hold, durable bool) error {
	if err := validHoldID(h.ID); err != nil {
		return err
	}
	l, err := s.lockIndex(ctx)
	if err != nil {
		return err
	}
	defer l.Unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if find(&ix, h.Image) < 0 {
		return fmt.Errorf("image %s: %w", h.Image, ErrNotFound)
	}
	return writeFile(s.path("holds", h.ID+".json"), marshalHold(&h), durable)
}

// HoldOf returns the hold with the given ID, or an error wrapping
// ErrNotFound.
func (s *Store) HoldOf(id string) (Hold, error) {
	if err := validHoldID(id); err != nil {
		return Hold{}, err
	}
	var h Hold
	err := readHoldFile(s.path("holds", id+".json"), &h)
	if errors.Is(err, os.ErrNotExist) {
		err = fmt.Errorf("hold %s: %w", id, ErrNotFound)
	}
	return h, err
}

// RemoveHold drops the hold with the given ID; a missing one is no error.
func (s *Store) RemoveHold(ctx context.Context, id string) error {
	if err := validHoldID(id); err != nil {
		return err
	}
	l, err := s.lockIndex(ctx)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if err := os.Remove(s.path("holds", id+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Holds lists every hold.
func (s *Store) Holds() ([]Hold, error) {
	ents, err := os.ReadDir(s.path("holds"))
	if err != nil {
		return nil, err
	}
	var out []Hold
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var h Hold
		if err := readHoldFile(s.path("holds", e.Name()), &h); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// HoldersOf lists the holders of image id.
func (s *Store) HoldersOf(id v1.Hash) ([]string, error) {
	holds, err := s.Holds()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range holds {
		if h.Image == id {
			out = append(out, h.ID)
		}
	}
	return out, nil
}
