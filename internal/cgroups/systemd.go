package cgroups

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// ErrNoSystemd is returned for a systemd cgroup path ("slice:prefix:name",
// or Config.Systemd) on a host where systemd is not PID 1: the systemd
// driver asks systemd to create the cgroup, and there is no one to ask.
var ErrNoSystemd = errors.New("the systemd cgroup driver needs systemd running as PID 1")

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
	parts := strings.Split(p, ":")
	if len(parts) != 3 {
		return "", fmt.Errorf("systemd cgroup path %q: want slice:prefix:name", p)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	if name == "" || strings.Contains(name, "/") || strings.Contains(prefix, "/") {
		return "", fmt.Errorf("systemd cgroup path %q: bad prefix or name", p)
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", fmt.Errorf("systemd cgroup path %q: %w", p, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		if prefix != "" {
			unit = prefix + "-" + name
		}
		unit += ".scope"
	}
	return path.Join(dir, unit), nil
}

// expandSlice turns "a-b-c.slice" into "/a.slice/a-b.slice/a-b-c.slice".
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || base == "" || strings.Contains(base, "/") {
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
