package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotEmpty is returned by Create when the requested cgroup already exists
// and holds processes: it belongs to something else.
var ErrNotEmpty = errors.New("cgroup already exists and is not empty")

// ErrFrozen is returned by Create when the requested cgroup already exists
// and is frozen: a process placed in it would never run.
var ErrFrozen = errors.New("cgroup already exists and is frozen")

// Mode says which cgroup layout the host uses.
type Mode int

const (
	// Legacy is cgroup v1, possibly hybrid (controllers on v1, with an
	// extra cgroup2 hierarchy that holds no controllers).
	Legacy Mode = iota + 1
	// Unified is a pure cgroup v2 host.
	Unified
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "v1"
	case Unified:
		return "v2"
	}
	return "unknown"
}

// Root is where the cgroup filesystems live.
const Root = "/sys/fs/cgroup"

// DetectMode reports the host's cgroup layout by the filesystem type mounted
// at /sys/fs/cgroup.
func DetectMode() (Mode, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(Root, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: Root, Err: err}
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified, nil
	}
	return Legacy, nil
}

// Config says where a container's cgroup goes.
type Config struct {
	// Path is the OCI cgroupsPath. An absolute path is taken from the root
	// of each hierarchy; a relative one from the calling process's own
	// cgroup on v1 and from its parent on v2 (see relativeBase); an empty
	// one is the relative path Name.
	Path string
	// Name is used when Path is empty (the container ID).
	Name string
	// Systemd selects the systemd driver (runc's --systemd-cgroup): Path is
	// "slice:prefix:name" and systemd creates the cgroup. Without systemd
	// as the init, New fails with ErrNoSystemd. An empty Path is then
	// DefaultSystemdPath(Name).
	Systemd bool
	// Annotations of the config: with the systemd driver, those named
	// org.systemd.property.* set properties of the scope, as in runc.
	Annotations map[string]string
}

// Manager owns one container's cgroup: the directory in every hierarchy.
type Manager struct {
	mode Mode
	// paths maps a hierarchy key (the controller list such as "memory",
	// "cpu,cpuacct", "name=systemd", or "" for the cgroup2 tree) to the
	// absolute directory of the container's cgroup in that hierarchy.
	paths map[string]string
	// mounts maps the same keys to each hierarchy's mount point, for
	// ContainerMounts.
	mounts map[string]string
	// created lists the directories this manager made, outermost first,
	// so that Destroy removes exactly those and nothing else.
	created []string
	// scope is the systemd unit that owns the cgroup, or nil when this
	// manager creates the directories itself.
	scope *Scope
	// extra are the config's org.systemd.property.* annotations.
	extra map[string]string
	// started is set once systemd has started the scope for this
	// manager: before that the unit of that name, if any, is someone
	// else's, and Destroy must not stop it.
	started bool
}

// State is what a Manager persists so that a later command can Load it.
type State struct {
	Mode    Mode              `json:"mode"`
	Paths   map[string]string `json:"paths"`
	Mounts  map[string]string `json:"mounts,omitempty"`
	Created []string          `json:"created,omitempty"`
	// Scope is the systemd unit, with the systemd driver.
	Scope *Scope `json:"scope,omitempty"`
	// ScopeStarted says that this manager's StartScope started the unit.
	ScopeStarted bool `json:"scopeStarted,omitempty"`
}

// New resolves the cgroup directories for cfg without creating anything.
func New(cfg Config) (*Manager, error) {
	mode, err := DetectMode()
	if err != nil {
		return nil, err
	}
	inner := cfg.Path
	if inner == "" {
		if cfg.Name == "" {
			return nil, errors.New("cgroup: neither a path nor a name given")
		}
		inner = cfg.Name
		if cfg.Systemd {
			inner = DefaultSystemdPath(cfg.Name)
		}
	}
	if cfg.Systemd || IsSystemdPath(inner) {
		return newSystemd(cfg, mode, inner)
	}
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	hier, err := hierarchies(mode, own)
	if err != nil {
		return nil, err
	}
	m := &Manager{mode: mode, paths: map[string]string{}, mounts: hier}
	for key, mnt := range hier {
		rel := inner
		if !filepath.IsAbs(rel) {
			rel = filepath.Join(relativeBase(mode, own[key]), rel)
		}
		rel = filepath.Clean("/" + rel)
		m.paths[key] = filepath.Join(mnt, rel)
	}
	return m, nil
}

