package ocisuite

import (
	"strconv"
	"strings"
)

// TAP is what one validation program reported, in TAP 13 as tap-go writes
// it: test points ("ok N - ...", "not ok N - ..."), an optional plan
// ("1..N") and YAML diagnostic blocks indented under "  ---".
type TAP struct {
	Ok, NotOk, Skipped int // Skipped points are also counted in Ok
	// Planned is the sum of the plan lines ("1..N"), -1 without one. Some
	// programs print a second, empty TAP document after the first.
	Planned int
	// YAMLError is set when a diagnostic block has an "error:" key.
	YAMLError bool
	// Failures lists the descriptions of the `not ok` points.
	Failures []string
}

// Points is the number of test points reported.
func (t TAP) Points() int { return t.Ok + t.NotOk }

// ParseTAP parses a program's standard output.
func ParseTAP(out string) TAP {
	t := TAP{Planned: -1}
	inYAML := false
	for _, line := range strings.Split(out, "\n") {
		trimmed := strings.TrimSpace(line)
		if inYAML {
			switch {
			case trimmed == "...":
				inYAML = false
			case isYAMLError(trimmed):
				t.YAMLError = true
			}
			continue
		}
		switch {
		case trimmed == "---" && strings.HasPrefix(line, " "):
			inYAML = true
		case strings.HasPrefix(line, "not ok"):
			t.NotOk++
			t.Failures = append(t.Failures, pointDescription(line[len("not ok"):]))
		case strings.HasPrefix(line, "ok"):
			t.Ok++
			if isSkip(line) {
				t.Skipped++
			}
		case strings.HasPrefix(line, "1.."):
			if n, err := strconv.Atoi(strings.Fields(line[3:] + " ")[0]); err == nil {
				t.Planned = max(t.Planned, 0) + n
			}
		}
	}
	return t
}

// isYAMLError reports whether a diagnostic line is a non-empty "error"
// key. tap-go writes diagnostics as JSON (which is YAML); some programs
// write "error": "" next to passing points.
func isYAMLError(line string) bool {
	v, ok := strings.CutPrefix(line, `"error":`)
	if !ok {
		v, ok = strings.CutPrefix(line, "error:")
	}
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ","))
	return ok && v != "" && v != `""` && v != "''"
}

// pointDescription turns " 3 - some check" into "3 - some check".
func pointDescription(rest string) string {
	return strings.TrimSpace(rest)
}

func isSkip(line string) bool {
	_, directive, ok := strings.Cut(line, "#")
	return ok && strings.HasPrefix(strings.ToLower(strings.TrimSpace(directive)), "skip")
}
