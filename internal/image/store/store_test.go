package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func digestOf(s string) v1.Hash {
	h, _, _ := v1.SHA256(strings.NewReader(s))
	return h
}

// layer commits a layer with one file, as pull would.
func layer(t *testing.T, s *Store, parent v1.Hash, content string) Layer {
	t.Helper()
	li, err := s.NewLayer()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(li.Dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	l := Layer{DiffID: digestOf(content), Parent: parent}
	l.ChainID = ChainID(parent, l.DiffID)
	if err := li.Commit(l); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestTagsMoveAndGC(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := layer(t, s, v1.Hash{}, "base")
	top := layer(t, s, base.ChainID, "top")
	other := layer(t, s, v1.Hash{}, "other")
	for _, b := range []string{"cfgA", "cfgB", "orphan"} {
		if err := s.WriteBlob(digestOf(b), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	a := Image{ID: digestOf("cfgA"), RepoTags: []string{"docker.io/library/x:1"}, Layers: []v1.Hash{base.ChainID, top.ChainID}, Blobs: []v1.Hash{digestOf("cfgA")}}
	b := Image{ID: digestOf("cfgB"), RepoTags: []string{"docker.io/library/x:1"}, Layers: []v1.Hash{other.ChainID}, Blobs: []v1.Hash{digestOf("cfgB")}}
	if _, err := s.PutImage(ctx, a); err != nil {
		t.Fatal(err)
	}
	dangling, err := s.PutImage(ctx, b)
	if err != nil || !cmp.Equal(dangling, []v1.Hash{a.ID}) {
		t.Fatalf("PutImage(b) dangling = %v, %v; want [a]", dangling, err)
	}
	if got, err := s.Lookup("x:1"); err != nil || got.ID != b.ID {
		t.Errorf("Lookup(x:1) = %v, %v; want b (the tag moved)", got.ID, err)
	}
	if got, err := s.Lookup(a.ID.Hex[:8]); err != nil || got.ID != a.ID {
		t.Errorf("Lookup(short id) = %v, %v", got.ID, err)
	}
	// A killed command's leftovers, and a hold that keeps a's base layer.
	if _, err := s.NewLayer(); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHold(ctx, Hold{ID: "c1", Image: a.ID, Layers: []v1.Hash{base.ChainID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveImage(ctx, a.ID, false); !errors.Is(err, ErrInUse) {
		t.Fatalf("RemoveImage(held) err = %v, want ErrInUse", err)
	}
	if err := s.RemoveImage(ctx, a.ID, true); err != nil {
		t.Fatal(err)
	}
	st, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Layers != 1 || st.Blobs != 2 {
		t.Errorf("GC removed %d layers, %d blobs; want 1 (a's top) and 2 (cfgA, orphan)", st.Layers, st.Blobs)
	}
	for _, c := range []struct {
		l    Layer
		want bool
	}{{base, true}, {top, false}, {other, true}} {
		if got := s.HasLayer(c.l.ChainID); got != c.want {
			t.Errorf("HasLayer(%s) = %v, want %v", c.l.DiffID, got, c.want)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root(), "ingest")); len(ents) != 0 {
		t.Errorf("ingest holds %d leftovers after GC", len(ents))
	}
}

func TestWriteBlobChecksDigest(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBlob(digestOf("a"), []byte("b")); err == nil {
		t.Fatal("WriteBlob with the wrong digest succeeded")
	}
	if s.HasBlob(digestOf("a")) {
		t.Error("a mismatched blob became visible")
	}
}