// relativeBase is the cgroup a relative cgroupsPath starts from, given the
// caller's own cgroup in that hierarchy. On v1 (and in the controller-less
// cgroup2 tree of a hybrid host) it is the caller's cgroup itself. On v2
// the caller's cgroup always holds a process, the caller, and a cgroup
// with processes cannot enable controllers for its children (the "no
// internal processes" rule), so a container below it would get no
// controllers and every limit would fail: its parent is used instead, as
// runc's v2 driver does. The root cgroup is exempt from the rule and is
// its own base.
func relativeBase(mode Mode, own string) string {
	if mode != Unified || own == "" || own == "/" {
		return own
	}
	return filepath.Dir(own)
}

// Load rebuilds a Manager from what State returned in an earlier process.
func Load(s State) *Manager {
	return &Manager{mode: s.Mode, paths: s.Paths, mounts: s.Mounts, created: s.Created, scope: s.Scope, started: s.ScopeStarted}
}

// State returns what must be saved to Load this manager later.
func (m *Manager) State() State {
	return State{Mode: m.mode, Paths: m.paths, Mounts: m.mounts, Created: m.created, Scope: m.scope, ScopeStarted: m.started}
}

// Mode reports the layout this manager works on.
func (m *Manager) Mode() Mode { return m.mode }

// Paths returns the container's cgroup directory in each hierarchy, keyed
// as in State.Paths.
func (m *Manager) Paths() map[string]string { return m.paths }

// Path returns the directory in the hierarchy of the given controller
// ("memory", "pids", ...), or in the cgroup2 tree for "", and whether there
// is one.
func (m *Manager) Path(controller string) (string, bool) {
	if p, ok := m.paths[controller]; ok {
		return p, true
	}
	for key, p := range m.paths {
		for _, c := range strings.Split(key, ",") {
			if c == controller {
				return p, true
			}
		}
	}
	return "", false
}

// Planned returns the state Create is about to leave: the directories it
// would make, none of which exist yet. Saving it before Create lets a
// process killed in the middle of Create be cleaned up by Destroy on the
// loaded state (Destroy skips what does not exist, and rmdir never removes
// a cgroup that has members or children).
func (m *Manager) Planned() State {
	if m.scope != nil {
		// systemd makes the scope's directories (and the slices'), which
		// are never ours to remove; what joinScope makes is recorded as
		// it makes it.
		return State{Mode: m.mode, Paths: m.paths, Mounts: m.mounts, Scope: m.scope}
	}
	var planned []string
	for _, key := range sortedKeys(m.paths) {
		var missing []string
		for d := m.paths[key]; d != "/" && d != "."; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			missing = append(missing, d)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			planned = append(planned, missing[i])
		}
	}
	return State{Mode: m.mode, Paths: m.paths, Created: planned, Scope: m.scope}
}

// Create makes the cgroup directories. A directory that already exists is
// adopted only when it is empty and not frozen (ErrNotEmpty, ErrFrozen), and
// it is never removed by Destroy. On failure Create removes what it made.
//
// mkdir comes first and the existing-cgroup checks only when it reports
// EEXIST: a fresh container's directories never exist, and checking first
// would cost a stat per hierarchy for nothing.
func (m *Manager) Create() error {
	if m.scope != nil {
		return fmt.Errorf("cgroup: the systemd scope %s is made by StartScope, with the init's pid", m.scope.Unit)
	}
	for _, key := range sortedKeys(m.paths) {
		dir := m.paths[key]
		made, existed, err := mkdirAll(dir)
		m.created = append(m.created, made...)
		if err == nil && existed {
			if err = checkReusable(dir); err != nil {
				err = fmt.Errorf("cgroup %s: %w", dir, err)
			}
		}
		if err == nil && strings.Contains(","+key+",", ",cpuset,") {
			err = initCpuset(m.paths[key])
		}
		if err == nil && key == "" && m.mode == Unified {
			err = enableControllers(dir)
		}
		if err != nil {
			_ = m.Destroy()
			return err
		}
	}
	return nil
}

