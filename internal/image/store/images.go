package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/reference"
)

// Image is the record of one stored image, keyed by its ID (the digest of
// its config, as Docker defines image IDs).
type Image struct {
	ID          v1.Hash   `json:"id"`
	Manifest    v1.Hash   `json:"manifest,omitzero"`
	MediaType   string    `json:"mediaType"`
	RepoTags    []string  `json:"repoTags,omitempty"`    // "docker.io/library/alpine:latest"
	RepoDigests []string  `json:"repoDigests,omitempty"` // "docker.io/library/alpine@sha256:..."
	Layers      []v1.Hash `json:"layers"`                // chain IDs, base first
	Blobs       []v1.Hash `json:"blobs"`                 // every blob the image needs kept
	Size        int64     `json:"size"`                  // unpacked bytes
	Created     time.Time `json:"created"`
	Added       time.Time `json:"added"`
}

type imageIndex struct {
	Images []Image `json:"images"`
}

func (s *Store) indexPath() string { return s.path("images.json") }

func (s *Store) readIndex() (imageIndex, error) {
	var ix imageIndex
	err := readIndexFile(s.indexPath(), &ix)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	return ix, err
}

// Images lists every stored image, newest first.
func (s *Store) Images() ([]Image, error) {
	ix, err := s.readIndex()
	sort.SliceStable(ix.Images, func(i, j int) bool { return ix.Images[i].Created.After(ix.Images[j].Created) })
	return ix.Images, err
}

// update runs fn on the image index under the index lock and saves it.
func (s *Store) update(ctx context.Context, fn func(*imageIndex) error) error {
	l, err := s.lockIndex(ctx)
	if err != nil {
		return err
	}
	defer l.Unlock()
	ix, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(&ix); err != nil {
		return err
	}
	return writeJSON(s.indexPath(), ix)
}

// PutImage records img, merging with an existing record of the same ID,
// and moves its tags from whichever images held them. It returns the IDs
// of images left without tags by the move (now dangling).
func (s *Store) PutImage(ctx context.Context, img Image) (dangling []v1.Hash, err error) {
	err = s.update(ctx, func(ix *imageIndex) error {
		for _, t := range img.RepoTags {
			if id := removeTag(ix, t); id != (v1.Hash{}) && id != img.ID {
				dangling = append(dangling, id)
			}
		}
		if i := find(ix, img.ID); i >= 0 {
			old := ix.Images[i]
			img.RepoTags = union(old.RepoTags, img.RepoTags)
			img.RepoDigests = union(old.RepoDigests, img.RepoDigests)
			img.Blobs = unionHash(old.Blobs, img.Blobs)
			ix.Images[i] = img
			return nil
		}
		ix.Images = append(ix.Images, img)
		return nil
	})
	return dangling, err
}

// Tag points tag (fully qualified) at image id.
func (s *Store) Tag(ctx context.Context, id v1.Hash, tag string) error {
	return s.update(ctx, func(ix *imageIndex) error {
		i := find(ix, id)
		if i < 0 {
			return fmt.Errorf("image %s: %w", id, ErrNotFound)
		}
		removeTag(ix, tag)
		ix.Images[i].RepoTags = union(ix.Images[i].RepoTags, []string{tag})
		return nil
	})
}

// Untag removes tag (fully qualified) and returns the image it named.
func (s *Store) Untag(ctx context.Context, tag string) (Image, error) {
	var img Image
	err := s.update(ctx, func(ix *imageIndex) error {
		for i := range ix.Images {
			if j := slices.Index(ix.Images[i].RepoTags, tag); j >= 0 {
				ix.Images[i].RepoTags = slices.Delete(ix.Images[i].RepoTags, j, j+1)
				img = ix.Images[i]
				return nil
			}
		}
		return fmt.Errorf("tag %s: %w", tag, ErrNotFound)
	})
	return img, err
}

// RemoveImage deletes the record of image id (its content goes at the
// next garbage collection). Unless force, it refuses an image a
// container holds.
func (s *Store) RemoveImage(ctx context.Context, id v1.Hash, force bool) error {
	return s.update(ctx, func(ix *imageIndex) error {
		i := find(ix, id)
		if i < 0 {
			return fmt.Errorf("image %s: %w", id, ErrNotFound)
		}
		if !force {
			holds, err := s.Holds()
			if err != nil {
				return err
			}
			for _, h := range holds {
				if h.Image == id {
					return fmt.Errorf("image %s is used by container %s: %w", short(id), h.ID, ErrInUse)
				}
			}
		}
		ix.Images = slices.Delete(ix.Images, i, i+1)
		return nil
	})
}

// Lookup finds the image that s names: a full or abbreviated image ID
// (at least 4 hex digits), "sha256:<id>", or a reference by tag or digest.
func (s *Store) Lookup(name string) (Image, error) {
	imgs, err := s.Images()
	if err != nil {
		return Image{}, err
	}
	if img, ok, err := lookupID(imgs, name); ok || err != nil {
		return img, err
	}
	ref, err := reference.Parse(name)
	if err != nil {
		return Image{}, fmt.Errorf("no such image: %s: %w", name, ErrNotFound)
	}
	for _, img := range imgs {
		if ref.Digest != "" && slices.Contains(img.RepoDigests, ref.Repository()+"@"+ref.Digest) {
			return img, nil
		}
		if ref.Digest == "" && slices.Contains(img.RepoTags, ref.String()) {
			return img, nil
		}
	}
	return Image{}, fmt.Errorf("no such image: %s: %w", name, ErrNotFound)
}

func lookupID(imgs []Image, name string) (Image, bool, error) {
	hexid := strings.TrimPrefix(name, "sha256:")
	if len(hexid) < 4 || len(hexid) > 64 || strings.Trim(hexid, "0123456789abcdef") != "" {
		return Image{}, false, nil
	}
	var found []Image
	for _, img := range imgs {
		if strings.HasPrefix(img.ID.Hex, hexid) {
			found = append(found, img)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], true, nil
	case len(found) > 1:
		return Image{}, true, fmt.Errorf("image ID prefix %s is ambiguous", hexid)
	}
	return Image{}, false, nil
}

func find(ix *imageIndex, id v1.Hash) int {
	return slices.IndexFunc(ix.Images, func(img Image) bool { return img.ID == id })
}

// removeTag drops tag from whichever image has it and returns that image's ID.
func removeTag(ix *imageIndex, tag string) v1.Hash {
	for i := range ix.Images {
		if j := slices.Index(ix.Images[i].RepoTags, tag); j >= 0 {
			ix.Images[i].RepoTags = slices.Delete(ix.Images[i].RepoTags, j, j+1)
			return ix.Images[i].ID
		}
	}
	return v1.Hash{}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func unionHash(a, b []v1.Hash) []v1.Hash {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func short(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.Hex
	}
	return h.Hex[:12]
}
