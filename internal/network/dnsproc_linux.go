package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The embedded DNS server of a user-defined network is one process
// (pelagos-dns, package dns) per network, listening on port 53 of the
// network's gateway addresses, in the host's network namespace: it
// reaches the host's own resolvers (127.0.0.53 included) and no
// container pays for it (its memory is per network). It answers the
// names in dns/<net>.hosts, which is rewritten under the lock at every
// change, and exits by itself once that file lists nobody. Any command
// that adds a name starts it if it is not running.

// DNSEnabled reports whether containers on n use its DNS server.
func (m *Manager) DNSEnabled(n *Network) bool { return m.DNSServer != "" && !n.IsDefault() }

func (m *Manager) recordsPath(netID string) string { return filepath.Join(m.dnsDir, netID+".hosts") }
func (m *Manager) pidPath(netID string) string     { return filepath.Join(m.dnsDir, netID+".pid") }

// updateDNS rewrites the records of eps' networks and makes sure their
// servers run; the caller holds the lock.
func (m *Manager) updateDNS(nets []*Network, eps []Endpoint) error {
	leases, err := m.loadLeases()
	if err != nil {
		return err
	}
	if err := m.writeRecords(nets, eps, leases); err != nil {
		return err
	}
	for _, id := range dnsNetworks(m, nets, eps) {
		n, _ := find(nets, id, false)
		if err := m.ensureServer(n); err != nil {
			return err
		}
	}
	return nil
}

// dnsNetworks lists the IDs of eps' networks that have DNS, once each.
func dnsNetworks(m *Manager, nets []*Network, eps []Endpoint) []string {
	var out []string
	for _, ep := range eps {
		n, err := find(nets, ep.NetworkID, false)
		if err == nil && m.DNSEnabled(n) && !slices.Contains(out, n.ID) {
			out = append(out, n.ID)
		}
	}
	return out
}

// writeRecords rewrites the records of eps' networks from leases; a
// network left without names has its server stopped.
func (m *Manager) writeRecords(nets []*Network, eps []Endpoint, leases []*Lease) error {
	for _, id := range dnsNetworks(m, nets, eps) {
		b := records(id, leases)
		if len(b) == 0 {
			m.stopServer(id)
			if err := os.Remove(m.recordsPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := writeAtomic(m.recordsPath(id), b); err != nil {
			return err
		}
	}
	return nil
}

// records renders a network's names: "ADDR NAME..." per address, and
// "upstream CLIENT SERVER..." for a container with its own resolvers.
func records(netID string, leases []*Lease) []byte {
	var b bytes.Buffer
	for _, l := range leases {
		for _, ep := range l.Endpoints {
			if ep.NetworkID != netID || len(ep.DNSNames) == 0 {
				continue
			}
			names := strings.Join(ep.DNSNames, " ")
			for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
				if p.IsValid() {
					fmt.Fprintf(&b, "%s %s\n", p.Addr(), names)
					if len(l.DNS) > 0 {
						fmt.Fprintf(&b, "upstream %s %s\n", p.Addr(), strings.Join(l.DNS, " "))
					}
				}
			}
		}
	}
	return b.Bytes()
}

// serverAlive reports whether the pid file names a live server.
func (m *Manager) serverAlive(netID string) (int, bool) {
	b, err := os.ReadFile(m.pidPath(netID))
	if err != nil {
		return 0, false
	}
	pidS, startS, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	pid, _ := strconv.Atoi(pidS)
	start, _ := strconv.ParseUint(startS, 10, 64)
	got, ok := procStart(pid)
	return pid, ok && got == start
}

// ensureServer starts n's DNS server unless it runs, and waits until it
// listens (or says why it cannot).
func (m *Manager) ensureServer(n *Network) error {
	if _, ok := m.serverAlive(n.ID); ok {
		return nil
	}
	var listen []string
	v4, v6 := n.subnets()
	for _, s := range []*subnet{v4, v6} {
		if s != nil {
			listen = append(listen, s.gateway.String())
		}
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := &exec.Cmd{
		Path: m.DNSServer,
		Args: []string{"pelagos-dns", "--records", m.recordsPath(n.ID), "--pidfile", m.pidPath(n.ID),
			"--lock", filepath.Join(m.dir, ".lock"), "--listen", strings.Join(listen, ",")},
		Dir:         "/",
		ExtraFiles:  []*os.File{readyW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start the DNS server of network %s: %w", n.Name, err)
	}
	defer cmd.Process.Release()
	line, err := readLine(readyR, 5*time.Second)
	if line != "ok" {
		_ = cmd.Process.Kill()
		if err == nil {
			err = errors.New(strings.TrimPrefix(line, "error "))
		}
		return fmt.Errorf("DNS server of network %s: %w", n.Name, err)
	}
	start, _ := procStart(cmd.Process.Pid)
	return writeAtomic(m.pidPath(n.ID), fmt.Appendf(nil, "%d %d\n", cmd.Process.Pid, start))
}

// readLine reads one line from r, giving up after timeout.
func readLine(r *os.File, timeout time.Duration) (string, error) {
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	sc := bufio.NewScanner(r)
	if sc.Scan() {
		return sc.Text(), nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("exited before listening")
}

// stopServer stops network id's server, if it runs.
func (m *Manager) stopServer(id string) {
	if pid, ok := m.serverAlive(id); ok {
		_ = unix.Kill(pid, unix.SIGTERM)
	}
	os.Remove(m.pidPath(id))
}

// down removes n's kernel side: DNS server, bridge, and its rules.
func (m *Manager) down(n *Network, nets []*Network) error {
	m.stopServer(n.ID)
	os.Remove(m.recordsPath(n.ID))
	if err := deleteLink(netlinkHost(), n.Bridge()); err != nil {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(nets), func(o *Network) bool { return o.ID == n.ID })
	return m.applyRules(rest)
}

// procStart returns a process's start time (clock ticks since boot) and
// whether it is alive (not a zombie), from /proc/<pid>/stat.
func procStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, err == nil && f[0] != "Z" && f[0] != "X"
}
