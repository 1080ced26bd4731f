package dockercmp

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDockerCompare runs the same commands on docker and pelagos, holding
// the same objects, and compares their output's form. One daemon serves
// every subtest.
func TestDockerCompare(t *testing.T) {
	w := newWorld(t)
	for _, tc := range cases {
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
	// The commands whose output docker's CLI shapes, through the newer
	// docker CLI on this machine and the same daemon: docker 28's CLI
	// adds fields and changes some precisions.
	t.Run("docker 28 CLI", func(t *testing.T) {
		cli := newerCLI(t, w)
		for _, tc := range cases {
			if !byCLI(tc.args) {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				d, p := cli.ok(t, tc.args...), w.pelagos.ok(t, tc.args...)
				for _, diff := range tc.kind(newerPrefix+tc.name, d, p) {
					t.Error(diff)
				}
				if t.Failed() {
					t.Logf("docker:\n%s\npelagos:\n%s", d, p)
				}
			})
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, ec := range errorCases {
			t.Run(strings.Join(ec.args, " "), func(t *testing.T) {
				dout, derr, dcode := w.docker.run(t, ec.args...)
				pout, perr, pcode := w.pelagos.run(t, ec.args...)
				if dcode == 0 || dcode != pcode {
					t.Errorf("exit codes: docker %d, pelagos %d (want equal and not 0)\ndocker: %s\npelagos: %s", dcode, pcode, derr, perr)
				}
				if diff := cmp.Diff(shape(dout), shape(pout)); diff != "" {
					t.Errorf("stdout (-docker +pelagos):\n%s", diff)
				}
				if ec.why != "" {
					return
				}
				if d, p := errorShape(derr), errorShape(perr); d != p {
					t.Errorf("message:\ndocker:  %q\npelagos: %q", d, p)
				}
			})
		}
	})
	t.Run("events", func(t *testing.T) {
		// Everything journalled so far, the same instant for both.
		now := time.Now()
		until := fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())
		args := []string{"events", "--since", "0", "--until", until, "--format", "{{json .}}"}
		d, p := w.both(t, args...)
		for _, diff := range compareEvents(d, p) {
			t.Error(diff)
		}
		if t.Failed() {
			t.Logf("docker:\n%s\npelagos:\n%s", d, p)
		}
	})
	// One line, the last logged, on whichever stream wrote it: the order
	// of lines written to stdout and stderr at once is the log copiers'.
	t.Run("logs -t --tail", func(t *testing.T) {
		var outs [2]string
		for i, s := range []side{w.docker, w.pelagos} {
			out, errs, code := s.run(t, "logs", "-t", "--tail", "1", "exit1")
			if code != 0 {
				t.Fatalf("%s logs: exit %d: %s", s.name, code, errs)
			}
			// The timestamp only: which line is last differs.
			for _, l := range nonEmptyLines(out + errs) {
				ts, _, _ := strings.Cut(l, " ")
				outs[i] += ts + "\n"
			}
		}
		for _, diff := range asLineSet("logs -t --tail", outs[0], outs[1]) {
			t.Error(diff)
		}
	})
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

// newerCLI is the docker 28 CLI on this machine (docs/TESTING.md lists
// it) talking to the private daemon.
func newerCLI(t *testing.T, w *world) side {
	t.Helper()
	const bin = "/usr/local/bin/docker"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no docker CLI at %s (the machine's newer client): %v", bin, err)
	}
	cmd := exec.Command(bin, "version", "--format", "{{.Client.Version}}")
	cmd.Env = w.docker.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, "28.") {
		t.Skipf("%s is docker %s, these comparisons are written for 28", bin, v)
	}
	return side{name: "docker 28", bin: bin, env: w.docker.env}
}

