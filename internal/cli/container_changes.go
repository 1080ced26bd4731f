package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/reference"
)

func newDiffCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			cs, err := e.Diff(ctx, args[0])
			if err != nil {
				return err
			}
			for _, c := range cs {
				fmt.Fprintln(g.out, c.Kind, c.Path)
			}
			return nil
		}),
	}
}

func newExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if output == "" {
				if isTerminal(g.out) {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
				return e.Export(ctx, args[0], g.out)
			}
			return writeFileAtomic(output, func(w io.Writer) error { return e.Export(ctx, args[0], w) })
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to a file, instead of STDOUT")
	return cmd
}

// writeFileAtomic writes path through fill: a temp file beside it,
// renamed into place only when fill succeeded, so that a failure leaves
// nothing half-written.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = fill(f)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func newCommitCmd(g *globals) *cobra.Command {
	var o engine.CommitOptions
	var changes []string
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: withEngine(g, func(ctx context.Context, e *engine.Engine, args []string) error {
			if len(args) == 2 {
				r, err := reference.Parse(args[1])
				if err != nil {
					return withStatus(125, err)
				}
				o.Tag = r.String()
			}
			var err error
			if o.Changes, err = applyChanges(changes); err != nil {
				return withStatus(125, err)
			}
			id, err := e.Commit(ctx, args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.out, id)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&o.Message, "message", "m", "", "commit message")
	stringsVarP(f, &changes, "change", "c", "apply Dockerfile instruction to the created image")
	f.BoolVarP(&o.Pause, "pause", "p", true, "pause container during commit")
	return cmd
}

// applyMoreChanges handles EXPOSE (a port without a protocol is TCP)
// and STOPSIGNAL.
func applyMoreChanges(c *v1.Config, instr, rest string) {
	switch instr {
	case "EXPOSE":
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			c.ExposedPorts[p] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = rest
	}
}
