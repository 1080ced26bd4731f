package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/network"
)

func invalid(format string, args ...any) error {
	return errorf(ErrInvalid, format, args...)
}

func parseHash(s string) (v1.Hash, error) {
	h, err := v1.NewHash(s)
	if err != nil {
		return h, fmt.Errorf("image ID %q: %w", s, err)
	}
	return h, nil
}

// StartErrorStatus is the exit status Docker's CLI gives a failed start:
// 127 when the command was not found, 126 when it could not be executed,
// 125 otherwise.
func StartErrorStatus(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, syscall.EACCES.Error()), strings.Contains(msg, syscall.EISDIR.Error()):
		return 126
	}
	return 125
}

// signals maps names to numbers (SIGRTMIN+n is parsed separately).
var signals = map[string]unix.Signal{
	"ABRT": unix.SIGABRT, "ALRM": unix.SIGALRM, "BUS": unix.SIGBUS, "CHLD": unix.SIGCHLD,
	"CONT": unix.SIGCONT, "FPE": unix.SIGFPE, "HUP": unix.SIGHUP, "ILL": unix.SIGILL,
	"INT": unix.SIGINT, "IO": unix.SIGIO, "IOT": unix.SIGIOT, "KILL": unix.SIGKILL,
	"PIPE": unix.SIGPIPE, "PROF": unix.SIGPROF, "PWR": unix.SIGPWR, "QUIT": unix.SIGQUIT,
	"SEGV": unix.SIGSEGV, "STKFLT": unix.SIGSTKFLT, "STOP": unix.SIGSTOP, "SYS": unix.SIGSYS,
	"TERM": unix.SIGTERM, "TRAP": unix.SIGTRAP, "TSTP": unix.SIGTSTP, "TTIN": unix.SIGTTIN,
	"TTOU": unix.SIGTTOU, "URG": unix.SIGURG, "USR1": unix.SIGUSR1, "USR2": unix.SIGUSR2,
	"VTALRM": unix.SIGVTALRM, "WINCH": unix.SIGWINCH, "XCPU": unix.SIGXCPU, "XFSZ": unix.SIGXFSZ,
}

// ParseSignal parses "SIGTERM", "TERM", "term" or "15".
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, invalid("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signals[name]; ok {
		return sig, nil
	}
	if rest, ok := strings.CutPrefix(name, "RTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && 34+n <= 64 {
			return unix.Signal(34 + n), nil
		}
	}
	return 0, invalid("invalid signal: %s", s)
}

// ParseBytes parses Docker's sizes: "64m", "1g", "512k", "100", "64MB".
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		case 'p':
			mult = 1 << 50
		}
		if mult > 1 {
			t = t[:len(t)-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*float64(mult) > math.MaxInt64 {
		return 0, invalid("invalid size: '%s'", s)
	}
	return int64(f * float64(mult)), nil
}

// ParseCPUs parses --cpus ("1.5") into nano CPUs.
func ParseCPUs(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, invalid("invalid argument %q for \"--cpus\" flag", s)
	}
	return int64(f * 1e9), nil
}

// ParseUlimit parses "nofile=1024" or "nofile=1024:2048".
func ParseUlimit(s string) (Ulimit, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return Ulimit{}, invalid("invalid ulimit argument: %s", s)
	}
	softS, hardS, both := strings.Cut(val, ":")
	soft, err := strconv.ParseInt(softS, 10, 64)
	if err != nil {
		return Ulimit{}, invalid("invalid ulimit argument: %s", s)
	}
	hard := soft
	if both {
		if hard, err = strconv.ParseInt(hardS, 10, 64); err != nil {
			return Ulimit{}, invalid("invalid ulimit argument: %s", s)
		}
	}
	if soft > hard {
		return Ulimit{}, invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", soft, hard)
	}
	return Ulimit{Name: name, Soft: soft, Hard: hard}, nil
}

// ParseRestart parses --restart: no, always, unless-stopped, on-failure[:N].
func ParseRestart(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
		if hasCount {
			return p, invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case "always", "unless-stopped":
		if hasCount {
			return p, invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'")
		}
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, invalid("invalid restart policy: maximum retry count must be a positive integer: %s", count)
			}
			p.MaximumRetryCount = n
		}
	default:
		return p, invalid("invalid restart policy '%s'", name)
	}
	return p, nil
}