// compareEvents compares the first event of each kind (type and action,
// an exec's command left out) that docker journalled with pelagos's
// first of the same kind: every kind docker has, pelagos must have too.
func compareEvents(d, p string) []string {
	first := func(out string) (map[string]any, []string, error) {
		m := map[string]any{}
		var order []string
		for _, l := range nonEmptyLines(out) {
			v, err := decodeJSON(l)
			if err != nil {
				return nil, nil, err
			}
			ev, _ := v.(map[string]any)
			action, _, _ := strings.Cut(fmt.Sprint(ev["Action"]), ":")
			kind := fmt.Sprint(ev["Type"]) + " " + action
			if _, ok := m[kind]; !ok {
				m[kind] = ev
				order = append(order, kind)
			}
		}
		return m, order, nil
	}
	dm, order, err := first(d)
	if err != nil {
		return []string{"docker's events: " + err.Error()}
	}
	pm, _, err := first(p)
	if err != nil {
		return []string{"pelagos's events: " + err.Error()}
	}
	var diffs []string
	for _, kind := range order {
		what := "events " + kind
		if isAllowed(what, "") {
			continue
		}
		pe, ok := pm[kind]
		if !ok {
			diffs = append(diffs, "no "+kind+" event from pelagos")
			continue
		}
		diffs = append(diffs, compareJSON(what, "", dm[kind], pe, byClass)...)
	}
	return diffs
}

// errorCases fail on both sides: the exit codes must be the same, and
// stdout's and the messages' shapes, once the prefixes docker's client
// adds are gone; why, where given, says why the message is not compared.
var errorCases = []struct {
	args []string
	why  string
}{
	{args: []string{"inspect", "nosuch"}},
	{args: []string{"container", "inspect", "nosuch"}},
	{args: []string{"image", "inspect", "nosuch"}},
	{args: []string{"volume", "inspect", "nosuch"}},
	{args: []string{"rm", "nosuch"}},
	{args: []string{"rm", "run1"}},
	{args: []string{"stop", "nosuch"}},
	{args: []string{"logs", "nosuch"}},
	{args: []string{"kill", "exit1"}},
	{args: []string{"pause", "exit1"}},
	{args: []string{"unpause", "run1"}},
	{args: []string{"exec", "exit1", "true"}},
	{args: []string{"top", "exit1"}},
	{args: []string{"port", "run1", "80"}},
	{args: []string{"rmi", "nosuch"}},
	{args: []string{"volume", "rm", "vol1"}},
	{args: []string{"volume", "create", "a"}},
	{args: []string{"ps", "--filter", "bogus=1"}},
	{args: []string{"run", "--name", "run1", "--network", "none", "busybox:test", "true"}},
	{args: []string{"run", "--network", "none", "--rm", "--memory", "bogus", "busybox:test", "true"}},
	{args: []string{"run", "--bogus-flag", "busybox:test"}},
	{args: []string{"run", "--network", "none", "--rm", "busybox:test", "sh", "-c", "exit 3"}},
	{args: []string{"run", "--network", "none", "--rm", "busybox:test", "nosuchcmd"},
		why: "docker's message is the chain containerd and runc build around the phrase (executable file not found in $PATH) that tests/engine checks"},
	{args: []string{"run", "--network", "none", "--rm", "busybox:test", "/etc"},
		why: "known mismatch, in the runtime's init (outside this package's fixes): runc says \"permission denied\", pelagos \"is a directory\""},
	{args: []string{"run", "--network", "none", "--rm", "nosuch:image", "true"},
		why: "a pull with no network: each engine's resolver and registry client word it"},
	{args: []string{"ps", "--format", "{{.Bogus}}"},
		why: "Go's template error names each program's own types"},
	{args: []string{"start", "nosuch"}, why: "docker adds a second line (failed to start containers: nosuch)"},
}

// errorPrefixes are what docker's client puts before a message.
var errorPrefixes = []string{"docker: ", "Error response from daemon: ", "Error: "}

// errorShape is a failure's stderr without docker's client decorations
// (prefixes, a final period, the line pointing to --help), by shape.
func errorShape(stderr string) string {
	var out []string
	for _, l := range nonEmptyLines(stderr) {
		if strings.HasPrefix(l, "See '") || strings.HasPrefix(l, "Run '") {
			continue
		}
		for _, p := range errorPrefixes {
			l = strings.TrimPrefix(l, p)
		}
		out = append(out, shape(strings.TrimSuffix(l, ".")))
	}
	return strings.Join(out, "\n")
}

// byCLI reports whether docker's CLI, rather than its daemon, shapes the
// output of args: tables and --format templates. Inspect, version and
// info print the daemon's JSON as it comes.
func byCLI(args []string) bool {
	switch args[0] {
	case "inspect", "image", "version", "info", "logs", "diff", "port":
		return false
	}
	return true
}

