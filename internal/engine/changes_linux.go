package engine

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/engine/fsarchive"
	"github.com/pelagos-go/pelagos/internal/image/snapshot"
)

// Change kinds, as docker diff prints them.
const (
	Changed = "C"
	Added   = "A"
	Deleted = "D"
)

// Change is one path of a container's filesystem that differs from its
// image.
type Change struct {
	Kind string
	Path string
}

// engineMade are the paths the engine (not the container) creates in a
// rootfs as mount points; docker keeps them in an init layer, out of
// diff and commit.
var engineMade = []string{"/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// isEngineMade reports whether p (absolute) is or is beneath one of
// engineMade.
func isEngineMade(p string) bool {
	for _, m := range engineMade {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// upperDir is c's overlay upper directory: what the container wrote.
func (e *Engine) upperDir(c *Container) (string, error) {
	st, err := e.Images()
	if err != nil {
		return "", err
	}
	return filepath.Join(st.Root(), "snapshots", c.ID, "upper"), nil
}

// Diff lists what container ref changed in its image's filesystem, sorted
// by path: added and changed files from its overlay's upper directory,
// whiteouts as deletions. A directory is reported changed when something
// beneath it is.
func (e *Engine) Diff(ctx context.Context, ref string) ([]Change, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	upper, err := e.upperDir(c)
	if err != nil {
		return nil, err
	}
	lower, err := e.mountLower(ctx, c)
	if err != nil {
		return nil, err
	}
	defer lower.Close()
	var out []Change
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == upper {
				return filepath.SkipAll // never started: no changes
			}
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, upper), "/")
		if rel == "/" {
			return nil
		}
		if isEngineMade(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		kind := Added
		if d.Type()&fs.ModeCharDevice != 0 && isWhiteout(p) {
			kind = Deleted
		} else if inLower(lower, rel) {
			kind = Changed
		}
		out = append(out, Change{Kind: kind, Path: rel})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pruneDirs(out), nil
}

// pruneDirs sorts cs and drops the directories that hold an engine-made
// mount point and nothing reported: copied up ("changed") or made (added,
// in an image without it) for the mount point only, which docker's init
// layer keeps out of its diff.
func pruneDirs(cs []Change) []Change {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Path < cs[j].Path })
	var out []Change
	for i, c := range cs {
		below := i+1 < len(cs) && strings.HasPrefix(cs[i+1].Path, c.Path+"/")
		if (c.Kind == Changed || c.Kind == Added) && !below && holdsEngineMade(c.Path) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// mountPointDirs lists the directories of the upper directory that hold
// engine-made mount points and nothing else: made or copied up for them
// only, which docker's init layer keeps out of a commit. An opaque one is
// the container's doing and stays.
func mountPointDirs(upper string) map[string]bool {
	out := map[string]bool{}
	for _, m := range engineMade {
		dir := path.Dir(m)
		if dir == "/" || out[dir] {
			continue
		}
		p := filepath.Join(upper, dir)
		ents, err := os.ReadDir(p)
		if err != nil || fsarchive.IsOpaque(p) {
			continue
		}
		only := true
		for _, e := range ents {
			if !isEngineMade(path.Join(dir, e.Name())) {
				only = false
				break
			}
		}
		out[dir] = only
	}
	return out
}

func holdsEngineMade(dir string) bool {
	for _, m := range engineMade {
		if path.Dir(m) == dir {
			return true
		}
	}
	return false
}

// isWhiteout reports whether p (a host path in the upper directory) is an
// overlayfs whiteout: a 0/0 character device.
func isWhiteout(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// inLower reports whether rel exists in the image's layers (its last
// component not followed).
func inLower(lower *os.File, rel string) bool {
	_, err := fsarchive.Lstat(lower, rel, false)
	return err == nil
}

// mountLower mounts c's image layers read-only, detached: the filesystem
// the container started from.
func (e *Engine) mountLower(ctx context.Context, c *Container) (*os.File, error) {
	sp, err := e.snapshotOf(ctx, c)
	if err != nil {
		return nil, err
	}
	view := snapshot.Spec{ID: c.ID, Lower: sp.Lower}
	if len(view.Lower) == 1 {
		// overlayfs needs two lower directories without an upper one.
		empty := filepath.Join(c.dir, "lower-empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		view.Lower = append(view.Lower, empty)
	}
	return snapshot.MountDetached(view)
}

// Export writes container ref's filesystem (its overlay, not its volumes)
// to w as a tar stream.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	fs, err := e.OpenRootfs(ctx, ref)
	if err != nil {
		return err
	}
	defer fs.Close()
	tw := fsarchive.NewWriter(w)
	tw.MapIDs = fs.Container.ContainerIDs()
	if err := tw.Add(fs.Root, "/", "", false); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if c, err := e.Get(ctx, ref); err == nil {
		e.event(c, "export", nil)
	}
	return nil
}

// writeUpperLayer writes c's upper directory to w as an OCI layer tar:
// whiteouts as .wh. files, engine-made mount points left out.
func (e *Engine) writeUpperLayer(c *Container, w io.Writer) error {
	upper, err := e.upperDir(c)
	if err != nil {
		return err
	}
	root, err := os.OpenFile(upper, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	tw := fsarchive.NewWriter(w)
	tw.Overlay = true
	tw.MapIDs = c.ContainerIDs()
	mountOnly := mountPointDirs(upper)
	tw.Skip = func(name string) bool { return isEngineMade("/"+name) || mountOnly["/"+name] }
	if err := tw.Add(root, "/", "", false); err != nil {
		return err
	}
	return tw.Close()
}
