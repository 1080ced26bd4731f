package cgroups

import "fmt"

// OOMKills returns how many processes of the cgroup the kernel's OOM
// killer killed: oom_kill of memory.oom_control (v1) or memory.events
// (v2), what Stats reports as Memory.EventCount.OOMKill, without reading
// the fifty other files Stats reads (an engine asks it at every exit).
func (m *Manager) OOMKills() (uint64, error) {
	dir, ok := m.Path("memory")
	file := "memory.oom_control"
	if m.mode == Unified {
		dir, ok = m.Path("")
		file = "memory.events"
	}
	if !ok {
		return 0, fmt.Errorf("no memory controller for OOM kills: %w", ErrNotSupported)
	}
	kv, err := readKeyValues(dir, file)
	if err != nil {
		return 0, err
	}
	return kv["oom_kill"], nil
}
