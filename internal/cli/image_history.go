package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

func newHistoryCmd(g *globals, use string) *cobra.Command {
	var o struct {
		quiet, noTrunc bool
		format         string
	}
	cmd := &cobra.Command{
		Use:   use + " IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			img, err := st.Lookup(args[0])
			if err != nil {
				return err
			}
			cf, err := configOf(st, img)
			if err != nil {
				return err
			}
			var rows []map[string]string
			layer := 0
			for i, h := range cf.History {
				size := int64(0)
				if !h.EmptyLayer && layer < len(img.Layers) {
					if l, err := st.Layer(img.Layers[layer]); err == nil {
						size = l.Size
					}
					layer++
				}
				id := "<missing>"
				if i == len(cf.History)-1 {
					id = img.ID.Hex[:12]
					if o.noTrunc {
						id = img.ID.String()
					}
				}
				by := strings.ReplaceAll(h.CreatedBy, "\t", " ")
				if !o.noTrunc && len(by) > 45 {
					by = by[:44] + "…"
				}
				rows = append(rows, map[string]string{
					"ID": id, "CreatedSince": since(h.Created.Time), "CreatedAt": h.Created.Format("2006-01-02T15:04:05Z07:00"),
					"CreatedBy": by, "Size": decimalSize(uint64(size)), "Comment": h.Comment,
				})
			}
			// Newest first, as docker prints it.
			for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
				rows[i], rows[j] = rows[j], rows[i]
			}
			if o.quiet {
				return printIDs(g, rows)
			}
			headers := map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
			return table(g.out, o.format, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}", headers, rows)
		},
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	cmd.Flags().StringVar(&o.format, "format", "", "format output with a Go template")
	return cmd
}
