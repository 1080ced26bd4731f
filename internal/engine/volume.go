package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Errors of volumes that frontends branch on.
var (
	// ErrNoVolume: no volume has that name.
	ErrNoVolume = errors.New("no such volume")
	// ErrVolumeInUse: a container (running or not) uses the volume.
	ErrVolumeInUse = errors.New("volume is in use")
)

// AnonymousLabel marks a volume made for one container (docker ≥ 23 does
// the same): `volume prune` removes only these unless -a, and `rm -v` or
// --rm removes those of the container.
const AnonymousLabel = "com.docker.volume.anonymous"

// LocalDriver is the only volume driver.
const LocalDriver = "local"

// Volume is a volume's record, in the shape of docker's `volume inspect`.
// Its data lives in Mountpoint: $root/volumes/<name>/_data.
type Volume struct {
	CreatedAt  time.Time         `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

// Anonymous reports whether v was made for one container.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// VolumeCreateOptions are `volume create`'s inputs.
type VolumeCreateOptions struct {
	Name    string // empty: a random 64-hex name
	Driver  string // empty or "local"
	Labels  map[string]string
	Options map[string]string // -o: type, device, o
}

// MountPoint is a volume a container uses, as docker's container record
// keeps it: made at create from -v, --mount type=volume and the image's
// VOLUME entries.
type MountPoint struct {
	Type        string `json:"Type"` // volume
	Name        string `json:"Name"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver"`
	RW          bool   `json:"RW"`
	// Mode is -v's option string as given ("z", "ro,nocopy"), docker's
	// inspect Mode.
	Mode string `json:"Mode"`
	// Anonymous: made for this container; rm -v and --rm remove it.
	Anonymous bool `json:"Anonymous,omitempty"`
	// CopyData: at the next start, an empty volume gets the image's
	// content at Destination (docker's copy-up); cleared once done.
	CopyData bool `json:"CopyData,omitempty"`

	// shared: taken from a --volumes-from container by the create in
	// progress, so a failed create must not remove it.
	shared bool
}

// VolumeOptions are --mount type=volume's volume-* keys, in docker's
// shape.
type VolumeOptions struct {
	NoCopy       bool              `json:"NoCopy,omitempty"`
	Labels       map[string]string `json:"Labels,omitempty"`
	DriverConfig *VolumeDriver     `json:"DriverConfig,omitempty"`
}

// VolumeDriver is a volume's driver and its options (volume-driver,
// volume-opt).
type VolumeDriver struct {
	Name    string            `json:"Name,omitempty"`
	Options map[string]string `json:"Options,omitempty"`
}

// volumeOpts returns m's VolumeOptions, made if missing.
func volumeOpts(m *Mount) *VolumeOptions {
	if m.VolumeOptions == nil {
		m.VolumeOptions = &VolumeOptions{}
	}
	return m.VolumeOptions
}

// parseVolumeMode parses -v NAME:/path's options into m.
func parseVolumeMode(m *Mount, mode string) error {
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "ro":
			m.ReadOnly = true
		case "rw", "z", "Z", "":
		case "nocopy":
			volumeOpts(m).NoCopy = true
		default:
			return invalid("invalid mode: %s", o)
		}
	}
	return nil
}

// Steps of volumes at which EnvDieAt can kill (tests/engine).
const (
	StepVolumeBuilt  = "volume:built"  // a new volume is built under its temporary name
	StepVolumeCopied = "volume:copied" // copy-up is done, its lock held, the record not updated
)

// volumeRecord is the record's file name beside _data.
const volumeRecord = "volume.json"

func (e *Engine) volumesDir() string { return filepath.Join(e.root, "volumes") }

func (e *Engine) volumeDir(name string) string { return filepath.Join(e.volumesDir(), name) }

// lockVolumes serialises creating and removing volumes and the check
// that no container uses one; Create holds it from resolving a new
// container's volumes until its record is committed, so a volume rm
// cannot slip in between.
func (e *Engine) lockVolumes(ctx context.Context) (*lock, error) {
	// 0700: a volume holds an image's files as they were, set-id
	// binaries included, which no other host user must reach.
	if err := os.MkdirAll(e.volumesDir(), 0o700); err != nil {
		return nil, err
	}
	return flock(ctx, filepath.Join(e.volumesDir(), ".lock"))
}

