package cli

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

var imageHeaders = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "VirtualSize": "SIZE",
	"Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

func newImagesCmd(g *globals, use string) *cobra.Command {
	var o struct {
		quiet, digests, noTrunc, all bool
		filters                      []string
		format                       string
	}
	cmd := &cobra.Command{
		Use:   use + " [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.store()
			if err != nil {
				return err
			}
			imgs, err := st.Images()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			rows, err := imageRows(st, imgs, o.filters, o.noTrunc)
			if err != nil {
				return err
			}
			if o.quiet {
				return printIDs(g, rows)
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if o.digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return table(g.out, o.format, def, imageHeaders, rows)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.quiet, "quiet", "q", false, "only show image IDs")
	f.BoolVar(&o.digests, "digests", false, "show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "don't truncate output")
	f.BoolVarP(&o.all, "all", "a", false, "show all images (there are no intermediate images; accepted for compatibility)")
	stringsVarP(f, &o.filters, "filter", "f", "filter output (dangling=, reference=, before=, since=)")
	f.StringVar(&o.format, "format", "", "format output with a Go template (\"table ...\" adds a header)")
	return cmd
}

func printIDs(g *globals, rows []map[string]string) error {
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r["ID"]] {
			seen[r["ID"]] = true
			fmt.Fprintln(g.out, r["ID"])
		}
	}
	return nil
}

// imageRows is one row per tag (or one "<none>" row for an untagged
// image), after filters.
func imageRows(st *store.Store, imgs []store.Image, filters []string, noTrunc bool) ([]map[string]string, error) {
	keep, err := imageFilter(st, filters)
	if err != nil {
		return nil, err
	}
	var rows []map[string]string
	for _, img := range imgs {
		id := img.ID.Hex[:12]
		if noTrunc {
			id = img.ID.String()
		}
		base := map[string]string{
			"ID": id, "CreatedSince": since(img.Created), "CreatedAt": img.Created.Format("2006-01-02 15:04:05 -0700 MST"),
			"Size": decimalSize(uint64(img.Size)), "VirtualSize": progress.HumanSize(img.Size),
			"Digest": "<none>", "Repository": "<none>", "Tag": "<none>",
			// docker lists these only for `system df -v`; elsewhere "N/A".
			"Containers": "N/A", "SharedSize": "N/A", "UniqueSize": "N/A",
		}
		tags := img.RepoTags
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, t := range tags {
			row := clone(base)
			var ref reference.Reference
			if t != "" {
				ref, _ = reference.Parse(t)
				row["Repository"], row["Tag"] = ref.FamiliarRepository(), ref.Tag
			} else if len(img.RepoDigests) > 0 {
				ref, _ = reference.Parse(img.RepoDigests[0])
				row["Repository"] = ref.FamiliarRepository()
			}
			for _, d := range img.RepoDigests {
				if r, err := reference.Parse(d); err == nil && r.Repository() == ref.Repository() {
					row["Digest"] = r.Digest
				}
			}
			if keep(img, row) {
				rows = append(rows, row)
			}
		}
	}
	return rows, nil
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// imageFilter compiles docker's image filters into one predicate.
func imageFilter(st *store.Store, filters []string) (func(store.Image, map[string]string) bool, error) {
	var preds []func(store.Image, map[string]string) bool
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad filter %q: want key=value", f)
		}
		switch k {
		case "dangling":
			want := v == "true" || v == "1"
			preds = append(preds, func(img store.Image, _ map[string]string) bool { return (len(img.RepoTags) == 0) == want })
		case "reference":
			preds = append(preds, func(_ store.Image, row map[string]string) bool {
				name := row["Repository"]
				if ok, _ := path.Match(v, name); ok {
					return true
				}
				ok, _ := path.Match(v, name+":"+row["Tag"])
				return ok
			})
		case "before", "since":
			ref, err := st.Lookup(v)
			if err != nil {
				return nil, err
			}
			t, before := ref.Created, k == "before"
			preds = append(preds, func(img store.Image, _ map[string]string) bool {
				return (before && img.Created.Before(t)) || (!before && img.Created.After(t))
			})
		default:
			return nil, fmt.Errorf("invalid filter %q", k)
		}
	}
	return func(img store.Image, row map[string]string) bool {
		for _, p := range preds {
			if !p(img, row) {
				return false
			}
		}
		return true
	}, nil
}

var _ = time.Now
