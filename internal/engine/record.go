package engine

import (
	"errors"
	"fmt"
	"github.com/pelagos-go/pelagos/internal/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pelagos-go/pelagos/internal/network"
)

// Config is what the container runs, in the shape and JSON names of
// Docker's container config (docker inspect's "Config").
type Config struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
}

// Mount is a bind, volume or tmpfs mount, as Docker's HostConfig.Mounts
// holds it. A volume's Source is its name (empty: an anonymous volume).
type Mount struct {
	Type         string        `json:"Type"` // bind, volume or tmpfs
	Source       string        `json:"Source,omitempty"`
	Target       string        `json:"Target"`
	ReadOnly     bool          `json:"ReadOnly,omitempty"`
	BindOptions  *BindOptions  `json:"BindOptions,omitempty"`
	TmpfsOptions *TmpfsOptions `json:"TmpfsOptions,omitempty"`
	// VolumeOptions: see the type (volume_mount_linux.go).
	VolumeOptions *VolumeOptions `json:"VolumeOptions,omitempty"`
	// Flag is the option that asked for the mount when it was not
	// --mount: "-v", "--tmpfs" or "--volumes-from". Docker keeps only
	// --mount's in HostConfig.Mounts, so inspect shows only those.
	Flag string `json:"Flag,omitempty"`
}

// BindOptions of a bind mount.
type BindOptions struct {
	Propagation string `json:"Propagation,omitempty"`
	// CreateMountpoint: a missing source is created (-v does that,
	// --mount does not).
	CreateMountpoint bool `json:"CreateMountpoint,omitempty"`
	// IDMap (podman's idmap option, with --userns auto) idmaps the bind
	// with the container's mapping: host files keep their owners inside.
	IDMap bool `json:"IDMap,omitempty"`
}

// TmpfsOptions of a tmpfs mount.
type TmpfsOptions struct {
	SizeBytes int64       `json:"SizeBytes,omitempty"`
	Mode      fs.FileMode `json:"Mode,omitempty"`
	// Options are extra mount options (from --tmpfs PATH:OPTS).
	Options []string `json:"Options,omitempty"`
}

// Ulimit is one --ulimit.
type Ulimit struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

