package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/network"
)

// DefaultRunRoot is where runtime state lives for the default data root.
const DefaultRunRoot = "/run/pelagos"

// Engine is one data root and its runtime root.
type Engine struct {
	root    string
	runRoot string
	// CgroupParent is the cgroup under which containers get their own
	// (absolute, from each hierarchy's root), unless --cgroup-parent.
	CgroupParent string
	// Rootless: this engine runs for an unprivileged user, as root of its
	// user namespace (package rootless): containers get no cgroup of
	// their own and no bridge networks (see rootless_linux.go).
	Rootless bool
	// Warn receives warnings; may be nil.
	Warn func(string)

	// Net is the networks of this data root.
	Net *network.Manager

	images *store.Store
}

// Open opens (creating if needed) the engine state under root and runRoot.
func Open(root, runRoot string) (*Engine, error) {
	e := &Engine{root: root, runRoot: runRoot, CgroupParent: "/pelagos"}
	for _, d := range []string{e.containersDir(), e.namesDir(), runRoot} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	n, err := network.Open(root, runRoot)
	if err != nil {
		return nil, err
	}
	e.Net = n
	return e, nil
}

// Root is the data root.
func (e *Engine) Root() string { return e.root }

// RunRoot is the runtime root.
func (e *Engine) RunRoot() string { return e.runRoot }

// RuntimeRoot is package container's state root.
func (e *Engine) RuntimeRoot() string { return filepath.Join(e.runRoot, "runtime") }

func (e *Engine) containersDir() string { return filepath.Join(e.root, "containers") }
func (e *Engine) namesDir() string      { return filepath.Join(e.containersDir(), "names") }

// Images opens the image store.
func (e *Engine) Images() (*store.Store, error) {
	if e.images == nil {
		st, err := store.Open(filepath.Join(e.root, "image"))
		if err != nil {
			return nil, err
		}
		e.images = st
	}
	return e.images, nil
}

func (e *Engine) warn(msg string) {
	if e.Warn != nil {
		e.Warn(msg)
	}
}

// lock is a held flock.
type lock struct{ f *os.File }

func (l *lock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing drops the flock
		l.f = nil
	}
}

// flock takes an exclusive lock on path (created if missing), waiting
// for it or for ctx.
func flock(ctx context.Context, path string) (*lock, error) {
	return flockOpen(ctx, path, os.O_CREATE|os.O_RDWR)
}

// flockOpen is flock on path opened with flags.
func flockOpen(ctx context.Context, path string, flags int) (*lock, error) {
	f, err := os.OpenFile(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &lock{f: f}, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 20*time.Millisecond)
	}
}

// lockNames serialises name reservations and container directory
// creation and removal.
func (e *Engine) lockNames(ctx context.Context) (*lock, error) {
	return flock(ctx, filepath.Join(e.containersDir(), ".names.lock"))
}

// lockContainer serialises changes to one container: a flock on its
// directory. (It was on a file in it, one more file to create per
// container; creating files is the dearest part of a run's own work
// here, see docs/ENGINE.md.)
func (e *Engine) lockContainer(ctx context.Context, id string) (*lock, error) {
	return flockOpen(ctx, filepath.Join(e.containersDir(), id), os.O_RDONLY|unix.O_DIRECTORY)
}

// lockRecord resolves ref, takes the container's lock and loads its
// record under it. The caller unlocks.
func (e *Engine) lockRecord(ctx context.Context, ref string) (*Container, *lock, error) {
	id, err := e.resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	l, err := e.lockContainer(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		l.unlock()
		return nil, nil, err
	}
	return c, l, nil
}

