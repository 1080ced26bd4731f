package dockercmp

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestDockerCompare runs the same commands on docker and pelagos, holding
// the same objects, and compares their output's form. One daemon serves
// every subtest.
func TestDockerCompare(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		args []string
		kind outputKind
	}{
		{"ps", []string{"ps"}, asTable},
		{"ps -a", []string{"ps", "-a"}, asTable},
		{"ps -a -s", []string{"ps", "-a", "-s"}, asTable},
		{"ps -a --no-trunc", []string{"ps", "-a", "--no-trunc"}, asTable},
		{"ps table format", []string{"ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"}, asTable},
		{"ps json", []string{"ps", "-a", "--format", "{{json .}}"}, asJSONLines},
		{"images", []string{"images"}, asTable},
		{"images json", []string{"images", "--format", "{{json .}}"}, asJSONLines},
		{"inspect container running", []string{"inspect", "run1"}, asDocument},
		{"inspect container exited", []string{"inspect", "exit1"}, asDocument},
		{"inspect container options", []string{"inspect", "opts1"}, asDocument},
		{"inspect container paused", []string{"inspect", "paused1"}, asDocument},
		{"inspect container created", []string{"inspect", "created1"}, asDocument},
		{"inspect image", []string{"image", "inspect", "busybox:test"}, asDocument},
		{"volume ls", []string{"volume", "ls"}, asTable},
		{"volume ls json", []string{"volume", "ls", "--format", "{{json .}}"}, asJSONLines},
		{"volume inspect", []string{"volume", "inspect", "vol1", "vol2"}, asDocument},
		{"logs -t stdout", []string{"logs", "-t", "exit1"}, asLines},
		{"stats", []string{"stats", "--no-stream", "run1", "opts1"}, asTable},
		{"stats json", []string{"stats", "--no-stream", "--format", "{{json .}}", "run1", "opts1"}, asJSONLines},
		{"port", []string{"port", "opts1"}, asLines},
		{"top", []string{"top", "run1"}, asTop},
		{"top options", []string{"top", "opts1", "-o", "pid,comm,args"}, asTop},
		{"system df", []string{"system", "df"}, asTable},
		{"system df json", []string{"system", "df", "--format", "{{json .}}"}, asJSONLines},
		{"system df -v", []string{"system", "df", "-v"}, asSections},
		{"version json", []string{"version", "--format", "{{json .}}"}, asKeys},
		{"info json", []string{"info", "--format", "{{json .}}"}, asKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, p := w.both(t, tc.args...)
			for _, diff := range tc.kind(tc.name, d, p) {
				t.Error(diff)
			}
			if t.Failed() {
				t.Logf("docker:\n%s\npelagos:\n%s", d, p)
			}
		})
	}
	// Last, as its volume's random name would order volume lists
	// differently on each side.
	t.Run("anonymous volume", func(t *testing.T) {
		for _, s := range []side{w.docker, w.pelagos} {
			s.ok(t, "run", "-d", "--name", "anon1", "--network", "none", "-v", "/anon", "busybox:test", "sleep", "1000")
			t.Cleanup(func() { s.run(t, "rm", "-f", "-v", "anon1") })
		}
		d, p := w.both(t, "inspect", "anon1")
		for _, diff := range asDocument("inspect container anonymous", d, p) {
			t.Error(diff)
		}
		vol := func(s side) string {
			return strings.TrimSpace(s.ok(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon1"))
		}
		d, p = w.docker.ok(t, "volume", "inspect", vol(w.docker)), w.pelagos.ok(t, "volume", "inspect", vol(w.pelagos))
		for _, diff := range asDocument("volume inspect anonymous", d, p) {
			t.Error(diff)
		}
	})
	t.Run("logs -t stderr", func(t *testing.T) {
		_, d, _ := w.docker.run(t, "logs", "-t", "exit1")
		_, p, _ := w.pelagos.run(t, "logs", "-t", "exit1")
		for _, diff := range asLines("logs -t stderr", d, p) {
			t.Error(diff)
		}
	})
}

// outputKind compares docker's output d with pelagos's p and lists the
// differences.
type outputKind func(what, d, p string) []string

func asTable(what, d, p string) []string {
	return compareTables(what, parseTable(d), parseTable(p))
}

// asJSONLines compares one JSON object per line, line by line, every
// string by its whole shape (it is display text).
func asJSONLines(what, d, p string) []string {
	dl, pl := nonEmptyLines(d), nonEmptyLines(p)
	if len(dl) != len(pl) {
		return []string{lineCount(dl, pl)}
	}
	var diffs []string
	for i := range dl {
		diffs = append(diffs, compareDocs(what, dl[i], pl[i], byShape)...)
	}
	return diffs
}

// asDocument compares one JSON document (inspect's array), strings by
// class: paths and names differ between engines by nature.
func asDocument(what, d, p string) []string {
	return compareDocs(what, d, p, byClass)
}

// asKeys compares one JSON document's keys and types only: version and
// info describe different programs, so neither a string's form nor a
// list's length (plugins, driver status) is compared.
func asKeys(what, d, p string) []string {
	var diffs []string
	for _, diff := range compareDocs(what, d, p, byClass) {
		if !strings.Contains(diff, "(text)") && !strings.Contains(diff, "(empty)") && !strings.Contains(diff, " elements ") {
			diffs = append(diffs, diff)
		}
	}
	return diffs
}

func compareDocs(what, d, p string, mode stringMode) []string {
	dv, err := decodeJSON(d)
	if err != nil {
		return []string{"docker's output is not JSON: " + err.Error()}
	}
	pv, err := decodeJSON(p)
	if err != nil {
		return []string{"pelagos's output is not JSON: " + err.Error()}
	}
	return compareJSON(what, "", dv, pv, mode)
}

// asLines compares line by line, by shape.
func asLines(what, d, p string) []string {
	dl, pl := nonEmptyLines(d), nonEmptyLines(p)
	if len(dl) != len(pl) {
		return []string{lineCount(dl, pl)}
	}
	var diffs []string
	for i := range dl {
		if ds, ps := shape(dl[i]), shape(pl[i]); ds != ps {
			diffs = append(diffs, "line: docker "+quote(dl[i])+" ("+ds+"), pelagos "+quote(pl[i])+" ("+ps+")")
		}
	}
	return diffs
}

// asTop compares top's header only: the processes are the container's,
// listed by the host's ps on both sides.
func asTop(what, d, p string) []string {
	dt, pt := parseTable(d), parseTable(p)
	if strings.Join(dt.header, "|") != strings.Join(pt.header, "|") {
		return []string{"columns: docker " + quote(strings.Join(dt.header, " ")) + ", pelagos " + quote(strings.Join(pt.header, " "))}
	}
	if len(dt.rows) != len(pt.rows) {
		return []string{lineCount(nonEmptyLines(d), nonEmptyLines(p))}
	}
	return nil
}

// asSections compares system df -v: titled tables, each as asTable.
func asSections(what, d, p string) []string {
	ds, ps := sections(d), sections(p)
	var diffs []string
	if len(ds) != len(ps) {
		return []string{"sections: docker " + quote(strings.Join(titles(ds), ", ")) + ", pelagos " + quote(strings.Join(titles(ps), ", "))}
	}
	for i := range ds {
		if ds[i].title != ps[i].title {
			diffs = append(diffs, "section title: docker "+quote(ds[i].title)+", pelagos "+quote(ps[i].title))
			continue
		}
		for _, diff := range asTable(what+"/"+ds[i].title, ds[i].body, ps[i].body) {
			diffs = append(diffs, ds[i].title+" "+diff)
		}
	}
	return diffs
}

type section struct{ title, body string }

// sections splits docker's system df -v output: a title line holding
// "usage:" (the build cache's carries its size), a blank line, a table.
func sections(out string) []section {
	var secs []section
	for _, block := range strings.Split(strings.TrimSpace(out), "\n\n") {
		first, rest, _ := strings.Cut(strings.TrimSpace(block), "\n")
		if strings.Contains(first, "usage:") || len(secs) == 0 {
			secs = append(secs, section{title: shape(first), body: rest})
			continue
		}
		secs[len(secs)-1].body += block
	}
	return secs
}

func titles(secs []section) []string {
	var out []string
	for _, s := range secs {
		out = append(out, s.title)
	}
	return out
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

func lineCount(d, p []string) string {
	return fmt.Sprintf("lines: docker %d, pelagos %d", len(d), len(p))
}

func quote(s string) string { return strconv.Quote(s) }
