package cgroups

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNotSupported marks a resource this host cannot enforce: a controller
// that is not mounted, an interface file the kernel lacks, or a field that
// has no meaning on this cgroup version. A config that asks for it fails
// rather than running without the limit.
var ErrNotSupported = errors.New("not supported on this host")

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

// Set applies r to a newly created cgroup, on whichever cgroup version the
// manager drives. Every field is applied or refused: a field the host
// cannot enforce is an ErrNotSupported error, never skipped.
//
// Devices are always set, even when r is nil: the container gets a
// deny-all device policy, then r.Devices in order, then DefaultDevices.
func (m *Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	if err := Validate(r); err != nil {
		return err
	}
	return m.driver(false).set(r)
}

// Update changes the resources of a running container. Only the fields
// present in r change; device rules change only when r has some. With
// memory.checkBeforeUpdate, a limit below current usage is refused with
// ErrBelowUsage and nothing is changed.
func (m *Manager) Update(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	if err := Validate(r); err != nil {
		return err
	}
	if err := m.driver(true).set(r); err != nil {
		return err
	}
	if m.scope != nil {
		// After the files, so that checkBeforeUpdate has refused a
		// limit below usage before systemd could write it.
		return m.updateScope(r)
	}
	return nil
}

type driver interface {
	set(*specs.LinuxResources) error
}

func (m *Manager) driver(update bool) driver {
	if m.mode == Unified {
		return v2{m: m, update: update}
	}
	return v1{m: m, update: update}
}

// deviceRules is the complete rule list a container gets: deny all, the
// config's rules in order, then the defaults.
func deviceRules(rules []specs.LinuxDeviceCgroup) []specs.LinuxDeviceCgroup {
	all := []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Access: "rwm"}}
	all = append(all, rules...)
	return append(all, DefaultDevices...)
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

// HugePageSizes lists the huge page sizes the host supports, spelled as in
// the OCI config and the hugetlb interface files ("2MB", "1GB").
func HugePageSizes() ([]string, error) {
	entries, err := os.ReadDir("/sys/kernel/mm/hugepages")
	if err != nil {
		if isNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		// hugepages-2048kB
		kb, ok := strings.CutPrefix(e.Name(), "hugepages-")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(kb, "kB"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, pageSizeName(n))
	}
	return out, nil
}

func pageSizeName(kb uint64) string {
	switch {
	case kb >= 1<<20 && kb%(1<<20) == 0:
		return fmt.Sprintf("%dGB", kb>>20)
	case kb >= 1<<10 && kb%(1<<10) == 0:
		return fmt.Sprintf("%dMB", kb>>10)
	}
	return fmt.Sprintf("%dKB", kb)
}

func sortedRdma(m map[string]specs.LinuxRdma) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