// newID returns a random 64-hex ID whose 12-hex short form is not all
// digits (Docker avoids those: they read as numbers).
func newID() string {
	for {
		// getrandom(2) itself: crypto/rand's first read sets up the vDSO
		// generator's state (mappings, a tenth of a millisecond), paid by
		// every create for 32 bytes.
		var b [32]byte
		if n, err := unix.Getrandom(b[:], 0); err != nil || n != len(b) {
			panic(fmt.Sprintf("getrandom: %d bytes, %v", n, err)) // it blocks, never fails, once the pool is ready
		}
		id := hex.EncodeToString(b[:])
		if _, err := strconv.ParseUint(id[:12], 10, 64); err != nil {
			return id
		}
	}
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}

// ValidName reports whether name is a valid container name (Docker's
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ with an optional leading slash).
func ValidName(name string) error {
	name = strings.TrimPrefix(name, "/")
	ok := len(name) >= 2
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || (i > 0 && strings.IndexByte("_.-", c) >= 0)
	}
	if !ok {
		return errorf(ErrInvalid, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return nil
}

// ids lists the IDs of every container directory.
func (e *Engine) ids() ([]string, error) {
	ents, err := os.ReadDir(e.containersDir())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if d.IsDir() && len(d.Name()) == 64 && isHex(d.Name()) {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// resolve finds the ID that ref names: a full ID, a name (with or without
// Docker's leading slash), or a unique ID prefix, in Docker's order.
func (e *Engine) resolve(ref string) (string, error) {
	if len(ref) == 64 && isHex(ref) {
		if _, err := os.Stat(filepath.Join(e.containersDir(), ref, recordFile)); err == nil {
			return ref, nil
		}
	}
	name := strings.TrimPrefix(ref, "/")
	if ValidName(name) == nil {
		if b, err := os.ReadFile(filepath.Join(e.namesDir(), name)); err == nil {
			id := strings.TrimSpace(string(b))
			if _, err := os.Stat(filepath.Join(e.containersDir(), id, recordFile)); err == nil {
				return id, nil
			}
		}
	}
	if !isHex(ref) {
		return "", errorf(ErrNotFound, "No such container: %s", ref)
	}
	ids, err := e.ids()
	if err != nil {
		return "", err
	}
	var match []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			if _, err := os.Stat(filepath.Join(e.containersDir(), id, recordFile)); err == nil {
				match = append(match, id)
			}
		}
	}
	switch len(match) {
	case 0:
		return "", errorf(ErrNotFound, "No such container: %s", ref)
	case 1:
		return match[0], nil
	}
	return "", errorf(ErrAmbiguous, "Multiple IDs found with provided prefix: %s", ref)
}

// Get loads the container ref names, reconciled with what is running.
func (e *Engine) Get(ctx context.Context, ref string) (*Container, error) {
	id, err := e.resolve(ref)
	if err != nil {
		return nil, err
	}
	return e.load(ctx, id)
}

// load reads a container's record and reconciles it.
func (e *Engine) load(ctx context.Context, id string) (*Container, error) {
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		return nil, err
	}
	if e.needsReconcile(c) {
		return e.reconcile(ctx, id)
	}
	return c, nil
}

// List loads every container, newest first.
func (e *Engine) List(ctx context.Context) ([]*Container, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for _, id := range ids {
		c, err := e.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // a create in progress, or removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// reserveName claims name for id; the caller holds the names lock.
func (e *Engine) reserveName(name, id string) error {
	p := filepath.Join(e.namesDir(), name)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		b, _ := os.ReadFile(p)
		owner := strings.TrimSpace(string(b))
		dir := filepath.Join(e.containersDir(), owner)
		if _, serr := os.Stat(dir); serr != nil || lostRecord(dir) {
			// Left by a create that was killed, or by a --rm
			// container a host crash lost: reclaim it.
			if err := os.Remove(p); err != nil {
				return err
			}
			return e.reserveName(name, id)
		}
		return errorf(ErrNameInUse, "Conflict. The container name \"/%s\" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", name, owner)
	}
	if err != nil {
		return err
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// releaseName drops name if it still belongs to id.
func (e *Engine) releaseName(name, id string) {
	p := filepath.Join(e.namesDir(), name)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == id {
		os.Remove(p)
	}
}
