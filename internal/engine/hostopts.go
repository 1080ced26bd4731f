package engine

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HostOptions are the run/create flags that reach into the host: devices,
// sysctls, the namespaces a container may share with the host or another
// container, and the finer cgroup knobs. They sit in HostConfig under
// docker's names (HostConfig embeds them, so the JSON is docker's).
type HostOptions struct {
	Devices           []DeviceMapping   `json:"Devices"`
	DeviceCgroupRules []string          `json:"DeviceCgroupRules"`
	Sysctls           map[string]string `json:"Sysctls,omitempty"`
	// PidMode, IpcMode, UTSMode, UsernsMode, CgroupnsMode: "" (private),
	// "host", "container:NAME" (pid, ipc), "private", "shareable",
	// "none" (ipc).
	PidMode           string   `json:"PidMode"`
	IpcMode           string   `json:"IpcMode"`
	UTSMode           string   `json:"UTSMode"`
	UsernsMode        string   `json:"UsernsMode"`
	CgroupnsMode      string   `json:"CgroupnsMode"`
	CPUShares         int64    `json:"CpuShares"`
	CpusetCpus        string   `json:"CpusetCpus"`
	CpusetMems        string   `json:"CpusetMems"`
	MemoryReservation int64    `json:"MemoryReservation"`
	OomKillDisable    *bool    `json:"OomKillDisable"`
	OomScoreAdj       int      `json:"OomScoreAdj"`
	GroupAdd          []string `json:"GroupAdd"`
}

// DeviceMapping is one --device.
type DeviceMapping struct {
	PathOnHost        string `json:"PathOnHost"`
	PathInContainer   string `json:"PathInContainer"`
	CgroupPermissions string `json:"CgroupPermissions"`
}

const (
	modeHostNS    = "host"
	modePrivateNS = "private"
	ipcShareable  = "shareable"
	ipcNone       = "none"
)

// validPerms reports whether s is a device cgroup access string: a
// non-empty combination of r, w and m.
func validPerms(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("rwm", r) || strings.Count(s, string(r)) > 1 {
			return false
		}
	}
	return true
}

// ParseDevice parses --device HOST[:CONTAINER][:PERMS], as docker does.
func ParseDevice(s string) (DeviceMapping, error) {
	d := DeviceMapping{CgroupPermissions: "rwm"}
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 3:
		if !validPerms(parts[2]) {
			return d, invalid("invalid device mode: %s", parts[2])
		}
		d.PathOnHost, d.PathInContainer, d.CgroupPermissions = parts[0], parts[1], parts[2]
	case 2:
		d.PathOnHost, d.PathInContainer = parts[0], parts[1]
		if validPerms(parts[1]) {
			d.PathInContainer, d.CgroupPermissions = parts[0], parts[1]
		}
	case 1:
		d.PathOnHost, d.PathInContainer = parts[0], parts[0]
	default:
		return d, invalid("invalid device specification: %s", s)
	}
	if d.PathOnHost == "" || !filepath.IsAbs(d.PathInContainer) {
		return d, invalid("invalid device specification: %s: the container path must be absolute", s)
	}
	d.PathInContainer = filepath.Clean(d.PathInContainer)
	return d, nil
}

// ParseDeviceCgroupRule parses a --device-cgroup-rule such as
// "c 1:3 mr" or "a *:* rwm".
func ParseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	r := specs.LinuxDeviceCgroup{Allow: true}
	f := strings.Fields(s)
	bad := func() (specs.LinuxDeviceCgroup, error) {
		return r, invalid("invalid device cgroup rule %q: want TYPE MAJOR:MINOR PERMS, TYPE one of a, b, c", s)
	}
	if len(f) != 3 || (f[0] != "a" && f[0] != "b" && f[0] != "c") || !validPerms(f[2]) {
		return bad()
	}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad()
	}
	num := func(v string) (*int64, bool) {
		if v == "*" {
			return nil, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return &n, err == nil && n >= 0
	}
	var okMaj, okMin bool
	r.Major, okMaj = num(maj)
	r.Minor, okMin = num(min)
	if !okMaj || !okMin {
		return bad()
	}
	r.Type, r.Access = f[0], f[2]
	return r, nil
}

