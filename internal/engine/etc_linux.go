package engine

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// etcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf into its directory and returns where each goes.
func etcFiles(c *Container, hostname string) (map[string]string, error) {
	files := map[string][]byte{
		"/etc/hostname":    []byte(hostname + "\n"),
		"/etc/hosts":       hostsFile(c.HostConfig.NetworkMode),
		"/etc/resolv.conf": resolvConf(c.HostConfig.NetworkMode),
	}
	out := map[string]string{}
	for dst, b := range files {
		p := filepath.Join(c.dir, filepath.Base(dst))
		if err := writeAtomic(p, b); err != nil {
			return nil, err
		}
		out[dst] = p
	}
	return out, nil
}

// hostsFile is Docker's /etc/hosts for a container without an address,
// or the host's own with the host's network.
func hostsFile(network string) []byte {
	if network == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			return b
		}
	}
	return []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
		"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
}

// resolvConf is the host's resolv.conf; outside the host's network,
// loopback name servers (a local resolver such as systemd-resolved) are
// unreachable and dropped, and Google's public servers stand in when none
// remain, as Docker does.
func resolvConf(network string) []byte {
	b, _ := os.ReadFile("/etc/resolv.conf")
	if network == "host" {
		return b
	}
	var out bytes.Buffer
	servers := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.IsLoopback() {
				continue
			}
			servers++
		}
		out.WriteString(line + "\n")
	}
	if servers == 0 {
		out.WriteString("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
	}
	return out.Bytes()
}
