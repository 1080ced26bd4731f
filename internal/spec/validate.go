package spec

import (
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/mountopt"
)

// NamespaceFlags maps the OCI namespace types this runtime knows.
var namespaceTypes = map[specs.LinuxNamespaceType]bool{
	specs.PIDNamespace:     true,
	specs.NetworkNamespace: true,
	specs.MountNamespace:   true,
	specs.IPCNamespace:     true,
	specs.UTSNamespace:     true,
	specs.UserNamespace:    true,
	specs.CgroupNamespace:  true,
	specs.TimeNamespace:    true,
}

// Validate checks s against the runtime-spec (versions 1.0 to 1.3) and
// against what this runtime supports.
func Validate(s *specs.Spec) error {
	checks := []func(*specs.Spec) error{
		validateVersion,
		validateRoot,
		validateProcess,
		validateMounts,
		validateHooks,
		validateLinux,
	}
	for _, check := range checks {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

func validateVersion(s *specs.Spec) error {
	v := s.Version
	if v == "" {
		return invalid("ociVersion is missing")
	}
	parts := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	major, err := strconv.Atoi(parts[0])
	if err != nil || len(parts) < 2 {
		return invalid("ociVersion %q is not a semantic version", v)
	}
	if major != 1 {
		return invalid("ociVersion %q: only runtime-spec 1.x configs are supported", v)
	}
	return nil
}

func validateRoot(s *specs.Spec) error {
	if s.Root == nil || s.Root.Path == "" {
		return invalid("root.path is missing")
	}
	return nil
}

func validateProcess(s *specs.Spec) error {
	p := s.Process
	if p == nil {
		return nil // allowed by create; start refuses it
	}
	return ValidateProcess(p)
}

// ValidateProcess checks a process as given in config.json or to exec.
func ValidateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return invalid("process.args is empty")
	}
	if p.Cwd == "" {
		return invalid("process.cwd is missing")
	}
	if !filepath.IsAbs(p.Cwd) {
		return invalid("process.cwd %q is not an absolute path", p.Cwd)
	}
	for _, e := range p.Env {
		if !strings.Contains(e, "=") {
			return invalid("process.env entry %q is not in the form NAME=value", e)
		}
	}
	for _, r := range p.Rlimits {
		if !strings.HasPrefix(r.Type, "RLIMIT_") {
			return invalid("process.rlimits type %q is not an RLIMIT_ name", r.Type)
		}
		if _, ok := RlimitResource(r.Type); !ok {
			return invalid("process.rlimits type %q is unknown", r.Type)
		}
		if r.Soft > r.Hard {
			return invalid("process.rlimits %s: soft limit %d is above hard limit %d", r.Type, r.Soft, r.Hard)
		}
	}
	if p.ConsoleSize != nil && !p.Terminal {
		return invalid("process.consoleSize is set but process.terminal is false")
	}
	return nil
}

func validateMounts(s *specs.Spec) error {
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return invalid("mounts[%d].destination is missing", i)
		}
		if strings.Contains(m.Destination, "\x00") || strings.Contains(m.Source, "\x00") {
			return invalid("mounts[%d] contains a NUL byte", i)
		}
	}
	return nil
}

func validateHooks(s *specs.Spec) error {
	if s.Hooks == nil {
		return nil
	}
	//lint:ignore SA1019 prestart is deprecated but configs still use it and the spec keeps it.
	prestart := s.Hooks.Prestart
	lists := map[string][]specs.Hook{
		"prestart":        prestart,
		"createRuntime":   s.Hooks.CreateRuntime,
		"createContainer": s.Hooks.CreateContainer,
		"startContainer":  s.Hooks.StartContainer,
		"poststart":       s.Hooks.Poststart,
		"poststop":        s.Hooks.Poststop,
	}
	for name, hooks := range lists {
		for i, h := range hooks {
			if !filepath.IsAbs(h.Path) {
				return invalid("hooks.%s[%d].path %q is not an absolute path", name, i, h.Path)
			}
			if h.Timeout != nil && *h.Timeout <= 0 {
				return invalid("hooks.%s[%d].timeout must be positive", name, i)
			}
		}
	}
	return nil
}

func validateLinux(s *specs.Spec) error {
	l := s.Linux
	if l == nil {
		return invalid("linux section is missing (only Linux containers are supported)")
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range l.Namespaces {
		if !namespaceTypes[ns.Type] {
			return invalid("linux.namespaces: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return invalid("linux.namespaces: %q appears twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return invalid("linux.namespaces: %s path %q is not absolute", ns.Type, ns.Path)
		}
	}
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !seen[specs.UserNamespace] {
		return invalid("linux.uidMappings/gidMappings need a user namespace in linux.namespaces")
	}
	if seen[specs.UserNamespace] && userNSPath(l) == "" && (len(l.UIDMappings) == 0 || len(l.GIDMappings) == 0) {
		return invalid("a new user namespace needs linux.uidMappings and linux.gidMappings")
	}
	if len(l.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return invalid("linux.timeOffsets needs a time namespace in linux.namespaces")
	}
	for clock := range l.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return invalid("linux.timeOffsets: unknown clock %q (monotonic or boottime)", clock)
		}
	}
	if l.RootfsPropagation != "" {
		if _, ok := mountopt.Propagation(l.RootfsPropagation); !ok {
			return invalid("linux.rootfsPropagation %q is not one of shared, slave, private, unbindable (or r-prefixed)", l.RootfsPropagation)
		}
	}
	for i, d := range l.Devices {
		if !filepath.IsAbs(d.Path) {
			return invalid("linux.devices[%d].path %q is not absolute", i, d.Path)
		}
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			return invalid("linux.devices[%d] (%s): type %q is not c, b, u or p", i, d.Path, d.Type)
		}
	}
	for _, p := range append(append([]string{}, l.MaskedPaths...), l.ReadonlyPaths...) {
		if !filepath.IsAbs(p) {
			return invalid("masked/readonly path %q is not absolute", p)
		}
	}
	return nil
}

func userNSPath(l *specs.Linux) string {
	for _, ns := range l.Namespaces {
		if ns.Type == specs.UserNamespace {
			return ns.Path
		}
	}
	return ""
}