// RestartPolicy is --restart.
type RestartPolicy struct {
	Name              string `json:"Name"` // no, always, unless-stopped, on-failure
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// LogConfig is the log driver and its options (json-file only).
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// HostConfig is how the container is run, in Docker's HostConfig shape.
type HostConfig struct {
	Binds          []string          `json:"Binds"`
	LogConfig      LogConfig         `json:"LogConfig"`
	NetworkMode    string            `json:"NetworkMode"`
	RestartPolicy  RestartPolicy     `json:"RestartPolicy"`
	AutoRemove     bool              `json:"AutoRemove"`
	CapAdd         []string          `json:"CapAdd"`
	CapDrop        []string          `json:"CapDrop"`
	Privileged     bool              `json:"Privileged"`
	ReadonlyRootfs bool              `json:"ReadonlyRootfs"`
	SecurityOpt    []string          `json:"SecurityOpt"`
	Tmpfs          map[string]string `json:"Tmpfs,omitempty"`
	ShmSize        int64             `json:"ShmSize"`
	CgroupParent   string            `json:"CgroupParent"`
	Memory         int64             `json:"Memory"`
	MemorySwap     int64             `json:"MemorySwap"`
	NanoCpus       int64             `json:"NanoCpus"`
	PidsLimit      *int64            `json:"PidsLimit"`
	Ulimits        []Ulimit          `json:"Ulimits"`
	Init           *bool             `json:"Init"`
	Mounts         []Mount           `json:"Mounts,omitempty"`
	// VolumesFrom are the --volumes-from values, CONTAINER[:ro|rw]; their
	// mounts are resolved at create (MountPoints, binds in Mounts).
	VolumesFrom []string `json:"VolumesFrom"`
	// Networking (docker's names): -p, -P, --dns, --dns-search,
	// --dns-option, --add-host.
	PortBindings    map[string][]network.PortBinding `json:"PortBindings"`
	PublishAllPorts bool                             `json:"PublishAllPorts"`
	DNS             []string                         `json:"Dns"`
	DNSSearch       []string                         `json:"DnsSearch"`
	DNSOptions      []string                         `json:"DnsOptions"`
	ExtraHosts      []string                         `json:"ExtraHosts"`
	// Devices, sysctls, namespace modes, finer cgroup knobs: see the type.
	HostOptions

	// CPUPeriod and CPUQuota are --cpu-period and --cpu-quota (update
	// and run), an explicit CFS bandwidth instead of --cpus.
	CPUPeriod int64 `json:"CpuPeriod"`
	CPUQuota  int64 `json:"CpuQuota"`
}

// NetworkSettings are the container's networks (docker inspect's
// "NetworkSettings"): what was asked for at create or connect, and,
// while it runs, its addresses and published ports.
type NetworkSettings struct {
	SandboxKey string                           `json:"SandboxKey"`
	Ports      map[string][]network.PortBinding `json:"Ports"`
	// Networks are keyed by network name; Order lists them, the primary
	// one (default route, published ports) first.
	Networks map[string]*EndpointSettings `json:"Networks"`
	Order    []string                     `json:"Order,omitempty"`
}

// EndpointSettings is the container on one network, in docker's shape.
type EndpointSettings struct {
	IPAMConfig          *EndpointIPAMConfig `json:"IPAMConfig"`
	Links               []string            `json:"Links"`
	Aliases             []string            `json:"Aliases"`
	MacAddress          string              `json:"MacAddress"`
	NetworkID           string              `json:"NetworkID"`
	EndpointID          string              `json:"EndpointID"`
	Gateway             string              `json:"Gateway"`
	IPAddress           string              `json:"IPAddress"`
	IPPrefixLen         int                 `json:"IPPrefixLen"`
	IPv6Gateway         string              `json:"IPv6Gateway"`
	GlobalIPv6Address   string              `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int                 `json:"GlobalIPv6PrefixLen"`
	DNSNames            []string            `json:"DNSNames"`
	// MacRequested is --mac-address (MacAddress is the one in use while
	// the container runs); not in docker's shape.
	MacRequested string `json:"MacRequested,omitempty"`
}

// EndpointIPAMConfig are the static addresses asked for (--ip, --ip6).
type EndpointIPAMConfig struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
	IPv6Address string `json:"IPv6Address,omitempty"`
}

// Container states, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusExited     = "exited"
	StatusRemoving   = "removing"
	StatusDead       = "dead"
)

// State is the container's recorded state (docker inspect's "State").
type State struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	// Health is present when the container has a health check.
	Health *Health `json:"Health,omitempty"`
}

// Container is one container's record: container.json.
type Container struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"` // without Docker's leading slash
	Created time.Time `json:"Created"`
	// Path and Args are the process as it is started.
	Path string   `json:"Path"`
	Args []string `json:"Args"`
	// Image is the image ID ("sha256:..."); Config.Image is the name the
	// user gave.
	Image        string     `json:"Image"`
	Config       Config     `json:"Config"`
	HostConfig   HostConfig `json:"HostConfig"`
	State        State      `json:"State"`
	RestartCount int        `json:"RestartCount"`
	// Monitor is the process that holds the container's stdio and will
	// record its exit: a detached container's monitor, or the foreground
	// run itself. Zero when none.
	Monitor      int    `json:"Monitor,omitempty"`
	MonitorStart uint64 `json:"MonitorStart,omitempty"`
	// ManualStop: stop or kill was asked for; no restart policy applies
	// (Docker's HasBeenManuallyStopped).
	ManualStop bool `json:"ManualStop,omitempty"`
	// RestartDelay is the backoff before the next restart.
	RestartDelay time.Duration `json:"RestartDelay,omitempty"`
	// Mounted: the rootfs overlay is mounted on rootfs/.
	Mounted bool `json:"Mounted,omitempty"`
	// Runtime: a runtime (package container) container of this ID may
	// exist and must be deleted before the next start.
	Runtime bool `json:"Runtime,omitempty"`
	// NetworkSettings: see the type.
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	// MountPoints are the container's volumes (volume_mount_linux.go).
	MountPoints []MountPoint `json:"MountPoints,omitempty"`
	// Userns is the user namespace mapping of --userns auto
	// (userns_linux.go); nil: the host's user namespace.
	Userns *Userns `json:"Userns,omitempty"`

	dir string
	// runtimeGone, when set, waits for a deletion of the runtime
	// container that runs alongside the removal (exitRemove).
	runtimeGone func() error
}

// Dir returns the container's directory.
func (c *Container) Dir() string { return c.dir }

// ShortID is the 12-hex form of the ID.
func (c *Container) ShortID() string { return c.ID[:12] }

// LogPath is the json-file log.
func (c *Container) LogPath() string { return filepath.Join(c.dir, c.ID+"-json.log") }

// RootfsPath is where the rootfs overlay is mounted while it runs.
func (c *Container) RootfsPath() string { return filepath.Join(c.dir, "rootfs") }

const recordFile = "container.json"

func loadRecord(dir string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	if len(b) == 0 {
		// Never written so by a running engine (every write is a
		// rename of a whole file): a --rm container's record, written
		// without an fsync, that a host crash cut short. Such a
		// container is gone; sweep removes what is left of it.
		return nil, ErrNotFound
	}
	c := &Container{dir: dir}
	if err := unmarshalRecord(b, c); err != nil { // json.Unmarshal's rules; see record_decode.go
		return nil, fmt.Errorf("container %s: corrupt record: %w", filepath.Base(dir), err)
	}
	return c, nil
}

// save writes container.json atomically, for a change of the container's
// state (started, mounted, exited, health...): the change survives the
// engine being killed at any point, not a host crash, after which the
// boot reconciles the state anyway (see atomicfile.Replace).
func (c *Container) save() error { return c.write(atomicfile.Replace) }

// saveConfig writes container.json atomically and durably, for what must
// survive a host crash: the container itself and the user's decisions
// (create, rename, update, network connect/disconnect, a manual stop that
// keeps an unless-stopped container down after a reboot). A --rm
// container does not survive a host crash (its overlay is volatile, and
// docker removes it too): its record skips the fsync, and loadRecord
// treats the empty file a crash may leave as no container.
func (c *Container) saveConfig() error {
	if c.HostConfig.AutoRemove {
		return c.save()
	}
	return c.write(atomicfile.Write)
}

// lostRecord reports whether dir holds a container whose record a host
// crash left empty (see saveConfig).
func lostRecord(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, recordFile))
	return err == nil && st.Mode().IsRegular() && st.Size() == 0
}

func (c *Container) write(put func(string, []byte) error) error {
	b, err := c.marshal() // json.Marshal's bytes; see record_json.go
	if err != nil {
		return err
	}
	return put(filepath.Join(c.dir, recordFile), b)
}

// writeAtomic replaces path with b durably; see package atomicfile.
func writeAtomic(path string, b []byte) error { return atomicfile.Write(path, b) }