// ParseVolume parses -v: SRC:DST[:OPTS] binds SRC when it is absolute,
// else mounts the named volume SRC; a lone absolute DST is an anonymous
// volume (a Mount of type volume without Source).
func ParseVolume(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		if len(parts) == 1 && filepath.IsAbs(s) {
			if filepath.Clean(s) == "/" {
				return Mount{}, invalid("invalid volume specification: '%s': invalid mount config: destination can't be '/'", s)
			}
			return Mount{Type: "volume", Target: filepath.Clean(s)}, nil
		}
		return Mount{}, invalid("invalid volume specification: '%s'", s)
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(dst) {
		return Mount{}, invalid("invalid volume specification: '%s': mount path must be absolute", s)
	}
	if filepath.Clean(dst) == "/" {
		return Mount{}, invalid("invalid volume specification: '%s': invalid mount config: destination can't be '/'", s)
	}
	if !filepath.IsAbs(src) {
		if err := ValidVolumeName(src); err != nil {
			return Mount{}, err
		}
		m := Mount{Type: "volume", Source: src, Target: filepath.Clean(dst)}
		if len(parts) == 3 {
			if err := parseVolumeMode(&m, parts[2]); err != nil {
				return Mount{}, err
			}
		}
		return m, nil
	}
	m := Mount{Type: "bind", Source: filepath.Clean(src), Target: filepath.Clean(dst), BindOptions: &BindOptions{CreateMountpoint: true}}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "z", "Z", "":
			case "private", "rprivate", "shared", "rshared", "slave", "rslave":
				m.BindOptions.Propagation = o
			case "idmap":
				m.BindOptions.IDMap = true
			default:
				return Mount{}, invalid("invalid mode: %s", o)
			}
		}
	}
	return m, nil
}

// ParseMount parses --mount type=bind|volume|tmpfs,source=,target=,
// readonly,...
func ParseMount(s string) (Mount, error) {
	m := Mount{Type: "volume"}
	for _, field := range strings.Split(s, ",") {
		k, v, hasV := strings.Cut(field, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "type":
			m.Type = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "readonly", "ro":
			m.ReadOnly = !hasV || v == "true" || v == "1"
			if hasV && v != "true" && v != "1" && v != "false" && v != "0" {
				return Mount{}, invalid("invalid value for readonly: %s", v)
			}
		case "bind-propagation":
			if m.BindOptions == nil {
				m.BindOptions = &BindOptions{}
			}
			m.BindOptions.Propagation = v
		case "idmap":
			if hasV {
				return Mount{}, invalid("invalid value for idmap: %s (podman's mappings are not supported: it takes the container's)", v)
			}
			if m.BindOptions == nil {
				m.BindOptions = &BindOptions{}
			}
			m.BindOptions.IDMap = true
		case "tmpfs-size":
			n, err := ParseBytes(v)
			if err != nil {
				return Mount{}, err
			}
			tmpfsOpts(&m).SizeBytes = n
		case "volume-nocopy":
			if hasV && v != "true" && v != "1" && v != "false" && v != "0" {
				return Mount{}, invalid("invalid value for volume-nocopy: %s", v)
			}
			volumeOpts(&m).NoCopy = !hasV || v == "true" || v == "1"
		case "volume-label":
			lk, lv, _ := strings.Cut(v, "=")
			o := volumeOpts(&m)
			if o.Labels == nil {
				o.Labels = map[string]string{}
			}
			o.Labels[lk] = lv
		case "volume-driver":
			volumeDriver(&m).Name = v
		case "volume-opt":
			ok, ov, _ := strings.Cut(v, "=")
			d := volumeDriver(&m)
			if d.Options == nil {
				d.Options = map[string]string{}
			}
			d.Options[ok] = ov
		case "tmpfs-mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return Mount{}, invalid("invalid value for tmpfs-mode: %s", v)
			}
			tmpfsOpts(&m).Mode = goMode(uint32(n))
		default:
			return Mount{}, invalid("unexpected key '%s' in '%s'", k, field)
		}
	}
	if m.Target == "" {
		return Mount{}, invalid("invalid argument %q for \"--mount\" flag: target is required", s)
	}
	if !filepath.IsAbs(m.Target) {
		return Mount{}, invalid("invalid mount config: mount path must be absolute: %s", m.Target)
	}
	m.Target = filepath.Clean(m.Target)
	switch m.Type {
	case "bind":
		if m.Source == "" || !filepath.IsAbs(m.Source) {
			return Mount{}, invalid("invalid mount config for type \"bind\": field Source must not be empty and must be absolute")
		}
		m.Source = filepath.Clean(m.Source)
	case "tmpfs":
		if m.Source != "" {
			return Mount{}, invalid("invalid mount config for type \"tmpfs\": field Source must not be specified")
		}
	case "volume":
		if m.Source != "" {
			if err := ValidVolumeName(m.Source); err != nil {
				return Mount{}, err
			}
		}
		if m.BindOptions != nil {
			return Mount{}, invalid("invalid mount config for type \"volume\": bind-propagation and idmap are only for bind mounts")
		}
	default:
		return Mount{}, invalid("invalid mount type %q", m.Type)
	}
	return m, nil
}

// volumeDriver returns m's volume driver config, made if missing.
func volumeDriver(m *Mount) *VolumeDriver {
	o := volumeOpts(m)
	if o.DriverConfig == nil {
		o.DriverConfig = &VolumeDriver{}
	}
	return o.DriverConfig
}

