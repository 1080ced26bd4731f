package cgroups

import (
	"fmt"
	"sort"
	"strings"
)

// hierarchies maps each mounted cgroup hierarchy's key to its mount point.
// On v1 the key is the hierarchy's controller list as /proc/self/cgroup
// spells it ("cpu", "cpu,cpuacct", "name=systemd"); the cgroup2 tree of a
// hybrid host, and the whole tree on v2, has the key "".
// own is this process's cgroups, as ownCgroups returns them.
func hierarchies(mode Mode, own map[string]string) (map[string]string, error) {
	if mode == Unified {
		return map[string]string{"": Root}, nil
	}
	info, err := readString("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		// 31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
		fields := strings.Fields(line)
		sep := indexOf(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		mnt, fstype := unescape(fields[4]), fields[sep+1]
		if fields[3] != "/" || !strings.HasPrefix(mnt, Root+"/") {
			continue // not a hierarchy root under /sys/fs/cgroup
		}
		switch fstype {
		case "cgroup2":
			out[""] = mnt
		case "cgroup":
			// Match the super options against the keys /proc/self/cgroup
			// uses for this hierarchy.
			opts := strings.Split(fields[sep+3], ",")
			for key := range own {
				if key != "" && sameSet(strings.Split(key, ","), opts) {
					out[key] = mnt
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchy mounted under %s", Root)
	}
	return out, nil
}

// ownCgroups parses /proc/self/cgroup: hierarchy key to this process's
// cgroup path in it.
func ownCgroups() (map[string]string, error) {
	s, err := readString("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return parseProcCgroup(s), nil
}

func parseProcCgroup(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		out[parts[1]] = parts[2]
	}
	return out
}

// sameSet reports whether every element of want appears in have.
func sameSet(want, have []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// unescape undoes mountinfo's octal escapes (\040 for space and so on).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
