package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/engine/fsarchive"
	"github.com/pelagos-go/pelagos/internal/image/progress"
)

// cpOptions are cp's flags.
type cpOptions struct {
	archive, follow, quiet bool
}

func newCpCmd(g *globals) *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  pelagos cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem.\n\n" +
			"Use '-' as the source to read a tar archive from stdin and extract it to a\n" +
			"directory destination in a container. Use '-' as the destination to stream\n" +
			"a tar archive of a container source to stdout.",
		Args: cobra.ExactArgs(2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			return runCp(ctx, g, e, args[0], args[1], o)
		}),
	}
	cmd.Flags().BoolVarP(&o.archive, "archive", "a", false, "archive mode (copy all uid/gid information)")
	cmd.Flags().BoolVarP(&o.follow, "follow-link", "L", false, "always follow symbol link in SRC_PATH")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "suppress progress output during copy")
	return cmd
}

// splitCpArg splits CONTAINER:PATH as docker does: an absolute path, or
// one whose part before the first colon holds a slash, is local.
func splitCpArg(arg string) (ctr, p string) {
	if filepath.IsAbs(arg) {
		return "", arg
	}
	c, rest, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(c, "/") {
		return "", arg
	}
	return c, rest
}

func runCp(ctx context.Context, g *globals, e *engine.Engine, src, dst string, o cpOptions) error {
	sc, sp := splitCpArg(src)
	dc, dp := splitCpArg(dst)
	switch {
	case sc != "" && dc != "":
		return withStatus(125, errors.New("copying between containers is not supported"))
	case sc == "" && dc == "":
		return withStatus(125, errors.New("must specify at least one container source"))
	case sc != "" && sp == "" || dc != "" && dp == "":
		return withStatus(125, errors.New("filesystem path cannot be empty"))
	}
	var n int64
	var err error
	ref, action := sc, "archive-path" // docker's events for cp out and in
	if sc != "" {
		n, err = copyFrom(ctx, g, e, sc, sp, dst, o)
	} else {
		ref, action = dc, "extract-to-dir"
		n, err = copyTo(ctx, g, e, src, dc, dp, o)
	}
	if c, gerr := e.Get(ctx, ref); err == nil && gerr == nil {
		e.EventFor(c, action, nil)
	}
	if err == nil && dst != "-" && !o.quiet {
		fmt.Fprintf(g.err, "Successfully copied %s to %s\n", progress.HumanSize(n), dst)
	}
	return err
}

// cpSource is what is being copied: its base name, whether it is a
// directory, and whether only its contents go (a trailing "/.").
type cpSource struct {
	base         string
	dir          bool
	contentsOnly bool
}

func newCpSource(p string, dir bool) (cpSource, error) {
	s := cpSource{base: path.Base(path.Clean("/" + p)), dir: dir}
	if s.base == "/" {
		s.base = "."
	}
	if dir && (strings.HasSuffix(p, "/.") || p == ".") {
		s.contentsOnly = true
	}
	if !dir && (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")) {
		return s, fmt.Errorf("%s: not a directory", p)
	}
	return s, nil
}

// cpTarget is where and under which name the source lands: in dir, as
// name ("" for a directory's contents), per docker's rules.
type cpTarget struct {
	dir, name string
}

// resolveTarget applies docker's rules: into an existing directory under
// the source's name (or its contents with "/."); onto an existing file;
// to a new path whose parent exists.
func resolveTarget(s cpSource, dst string, exists, isDir bool) (cpTarget, error) {
	switch {
	case exists && isDir:
		if s.contentsOnly {
			return cpTarget{dir: dst}, nil
		}
		return cpTarget{dir: dst, name: s.base}, nil
	case exists && s.dir:
		return cpTarget{}, fmt.Errorf("cannot copy a directory to a file: %s", dst)
	case !exists && !s.dir && strings.HasSuffix(dst, "/"):
		return cpTarget{}, fmt.Errorf("destination directory %s must exist: no such directory", dst)
	}
	clean := path.Clean(dst)
	return cpTarget{dir: path.Dir(clean), name: path.Base(clean)}, nil
}

