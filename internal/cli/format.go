package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
)

// table prints rows (maps of field to value) with Docker's --format
// rules: "" or "table" gives the default columns, "table TEMPLATE" a
// header plus the template per row, and a plain TEMPLATE just the rows.
// headers names each field's column.
func table(w io.Writer, format, def string, headers map[string]string, rows []map[string]string) error {
	if format == "" || format == "table" {
		format = def
	}
	withHeader := false
	if rest, ok := strings.CutPrefix(format, "table"); ok {
		format, withHeader = strings.TrimSpace(rest), true
	}
	if format == "json" {
		format = "{{json .}}"
	}
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := template.New("format").Option("missingkey=error").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return fmt.Errorf("invalid --format template: %w", err)
	}
	out := w
	var tw *tabwriter.Writer
	if withHeader {
		tw = tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		out = tw
		if err := tmpl.Execute(out, headers); err != nil {
			return fmt.Errorf("invalid --format template: %w", err)
		}
		fmt.Fprintln(out)
	}
	for _, r := range rows {
		if err := tmpl.Execute(out, r); err != nil {
			return fmt.Errorf("format: %w", err)
		}
		fmt.Fprintln(out)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// templateUses reports whether a --format template shows field: it names
// it, or is json, which shows every field. Docker's CLI computes costly
// fields (container sizes) only then.
func templateUses(format, field string) bool {
	f := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(format), "table"))
	return f == "json" || strings.Contains(strings.ReplaceAll(f, " ", ""), "json.}}") || strings.Contains(f, "."+field)
}

// since is Docker's "2 weeks ago".
func since(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return humanDuration(time.Since(t)) + " ago"
}

func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	m := int(d.Minutes())
	h := int(d.Round(time.Hour).Hours())
	switch {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", h/24/365)
}
