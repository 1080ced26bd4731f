package store

import (
	"context"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GCStats says what a garbage collection removed.
type GCStats struct {
	Layers, Blobs int
	Bytes         int64 // blob bytes and layer content bytes reclaimed
}

// GC removes every layer and blob no image record or hold references,
// and whatever killed commands left in ingest/. It holds the store's use
// lock exclusively, so it waits for running pulls and they wait for it.
func (s *Store) GC(ctx context.Context) (GCStats, error) {
	var st GCStats
	l, err := s.exclusive(ctx)
	if err != nil {
		return st, err
	}
	defer l.Unlock()
	keepBlobs, keepLayers, err := s.referenced()
	if err != nil {
		return st, err
	}
	if err := s.sweepIngest(); err != nil {
		return st, err
	}
	layers, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return st, err
	}
	for _, e := range layers {
		if keepLayers[e.Name()] {
			continue
		}
		if rec, err := s.Layer(v1.Hash{Algorithm: "sha256", Hex: e.Name()}); err == nil {
			st.Bytes += rec.Size
		}
		if err := s.removeLayer(e.Name()); err != nil {
			return st, err
		}
		st.Layers++
	}
	blobs, err := os.ReadDir(s.path("blobs", "sha256"))
	if err != nil {
		return st, err
	}
	for _, e := range blobs {
		if keepBlobs[e.Name()] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			st.Bytes += fi.Size()
		}
		if err := os.Remove(s.path("blobs", "sha256", e.Name())); err != nil {
			return st, err
		}
		st.Blobs++
	}
	return st, nil
}

func (s *Store) referenced() (blobs, layers map[string]bool, err error) {
	blobs, layers = map[string]bool{}, map[string]bool{}
	imgs, err := s.Images()
	if err != nil {
		return nil, nil, err
	}
	for _, img := range imgs {
		for _, b := range img.Blobs {
			blobs[b.Hex] = true
		}
		for _, c := range img.Layers {
			layers[c.Hex] = true
		}
	}
	holds, err := s.Holds()
	if err != nil {
		return nil, nil, err
	}
	for _, h := range holds {
		for _, c := range h.Layers {
			layers[c.Hex] = true
		}
	}
	return blobs, layers, nil
}

// sweepIngest removes leftovers of killed commands. Only called with the
// use lock held exclusively: nobody is writing there.
func (s *Store) sweepIngest() error {
	ents, err := os.ReadDir(s.path("ingest"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.path("ingest"), e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// SweepIfIdle clears ingest/ when no other command is using the store,
// without waiting: pulls call it first so a killed pull's leftovers do
// not pile up between garbage collections.
func (s *Store) SweepIfIdle() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // try once, never wait
	l, err := s.exclusive(ctx)
	if err != nil {
		return
	}
	defer l.Unlock()
	s.sweepIngest()
}