// initCpuset gives new v1 cpuset cgroups their parent's CPUs and memory
// nodes: they start empty, and an empty cpuset cannot take processes.
func initCpuset(dir string) error {
	// Fill every empty cpuset from the leaf up, top-down: an ancestor
	// another create made a moment ago may not be filled in yet, and an
	// empty ancestor leaves its children empty.
	var empty []string
	for d := dir; ; d = filepath.Dir(d) {
		cur, err := readFile(d, "cpuset.cpus")
		if err != nil || cur != "" {
			break
		}
		empty = append(empty, d)
	}
	for i := len(empty) - 1; i >= 0; i-- {
		d := empty[i]
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := readFile(d, f)
			if err != nil || cur != "" {
				continue
			}
			parent, err := readFile(filepath.Dir(d), f)
			if err != nil {
				return err
			}
			if err := writeFile(d, f, parent); err != nil {
				return err
			}
		}
	}
	return nil
}

// enableControllers turns on, in every ancestor of dir below the root,
// each controller its parent offers, so that dir gets them all. Enabling is
// best effort: a controller that cannot be enabled (one that a parent with
// processes of its own keeps, for instance) makes the limits that need it
// fail later with a clear error, in Set.
func enableControllers(dir string) error {
	rel, err := filepath.Rel(Root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("cgroup %s is outside %s", dir, Root)
	}
	cur := Root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			break
		}
		avail, err := readFile(cur, "cgroup.controllers")
		if err != nil {
			return err
		}
		enabled, _ := readFile(cur, "cgroup.subtree_control")
		have := " " + enabled + " "
		var missing []string
		for _, c := range strings.Fields(avail) {
			if !strings.Contains(have, " "+c+" ") {
				missing = append(missing, "+"+c)
			}
		}
		// All in one write; the kernel applies a list all or nothing, so
		// when it refuses, enable one by one to get those it allows.
		if len(missing) > 0 && writeFile(cur, "cgroup.subtree_control", strings.Join(missing, " ")) != nil {
			for _, c := range missing {
				_ = writeFile(cur, "cgroup.subtree_control", c)
			}
		}
		cur = filepath.Join(cur, part)
	}
	return nil
}

// Apply moves process pid into the cgroup in every hierarchy.
func (m *Manager) Apply(pid int) error {
	v := strconv.Itoa(pid)
	for _, key := range sortedKeys(m.paths) {
		if err := writeFile(m.paths[key], "cgroup.procs", v); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// Pids lists the processes in the container's cgroup (from the pids
// hierarchy on v1, or the cgroup2 tree), including those in child cgroups.
func (m *Manager) Pids() ([]int, error) {
	dir, ok := m.Path("pids")
	if !ok {
		dir, ok = m.Path("")
	}
	if !ok {
		for _, p := range m.paths {
			dir, ok = p, true
			break
		}
	}
	if !ok {
		return nil, nil
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		got, err := readPids(filepath.Join(p, "cgroup.procs"))
		pids = append(pids, got...)
		return err
	})
	return pids, err
}

// Destroy removes the directories Create made, innermost first, and
// nothing else. Processes still inside are killed first (the cgroup is
// thawed so that they can die) and waited for, since a cgroup with members
// cannot be removed; removal is retried while the kernel still reports the
// cgroup busy.
//
// The usual container is gone by now: its directories are empty and a
// plain rmdir each removes them. rmdir fails with EBUSY while any process
// or child cgroup remains, so the first EBUSY is what starts the kill and
// wait; nothing is listed or read before it.
func (m *Manager) Destroy() error {
	if m.scope != nil {
		return m.destroyScope()
	}
	return m.removeCreated()
}

// removeCreated removes the directories Create made, as Destroy describes.
func (m *Manager) removeCreated() error {
	own := map[string]bool{}
	for _, p := range m.paths {
		own[p] = true
	}
	killed := false
	var firstErr error
	for i := len(m.created) - 1; i >= 0; i-- {
		dir := m.created[i]
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			continue
		}
		if !own[dir] {
			// An ancestor we made on the way may hold other containers'
			// cgroups by now: it goes only if it is empty, and nothing
			// in it is ever killed.
			if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.ENOTEMPTY) && firstErr == nil {
				firstErr = fmt.Errorf("remove cgroup %s: %w", dir, err)
			}
			continue
		}
		if !killed {
			killed = true
			if err := m.killAndWait(); err != nil {
				return err
			}
		}
		if err := removeCgroup(dir); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		m.created = nil
	}
	return firstErr
}

