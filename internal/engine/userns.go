package engine

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// --userns auto gives each container a user namespace of its own whose
// IDs 0..Size-1 are a range of host IDs no other container of this data
// root holds, taken from the subordinate IDs of the user "pelagos" (else
// "root") in /etc/subuid and /etc/subgid, as podman's auto mode takes the
// "containers" user's. The container's root is then an unprivileged host
// ID. The image's files keep their owners on disk: the rootfs is an
// overlay of idmapped layers and volumes are idmapped binds
// (userns_linux.go), so nothing is chowned.
const (
	usernsAuto        = "auto"
	defaultUsernsSize = 65536
	// subIDUser, then subIDFallback, is the user whose /etc/subuid and
	// /etc/subgid ranges auto takes.
	subIDUser, subIDFallback = "pelagos", "root"
)

// Userns is a container's user namespace mapping (--userns auto): its
// IDs 0..Size-1 are the host's HostUID.. and HostGID...
type Userns struct {
	HostUID uint32 `json:"HostUID"`
	HostGID uint32 `json:"HostGID"`
	Size    uint32 `json:"Size"`
}

// parseUsernsAuto reads "auto" or "auto:size=N"; ok is false for any
// other mode.
func parseUsernsAuto(mode string) (size uint32, ok bool, err error) {
	opts, isAuto := strings.CutPrefix(mode, usernsAuto)
	if !isAuto || (opts != "" && !strings.HasPrefix(opts, ":")) {
		return 0, false, nil
	}
	size = defaultUsernsSize
	if opts == "" {
		return size, true, nil
	}
	for _, o := range strings.Split(opts[1:], ",") {
		k, v, _ := strings.Cut(o, "=")
		if k != "size" {
			return 0, true, invalid("invalid --userns mode %q: unknown option %q (auto takes size=N)", mode, o)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < 1 {
			return 0, true, invalid("invalid --userns mode %q: size %q is not a positive number of IDs", mode, v)
		}
		size = uint32(n)
	}
	return size, true, nil
}

// validateUserns refuses what a user namespace of its own cannot give, in
// docker's words (its daemon with userns-remap refuses the same).
func validateUserns(hc *HostConfig) error {
	if _, auto, _ := parseUsernsAuto(hc.UsernsMode); !auto {
		for _, m := range hc.Mounts {
			if m.BindOptions != nil && m.BindOptions.IDMap {
				return invalid("invalid mount config for %s: idmap needs a user namespace of the container's own (--userns auto)", m.Target)
			}
		}
		return nil
	}
	switch {
	case hc.Privileged:
		return invalid("privileged mode is incompatible with user namespaces (--userns %s): run a privileged container in the host's user namespace", hc.UsernsMode)
	case hc.PidMode == modeHostNS:
		return invalid("cannot share the host PID namespace when user namespaces are enabled (--userns %s)", hc.UsernsMode)
	case hc.IpcMode == modeHostNS:
		return invalid("cannot share the host's IPC namespace when user namespaces are enabled (--userns %s)", hc.UsernsMode)
	case strings.HasPrefix(hc.PidMode, modeContainer), strings.HasPrefix(hc.IpcMode, modeContainer):
		// Its proc and mqueue mounts need privilege over the joined
		// namespace, which another user namespace owns.
		return invalid("cannot join another container's PID or IPC namespace with --userns %s: the container has a user namespace of its own", hc.UsernsMode)
	}
	return nil
}

// subIDRange is one line of /etc/subuid or /etc/subgid.
type subIDRange struct{ start, size uint64 }

// subIDFiles are /etc/subuid and /etc/subgid, or the files that
// PELAGOS_SUBUID and PELAGOS_SUBGID name.
func subIDFiles() (string, string) {
	uid, gid := os.Getenv("PELAGOS_SUBUID"), os.Getenv("PELAGOS_SUBGID")
	if uid == "" {
		uid = "/etc/subuid"
	}
	if gid == "" {
		gid = "/etc/subgid"
	}
	return uid, gid
}

// readSubIDs returns the ranges path gives the first of users it lists,
// and that user.
func readSubIDs(path string, users ...string) ([]subIDRange, string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	by := map[string][]subIDRange{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || strings.HasPrefix(parts[0], "#") {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		size, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || size == 0 {
			continue
		}
		by[parts[0]] = append(by[parts[0]], subIDRange{start, size})
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	for _, u := range users {
		if rs := by[u]; len(rs) > 0 {
			return rs, u, nil
		}
	}
	return nil, "", nil
}

// firstFree is the lowest start of size IDs inside one of ranges that
// overlaps none of used (pairs of start, size).
func firstFree(ranges []subIDRange, used [][2]uint64, size uint64) (uint64, bool) {
	slices.SortFunc(used, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	for _, r := range ranges {
		start := r.start
		for _, u := range used {
			if u[0] < start+size && start < u[0]+u[1] {
				start = u[0] + u[1] // overlaps: try just past it
			}
		}
		if start+size <= r.start+r.size {
			return start, true
		}
	}
	return 0, false
}

// allocUserns gives c a free range for --userns auto. The ranges taken
// are those other containers' records hold, so removing a container
// frees its range. The caller holds the returned lock until c is
// committed, so that two creates never take one range.
func (e *Engine) allocUserns(ctx context.Context, c *Container, size uint32) (*lock, error) {
	if e.Rootless {
		return nil, invalid("--userns %s needs root: a rootless engine has only its user's own subordinate IDs (use --userns host)", c.HostConfig.UsernsMode)
	}
	l, err := flock(ctx, filepath.Join(e.containersDir(), usernsLock))
	if err != nil {
		return nil, err
	}
	u, err := e.freeRange(ctx, size)
	if err != nil {
		l.unlock()
		return nil, err
	}
	c.Userns = u
	return l, nil
}

// usernsLock is the lock file, in the containers directory, that
// serialises range allocation.
const usernsLock = ".userns.lock"

// freeRange finds size free IDs in both the subordinate uids and gids.
func (e *Engine) freeRange(ctx context.Context, size uint32) (*Userns, error) {
	uidFile, gidFile := subIDFiles()
	uids, uidUser, err := readSubIDs(uidFile, subIDUser, subIDFallback)
	if err != nil {
		return nil, err
	}
	gids, gidUser, err := readSubIDs(gidFile, subIDUser, subIDFallback)
	if err != nil {
		return nil, err
	}
	if uidUser == "" || gidUser == "" {
		return nil, invalid("--userns auto: no subordinate IDs for %q or %q in %s and %s (add a line such as %s:1000000:1000000 to both)",
			subIDUser, subIDFallback, uidFile, gidFile, subIDUser)
	}
	cs, err := e.List(ctx)
	if err != nil {
		return nil, err
	}
	var usedU, usedG [][2]uint64
	for _, o := range cs {
		if u := o.Userns; u != nil {
			usedU = append(usedU, [2]uint64{uint64(u.HostUID), uint64(u.Size)})
			usedG = append(usedG, [2]uint64{uint64(u.HostGID), uint64(u.Size)})
		}
	}
	uid, okU := firstFree(uids, usedU, uint64(size))
	gid, okG := firstFree(gids, usedG, uint64(size))
	if !okU || !okG {
		return nil, invalid("--userns auto: not enough available IDs: no free range of %d left in the subordinate IDs of %q (%s, %s)", size, uidUser, uidFile, gidFile)
	}
	return &Userns{HostUID: uint32(uid), HostGID: uint32(gid), Size: size}, nil
}
