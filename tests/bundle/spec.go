package bundle

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultSpec returns the config `runc spec` (runc 1.1.5) writes, with two
// changes so tests can run it unattended: process.terminal is false, and
// ociVersion is the runtime-spec version these types implement.
func DefaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: append([]string(nil), caps...),
				Permitted: append([]string(nil), caps...),
				Ambient:   append([]string(nil), caps...),
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "runc",
		Mounts:   defaultMounts(),
		Linux: &specs.Linux{
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
			Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
			Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
			Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
			Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs",
			Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
			Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// Modifier changes a spec; Bundle.Apply runs a list of them.
type Modifier func(*specs.Spec)

// Args sets the process's arguments.
func Args(args ...string) Modifier {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// Env appends "KEY=value" entries to the process's environment.
func Env(kv ...string) Modifier {
	return func(s *specs.Spec) { s.Process.Env = append(s.Process.Env, kv...) }
}

// Terminal sets whether the process gets a pseudo-terminal.
func Terminal(on bool) Modifier {
	return func(s *specs.Spec) { s.Process.Terminal = on }
}

// Hostname sets the container's hostname.
func Hostname(name string) Modifier {
	return func(s *specs.Spec) { s.Hostname = name }
}

// CgroupsPath sets linux.cgroupsPath. Tests give an absolute path under a
// parent named for the test, so a runtime never creates cgroups relative
// to (inside) the cgroup the test itself runs in.
func CgroupsPath(p string) Modifier {
	return func(s *specs.Spec) { s.Linux.CgroupsPath = p }
}

// WritableRoot makes the root filesystem writable (runc spec's is not).
func WritableRoot() Modifier {
	return func(s *specs.Spec) { s.Root.Readonly = false }
}

// WithoutNamespace removes the namespace of type t, so the container
// shares the caller's.
func WithoutNamespace(t specs.LinuxNamespaceType) Modifier {
	return func(s *specs.Spec) {
		var keep []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != t {
				keep = append(keep, ns)
			}
		}
		s.Linux.Namespaces = keep
	}
}

// Namespace adds a namespace of type t (joining path when it is not empty)
// or, when the spec already has one of that type, replaces it.
func Namespace(t specs.LinuxNamespaceType, path string) Modifier {
	return func(s *specs.Spec) {
		WithoutNamespace(t)(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	}
}

// Mount appends a mount.
func Mount(m specs.Mount) Modifier {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, m) }
}