// destroyWait bounds how long Destroy waits for killed processes to leave.
const destroyWait = 10 * time.Second

func (m *Manager) killAndWait() error {
	pids, err := m.Pids()
	if err != nil || len(pids) == 0 {
		return err
	}
	_ = m.Thaw()
	if err := m.Kill(unix.SIGKILL); err != nil {
		return err
	}
	deadline := time.Now().Add(destroyWait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		pids, err := m.Pids()
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup still has processes %v after SIGKILL", pids)
		}
		// Anything forked since the kill gets its own.
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(delay)
	}
}

func removeCgroup(dir string) error {
	var err error
	delay := time.Millisecond
	deadline := time.Now().Add(destroyWait)
	for {
		err = removeTree(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			break
		}
		// Members keep the directory busy: kill what is left and retry.
		pids, _ := readTreePids(dir)
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", dir, err)
}

// removeTree removes dir and its child cgroups (a container may create
// sub-cgroups of its own), deepest first. cgroup directories are removed
// with rmdir even though they contain control files.
func removeTree(dir string) error {
	// Most containers make no sub-cgroups: try the plain rmdir first and
	// walk the children only when it reports them.
	if err := unix.Rmdir(dir); err == nil || !errors.Is(err, syscall.EBUSY) {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}

func readTreePids(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		got, _ := readPids(filepath.Join(p, "cgroup.procs"))
		pids = append(pids, got...)
		return nil
	})
	return pids, err
}

func readPids(file string) ([]int, error) {
	s, err := readString(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(s) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// checkReusable refuses an existing cgroup that has members or is frozen.
func checkReusable(dir string) error {
	pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return ErrNotEmpty
	}
	if s, err := readFile(dir, "freezer.state"); err == nil && s != "THAWED" {
		return ErrFrozen
	}
	if s, err := readFile(dir, "cgroup.freeze"); err == nil && s == "1" {
		return ErrFrozen
	}
	return nil
}

// mkdirAll is os.MkdirAll that reports which directories it made (only
// those its own mkdir created, so that a directory another process made at
// the same moment is never taken for ours) and whether dir itself already
// existed. It tries mkdir first and climbs to the parent only on ENOENT:
// one system call when the parent exists, as it usually does.
func mkdirAll(dir string) (made []string, existed bool, err error) {
	err = unix.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return []string{dir}, false, nil
	case errors.Is(err, unix.EEXIST):
		return nil, true, nil
	case errors.Is(err, unix.ENOENT) && filepath.Dir(dir) != dir:
		made, _, err = mkdirAll(filepath.Dir(dir))
		if err != nil {
			return made, false, err
		}
		err = unix.Mkdir(dir, 0o755)
		if err == nil {
			return append(made, dir), false, nil
		}
		if errors.Is(err, unix.EEXIST) {
			return made, true, nil // made by someone else meanwhile
		}
	}
	return made, false, fmt.Errorf("create cgroup: %w", &os.PathError{Op: "mkdir", Path: dir, Err: err})
}
