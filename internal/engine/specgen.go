package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/caps"
	"github.com/pelagos-go/pelagos/internal/seccomp"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// DefaultCaps is Docker's default capability set.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Docker's masked and read-only paths.
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// MaskedPaths and ReadonlyPaths are the paths a container with hc gets
// masked and read-only (docker's HostConfig fields of those names).
func MaskedPaths(hc *HostConfig) []string {
	if hc.Privileged {
		return nil
	}
	return slices.Clone(defaultMaskedPaths)
}

// ReadonlyPaths: see MaskedPaths.
func ReadonlyPaths(hc *HostConfig) []string {
	if hc.Privileged {
		return nil
	}
	return slices.Clone(defaultReadonlyPaths)
}

// DefaultShmSize is /dev/shm's size without --shm-size, as docker's.
const DefaultShmSize = defaultShmSize

const (
	defaultPath    = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	defaultShmSize = 64 << 20
	// maxNofile is the RLIMIT_NOFILE a container gets (Docker's daemons
	// run with this), lowered to what we may give.
	maxNofile = 1 << 20
)

// specInput is what generateSpec needs beyond the record.
type specInput struct {
	user      execUser
	rootfs    string
	cgroup    string
	hostname  string
	etcFiles  map[string]string // /etc/hosts ... -> file in the container dir
	nofileMax uint64            // the caller's hard RLIMIT_NOFILE
	netns     string            // the network namespace to join; empty: a new one
	volumes   string            // the volumes directory
	// initBinary is the reaper's binary, with --init.
	initBinary string
}

// generateSpec builds the OCI spec for c: Docker's defaults, then what the
// image and the flags ask for.
func generateSpec(c *Container, in specInput) (*specs.Spec, error) {
	hc := &c.HostConfig
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: in.rootfs, Readonly: hc.ReadonlyRootfs},
		Hostname: in.hostname,
		Linux: &specs.Linux{
			CgroupsPath: in.cgroup,
			Resources:   &specs.LinuxResources{},
		},
	}
	p, err := processSpec(c, in)
	if err != nil {
		return nil, err
	}
	s.Process = p
	s.Mounts, err = mountsSpec(c, in)
	if err != nil {
		return nil, err
	}
	if wantsInit(hc) {
		applyInit(s, in.initBinary)
	}
	s.Linux.Namespaces = namespacesSpec(hc, in.netns)
	if err := resourcesSpec(hc, s.Linux.Resources); err != nil {
		return nil, err
	}
	if hc.Privileged {
		allowAllDevices(s.Linux.Resources)
		return s, nil
	}
	s.Linux.Resources.Devices = dockerDeviceRules()
	s.Linux.MaskedPaths = slices.Clone(defaultMaskedPaths)
	s.Linux.ReadonlyPaths = slices.Clone(defaultReadonlyPaths)
	if !securityOpt(hc, "seccomp=unconfined") {
		prof, err := seccompProfile(hc, p.Capabilities.Bounding)
		if err != nil {
			return nil, err
		}
		s.Linux.Seccomp = pruneUnknownSyscalls(prof)
	}
	return s, nil
}

func securityOpt(hc *HostConfig, opt string) bool {
	for _, o := range hc.SecurityOpt {
		if strings.ReplaceAll(o, ":", "=") == opt {
			return true
		}
	}
	return false
}

