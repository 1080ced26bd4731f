package cli

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/reference"
)

func newPullCmd(g *globals, use string) *cobra.Command {
	var quiet bool
	var platform string
	cmd := &cobra.Command{
		Use:   use + " NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPull(cmd, g, args[0], platform, quiet)
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the image name")
	cmd.Flags().StringVar(&platform, "platform", "", "platform to pull from an index, e.g. linux/arm64 (default: this host's)")
	return cmd
}

func runPull(cmd *cobra.Command, g *globals, name, platform string, quiet bool) error {
	ref, err := reference.Parse(name)
	if err != nil {
		return err
	}
	var plat v1.Platform
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return fmt.Errorf("invalid platform %q: %w", platform, err)
		}
		plat = *p
	}
	st, err := g.store()
	if err != nil {
		return err
	}
	r, s, err := g.registry()
	if err != nil {
		return err
	}
	if !quiet && ref.Digest == "" && !strings.Contains(lastComponent(name), ":") {
		fmt.Fprintln(g.out, "Using default tag:", reference.DefaultTag)
	}
	if err := r.Pull(cmd.Context(), s, st, ref, plat, g.progressSink(quiet)); err != nil {
		return err
	}
	fmt.Fprintln(g.out, ref.String())
	return nil
}

func lastComponent(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