// Docker's namespaced sysctls: these names, and everything under the
// prefixes.
var (
	sysctlNames    = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "kernel.domainname"}
	sysctlPrefixes = []string{"net.", "fs.mqueue."}
)

// ParseSysctl parses --sysctl KEY=VALUE and accepts only the sysctls a
// container's own namespaces scope (docker's list): anything else would
// change the whole host.
func ParseSysctl(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", invalid("invalid sysctl %q: want KEY=VALUE", s)
	}
	if strings.ContainsAny(k, "/ ") || strings.Contains(k, "..") {
		return "", "", invalid("sysctl '%s' is not a sysctl name", k)
	}
	if !slices.Contains(sysctlNames, k) && !slices.ContainsFunc(sysctlPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
		return "", "", invalid("sysctl '%s' is not allowed: only sysctls scoped to the container's namespaces are (kernel.msg*, kernel.sem, kernel.shm*, kernel.domainname, fs.mqueue.*, net.*)", k)
	}
	return k, v, nil
}

// validateHostOptions checks the modes, the hostname and the
// combinations docker refuses; the devices must exist.
func validateHostOptions(cfg *Config, hc *HostConfig) error {
	// HOST_NAME_MAX is 64, as docker's CLI checks.
	if len(cfg.Hostname) > 64 || strings.ContainsAny(cfg.Hostname, "/ \t\n\x00") {
		return invalid("invalid hostname format: %s", cfg.Hostname)
	}
	if hc.UTSMode == modeHostNS && cfg.Hostname != "" {
		return invalid("Conflicting options: hostname and the UTS mode")
	}
	// Docker's check at create; the runtime would refuse the spec only at
	// start, leaving a container that can never run.
	if wd := cfg.WorkingDir; wd != "" && !filepath.IsAbs(wd) {
		return invalid("the working directory '%s' is invalid, it needs to be an absolute path", wd)
	}
	checks := []func(*HostConfig) error{validateModes, validateUserns, validateSysctls, validateCgroupKnobs, validateDevices}
	for _, check := range checks {
		if err := check(hc); err != nil {
			return err
		}
	}
	return nil
}

func validateModes(hc *HostConfig) error {
	modes := []struct {
		flag, val string
		allowed   []string
		container bool
	}{
		{"--pid", hc.PidMode, []string{"", modeHostNS, modePrivateNS}, true},
		{"--ipc", hc.IpcMode, []string{"", modeHostNS, modePrivateNS, ipcShareable, ipcNone}, true},
		{"--uts", hc.UTSMode, []string{"", modeHostNS, modePrivateNS}, false},
		{"--userns", hc.UsernsMode, []string{"", modeHostNS}, false},
		{"--cgroupns", hc.CgroupnsMode, []string{"", modeHostNS, modePrivateNS}, false},
	}
	for _, m := range modes {
		if slices.Contains(m.allowed, m.val) {
			continue
		}
		if m.flag == "--userns" {
			if _, ok, err := parseUsernsAuto(m.val); ok {
				if err != nil {
					return err
				}
				continue
			}
		}
		if ref, ok := strings.CutPrefix(m.val, modeContainer); ok && m.container {
			if ref == "" {
				return invalid("invalid %s mode: container: needs a container name or ID", m.flag)
			}
			continue
		}
		return invalid("invalid %s mode: %q", m.flag, m.val)
	}
	if hc.ShmSize > 0 && (hc.IpcMode == modeHostNS || hc.IpcMode == ipcNone || strings.HasPrefix(hc.IpcMode, modeContainer)) {
		return invalid("--shm-size applies to a private /dev/shm only, not with --ipc %s", hc.IpcMode)
	}
	return nil
}

