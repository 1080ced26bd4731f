package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
)

func newPushCmd(g *globals, use string) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   use + " NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := reference.Parse(args[0])
			if err != nil {
				return err
			}
			st, err := g.store()
			if err != nil {
				return err
			}
			img, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			r, s, err := g.registry()
			if err != nil {
				return err
			}
			sink := g.progressSink(quiet)
			sink.Send(progress.Event{Status: fmt.Sprintf("The push refers to repository [%s]", ref.Repository())})
			d, err := r.Push(cmd.Context(), s, st, img, ref, sink)
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(g.out, ref.String())
				return nil
			}
			fmt.Fprintf(g.out, "%s: digest: %s size: %d\n", ref.Tag, d, manifestSize(st, img))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "suppress verbose output")
	return cmd
}
