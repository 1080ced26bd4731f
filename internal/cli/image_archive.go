package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/archive"
	"github.com/pelagos-go/pelagos/internal/image/platform"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

func manifestSize(st *store.Store, img store.Image) int {
	b, _ := st.ReadBlob(img.Manifest)
	return len(b)
}

func newSaveCmd(g *globals, use string) *cobra.Command {
	var output, format, platform string
	cmd := &cobra.Command{
		Use:   use + " IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to stdout by default)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			items, err := saveItems(st, args)
			if err != nil {
				return err
			}
			if platform != "" {
				if err := checkPlatform(st, items, platform); err != nil {
					return err
				}
			}
			if output == "" {
				if isTerminal(g.out) {
					return fmt.Errorf("refusing to write an archive to a terminal: use -o or redirect stdout")
				}
				return archive.Save(g.out, st, archive.Format(format), items)
			}
			return writeAtomically(output, func(w io.Writer) error {
				return archive.Save(w, st, archive.Format(format), items)
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	cmd.Flags().StringVar(&format, "format", string(archive.DockerArchive), "archive format: docker-archive or oci-archive")
	cmd.Flags().StringVar(&platform, "platform", "", "save only if every image is for this platform (os[/arch[/variant]]); a stored image has one")
	return cmd
}

// checkPlatform refuses to save an image for another platform than the
// one asked for: a stored image is one platform's, so there is no
// variant to choose, only a mistake to catch.
func checkPlatform(st *store.Store, items []archive.Item, name string) error {
	want, err := parsePlatform(name)
	if err != nil {
		return err
	}
	for _, it := range items {
		raw, err := st.ReadBlob(it.Image.ID)
		if err != nil {
			return err
		}
		cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("config %s: %w", it.Image.ID, err)
		}
		got := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		if !platform.Matches(got, *want) {
			return fmt.Errorf("image %s is for %s, not %s", shortHex(it.Image.ID), got.String(), want.String())
		}
	}
	return nil
}

func parsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return nil, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	return p, nil
}

func shortHex(h v1.Hash) string { return h.Hex[:min(12, len(h.Hex))] }

// saveItems resolves the names to save: a tag saves that tag, an ID
// saves the image with all its tags.
func saveItems(st *store.Store, args []string) ([]archive.Item, error) {
	var items []archive.Item
	for _, a := range args {
		img, err := st.Lookup(a)
		if err != nil {
			return nil, err
		}
		tags := img.RepoTags
		if r, err := reference.Parse(a); err == nil && r.Digest == "" && !strings.HasPrefix(img.ID.Hex, strings.TrimPrefix(a, "sha256:")) {
			tags = []string{r.String()}
		}
		items = append(items, archive.Item{Image: img, Tags: tags})
	}
	return items, nil
}

// writeAtomically writes a file through a temp file and a rename, so a
// failed save leaves no partial archive under the name.
func writeAtomically(path string, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	err = fn(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

func newLoadCmd(g *globals, use string) *cobra.Command {
	var input, platform string
	var quiet bool
	cmd := &cobra.Command{
		Use:   use,
		Short: "Load images from a docker-archive or oci-archive (stdin by default)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			r, closeIn, err := openInput(g, input)
			if err != nil {
				return err
			}
			defer closeIn()
			opts := archive.LoadOptions{Progress: progress.Discard{}}
			if platform != "" {
				if opts.Platform, err = parsePlatform(platform); err != nil {
					return err
				}
			}
			// Progress bars only on a terminal, as docker load draws them;
			// a pipe or a log gets just the loaded names.
			if !quiet && isTerminal(g.out) {
				opts.Progress = &progress.TTY{W: g.out}
			}
			loaded, err := archive.Load(cmd.Context(), st, r, opts)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			for _, l := range loaded {
				if len(l.Tags) == 0 {
					fmt.Fprintln(g.out, "Loaded image ID:", l.Image.ID)
				}
				for _, t := range familiar(l.Tags) {
					fmt.Fprintln(g.out, "Loaded image:", t)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read from a file instead of stdin")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress progress output")
	cmd.Flags().StringVar(&platform, "platform", "", "load only images for this platform (os[/arch[/variant]]), and pick it from index entries (default: the host's)")
	return cmd
}

func openInput(g *globals, path string) (io.Reader, func(), error) {
	if path == "" || path == "-" {
		return g.in, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func newImportCmd(g *globals, use string) *cobra.Command {
	var changes []string
	cmd := &cobra.Command{
		Use:   use + " FILE|- [REPOSITORY[:TAG]]",
		Short: "Import a root filesystem tarball as an image",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), g, args, changes)
		},
	}
	stringsVarP(cmd.Flags(), &changes, "change", "c", "apply a Dockerfile instruction to the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, VOLUME)")
	return cmd
}

func runImport(ctx context.Context, g *globals, args, changes []string) error {
	tag := ""
	if len(args) == 2 {
		r, err := reference.Parse(args[1])
		if err != nil {
			return err
		}
		tag = r.String()
	}
	cfg, err := applyChanges(changes)
	if err != nil {
		return err
	}
	st, err := g.store()
	if err != nil {
		return err
	}
	r, closeIn, err := openInput(g, args[0])
	if err != nil {
		return err
	}
	defer closeIn()
	img, err := archive.Import(ctx, st, r, tag, cfg, unpack.Options{})
	if err != nil {
		return fmt.Errorf("import %s: %w", args[0], err)
	}
	fmt.Fprintln(g.out, img.ID)
	return nil
}

// applyChanges reads the Dockerfile instructions import and commit
// --change take.
func applyChanges(changes []string) (v1.Config, error) {
	var c v1.Config
	for _, ch := range changes {
		instr, rest, _ := strings.Cut(strings.TrimSpace(ch), " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = shellOrJSON(rest)
		case "ENTRYPOINT":
			c.Entrypoint = shellOrJSON(rest)
		case "ENV":
			c.Env = append(c.Env, strings.Replace(rest, " ", "=", 1))
		case "WORKDIR":
			c.WorkingDir = rest
		case "USER":
			c.User = rest
		case "VOLUME":
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			paths := strings.Fields(rest)
			if strings.HasPrefix(rest, "[") {
				paths = nil
				if err := jsonUnmarshal([]byte(rest), &paths); err != nil {
					return c, fmt.Errorf("VOLUME %s: %w", rest, err)
				}
			}
			for _, p := range paths {
				c.Volumes[p] = struct{}{}
			}
		case "LABEL":
			k, v, _ := strings.Cut(rest, "=")
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[k] = strings.Trim(v, `"`)
		case "EXPOSE", "STOPSIGNAL":
			applyMoreChanges(&c, strings.ToUpper(instr), rest)
		default:
			return c, fmt.Errorf("unsupported --change instruction %q", instr)
		}
	}
	return c, nil
}

func shellOrJSON(s string) []string {
	if strings.HasPrefix(s, "[") {
		var out []string
		if err := jsonUnmarshal([]byte(s), &out); err == nil {
			return out
		}
	}
	return []string{"/bin/sh", "-c", s}
}