// validateSysctls refuses a sysctl of a namespace the container does
// not own: it would change the host's or another container's.
func validateSysctls(hc *HostConfig) error {
	for k := range hc.Sysctls {
		if _, _, err := ParseSysctl(k + "=" + hc.Sysctls[k]); err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(k, "net.") && (hc.NetworkMode == modeHost || strings.HasPrefix(hc.NetworkMode, modeContainer)):
			return invalid("sysctl '%s' is not allowed with --network %s: the network namespace is not the container's own", k, hc.NetworkMode)
		case k == "kernel.domainname" && hc.UTSMode == modeHostNS:
			return invalid("sysctl '%s' is not allowed with --uts host", k)
		case k != "kernel.domainname" && !strings.HasPrefix(k, "net.") && (hc.IpcMode == modeHostNS || strings.HasPrefix(hc.IpcMode, modeContainer)):
			return invalid("sysctl '%s' is not allowed with --ipc %s: the IPC namespace is not the container's own", k, hc.IpcMode)
		}
	}
	return nil
}

func validateCgroupKnobs(hc *HostConfig) error {
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return invalid("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if hc.CPUShares < 0 {
		return invalid("invalid CPU shares: %d", hc.CPUShares)
	}
	if hc.MemoryReservation < 0 || (hc.Memory > 0 && hc.MemoryReservation > hc.Memory) {
		return invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	// Docker's words: "cpuset cpus" / "CPUs", "cpuset mems" / "memory nodes".
	sets := []struct{ what, val, online, things string }{
		{"cpus", hc.CpusetCpus, "/sys/devices/system/cpu/online", "CPUs"},
		{"mems", hc.CpusetMems, "/sys/devices/system/node/online", "memory nodes"},
	}
	for _, s := range sets {
		if s.val == "" {
			continue
		}
		want, err := parseCPUList(s.val)
		if err != nil {
			return invalid("Invalid value %s for cpuset %s", s.val, s.what)
		}
		b, err := os.ReadFile(s.online)
		if err != nil {
			continue // no such information here: the kernel decides
		}
		have, err := parseCPUList(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		for n := range want {
			if !have[n] {
				return invalid("Requested %s are not available - requested %s, available: %s", s.things, s.val, strings.TrimSpace(string(b)))
			}
		}
	}
	return nil
}

// parseCPUList parses a kernel list such as "0-2,4".
func parseCPUList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, invalid("bad list element %q", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil, invalid("bad range %q", part)
			}
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

func validateDevices(hc *HostConfig) error {
	for _, d := range hc.Devices {
		if _, err := hostDevices(d); err != nil {
			return err
		}
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := ParseDeviceCgroupRule(r); err != nil {
			return err
		}
	}
	return nil
}

// hostDevices are the device nodes d names on the host, as the
// container gets them: the node itself, or, for a directory, every node
// below it at the same place under PathInContainer (as docker does;
// symlinks inside are not followed).
func hostDevices(d DeviceMapping) ([]specs.LinuxDevice, error) {
	fail := func(err error) ([]specs.LinuxDevice, error) {
		return nil, invalid("error gathering device information while adding custom device %q: %v", d.PathOnHost, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(d.PathOnHost, &st); err != nil {
		return fail(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		dev, ok := deviceOf(&st, d.PathInContainer)
		if !ok {
			return fail(errors.New("not a device node"))
		}
		return []specs.LinuxDevice{dev}, nil
	}
	var out []specs.LinuxDevice
	err := filepath.WalkDir(d.PathOnHost, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.Type()&(fs.ModeDevice|fs.ModeCharDevice) == 0 {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, err := filepath.Rel(d.PathOnHost, p)
		if err != nil {
			return err
		}
		if dev, ok := deviceOf(&st, filepath.Join(d.PathInContainer, rel)); ok {
			out = append(out, dev)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if len(out) == 0 {
		return fail(errors.New("a directory with no device nodes"))
	}
	return out, nil
}

// deviceOf is the device node st describes at path in the container.
func deviceOf(st *unix.Stat_t, path string) (specs.LinuxDevice, bool) {
	typ := ""
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, false
	}
	mode := os.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path: path, Type: typ,
		Major: int64(unix.Major(uint64(st.Rdev))), Minor: int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode, UID: &uid, GID: &gid,
	}, true
}