func tmpfsOpts(m *Mount) *TmpfsOptions {
	if m.TmpfsOptions == nil {
		m.TmpfsOptions = &TmpfsOptions{}
	}
	return m.TmpfsOptions
}

// goMode converts chmod(2) bits to Go's.
func goMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if u&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if u&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ParseTmpfs parses --tmpfs PATH[:OPTIONS] (mount(8) options).
func ParseTmpfs(s string) (Mount, error) {
	dst, opts, _ := strings.Cut(s, ":")
	if !filepath.IsAbs(dst) {
		return Mount{}, invalid("invalid tmpfs mount: mount path must be absolute: %s", dst)
	}
	m := Mount{Type: "tmpfs", Target: filepath.Clean(dst)}
	if opts != "" {
		o := tmpfsOpts(&m)
		o.Options = []string{"nosuid", "nodev", "noexec"}
		for _, x := range strings.Split(opts, ",") {
			if x == "" {
				continue
			}
			o.Options = append(o.Options, x)
		}
	}
	return m, nil
}

// ParseEnvFile reads KEY=VALUE lines (a bare KEY takes the value from
// our environment; # comments and blank lines are skipped).
func ParseEnvFile(path string) ([]string, error) {
	// Docker's words: invalid env file (PATH): open PATH: no such file ...
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %w", path, err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		k, _, hasV := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, invalid("variable '%s' contains whitespaces (%s line %d)", k, path, n)
		}
		if !hasV {
			if v, ok := os.LookupEnv(k); ok {
				line = k + "=" + v
			} else {
				continue
			}
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %w", path, err)
	}
	return out, nil
}

// ExpandEnv completes -e KEY (no value) from our environment, as Docker does.
func ExpandEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.Contains(kv, "=") {
			v, ok := os.LookupEnv(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		out = append(out, kv)
	}
	return out
}

// validateHostConfig checks what parsing alone cannot.
func validateHostConfig(hc *HostConfig) error {
	switch {
	case hc.NetworkMode == "" || hc.NetworkMode == "default":
		hc.NetworkMode = network.DefaultNetwork
	case hc.NetworkMode == "container:":
		return invalid("invalid network mode: container: needs a container name or ID")
	}
	if err := validateNetFlags(hc); err != nil {
		return err
	}
	for _, v := range hc.VolumesFrom {
		if _, _, err := parseVolumesFrom(v); err != nil {
			return err
		}
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != "no" {
		return invalid("conflicting options: cannot specify both --restart and --rm")
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = "no"
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = "json-file"
	}
	if hc.LogConfig.Type != "json-file" {
		return invalid("logging driver %q is not supported (json-file is)", hc.LogConfig.Type)
	}
	for k, v := range hc.LogConfig.Config {
		switch k {
		case "max-size":
			if _, err := ParseBytes(v); err != nil {
				return err
			}
		case "max-file":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return invalid("invalid value for log opt max-file: %s", v)
			}
		default:
			return invalid("unknown log opt '%s' for json-file log driver", k)
		}
	}
	for _, o := range hc.SecurityOpt {
		switch strings.ReplaceAll(o, ":", "=") {
		case "seccomp=unconfined", "no-new-privileges", "no-new-privileges=true", "no-new-privileges=false":
		default:
			if isLSM, err := lsmOpt(o); isLSM {
				if err != nil {
					return err
				}
				continue
			}
			if err := checkSeccompOpt(o); err == nil {
				continue
			} else if !errors.Is(err, errNotSeccomp) {
				return err
			}
			return invalid("invalid --security-opt: %q", o)
		}
	}
	if hc.ShmSize < 0 {
		return invalid("SHM size can not be less than 0")
	}
	// Checked here, not only when the spec is made at start: docker
	// refuses an unknown capability and a --mount bind of a missing path
	// at create, leaving no container.
	if _, err := capabilities(hc); err != nil {
		return err
	}
	if err := checkBindSources(hc); err != nil {
		return err
	}
	return ValidateResources(hc)
}

// validateNetFlags checks --dns, --add-host and the published ports.
func validateNetFlags(hc *HostConfig) error {
	for _, d := range hc.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return invalid("%s is not an ip address", d)
		}
	}
	for _, h := range hc.ExtraHosts {
		if _, _, err := network.ParseExtraHost(h); err != nil {
			return err
		}
	}
	for k := range hc.PortBindings {
		if _, _, err := network.ParsePortKey(k); err != nil {
			return err
		}
	}
	return nil
}

// checkBindSources checks that the source of every --mount bind exists
// (unless the mount creates it); start checks again, since it may have
// gone since.
func checkBindSources(hc *HostConfig) error {
	for _, m := range hc.Mounts {
		if m.Type != "bind" || (m.BindOptions != nil && m.BindOptions.CreateMountpoint) {
			continue
		}
		if _, err := os.Stat(m.Source); err != nil {
			return errorf(ErrInvalid, "invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
		}
	}
	return nil
}