func processSpec(c *Container, in specInput) (*specs.Process, error) {
	hc := &c.HostConfig
	p := &specs.Process{
		Terminal: c.Config.Tty,
		Args:     append([]string{c.Path}, c.Args...),
		Env:      containerEnv(c, in),
		Cwd:      c.Config.WorkingDir,
		User: specs.User{
			UID: in.user.uid, GID: in.user.gid, AdditionalGids: in.user.groups,
		},
		NoNewPrivileges: securityOpt(hc, "no-new-privileges") || securityOpt(hc, "no-new-privileges=true"),
		ApparmorProfile: apparmorProfile(hc),
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	set, err := capabilities(hc)
	if err != nil {
		return nil, err
	}
	p.Capabilities = &specs.LinuxCapabilities{Bounding: set}
	if in.user.uid == 0 {
		// A non-root process gets its capabilities only from file
		// capabilities, as under Docker.
		p.Capabilities.Effective = set
		p.Capabilities.Permitted = set
	}
	p.Rlimits, err = rlimits(hc.Ulimits, in.nofileMax)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// containerEnv is the process environment: PATH if the image has none,
// HOSTNAME, the config's, TERM for a terminal, HOME from passwd.
func containerEnv(c *Container, in specInput) []string {
	env := []string{"HOSTNAME=" + in.hostname}
	has := func(k string) bool {
		return slices.ContainsFunc(c.Config.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
	}
	if !has("PATH") {
		env = append([]string{defaultPath}, env...)
	}
	env = append(env, c.Config.Env...)
	if c.Config.Tty && !has("TERM") {
		env = append(env, "TERM=xterm")
	}
	if !has("HOME") {
		home := in.user.home
		if home == "" {
			home = "/"
		}
		env = append(env, "HOME="+home)
	}
	return env
}

// capabilities is Docker's set with --cap-add and --cap-drop ("ALL" in
// either), or every capability with --privileged.
func capabilities(hc *HostConfig) ([]string, error) {
	if hc.Privileged {
		return heldCaps(), nil
	}
	norm := func(list []string) ([]string, error) {
		var out []string
		for _, n := range list {
			n = strings.ToUpper(n)
			if n == "ALL" {
				out = append(out, n)
				continue
			}
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if _, err := caps.Number(n); err != nil {
				return nil, errorf(ErrInvalid, "unknown capability: %q", n)
			}
			out = append(out, n)
		}
		return out, nil
	}
	add, err := norm(hc.CapAdd)
	if err != nil {
		return nil, err
	}
	drop, err := norm(hc.CapDrop)
	if err != nil {
		return nil, err
	}
	set := slices.Clone(DefaultCaps)
	if slices.Contains(drop, "ALL") {
		set = nil
	}
	set = slices.DeleteFunc(set, func(n string) bool { return slices.Contains(drop, n) })
	if slices.Contains(add, "ALL") {
		set = heldCaps()
	}
	for _, n := range add {
		if n != "ALL" && !slices.Contains(set, n) && !slices.Contains(drop, n) {
			set = append(set, n)
		}
	}
	return set, nil
}

// rlimits are the --ulimit values plus a RLIMIT_NOFILE default. Nothing
// may exceed the caller's own hard limit unless it holds CAP_SYS_RESOURCE:
// the container init could not raise it, and the start would fail late.
func rlimits(ul []Ulimit, nofileMax uint64) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	hasNofile := false
	for _, u := range ul {
		typ := "RLIMIT_" + strings.ToUpper(u.Name)
		res, ok := spec.RlimitResource(typ)
		if !ok {
			return nil, errorf(ErrInvalid, "invalid ulimit type: %s", u.Name)
		}
		if u.Soft > u.Hard {
			return nil, errorf(ErrInvalid, "ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(res, &cur); err == nil && cur.Max != unix.RLIM_INFINITY &&
			uint64(u.Hard) > cur.Max && !capbsetHas(unix.CAP_SYS_RESOURCE) {
			return nil, errorf(ErrInvalid, "ulimit %s: hard limit %d exceeds this host's hard limit %d", u.Name, u.Hard, cur.Max)
		}
		out = append(out, specs.POSIXRlimit{Type: typ, Hard: uint64(u.Hard), Soft: uint64(u.Soft)})
		hasNofile = hasNofile || typ == "RLIMIT_NOFILE"
	}
	if !hasNofile {
		n := min(uint64(maxNofile), nofileMax)
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: n, Soft: n})
	}
	return out, nil
}

// heldCaps is every capability in our bounding set: "all" for a
// privileged container means all that we can give.
func heldCaps() []string {
	var out []string
	for i, n := range caps.Names()[:caps.LastCap()+1] {
		if capbsetHas(i) {
			out = append(out, n)
		}
	}
	return out
}

// capbsetHas reports whether capability c is in our bounding set (the
// container init can keep only what it holds).
func capbsetHas(c int) bool {
	r, _, errno := unix.Syscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0, 0)
	return errno == 0 && r == 1
}

// namespacesSpec: new namespaces, and the network one joined at netns
// when the engine made it (bridge networks) or another container has it.
func namespacesSpec(hc *HostConfig, netns string) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
		{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
	}
	if hc.NetworkMode != modeHost {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns})
	}
	return ns
}

// resourcesSpec maps -m, --memory-swap, --cpus and --pids-limit.
func resourcesSpec(hc *HostConfig, r *specs.LinuxResources) error {
	if hc.Memory > 0 {
		m := hc.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
		swap := hc.MemorySwap
		if swap == 0 {
			swap = 2 * m // Docker's default: as much swap as memory
		}
		if swap > 0 && swap < m {
			return errorf(ErrInvalid, "Minimum memoryswap limit should be larger than memory limit, see usage")
		}
		if swapAccounting() {
			r.Memory.Swap = &swap
		}
	}
	if hc.NanoCpus > 0 {
		period := uint64(100000)
		quota := hc.NanoCpus * int64(period) / 1e9
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	if hc.PidsLimit != nil && *hc.PidsLimit > 0 {
		l := *hc.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &l}
	}
	cpuResources(hc, r)
	return nil
}

// swapAccounting reports whether the memory cgroup can limit swap (v1
// without swapaccount=1 cannot; Docker then ignores --memory-swap too).
// SwapAccounting reports whether the host's cgroups limit swap (docker
// info's SwapLimit).
func SwapAccounting() bool { return swapAccounting() }

func swapAccounting() bool {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		return true
	}
	return swapAccountingV2("/sys/fs/cgroup")
}

