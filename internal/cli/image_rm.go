package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func newRmiCmd(g *globals, use string) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   use + " IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			var errs []error
			for _, a := range args {
				if err := removeImage(cmd.Context(), g, st, a, force); err != nil {
					errs = append(errs, err)
				}
			}
			if _, err := st.GC(cmd.Context()); err != nil {
				errs = append(errs, err)
			}
			return joinLines(errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove even if tagged in several repositories or used by a container")
	return cmd
}

// removeImage untags name and deletes the image once no tag is left, as
// docker rmi does. A name that is an ID deletes the image with all its
// tags (several only with force).
func removeImage(ctx context.Context, g *globals, st *store.Store, name string, force bool) error {
	img, err := lookupImage(st, name)
	if err != nil {
		return err
	}
	byTag := ""
	if ref, err := reference.Parse(name); err == nil && slices.Contains(img.RepoTags, ref.String()) {
		byTag = ref.String()
	}
	willDelete := byTag == "" || len(img.RepoTags) == 1
	if byTag == "" && len(img.RepoTags) > 1 && !force {
		return fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", img.ID.Hex[:12])
	}
	if willDelete && !force {
		holders, err := st.HoldersOf(img.ID)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			return fmt.Errorf("conflict: unable to remove %s (must force) - container %s is using its referenced image %s", name, holders[0], img.ID.Hex[:12])
		}
	}
	tags := img.RepoTags
	if byTag != "" {
		tags = []string{byTag}
	}
	for _, t := range tags {
		if _, err := st.Untag(ctx, t); err != nil {
			return err
		}
		fmt.Fprintln(g.out, "Untagged:", familiar([]string{t})[0])
	}
	if !willDelete {
		return nil
	}
	for _, d := range img.RepoDigests {
		fmt.Fprintln(g.out, "Untagged:", familiar([]string{d})[0])
	}
	if err := st.RemoveImage(ctx, img.ID, force); err != nil {
		return err
	}
	fmt.Fprintln(g.out, "Deleted:", img.ID)
	return nil
}

// joinLines joins errors into one error whose lines are each one error.
func joinLines(errs []error) error {
	return errors.Join(errs...)
}

func newPruneCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove unused images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				what := "all dangling images"
				if all {
					what = "all images without at least one container associated to them"
				}
				fmt.Fprintf(g.out, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what)
				line, _ := bufio.NewReader(g.in).ReadString('\n')
				if a := strings.TrimSpace(strings.ToLower(line)); a != "y" && a != "yes" {
					return nil
				}
			}
			return prune(cmd.Context(), g, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	return cmd
}

func prune(ctx context.Context, g *globals, all bool) error {
	st, err := g.store()
	if err != nil {
		return err
	}
	imgs, err := st.Images()
	if err != nil {
		return err
	}
	var deleted []string
	for _, img := range imgs {
		if !all && len(img.RepoTags) > 0 {
			continue
		}
		if holders, err := st.HoldersOf(img.ID); err != nil || len(holders) > 0 {
			continue
		}
		if err := st.RemoveImage(ctx, img.ID, false); err != nil {
			if errors.Is(err, store.ErrInUse) {
				continue
			}
			return err
		}
		deleted = append(deleted, img.ID.String())
	}
	gc, err := st.GC(ctx)
	if err != nil {
		return err
	}
	if len(deleted) > 0 {
		fmt.Fprintln(g.out, "Deleted Images:")
		for _, d := range deleted {
			fmt.Fprintln(g.out, "deleted:", d)
		}
		fmt.Fprintln(g.out)
	}
	fmt.Fprintln(g.out, "Total reclaimed space:", progress.HumanSize(gc.Bytes))
	return nil
}
