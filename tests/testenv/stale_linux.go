package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TempDir makes a directory in os.TempDir named prefix<pid>-<random>, so
// that CleanStale can tell when its creator is gone.
func TempDir(prefix string) (string, error) {
	return os.MkdirTemp("", fmt.Sprintf("%s%d-", prefix, os.Getpid()))
}

// CleanStale removes what a killed earlier run left behind: temporary
// directories (made by TempDir) and cgroups, under our own cgroup or at a
// hierarchy's root, whose names are prefix<pid>-... for a pid that no
// longer exists (our names always have the dash; see staleEntries). A live pid, even a reused one, keeps its things: this
// errs on the side of leaving them. prefix must start with "pelagos-".
func CleanStale(prefix string) error {
	if !strings.HasPrefix(prefix, "pelagos-") {
		return fmt.Errorf("refusing stale cleanup for %q: not a pelagos test prefix", prefix)
	}
	var errs []error
	for _, dir := range staleEntries(os.TempDir(), prefix) {
		_, err := UnmountUnder(dir)
		errs = append(errs, err, os.RemoveAll(dir))
	}
	hs, err := Hierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		parents := []string{h.Self}
		if h.Mount != h.Self {
			parents = append(parents, h.Mount)
		}
		for _, p := range parents {
			for _, cg := range staleEntries(p, prefix) {
				errs = append(errs, RemoveCgroupTree(cg))
			}
		}
	}
	return errors.Join(errs...)
}

// staleEntries lists the directories in parent named prefix<pid>-...
// whose pid is not running. The dash after the pid is required: without
// it a name made by os.MkdirTemp(prefix) (random digits) would look like
// one of ours.
func staleEntries(parent, prefix string) []string {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, hasDash := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !hasDash || err != nil || pid <= 0 || pid > maxPid || alive(pid) {
			continue
		}
		out = append(out, filepath.Join(parent, e.Name()))
	}
	return out
}

// maxPid is the kernel's upper bound for pid_max (PID_MAX_LIMIT on 64-bit).
const maxPid = 1 << 22

func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// UnmountUnder detaches every mount at or below dir, deepest first, and
// returns how many there were. Only call it on a directory we own.
func UnmountUnder(dir string) (int, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0, err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			p := unescapeMountinfo(f[4])
			if p == dir || strings.HasPrefix(p, dir+"/") {
				points = append(points, p)
			}
		}
	}
	var errs []error
	for i := len(points) - 1; i >= 0; i-- {
		if err := unix.Unmount(points[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", points[i], err))
		}
	}
	return len(points), errors.Join(errs...)
}
