package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrNoSystemd is returned for a systemd cgroup path ("slice:prefix:name",
// or Config.Systemd) when no systemd answers: the systemd driver asks
// systemd to create the cgroup, and there is no one to ask.
var ErrNoSystemd = errors.New("--systemd-cgroup needs a running systemd")

// AnnotationPrefix marks annotations that set a property of the scope, as
// runc reads them: "org.systemd.property.TimeoutStopSec": "30".
const AnnotationPrefix = "org.systemd.property."

// Scope names a container's transient systemd unit.
type Scope struct {
	// Unit is the scope's name, "prefix-name.scope".
	Unit string `json:"unit"`
	// Slice is the slice the scope goes in, "system.slice" by default.
	Slice string `json:"slice"`
}

// DefaultSystemdPath is the cgroupsPath runc's --systemd-cgroup uses when
// the config gives none; pelagos names its scopes for itself.
func DefaultSystemdPath(id string) string { return ":pelagos:" + id }

// IsSystemdPath reports whether p has the "slice:prefix:name" form runc's
// --systemd-cgroup takes.
func IsSystemdPath(p string) bool {
	return strings.Count(p, ":") == 2 && !strings.HasPrefix(p, "/")
}

// SystemdPath expands "slice:prefix:name" to the cgroup path systemd gives
// the transient scope: "system.slice:docker:abc" is
// /system.slice/docker-abc.scope, and a nested slice "a-b.slice" lives at
// /a.slice/a-b.slice (systemd.slice(5)). An empty slice is system.slice.
func SystemdPath(p string) (string, error) {
	_, dir, err := ParseSystemdPath(p)
	return dir, err
}

// ParseSystemdPath splits "slice:prefix:name" into the scope to create and
// the cgroup path systemd gives it (see SystemdPath).
func ParseSystemdPath(p string) (Scope, string, error) {
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return Scope{}, "", fmt.Errorf("systemd cgroup path %q: want slice:prefix:name", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	if name == "" || name == "." || name == ".." || prefix == "." || prefix == ".." ||
		!validUnitChars(name) || !validUnitChars(prefix) {
		return Scope{}, "", fmt.Errorf("systemd cgroup path %q: bad prefix or name (letters, digits and \":-_.\\@\" only)", p)
	}
	if strings.HasSuffix(name, ".slice") {
		// runc would make the container a slice of its own; a slice
		// cannot hold processes directly, so pelagos does not.
		return Scope{}, "", fmt.Errorf("systemd cgroup path %q: a container name ending in .slice is not supported", p)
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return Scope{}, "", fmt.Errorf("systemd cgroup path %q: %w", p, err)
	}
	unit := name
	if prefix != "" {
		unit = prefix + "-" + name
	}
	unit += ".scope"
	if len(unit) > 255 {
		return Scope{}, "", fmt.Errorf("systemd cgroup path %q: unit name longer than 255 bytes", p)
	}
	return Scope{Unit: unit, Slice: slice}, path.Join(dir, unit), nil
}

// validUnitChars reports whether s uses only the characters systemd
// allows in a unit name (unit_name_is_valid); "/" is never one of them.
func validUnitChars(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(":-_.\\@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// expandSlice turns "a-b-c.slice" into "/a.slice/a-b.slice/a-b-c.slice".
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" || !validUnitChars(base) {
		return "", fmt.Errorf("slice %q: want a name ending in .slice", slice)
	}
	if base == "-" {
		return "/", nil
	}
	if strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q: malformed", slice)
	}
	dir, prefix := "/", ""
	for _, comp := range strings.Split(base, "-") {
		prefix += comp
		dir = path.Join(dir, prefix+".slice")
		prefix += "-"
	}
	return dir, nil
}