// cases are the commands run on both sides, each with how its output is
// compared.
var cases = []struct {
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
	{"ps -q", []string{"ps", "-aq"}, asLines},
	{"ps filters", []string{"ps", "-a", "--filter", "status=exited", "--filter", "label=app=dockercmp"}, asTable},
	{"ps -n", []string{"ps", "-n", "2"}, asTable},
	{"ps every field", []string{"ps", "-a", "--format", "table {{.ID}}\t{{.Labels}}\t{{.Mounts}}\t{{.Networks}}\t{{.LocalVolumes}}\t{{.CreatedAt}}\t{{.State}}\t{{.Size}}"}, asTable},
	{"container ls", []string{"container", "ls", "-a"}, asTable},
	{"images", []string{"images"}, asTable},
	{"images -q", []string{"images", "-q"}, asLines},
	{"images --digests --no-trunc", []string{"images", "--digests", "--no-trunc"}, asTable},
	{"history", []string{"history", "busybox:test"}, asTable},
	{"history json", []string{"history", "--format", "{{json .}}", "busybox:test"}, asJSONLines},
	{"inspect container --size", []string{"inspect", "--size", "opts1"}, asDocument},
	{"inspect -f json", []string{"inspect", "-f", "{{json .State}}", "run1"}, asDocument},
	{"diff", []string{"diff", "opts1"}, asLineSet},
	{"network ls", []string{"network", "ls"}, asHeader},
	{"network inspect", []string{"network", "inspect", "none", "host"}, asDocument},
	{"wait", []string{"wait", "exit1"}, asLines},
	{"image ls", []string{"image", "ls", "--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedAt}}\t{{.Size}}\t{{.Digest}}"}, asTable},
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
	{"volume ls -q", []string{"volume", "ls", "-q"}, asLines},
	{"stats", []string{"stats", "--no-stream", "run1", "opts1"}, asTable},
	{"stats json", []string{"stats", "--no-stream", "--format", "{{json .}}", "run1", "opts1"}, asJSONLines},
	{"port", []string{"port", "opts1"}, asLines},
	{"top", []string{"top", "run1"}, asHeaderAndRows},
	{"top options", []string{"top", "run1", "-o", "pid,comm,args"}, asHeaderAndRows},
	{"system df", []string{"system", "df"}, asTable},
	{"system df json", []string{"system", "df", "--format", "{{json .}}"}, asJSONLines},
	{"system df -v", []string{"system", "df", "-v"}, asSections},
	{"version json", []string{"version", "--format", "{{json .}}"}, asKeys},
	{"info json", []string{"info", "--format", "{{json .}}"}, asKeys},
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

// asHeaderAndRows compares a table's columns and its number of rows: top
// lists the container's processes as the host's ps sees them, whose
// values are the host's on both sides.
func asHeaderAndRows(what, d, p string) []string {
	if diffs := asHeader(what, d, p); len(diffs) > 0 {
		return diffs
	}
	if dl, pl := nonEmptyLines(d), nonEmptyLines(p); len(dl) != len(pl) {
		return []string{lineCount(dl, pl)}
	}
	return nil
}

// asHeader compares a table's columns only: network ls lists the
// networks each engine has, and the private dockerd has no bridge.
func asHeader(what, d, p string) []string {
	dt, pt := parseTable(d), parseTable(p)
	if strings.Join(dt.header, "|") != strings.Join(pt.header, "|") {
		return []string{fmt.Sprintf("columns: docker %q, pelagos %q", dt.header, pt.header)}
	}
	return nil
}

// asLineSet compares lines by shape in any order: docker's diff lists
// changes in no fixed order.
func asLineSet(what, d, p string) []string {
	sorted := func(s string) []string {
		var out []string
		for _, l := range nonEmptyLines(s) {
			out = append(out, shape(l))
		}
		sort.Strings(out)
		return out
	}
	if diff := cmp.Diff(sorted(d), sorted(p)); diff != "" {
		return []string{"lines (-docker +pelagos):\n" + diff}
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
		for _, diff := range asTable(what+" "+strings.TrimSuffix(ds[i].title, ":"), ds[i].body, ps[i].body) {
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
