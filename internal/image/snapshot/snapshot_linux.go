// Package snapshot prepares a container's root filesystem from an image:
// an overlayfs whose lower directories are the image's unpacked layers
// (shared, never written) and whose upper and work directories belong to
// the container. It also records a hold on the image so rmi and garbage
// collection leave it alone while the container exists.
//
// It prepares and mounts; it does not pick images or run containers.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/userns"
)

// Spec says how to mount one snapshot.
type Spec struct {
	ID    string
	Lower []string // layer directories, top first (overlayfs order)
	Upper string   // empty for a read-only view
	Work  string
	// Volatile mounts the overlay with overlayfs's volatile option: no
	// sync of the upper layer ever, not even the filesystem-wide one at
	// unmount (tens of milliseconds here). After a host crash such an
	// upper layer cannot be mounted again, so it is for snapshots that
	// die with their container (run --rm), as podman does.
	Volatile bool
}

// Options are the overlay mount options for Spec, as an OCI runtime
// spec's mounts carry them. Lower directories are named through short
// links so that images with many layers still fit the kernel's one-page
// limit on mount options; Mount does not need them to fit.
func (s Spec) Options() []string {
	opts := []string{"lowerdir=" + strings.Join(s.Lower, ":")}
	if s.Upper != "" {
		opts = append(opts, "upperdir="+s.Upper, "workdir="+s.Work)
		if s.Volatile {
			opts = append(opts, "volatile")
		}
	}
	if userns.Inside() {
		// A rootless engine's layers mark opaque directories with
		// user.overlay.opaque (package unpack); overlayfs keeps its own
		// metadata there too.
		opts = append(opts, "userxattr")
	}
	return opts
}

func dir(st *store.Store, id string) string { return filepath.Join(st.Root(), "snapshots", id) }

// Prepare makes (or finds, if it exists) the writable snapshot id of
// image imageID and holds the image for it.
func Prepare(ctx context.Context, st *store.Store, imageID v1.Hash, id string) (Spec, error) {
	return prepare(ctx, st, imageID, id, kindWritable)
}

// PrepareVolatile is Prepare for a snapshot that dies with its container
// (run --rm): the Spec is Volatile, and the hold is written without an
// fsync, since after a host crash neither the container nor its upper
// layer is kept.
func PrepareVolatile(ctx context.Context, st *store.Store, imageID v1.Hash, id string) (Spec, error) {
	return prepare(ctx, st, imageID, id, kindVolatile)
}

// View makes a read-only snapshot of image imageID, for inspecting its
// root filesystem; Remove it like any other.
func View(ctx context.Context, st *store.Store, imageID v1.Hash, id string) (Spec, error) {
	return prepare(ctx, st, imageID, id, kindView)
}

// kind is what prepare makes.
type kind int

const (
	kindWritable kind = iota
	kindVolatile
	kindView
)

func prepare(ctx context.Context, st *store.Store, imageID v1.Hash, id string, k kind) (Spec, error) {
	img, err := st.Lookup(imageID.String())
	if err != nil {
		return Spec{}, err
	}
	// Hold first: from here on, rmi refuses the image and GC keeps its
	// layers, so the layer directories below cannot vanish.
	if err := hold(ctx, st, id, img, k); err != nil {
		return Spec{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	s, err := build(st, img, id, k != kindView)
	if err != nil {
		st.RemoveHold(ctx, id)
		return Spec{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	s.Volatile = k == kindVolatile
	return s, nil
}

// hold records that id holds img, unless it already does: every start of
// a container prepares its snapshot again, and rewriting an unchanged
// hold cost an fsync (1 to 10 ms here) each time. An existing hold keeps
// rmi away from the image already, so it needs no lock to be trusted.
func hold(ctx context.Context, st *store.Store, id string, img store.Image, k kind) error {
	if h, err := st.HoldOf(id); err == nil && h.Image == img.ID && slices.Equal(h.Layers, img.Layers) {
		return nil
	}
	h := store.Hold{ID: id, Image: img.ID, Layers: img.Layers}
	if k == kindVolatile {
		return st.PutVolatileHold(ctx, h)
	}
	return st.PutHold(ctx, h)
}

func build(st *store.Store, img store.Image, id string, writable bool) (Spec, error) {
	d := dir(st, id)
	s := Spec{ID: id}
	if err := os.MkdirAll(d, 0o700); err != nil {
		return s, err
	}
	for i := len(img.Layers) - 1; i >= 0; i-- {
		if !st.HasLayer(img.Layers[i]) {
			return s, fmt.Errorf("layer %s: %w", img.Layers[i], store.ErrNotFound)
		}
		link, err := shortLink(st, img.Layers[i])
		if err != nil {
			return s, err
		}
		s.Lower = append(s.Lower, link)
	}
	// overlayfs needs two lower directories without an upper one, and
	// one at least with: an empty directory fills in for missing layers.
	if len(s.Lower) == 0 || (!writable && len(s.Lower) == 1) {
		empty := filepath.Join(d, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return s, err
		}
		s.Lower = append(s.Lower, empty)
	}
	if writable {
		s.Upper, s.Work = filepath.Join(d, "upper"), filepath.Join(d, "work")
		for _, p := range []string{s.Upper, s.Work} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// linkSeq tells apart the temporary links of one process.
var linkSeq atomic.Uint64

// shortLink is a short symlink to a layer directory: <root>/l/<16 hex>.
func shortLink(st *store.Store, chain v1.Hash) (string, error) {
	l := filepath.Join(st.Root(), "l", chain.Hex[:16])
	target := st.LayerDir(chain)
	if cur, err := os.Readlink(l); err == nil && cur == target {
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(l), 0o700); err != nil {
		return "", err
	}
	// The temporary name is this process's own: with one name per layer,
	// two creators at once removed and renamed each other's link (ENOENT
	// in TestConcurrentRuns). Both renames then replace l atomically with
	// the same target.
	tmp := l + ".tmp-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(linkSeq.Add(1), 10)
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return "", err
	}
	return l, os.Rename(tmp, l)
}

// Remove deletes snapshot id (which must be unmounted) and its hold.
func Remove(ctx context.Context, st *store.Store, id string) error {
	d := dir(st, id)
	if err := os.RemoveAll(d); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove snapshot %s: %w", id, err)
	}
	return st.RemoveHold(ctx, id)
}

// Usage is one snapshot's disk use, for system df.
type Usage struct {
	ID      string
	Size    int64 // bytes in its upper directory: what the container wrote
	Mounted bool  // an overlay with its upper directory is mounted here
}

// Usages reports every snapshot's disk use. Sizes come from lstat
// while walking the upper directory, which never follows a link the
// container made.
func Usages(st *store.Store) ([]Usage, error) {
	ents, err := os.ReadDir(filepath.Join(st.Root(), "snapshots"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	mounted, err := mountedUppers()
	if err != nil {
		return nil, err
	}
	var out []Usage
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		upper := filepath.Join(dir(st, e.Name()), "upper")
		u := Usage{ID: e.Name(), Mounted: mounted[upper]}
		filepath.WalkDir(upper, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					u.Size += fi.Size()
				}
			}
			return nil
		})
		out = append(out, u)
	}
	return out, nil
}

// mountedUppers lists the upper directories of the overlay mounts this
// process can see.
func mountedUppers() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		_, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(post); !ok || len(f) < 3 || f[0] != "overlay" {
			continue
		}
		for _, o := range strings.Split(strings.Fields(post)[2], ",") {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				out[v] = true
			}
		}
	}
	return out, nil
}
