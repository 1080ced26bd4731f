package dockercmp

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Values that differ by nature between two engines (IDs, times, sizes,
// durations, counts) are compared by form: shape rewrites each such token
// to a placeholder naming its form, so that "Exited (0) 2 seconds ago"
// and "Exited (0) Less than a second ago" have one shape, while
// "1.982MB" (four significant digits) and "1.98MB" (three) do not, nor
// an RFC 3339 time with nine fractional digits and one with six.
//
// One regular expression with alternatives, applied once from left to
// right, so that a placeholder is never rewritten again.
var shapeRE = regexp.MustCompile(strings.Join([]string{
	`(?P<rfc>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?P<frac>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d))`,
	`(?P<gotime>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [+-]\d{4} [A-Z]+)`,
	`(?P<digest>sha256:[0-9a-f]{64})`,
	`(?P<id64>\b[0-9a-f]{64}\b)`,
	`(?P<id12>\b[0-9a-f]{12}\b)`,
	`(?P<dur>Less than a second|About a minute|About an hour|\b\d+ (?:second|minute|hour|day|week|month|year)s?\b)`,
	`(?P<size>\b(?P<mant>\d+(?:\.\d+)?)(?P<unit>B|kB|MB|GB|TB|PB|KiB|MiB|GiB|TiB|PiB)\b)`,
	`(?P<pct>\d+(?P<pfrac>\.\d+)?%)`,
	`(?P<num>\d+)`,
}, "|"))

// shape returns s with every value of a nature-dependent kind replaced by
// a placeholder for its form.
func shape(s string) string {
	names := shapeRE.SubexpNames()
	return shapeRE.ReplaceAllStringFunc(s, func(tok string) string {
		m := shapeRE.FindStringSubmatch(tok)
		group := func(name string) string {
			for i, n := range names {
				if n == name {
					return m[i]
				}
			}
			return ""
		}
		switch {
		case group("rfc") != "":
			zone := group("zone")
			if zone != "Z" {
				zone = "offset"
			}
			return fmt.Sprintf("‹time-rfc3339-frac%s-%s›", strings.Repeat("f", max(0, len(group("frac"))-1)), zone)
		case group("gotime") != "":
			return "‹time-go-string›"
		case group("digest") != "":
			return "‹digest›"
		case group("id64") != "":
			return "‹id-long›"
		case group("id12") != "":
			return "‹id-short›"
		case group("dur") != "":
			return "‹duration›"
		case group("size") != "":
			return "‹size-" + sizeForm(group("mant"), group("unit")) + "›"
		case group("pct") != "":
			return "‹percent" + strings.Repeat("f", max(0, len(group("pfrac"))-1)) + "›"
		default:
			return "‹n›"
		}
	})
}

// sizeForm names a human size's form: whether its unit is binary (KiB,
// MiB: docker always prints those with four significant digits, so the
// count a value shows depends on the value) or decimal (kB, MB), and for
// decimal ones their precision: docker prints three significant digits
// in some places and four in others, and a fourth digit tells them apart.
func sizeForm(mant, unit string) string {
	if strings.Contains(unit, "i") {
		return "binary"
	}
	digits := strings.TrimLeft(strings.ReplaceAll(mant, ".", ""), "0")
	if len(digits) > 3 {
		return "over3-decimal"
	}
	return "upto3-decimal"
}

// jsonType is the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// stringMode says how compareJSON compares two strings.
type stringMode int

const (
	// byShape: the whole string's shape must match (CLI output such as
	// ps --format '{{json .}}', where every value is display text).
	byShape stringMode = iota
	// byClass: only strings that are wholly a time, an ID or a digest
	// must have that same form on both sides, and an empty string must
	// be empty on both (daemon records such as inspect, where paths
	// and names differ between engines by nature).
	byClass
)

// fracDigits is the fraction of a time's shape.
var fracDigits = regexp.MustCompile(`frac(f+)`)

// class is a string's form for byClass comparisons. Daemon records write
// times as RFC 3339 with nanoseconds, trailing zeros dropped, so the
// number of fractional digits varies by nature there.
func class(s string) string {
	if s == "" {
		return "empty"
	}
	if sh := shape(s); strings.HasPrefix(sh, "‹") && strings.HasSuffix(sh, "›") && strings.Count(sh, "‹") == 1 {
		switch {
		case strings.HasPrefix(sh, "‹time"):
			return fracDigits.ReplaceAllString(sh, "frac")
		case strings.HasPrefix(sh, "‹id"), strings.HasPrefix(sh, "‹digest"):
			return sh
		}
	}
	return "text"
}

// textShape is a display string's form for byShape comparisons: its
// shape, except that absolute paths (a volume's mount point, ...) are
// compared only as paths, since each engine has its own data root.
func textShape(s string) string {
	if strings.HasPrefix(s, "/") && !strings.ContainsAny(s, " \t") {
		return "‹path›"
	}
	return shape(s)
}

// allowed lists the differences from docker that are accepted, keyed
// "COMPARISON:PATH": COMPARISON is a subtest's name or its first words
// ("inspect container" covers every container inspect), PATH a JSON path
// (arrays as []) or a table column, covering everything below it. Keep
// it short: a difference that is not here is a bug in pelagos's output.
var allowed = map[string]string{
	// Keys newer docker added, which pelagos follows.
	"inspect container:[].NetworkSettings.Networks.none.DNSNames":   "docker 25 (API 1.44) added it",
	"inspect container:[].NetworkSettings.Networks.none.GwPriority": "docker 28 (API 1.48) added it",
	"network inspect:[].EnableIPv4":                                 "docker 28 (API 1.47) added it",
	"volume ls json:.Availability":                                  "docker 23's CLI added it (cluster volumes)",
	"volume ls json:.Group":                                         "docker 23's CLI added it (cluster volumes)",
	"volume ls json:.Status":                                        "docker 23's CLI added it (cluster volumes)",
	"volume inspect anonymous:[].Labels":                            "docker 23 labels anonymous volumes com.docker.volume.anonymous, as pelagos does",
	// docker 28's CLI against 20.10's: where they differ, pelagos follows
	// 20.10's.
	"docker 28 ps json:.Platform":                    "docker 28's CLI shows the image platform of API 1.48's ImageManifestDescriptor; not given yet",
	"docker 28 system df -v Images space usage:SIZE": "docker 28's df -v prints an image's size with three digits, 20.10's with four, as pelagos",
	// Keys newer docker removed, which pelagos leaves out.
	"inspect image:[].Container":       "docker 26 (API 1.45) removed it",
	"inspect image:[].ContainerConfig": "docker 26 (API 1.45) removed it",

	// Values that differ by design.
	"inspect container:[].HostConfig.MaskedPaths": "pelagos masks newer docker's list (/proc/interrupts, /sys/devices/virtual/powercap too)",
	// docker makes a libnetwork sandbox and an endpoint on its "none"
	// network even for --network none; pelagos makes no network object
	// for a container that has no network.
	"inspect container:[].NetworkSettings.SandboxID":                "no sandbox for --network none",
	"inspect container:[].NetworkSettings.SandboxKey":               "no sandbox for --network none",
	"inspect container:[].NetworkSettings.Networks.none.EndpointID": "no endpoint for --network none",
	"inspect container:[].NetworkSettings.Networks.none.NetworkID":  "no network object for none",
	"history:CREATED BY":                "an imported layer's history: docker records no command, pelagos names itself",
	"history:COMMENT":                   "docker records its upload's source (\"Imported from -\"), pelagos that it was a tarball",
	"history json:.CreatedBy":           "an imported layer's history: docker records no command, pelagos names itself",
	"history json:.Comment":             "docker records its upload's source (\"Imported from -\"), pelagos that it was a tarball",
	"inspect container:[].ExecIDs":      "docker's health probes are execs, listed here while one runs; pelagos's monitor runs them itself",
	"events image:":                     "pelagos journals no image events (docs/ENGINE.md, Events)",
	"events network:":                   "docker connects a --network none container to its \"none\" network object; pelagos has none",
	"events container exec_create:":     "docker's health probes are execs and journal exec events; pelagos's do not (docs/ENGINE.md, Events)",
	"events container exec_start:":      "docker's health probes are execs and journal exec events; pelagos's do not (docs/ENGINE.md, Events)",
	"events container exec_die:":        "docker's health probes are execs and journal exec events; pelagos's do not (docs/ENGINE.md, Events)",
	"network inspect:[].Containers":     "docker's none network holds an endpoint per --network none container; pelagos's lists none",
	"inspect image:[].DockerVersion":    "the docker release that built the image; pelagos is not docker",
	"inspect image:[].GraphDriver.Data": "an image's layers are not mounted in pelagos's store: no merged or work directory to name",

	// version and info: what belongs to a daemon, an API or parts
	// pelagos does not have.
	"version json:.Client.ApiVersion":        "pelagos's CLI speaks no Docker API: it is the engine",
	"version json:.Client.DefaultAPIVersion": "pelagos's CLI speaks no Docker API: it is the engine",
	"version json:.Server.ApiVersion":        "pelagos serves no Docker API yet",
	"version json:.Server.MinAPIVersion":     "pelagos serves no Docker API yet",
	"version json:.Server.Components":        "docker lists containerd and runc besides its engine; pelagos is one binary",
	"info json:.ID":                          "identifies a daemon; pelagos has none",
	"info json:.NFd":                         "a daemon's open files; pelagos has no daemon",
	"info json:.NGoroutines":                 "a daemon's goroutines; pelagos has no daemon",
	"info json:.NEventsListener":             "a daemon's event subscribers; pelagos has no daemon",
	"info json:.Swarm":                       "pelagos has no swarm mode",
	"info json:.InitBinary":                  "pelagos's --init reaper is built into pelagos, not a tini binary",
	"info json:.InitCommit":                  "no tini",
	"info json:.ContainerdCommit":            "no containerd",
	"info json:.RuncCommit":                  "no runc: the runtime is built in",
	"info json:.Runtimes":                    "runtime names: docker's are runc under containerd's names; pelagos's runtime is built in",
}

// newerPrefix names the comparisons made through docker 28's CLI.
const newerPrefix = "docker 28 "

// varyingLength are arrays whose length depends on timing (health probes
// so far): compared element by element as far as both go.
var varyingLength = map[string]bool{
	"[].State.Health.Log": true,
}

// isAllowed reports whether path, under the comparison named what, is
// covered by an allow-list entry.
func isAllowed(what, path string) bool {
	// A comparison through docker 28's CLI ("docker 28 ps json") is
	// also covered by the entries of the same comparison with 20.10's.
	var groups []string
	for _, w := range []string{what, strings.TrimPrefix(what, newerPrefix)} {
		words := strings.Fields(w)
		for i := len(words); i > 0; i-- {
			groups = append(groups, strings.Join(words[:i], " "))
		}
	}
	for p := path; ; {
		for _, g := range groups {
			if _, ok := allowed[g+":"+p]; ok {
				return true
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return false
		}
		p = p[:i]
	}
}

// compareJSON lists the differences between docker's value d and
// pelagos's value p at path: keys only one side has, JSON types, array
// emptiness and length, and strings as mode says. Differences the
// allow-list covers are left out.
func compareJSON(what, path string, d, p any, mode stringMode) []string {
	if isAllowed(what, path) {
		return nil
	}
	if dt, pt := jsonType(d), jsonType(p); dt != pt {
		return []string{fmt.Sprintf("%s: docker has %s %s, pelagos %s %s", path, dt, brief(d), pt, brief(p))}
	}
	switch dv := d.(type) {
	case map[string]any:
		return compareObjects(what, path, dv, p.(map[string]any), mode)
	case []any:
		pv := p.([]any)
		// docker lists a container's mounts in map order: compare
		// them by destination.
		sortByDestination(dv)
		sortByDestination(pv)
		if len(dv) != len(pv) && !(varyingLength[path] && len(dv) > 0 && len(pv) > 0) {
			return []string{fmt.Sprintf("%s: docker has %d elements %s, pelagos %d %s", path, len(dv), brief(d), len(pv), brief(p))}
		}
		var diffs []string
		for i := range min(len(dv), len(pv)) {
			diffs = append(diffs, compareJSON(what, path+"[]", dv[i], pv[i], mode)...)
		}
		return diffs
	case string:
		ps := p.(string)
		dc, pc := class(dv), class(ps)
		if mode == byShape {
			dc, pc = textShape(dv), textShape(ps)
			if strings.HasSuffix(path, ".Mounts") {
				// ps's Mounts column, in docker's map order.
				dc, pc = sortedShapes(dv), sortedShapes(ps)
			}
		}
		if dc != pc {
			return []string{fmt.Sprintf("%s: docker %q (%s), pelagos %q (%s)", path, dv, dc, ps, pc)}
		}
	}
	return nil
}

// sortByDestination sorts a list of mounts (objects with a Destination)
// by it; it leaves any other list as it is.
func sortByDestination(list []any) {
	for _, e := range list {
		if m, ok := e.(map[string]any); !ok || jsonType(m["Destination"]) != "string" {
			return
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		return list[i].(map[string]any)["Destination"].(string) < list[j].(map[string]any)["Destination"].(string)
	})
}

// sortedShapes is a comma-separated list's items' shapes, sorted.
func sortedShapes(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = textShape(p)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func compareObjects(what, path string, d, p map[string]any, mode stringMode) []string {
	keys := map[string]bool{}
	for k := range d {
		keys[k] = true
	}
	for k := range p {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, k := range sorted {
		sub := path + "." + k
		dv, inD := d[k]
		pv, inP := p[k]
		switch {
		case isAllowed(what, sub):
		case !inP:
			diffs = append(diffs, fmt.Sprintf("%s: only docker has it (%s)", sub, brief(dv)))
		case !inD:
			diffs = append(diffs, fmt.Sprintf("%s: only pelagos has it (%s)", sub, brief(pv)))
		default:
			diffs = append(diffs, compareJSON(what, sub, dv, pv, mode)...)
		}
	}
	return diffs
}

// brief is v as compact JSON, cut short for messages.
func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// decodeJSON decodes one JSON document, keeping numbers as json.Number.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// table is a text table as docker's CLI prints it (text/tabwriter,
// padding of at least three spaces): its column names, and each row cut
// at the columns' starting offsets.
type table struct {
	header []string
	rows   [][]string
}

// columnGap separates header names; names themselves hold single spaces
// ("CONTAINER ID").
var columnGap = regexp.MustCompile(`\S(?:\S| \S)*`)

// parseTable parses out; tabwriter measures cells in runes, so offsets
// are rune offsets.
func parseTable(out string) table {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return table{}
	}
	var t table
	var starts []int
	for _, loc := range columnGap.FindAllStringIndex(lines[0], -1) {
		starts = append(starts, utf8.RuneCountInString(lines[0][:loc[0]]))
		t.header = append(t.header, lines[0][loc[0]:loc[1]])
	}
	for _, line := range lines[1:] {
		r := []rune(line)
		row := make([]string, len(starts))
		for i, s := range starts {
			end := len(r)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			if s < end {
				row[i] = strings.TrimSpace(string(r[s:end]))
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

// compareTables lists the differences between docker's table d and
// pelagos's p: column names and order, the number of rows, and each
// cell's shape.
func compareTables(what string, d, p table) []string {
	if strings.Join(d.header, "|") != strings.Join(p.header, "|") {
		return []string{fmt.Sprintf("columns: docker %q, pelagos %q", d.header, p.header)}
	}
	if len(d.rows) != len(p.rows) {
		return []string{fmt.Sprintf("rows: docker %d, pelagos %d", len(d.rows), len(p.rows))}
	}
	var diffs []string
	for i := range d.rows {
		for j, col := range d.header {
			if isAllowed(what, col) {
				continue
			}
			ds, ps := shape(d.rows[i][j]), shape(p.rows[i][j])
			if col == "MOUNTS" {
				// docker lists a container's mounts in map order.
				ds, ps = sortedShapes(d.rows[i][j]), sortedShapes(p.rows[i][j])
			}
			if ds != ps {
				diffs = append(diffs, fmt.Sprintf("row %d %s: docker %q (%s), pelagos %q (%s)", i+1, col, d.rows[i][j], ds, p.rows[i][j], ps))
			}
		}
	}
	return diffs
}
