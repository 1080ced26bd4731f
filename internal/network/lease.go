package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

func (m *Manager) leasePath(id string) string { return filepath.Join(m.leases, id+".json") }

// readLease reads container id's lease; nil when it has none.
func (m *Manager) readLease(id string) (*Lease, error) {
	b, err := os.ReadFile(m.leasePath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lease
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lease %s: %w", id, err)
	}
	return &l, nil
}

func (m *Manager) writeLease(l *Lease) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return writeAtomic(m.leasePath(l.Container), b)
}

// loadLeases reads every lease.
func (m *Manager) loadLeases() ([]*Lease, error) {
	ents, err := os.ReadDir(m.leases)
	if err != nil {
		return nil, err
	}
	var out []*Lease
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		l, err := m.readLease(id)
		if err != nil {
			return nil, err
		}
		if l != nil {
			out = append(out, l)
		}
	}
	return out, nil
}

// Leases lists the containers that hold a lease.
func (m *Manager) Leases() ([]string, error) {
	ls, err := m.loadLeases()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		out = append(out, l.Container)
	}
	return out, nil
}

// Lease returns container id's lease (nil when it has none).
func (m *Manager) Lease(id string) (*Lease, error) { return m.readLease(id) }

// usedAddrs is every address a lease holds.
func usedAddrs(leases []*Lease) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	for _, l := range leases {
		for _, ep := range l.Endpoints {
			if ep.IPv4.IsValid() {
				used[ep.IPv4.Addr()] = true
			}
			if ep.IPv6.IsValid() {
				used[ep.IPv6.Addr()] = true
			}
		}
	}
	return used
}