// swapAccountingV2 answers for a cgroup v2 tree at root. The root cgroup
// has no memory.swap.max (nor memory.max): a child shows it, where one
// with the memory controller exists; a child with memory.max and no
// memory.swap.max means swapaccount=0. With no such child yet, the memory
// controller's presence answers, as docker's daemon assumes on v2.
func swapAccountingV2(root string) bool {
	if m, _ := filepath.Glob(filepath.Join(root, "*", "memory.swap.max")); len(m) > 0 {
		return true
	}
	if m, _ := filepath.Glob(filepath.Join(root, "*", "memory.max")); len(m) > 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	return err == nil && slices.Contains(strings.Fields(string(b)), "memory")
}

func dockerDeviceRules() []specs.LinuxDeviceCgroup {
	i := func(v int64) *int64 { return &v }
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Access: "m"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: true, Type: "c", Major: i(10), Minor: i(200), Access: "rwm"}, // /dev/net/tun
	}
}

func allowAllDevices(r *specs.LinuxResources) {
	r.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
}

// mountsSpec is Docker's default mounts, the generated /etc files, then
// the user's binds and tmpfs mounts.
func mountsSpec(c *Container, in specInput) ([]specs.Mount, error) {
	hc := &c.HostConfig
	shm := hc.ShmSize
	if shm <= 0 {
		shm = defaultShmSize
	}
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	cgOpts := []string{"nosuid", "noexec", "nodev", "relatime", "ro"}
	if hc.Privileged {
		sysOpts[3], cgOpts[4] = "rw", "rw"
	}
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: cgOpts},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shm, 10)}},
	}
	for _, dst := range []string{"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"} {
		if src, ok := in.etcFiles[dst]; ok {
			ms = append(ms, specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}})
		}
	}
	user, err := userMounts(hc)
	if err != nil {
		return nil, err
	}
	user = append(user, volumeSpecMounts(c, in.volumes)...)
	sortMounts(user)
	// A user mount replaces a default one at the same place (-v over
	// /etc/hosts, --tmpfs /dev/shm ...).
	ms = slices.DeleteFunc(ms, func(m specs.Mount) bool {
		return slices.ContainsFunc(user, func(u specs.Mount) bool { return filepath.Clean(u.Destination) == m.Destination })
	})
	return append(ms, user...), nil
}

// userMounts turns HostConfig.Mounts into OCI mounts.
func userMounts(hc *HostConfig) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, m := range hc.Mounts {
		switch m.Type {
		case "bind":
			if m.BindOptions != nil && m.BindOptions.CreateMountpoint {
				if err := os.MkdirAll(m.Source, 0o755); err != nil {
					return nil, fmt.Errorf("create bind source %s: %w", m.Source, err)
				}
			} else if _, err := os.Stat(m.Source); err != nil {
				return nil, errorf(ErrInvalid, "invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
			}
			opts := []string{"rbind"}
			prop := "rprivate"
			if m.BindOptions != nil && m.BindOptions.Propagation != "" {
				prop = m.BindOptions.Propagation
			}
			opts = append(opts, prop)
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if m.BindOptions != nil && m.BindOptions.IDMap {
				opts = append(opts, "idmap")
			}
			out = append(out, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: opts})
		case "tmpfs":
			opts := []string{"nosuid", "nodev", "noexec"}
			if t := m.TmpfsOptions; t != nil {
				if len(t.Options) > 0 {
					opts = slices.Clone(t.Options)
				}
				if t.SizeBytes > 0 {
					opts = append(opts, "size="+strconv.FormatInt(t.SizeBytes, 10))
				}
				if t.Mode != 0 {
					opts = append(opts, "mode="+strconv.FormatUint(uint64(unixMode(t.Mode)), 8))
				}
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case "volume": // from c.MountPoints
		default:
			return nil, errorf(ErrInvalid, "mount type %q is not supported", m.Type)
		}
	}
	return out, nil
}

// unixMode converts Go's file mode bits to chmod(2)'s.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// pruneUnknownSyscalls drops from the profile the syscalls that no
// architecture it lists has (Docker's profile names every architecture's,
// riscv_hwprobe ...): the runtime would only warn about each of them on
// every start.
func pruneUnknownSyscalls(p *specs.LinuxSeccomp) *specs.LinuxSeccomp {
	arches := p.Architectures
	if len(arches) == 0 {
		arches = []specs.Arch{specs.ArchX86_64}
	}
	known := func(name string) bool {
		for _, a := range arches {
			if _, ok := seccomp.SyscallNumber(a, name); ok {
				return true
			}
		}
		return false
	}
	out := p.Syscalls[:0]
	for _, sc := range p.Syscalls {
		sc.Names = slices.DeleteFunc(sc.Names, func(n string) bool { return !known(n) })
		if len(sc.Names) > 0 {
			out = append(out, sc)
		}
	}
	p.Syscalls = out
	return p
}
