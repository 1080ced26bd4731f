// Package store is pelagos's image store on disk: content-addressed blobs
// (manifests, configs, compressed layers), unpacked layers keyed by chain
// ID, the image records with their tags and digests, and the holds that
// containers place on images. Every write is atomic (temp file or
// directory, fsync, rename) and every multi-step change runs under a file
// lock, so concurrent commands and a command killed at any moment leave a
// consistent store.
//
// It stores and finds; it does not talk to registries or parse tar.
//
// Layout under the root:
//
//	blobs/sha256/<hex>         blobs, named by their digest
//	layers/<chain-hex>/diff/   an unpacked layer (overlayfs form)
//	layers/<chain-hex>/layer.json
//	ingest/                    in-flight blobs and layers; never read
//	images.json                image records
//	holds/<id>.json            images and layers a container uses
//	locks/                     flock files
package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrInUse    = errors.New("in use")
)

// Store is an image store rooted at one directory.
type Store struct {
	root string
}

// Open opens (creating if needed) the store at root.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, d := range []string{"blobs/sha256", "layers", "ingest", "holds", "locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("open image store: %w", err)
		}
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) path(p ...string) string {
	return filepath.Join(append([]string{s.root}, p...)...)
}

// BlobPath is where blob d lives (whether or not it is there).
func (s *Store) BlobPath(d v1.Hash) string { return s.path("blobs", d.Algorithm, d.Hex) }

// HasBlob reports whether blob d is stored.
func (s *Store) HasBlob(d v1.Hash) bool {
	_, err := os.Stat(s.BlobPath(d))
	return err == nil
}

// ReadBlob returns a stored blob's bytes (for manifests and configs).
func (s *Store) ReadBlob(d v1.Hash) ([]byte, error) {
	b, err := os.ReadFile(s.BlobPath(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return b, err
}

// OpenBlob opens a stored blob for reading.
func (s *Store) OpenBlob(d v1.Hash) (*os.File, error) {
	f, err := os.Open(s.BlobPath(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return f, err
}

// WriteBlob stores b after checking that it hashes to d.
func (s *Store) WriteBlob(d v1.Hash, b []byte) error {
	got, _, err := v1.SHA256(bytesReader(b))
	if err != nil {
		return err
	}
	if got != d {
		return fmt.Errorf("blob %s: content has digest %s", d, got)
	}
	if s.HasBlob(d) {
		return nil
	}
	return writeFile(s.BlobPath(d), b, false)
}

// tempName is a fresh name for something in ingest/.
func (s *Store) tempName(prefix string) string {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return s.path("ingest", prefix+"-"+hex.EncodeToString(r[:]))
}

// writeFile writes b to p through a temp file in the same directory,
// fsynced before the rename when sync is set, so readers see the old or
// the new content. Content that is verified by its digest on use, or
// that sits in a directory renamed into place afterwards (layer.json),
// skips the fsync: on ext4 an fsync while a pull has hundreds of
// megabytes of unpacked files dirty forces all of them to disk at once
// and stalls the pull.
func writeFile(p string, b []byte, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

func writeJSON(p string, v any) error { return writeJSONFile(p, v, true) }

// writeJSONFile is writeJSON with the fsync optional (see writeFile).
func writeJSONFile(p string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(p, append(b, '\n'), sync)
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// TempDir makes a fresh directory in ingest/ for a command's scratch
// work; the caller removes it (garbage collection sweeps what a killed
// command left).
func (s *Store) TempDir(prefix string) (string, error) {
	p := s.tempName(prefix)
	return p, os.Mkdir(p, 0o700)
}
