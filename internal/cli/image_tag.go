package cli

import (
	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/reference"
)

func newTagCmd(g *globals, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			img, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			ref, err := reference.Parse(args[1])
			if err != nil {
				return err
			}
			if ref.Digest != "" {
				return errorf("refusing to create a tag with a digest reference: %s", args[1])
			}
			return st.Tag(cmd.Context(), img.ID, ref.String())
		},
	}
}