// copyFrom copies ctr:p to the host path dst, or to stdout as a tar.
func copyFrom(ctx context.Context, g *globals, e *engine.Engine, ctr, p, dst string, o cpOptions) (int64, error) {
	fs, err := e.OpenFS(ctx, ctr)
	if err != nil {
		return 0, err
	}
	defer fs.Close()
	st, err := fsarchive.Lstat(fs.Root, p, o.follow)
	if fsarchive.IsNotExist(err) {
		return 0, dockerError(fmt.Sprintf("Could not find the file %s in container %s", p, ctr))
	}
	if err != nil {
		return 0, err
	}
	s, err := newCpSource(p, st.IsDir)
	if err != nil {
		return 0, err
	}
	if dst == "-" {
		as := s.base
		if s.contentsOnly {
			as = ""
		}
		w := fsarchive.NewWriter(g.out)
		w.MapIDs = fs.Container.ContainerIDs()
		if err := w.Add(fs.Root, p, as, o.follow); err != nil {
			return w.Bytes, err
		}
		return w.Bytes, w.Close()
	}
	fi, err := os.Stat(dst)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	t, err := resolveTarget(s, dst, err == nil, err == nil && fi.IsDir())
	if err != nil {
		return 0, err
	}
	root, err := os.OpenFile(t.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("destination directory %s: %w", t.dir, err)
	}
	defer root.Close()
	owner := &fsarchive.Owner{UID: os.Getuid(), GID: os.Getgid()}
	if o.archive {
		owner = nil
	}
	return pipeTreeIn(tree{fs.Root, p, t.name, o.follow, fs.Container.ContainerIDs()}, root, "/", fsarchive.ExtractOptions{Owner: owner})
}

// copyTo copies the host path src (or a tar on stdin) to ctr:p.
func copyTo(ctx context.Context, g *globals, e *engine.Engine, src, ctr, p string, o cpOptions) (int64, error) {
	fs, err := e.OpenFS(ctx, ctr)
	if err != nil {
		return 0, err
	}
	defer fs.Close()
	if fs.Container.HostConfig.ReadonlyRootfs {
		return 0, errors.New("container rootfs is marked read-only")
	}
	owner := &fsarchive.Owner{}
	if o.archive {
		owner = nil
	}
	dst, err := fsarchive.Lstat(fs.Root, p, true)
	exists := err == nil
	if err != nil && !fsarchive.IsNotExist(err) {
		return 0, err
	}
	if src == "-" {
		if !exists || !dst.IsDir {
			return 0, fmt.Errorf("destination \"%s:%s\" must be a directory", ctr, p)
		}
		var n int64
		err := fs.Container.AsRoot(func() (err error) {
			n, err = fsarchive.Extract(g.in, fs.Root, p, fsarchive.ExtractOptions{Owner: owner, MapIDs: fs.Container.HostIDs()})
			return err
		})
		return n, err
	}
	stat := os.Lstat
	if o.follow {
		stat = os.Stat
	}
	fi, err := stat(src)
	if err != nil {
		return 0, err
	}
	s, err := newCpSource(src, fi.IsDir())
	if err != nil {
		return 0, err
	}
	if exists && !dst.IsDir {
		// Onto a file through a symlink: docker writes the link's
		// target (inside the container).
		if p, err = fsarchive.ResolveLast(fs.Root, p); err != nil {
			return 0, err
		}
	}
	t, err := resolveTarget(s, p, exists, exists && dst.IsDir)
	if err != nil {
		return 0, err
	}
	if t.name != "" && !exists {
		if pd, err := fsarchive.Lstat(fs.Root, t.dir, true); err != nil || !pd.IsDir {
			return 0, dockerError(fmt.Sprintf("Could not find the file %s in container %s", t.dir, ctr))
		}
	}
	hostPath := filepath.Clean(src)
	if o.follow {
		// The host's own paths resolve as the host resolves them; only
		// the container's are confined to its root.
		if hostPath, err = filepath.EvalSymlinks(hostPath); err != nil {
			return 0, err
		}
	}
	hostDir, hostName := filepath.Split(hostPath)
	if hostDir == "" {
		hostDir = "."
	}
	hostRoot, err := os.OpenFile(hostDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer hostRoot.Close()
	var n int64
	err = fs.Container.AsRoot(func() (err error) {
		n, err = pipeTreeIn(tree{hostRoot, hostName, t.name, false, nil}, fs.Root, t.dir, fsarchive.ExtractOptions{Owner: owner, MapIDs: fs.Container.HostIDs()})
		return err
	})
	return n, err
}

// tree is what pipeTreeIn copies: p in root, named as, its last symlink
// followed or not, its owners shown through ids.
type tree struct {
	root   *os.File
	p, as  string
	follow bool
	ids    fsarchive.IDMap
}

// pipeTreeIn streams a tree into the directory base in to, through a tar
// pipe: the reader side never sees anything but the archive, so nothing
// of from's symlinks reaches to's resolution.
func pipeTreeIn(from tree, to *os.File, base string, o fsarchive.ExtractOptions) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		w := fsarchive.NewWriter(pw)
		w.MapIDs = from.ids
		err := w.Add(from.root, from.p, from.as, from.follow)
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	n, err := fsarchive.Extract(pr, to, base, o)
	pr.CloseWithError(errors.New("extraction stopped"))
	if werr := <-done; err == nil && werr != nil {
		err = werr
	}
	return n, err
}
