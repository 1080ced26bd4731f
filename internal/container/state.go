package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/spec"
)

const (
	stateFile  = "state.json"
	configFile = "config.json"
	startSock  = "start.sock"
	// startedMark is the start socket's name once start has released the
	// init (see markStarted).
	startedMark = "started"
	dirMode     = 0o711
	rootDirMod  = 0o700
)

// record is what state.json holds.
type record struct {
	ID     string `json:"id"`
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	// Status is the last status this runtime recorded: creating, created
	// or running (start records running beside the file, see
	// markStarted). Stopped is never recorded; it is observed (the init
	// is gone).
	Status specs.ContainerState `json:"status"`
	Pid    int                  `json:"pid,omitempty"`
	// PidStart is the init's start time (clock ticks since boot, from
	// /proc/<pid>/stat), to tell our init from a later process that
	// reused its pid.
	PidStart uint64 `json:"pidStart,omitempty"`
	// InitExe is the identity of the sealed binary the init runs until it
	// executes the container process.
	InitExe *FileID   `json:"initExe,omitempty"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner,omitempty"`
	// Creator is the pid of the create command while it runs, to tell a
	// create in progress from one that was killed.
	Creator      int    `json:"creator,omitempty"`
	CreatorStart uint64 `json:"creatorStart,omitempty"`
	// The config itself is in config.json beside state.json, decoded only
	// by the operations that need all of it (exec, update, a seccomp
	// listener): decoding an OCI config is most of a small command's
	// work. What the others need is here.
	Version     string            `json:"ociVersion"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Hooks       *specs.Hooks      `json:"hooks,omitempty"`
	// HostMounts is set when the container shares the runtime's mount
	// namespace: its rootfs bind (and everything under it) lives in the
	// host's tree and delete must detach it.
	HostMounts bool           `json:"hostMounts,omitempty"`
	Cgroup     *cgroups.State `json:"cgroup,omitempty"`
}

// Container is one container of a runtime root.
type Container struct {
	dir string
	rec record
	// config is the container's config, loaded on first use, and
	// rawConfig the bytes it was loaded from.
	config    *specs.Spec
	rawConfig []byte
	// proc is the init, in the process that created it (for Wait).
	proc *os.Process
	// startSent is the start connection of a Create with StartSoon: the
	// start message is sent, Start awaits the process's execution on it.
	startSent *initproc.Conn
}

// ID returns the container ID.
func (c *Container) ID() string { return c.rec.ID }

// Config returns the config the container was created with (a copy taken
// at create: later edits of the bundle do not affect it).
func (c *Container) Config() (*specs.Spec, error) {
	if c.config != nil {
		return c.config, nil
	}
	b, err := os.ReadFile(filepath.Join(c.dir, configFile))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.rec.ID, err)
	}
	s, err := spec.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("container %s: corrupt config copy: %w", c.rec.ID, err)
	}
	c.config, c.rawConfig = s, b
	return c.config, nil
}

// saveConfig writes the container's config copy atomically.
func (c *Container) saveConfig() error {
	b, err := json.Marshal(c.config)
	if err != nil {
		return err
	}
	c.rawConfig = b
	return writeAtomic(filepath.Join(c.dir, configFile), b)
}

// Pid returns the init's pid (0 before it exists).
func (c *Container) Pid() int { return c.rec.Pid }

// Load reads the container id from root.
func Load(root, id string) (*Container, error) {
	if err := spec.ValidateID(id); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, id)
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(dir); derr == nil {
			// A create was killed before its first state write: only
			// the directory exists; delete can still remove it.
			return &Container{dir: dir, rec: record{ID: id, Status: specs.StateCreating}}, nil
		}
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{dir: dir}
	if err := unmarshalRecord(b, &c.rec); err != nil {
		return nil, fmt.Errorf("container %s: corrupt state file: %w", id, err)
	}
	return c, nil
}

// List loads every container in root, sorted by ID.
func List(root string) ([]*Container, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, e := range entries {
		if !e.IsDir() || spec.ValidateID(e.Name()) != nil {
			continue
		}
		c, err := Load(root, e.Name())
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rec.ID < out[j].rec.ID })
	return out, nil
}

// save writes state.json atomically: a reader sees the old or the new
// state, never a torn one.
func (c *Container) save() error {
	b, err := c.rec.marshal()
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(c.dir, stateFile), b)
}

// writeAtomic replaces path with b through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// markStarted records that start released the init, and its process
// runs. It renames the start socket, which has done its job, to
// startedMark rather than rewrite state.json: a rename allocates no inode,
// and a new inode costs 0.5-1 ms on an ext4 without a journal that many
// files come and go on (it scans past every recently deleted one). Where
// there is no start socket to rename, the status goes into state.json.
func (c *Container) markStarted() error {
	c.rec.Status = specs.StateRunning
	if os.Rename(filepath.Join(c.dir, startSock), filepath.Join(c.dir, startedMark)) == nil {
		return nil
	}
	return c.save()
}

// started reports whether markStarted renamed the start socket.
func (c *Container) started() bool {
	var st unix.Stat_t
	return unix.Lstat(filepath.Join(c.dir, startedMark), &st) == nil
}

// removeDir removes a container's directory: the files this package
// makes, by name, then the directory itself. Anything else found there (a
// temporary file of a killed write, a file of another version) is left to
// os.RemoveAll, which costs a dozen more calls and an 8 KiB buffer.
func removeDir(dir string) error {
	for _, name := range []string{stateFile, configFile, startSock, startedMark} {
		if err := unix.Unlink(filepath.Join(dir, name)); err != nil && err != unix.ENOENT {
			break
		}
	}
	if err := unix.Rmdir(dir); err == nil || err == unix.ENOENT {
		return nil
	}
	return os.RemoveAll(dir)
}

// FileID identifies a file: the init's executable, so that a later
// command can tell whether a process still runs it.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// Status observes the container's status now.
func (c *Container) Status() specs.ContainerState {
	switch c.rec.Status {
	case specs.StateCreating:
		if c.rec.Pid != 0 && processAlive(c.rec.Pid, c.rec.PidStart) {
			return specs.StateCreating
		}
		if c.rec.Creator != 0 && processAlive(c.rec.Creator, c.rec.CreatorStart) {
			return specs.StateCreating
		}
		return specs.StateStopped
	case specs.StateCreated, specs.StateRunning:
		if !processAlive(c.rec.Pid, c.rec.PidStart) {
			return specs.StateStopped
		}
		st := c.rec.Status
		if st == specs.StateCreated && (c.started() || !stillInit(c.rec.Pid, c.rec.InitExe)) {
			// start released the init, or the init executed the
			// process and start died before it could say so.
			st = specs.StateRunning
		}
		if c.paused() {
			return StatePaused
		}
		return st
	}
	return specs.StateStopped
}

// State returns the OCI state of the container.
func (c *Container) State() specs.State {
	st := specs.State{
		Version:     specs.Version,
		ID:          c.rec.ID,
		Status:      c.Status(),
		Bundle:      c.rec.Bundle,
		Annotations: c.rec.Annotations,
	}
	if st.Status != specs.StateStopped {
		st.Pid = c.rec.Pid
	}
	return st
}

// Info is the state plus the fields runc prints in `state` and `list`.
type Info struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// Info returns the runc-style state.
func (c *Container) Info() Info {
	return Info{State: c.State(), Rootfs: c.rec.Rootfs, Created: c.rec.Created, Owner: c.rec.Owner}
}
