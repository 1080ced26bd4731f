package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Hierarchy is one cgroup hierarchy mounted on this machine, as seen by the
// calling process: on the hybrid hosts the tests run on, one per v1
// controller (plus name=systemd) and the cgroup2 "unified" one.
type Hierarchy struct {
	Mount string // where it is mounted, e.g. /sys/fs/cgroup/memory
	Self  string // the directory of the caller's own cgroup in it
	V2    bool
	Name  string // the controllers field of /proc/self/cgroup ("" for v2)
}

// Hierarchies lists the cgroup hierarchies the caller is a member of.
func Hierarchies() ([]Hierarchy, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var hs []Hierarchy
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("/proc/self/cgroup: bad line %q", line)
		}
		m, ok := mounts[f[1]]
		if !ok {
			continue // not mounted here
		}
		rel, err := filepath.Rel(m.root, f[2])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // our cgroup is outside what is mounted
		}
		hs = append(hs, Hierarchy{Mount: m.point, Self: filepath.Join(m.point, rel), V2: f[1] == "", Name: f[1]})
	}
	if len(hs) == 0 {
		return nil, errors.New("no cgroup hierarchy mounted")
	}
	return hs, nil
}

type cgroupMount struct{ point, root string }

// cgroupMounts maps the controller list of each mounted hierarchy, spelt as
// in /proc/self/cgroup ("cpu,cpuacct", "name=systemd", "" for cgroup2), to
// its mount.
func cgroupMounts() (map[string]cgroupMount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]cgroupMount{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		root, point := unescapeMountinfo(pf[3]), unescapeMountinfo(pf[4])
		switch qf[0] {
		case "cgroup2":
			out[""] = cgroupMount{point, root}
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(qf[2], ",") {
				if o != "rw" && o != "ro" && !strings.HasPrefix(o, "release_agent") && o != "clone_children" && !strings.HasPrefix(o, "xattr") && o != "noprefix" && o != "cpuset_v2_mode" {
					ctrls = append(ctrls, o)
				}
			}
			out[strings.Join(ctrls, ",")] = cgroupMount{point, root}
		}
	}
	return out, s.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for space ...) of
// /proc/self/mountinfo path fields.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Cgroup is a cgroup this process created, one directory per hierarchy.
type Cgroup struct {
	Dirs []string
}

// NewCgroup creates a cgroup called name under the caller's own cgroup in
// every hierarchy. Creating it under our own cgroup (rather than at the
// root) keeps whatever runs in it accounted where we are accounted. name
// must carry a prefix unique to the creating test.
func NewCgroup(name string) (*Cgroup, error) {
	if name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("cgroup name %q: want one path element", name)
	}
	hs, err := Hierarchies()
	if err != nil {
		return nil, err
	}
	cg := &Cgroup{}
	for _, h := range hs {
		dir := filepath.Join(h.Self, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			cg.Remove()
			return nil, fmt.Errorf("create cgroup: %w", err)
		}
		cg.Dirs = append(cg.Dirs, dir)
		if err := inheritCpuset(h, dir); err != nil {
			cg.Remove()
			return nil, err
		}
	}
	return cg, nil
}

// inheritCpuset fills a new v1 cpuset cgroup's cpus and mems from its
// parent: v1 creates them empty and refuses tasks until they are set.
func inheritCpuset(h Hierarchy, dir string) error {
	if h.V2 || !strings.Contains(h.Name, "cpuset") {
		return nil
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), v, 0); err != nil {
			return fmt.Errorf("cpuset %s: %w", f, err)
		}
	}
	return nil
}

// ProcsFiles returns the cgroup.procs file of each hierarchy: writing a pid
// to all of them moves that process into the cgroup.
func (c *Cgroup) ProcsFiles() []string {
	var out []string
	for _, d := range c.Dirs {
		out = append(out, filepath.Join(d, "cgroup.procs"))
	}
	return out
}

// Remove kills every process left in the cgroup and its descendants (all
// of them started by the test that created it) and removes the directories.
func (c *Cgroup) Remove() error {
	var errs []error
	for _, d := range c.Dirs {
		errs = append(errs, RemoveCgroupTree(d))
	}
	return errors.Join(errs...)
}

// Empty reports whether no process is left anywhere in the cgroup tree.
func (c *Cgroup) Empty() (bool, error) {
	for _, d := range c.Dirs {
		pids, err := treePids(d)
		if err != nil {
			return false, err
		}
		if len(pids) > 0 {
			return false, nil
		}
	}
	return true, nil
}

// RemoveCgroupTree SIGKILLs the processes in the cgroup directory dir and
// everything below it and removes the directories, deepest first. A
// missing dir is not an error. Only call it on a tree the caller created.
func RemoveCgroupTree(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Kill everything first: a frozen v1 freezer cgroup would keep its
	// tasks from dying, so thaw it too.
	for _, d := range dirs {
		thaw(d)
		for _, pid := range readPids(d) {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		errs = append(errs, rmdirWhenEmpty(dirs[i]))
	}
	return errors.Join(errs...)
}

func thaw(dir string) {
	if _, err := os.Stat(filepath.Join(dir, "freezer.state")); err == nil {
		os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.freeze")); err == nil {
		os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
	}
}

// rmdirWhenEmpty removes a cgroup directory, retrying briefly while killed
// processes finish exiting (rmdir fails with EBUSY until then).
func rmdirWhenEmpty(dir string) error {
	var err error
	for i := 0; i < 100; i++ {
		err = unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		for _, pid := range readPids(dir) {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

func treePids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			pids = append(pids, readPids(p)...)
		}
		return nil
	})
	return pids, err
}

func readPids(dir string) []int {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range bytes.Fields(data) {
		if pid, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// RemoveRootCgroups removes the cgroup at the absolute cgroup path rel (as
// a config.json cgroupsPath names it, e.g. "/pelagos-gorunc-123") in every
// mounted hierarchy, with everything below it. Use it for the parent that
// a test's absolute cgroupsPath values share.
func RemoveRootCgroups(rel string) error {
	if !strings.HasPrefix(rel, "/pelagos-") || strings.Contains(rel, "..") {
		return fmt.Errorf("refusing to remove cgroup %q: not a pelagos test cgroup", rel)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if m.root != "/" {
			continue
		}
		errs = append(errs, RemoveCgroupTree(filepath.Join(m.point, rel)))
	}
	return errors.Join(errs...)
}