// ValidVolumeName checks docker's rule for volume names:
// [a-zA-Z0-9][a-zA-Z0-9_.-]+.
func ValidVolumeName(name string) error {
	if len(name) < 2 {
		return errorf(ErrInvalid, "create %s: volume name is too short, names should be at least two alphanumeric characters", name)
	}
	ok := true
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || (i > 0 && strings.IndexByte("_.-", c) >= 0)
	}
	if !ok {
		return errorf(ErrInvalid, "create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	return nil
}

// validateVolumeOptions checks the local driver's -o options, as docker's
// local driver does: only type, device and o; a type needs a device.
func validateVolumeOptions(opts map[string]string) error {
	for k := range opts {
		switch k {
		case "type", "device", "o":
		default:
			return errorf(ErrInvalid, "invalid option: %q", k)
		}
	}
	if len(opts) == 0 {
		return nil
	}
	if opts["type"] == "" || opts["device"] == "" {
		return errorf(ErrInvalid, "missing required option: \"type\" and \"device\" are both required when options are given")
	}
	if opts["type"] == "none" && !slices.ContainsFunc(strings.Split(opts["o"], ","), func(o string) bool { return o == "bind" || o == "rbind" }) {
		return errorf(ErrInvalid, "invalid option: type \"none\" needs o=bind")
	}
	if opts["type"] == "none" && !filepath.IsAbs(opts["device"]) {
		return errorf(ErrInvalid, "invalid option: device %q of a bind must be an absolute path", opts["device"])
	}
	return nil
}

// CreateVolume makes a volume, or returns the existing one of that name
// (as docker does; a different driver is an error).
func (e *Engine) CreateVolume(ctx context.Context, o VolumeCreateOptions) (*Volume, error) {
	l, err := e.lockVolumes(ctx)
	if err != nil {
		return nil, err
	}
	defer l.unlock()
	return e.createVolumeLocked(o)
}

func (e *Engine) createVolumeLocked(o VolumeCreateOptions) (*Volume, error) {
	if o.Driver == "" {
		o.Driver = LocalDriver
	}
	if o.Name == "" {
		o.Name = newID()
	}
	if err := ValidVolumeName(o.Name); err != nil {
		return nil, err
	}
	if o.Driver != LocalDriver {
		return nil, errorf(ErrInvalid, "create %s: error looking up volume plugin %s: plugin %q not found", o.Name, o.Driver, o.Driver)
	}
	if err := validateVolumeOptions(o.Options); err != nil {
		return nil, err
	}
	if v, err := e.loadVolume(o.Name); err == nil {
		return v, nil
	} else if !errors.Is(err, ErrNoVolume) {
		return nil, err
	}
	v := &Volume{
		CreatedAt: time.Now().UTC().Truncate(time.Second), Driver: o.Driver, Labels: o.Labels,
		Name: o.Name, Options: o.Options, Scope: "local",
	}
	// Built under a temporary name and renamed into place: a killed
	// create leaves no half volume (sweepVolumes removes the rest).
	tmp := filepath.Join(e.volumesDir(), fmt.Sprintf("%s%d-%s", tmpPrefix, os.Getpid(), o.Name))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Mkdir(filepath.Join(tmp, "_data"), 0o755); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(tmp, volumeRecord), b); err != nil {
		return nil, err
	}
	dieAt(StepVolumeBuilt)
	if err := os.Rename(tmp, e.volumeDir(o.Name)); err != nil {
		return nil, err
	}
	v.Mountpoint = filepath.Join(e.volumeDir(o.Name), "_data")
	e.volumeEvent("create", v.Name, nil)
	return v, nil
}

// loadVolume reads a volume's record.
func (e *Engine) loadVolume(name string) (*Volume, error) {
	if ValidVolumeName(name) != nil {
		return nil, errorf(ErrNoVolume, "No such volume: %s", name)
	}
	b, err := os.ReadFile(filepath.Join(e.volumeDir(name), volumeRecord))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(ErrNoVolume, "No such volume: %s", name)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: corrupt record: %w", name, err)
	}
	v.Mountpoint = filepath.Join(e.volumeDir(name), "_data")
	return &v, nil
}

// Volume returns the volume name names.
func (e *Engine) Volume(name string) (*Volume, error) { return e.loadVolume(name) }

