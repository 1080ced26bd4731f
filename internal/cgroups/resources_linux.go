package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported marks a resource this version cannot apply yet. A config
// that asks for it fails rather than running without the limit.
var ErrNotSupported = errors.New("not supported yet")

// DefaultDevices are the device nodes every container may use, whatever
// its device rules say (as runc and Docker allow them): null, zero, full,
// random, urandom, tty, console, ptmx and the pty slaves.
var DefaultDevices = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(7), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(5), Minor: i64(2), Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(136), Minor: nil, Access: "rwm"},
}

func i64(v int64) *int64 { return &v }

// Set applies r to the cgroup. For now only the device rules are applied
// (on the v1 devices controller); any other limit is refused with
// ErrNotSupported so that nothing runs without a limit it asked for.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := unsupported(r); err != nil {
		return err
	}
	return m.setDevices(r.Devices)
}

func unsupported(r *specs.LinuxResources) error {
	var what string
	switch {
	case r.Memory != nil:
		what = "memory"
	case r.CPU != nil:
		what = "cpu"
	case r.Pids != nil:
		what = "pids"
	case r.BlockIO != nil:
		what = "blockIO"
	case len(r.HugepageLimits) > 0:
		what = "hugepageLimits"
	case r.Network != nil:
		what = "network"
	case len(r.Rdma) > 0:
		what = "rdma"
	case len(r.Unified) > 0:
		what = "unified"
	default:
		return nil
	}
	return fmt.Errorf("linux.resources.%s: cgroup resource limits are %w", what, ErrNotSupported)
}

// setDevices writes the rules to the v1 devices controller. The rule list
// is applied in order after the implicit defaults, as the spec says later
// rules take precedence.
func (m *Manager) setDevices(rules []specs.LinuxDeviceCgroup) error {
	dir, ok := m.Path("devices")
	if !ok {
		return nil // v2 device filtering (eBPF) arrives with the cgroups work
	}
	all := append(append([]specs.LinuxDeviceCgroup{}, rules...), DefaultDevices...)
	for _, r := range all {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(deviceRule(r)), 0); err != nil {
			return fmt.Errorf("device rule %q: %w", deviceRule(r), err)
		}
	}
	return nil
}

// deviceRule formats a rule as the v1 devices controller reads it:
// "type major:minor access", with "*" for a missing number and "a" for all.
func deviceRule(r specs.LinuxDeviceCgroup) string {
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return fmt.Sprint(*p)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)
}