// Volumes lists every volume, by name.
func (e *Engine) Volumes() ([]*Volume, error) {
	ents, err := os.ReadDir(e.volumesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, d := range ents {
		if !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		v, err := e.loadVolume(d.Name())
		if errors.Is(err, ErrNoVolume) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// VolumeUsers maps each volume name to the IDs of the containers that
// use it, running or not.
func (e *Engine) VolumeUsers() (map[string][]string, error) {
	ids, err := e.ids()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, id := range ids {
		c, err := loadRecord(filepath.Join(e.containersDir(), id))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, mp := range c.MountPoints {
			users[mp.Name] = append(users[mp.Name], c.ID)
		}
	}
	return users, nil
}

// RemoveVolume removes a volume no container uses. force only makes a
// missing volume no error, as docker's `volume rm -f` does.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	l, err := e.lockVolumes(ctx)
	if err != nil {
		return err
	}
	defer l.unlock()
	if _, err := e.loadVolume(name); err != nil {
		if force && errors.Is(err, ErrNoVolume) {
			return nil
		}
		return err
	}
	users, err := e.VolumeUsers()
	if err != nil {
		return err
	}
	if ids := users[name]; len(ids) > 0 {
		return errorf(ErrVolumeInUse, "remove %s: volume is in use - [%s]", name, strings.Join(ids, ", "))
	}
	return e.removeVolumeLocked(name)
}

// removeVolumeLocked unmounts (a volume with -o options) and removes the
// volume; it is renamed away first so that it vanishes from listings at
// once even if the removal is cut short.
func (e *Engine) removeVolumeLocked(name string) error {
	dir := e.volumeDir(name)
	if err := unmountVolume(filepath.Join(dir, "_data")); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	gone := filepath.Join(e.volumesDir(), rmPrefix+name)
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	e.volumeEvent("destroy", name, nil)
	return os.RemoveAll(gone)
}

// PruneVolumes removes the unused volumes that match, anonymous ones only
// unless all (docker ≥ 23), and returns their names and the bytes their
// files held.
func (e *Engine) PruneVolumes(ctx context.Context, all bool, match func(*Volume) bool) ([]string, int64, error) {
	l, err := e.lockVolumes(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer l.unlock()
	if err := e.sweepVolumes(); err != nil {
		return nil, 0, err
	}
	vols, err := e.Volumes()
	if err != nil {
		return nil, 0, err
	}
	users, err := e.VolumeUsers()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	var reclaimed int64
	for _, v := range vols {
		if len(users[v.Name]) > 0 || (!all && !v.Anonymous()) || (match != nil && !match(v)) {
			continue
		}
		size := VolumeSize(v)
		if err := e.removeVolumeLocked(v.Name); err != nil {
			return removed, reclaimed, err
		}
		removed = append(removed, v.Name)
		reclaimed += size
	}
	e.PruneEvent("volume", reclaimed)
	return removed, reclaimed, nil
}

// VolumeSize is the bytes of the regular files in v (each hard-linked
// file once), as docker's system df counts them.
func VolumeSize(v *Volume) int64 {
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(v.Mountpoint, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total
}

// sweepVolumes removes what killed volume creates and removals left.
// The caller holds the volumes lock.
func (e *Engine) sweepVolumes() error {
	ents, err := os.ReadDir(e.volumesDir())
	if err != nil {
		return err
	}
	for _, d := range ents {
		// Volumes are created and removed under the lock we hold: any
		// temporary directory now is a killed command's.
		n := d.Name()
		if strings.HasPrefix(n, rmPrefix) || strings.HasPrefix(n, tmpPrefix) {
			p := filepath.Join(e.volumesDir(), n)
			if err := unmountVolume(filepath.Join(p, "_data")); err != nil {
				return err
			}
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeAnonymousVolumes removes c's anonymous volumes that no other
// container uses (rm -v, --rm). Failures are warnings: the container is
// gone already, as with docker.
func (e *Engine) removeAnonymousVolumes(ctx context.Context, c *Container) {
	var names []string
	for _, mp := range c.MountPoints {
		if mp.Anonymous {
			names = append(names, mp.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	l, err := e.lockVolumes(ctx)
	if err != nil {
		e.warn(err.Error())
		return
	}
	defer l.unlock()
	users, err := e.VolumeUsers()
	if err != nil {
		e.warn(err.Error())
		return
	}
	for _, n := range names {
		if len(users[n]) > 0 {
			continue
		}
		if _, err := e.loadVolume(n); err != nil {
			continue // removed already
		}
		if err := e.removeVolumeLocked(n); err != nil {
			e.warn(err.Error())
		}
	}
}

// autoRemove removes an --rm container and, as docker does, its
// anonymous volumes.
func (e *Engine) autoRemove(ctx context.Context, c *Container) error {
	if err := e.removeLocked(ctx, c); err != nil {
		return err
	}
	e.removeAnonymousVolumes(ctx, c)
	return nil
}

// RemoveWithVolumes is Remove (rm -v) that also removes the container's
// anonymous volumes no other container uses.
func (e *Engine) RemoveWithVolumes(ctx context.Context, ref string, force bool) error {
	id, err := e.resolve(ref)
	if err != nil {
		return err
	}
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		return err
	}
	if err := e.Remove(ctx, id, force); err != nil {
		return err
	}
	e.removeAnonymousVolumes(ctx, c)
	return nil
}
