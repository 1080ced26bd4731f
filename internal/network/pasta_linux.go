package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PastaBinary is the user-mode networking program of a rootless
// container (the passt project's pasta).
const PastaBinary = "pasta"

// PastaRequest is what a rootless container's network needs: a network
// namespace of its own, connected to the caller's by pasta, which copies
// the caller's addresses and routes into it, relays its traffic through
// ordinary sockets (no privilege: the caller's namespace is not
// touched), and forwards the published ports.
type PastaRequest struct {
	// NetNS is the file the namespace is bound on; PidFile receives
	// pasta's pid. Both are the caller's to choose (under its runtime
	// root) and go at StopPasta.
	NetNS, PidFile string
	Bindings       map[string][]PortBinding
	PublishAll     bool
	Exposed        []string
}

// StartPasta creates r's namespace and starts pasta on it; it returns the
// published ports as bound. pasta runs detached (it daemonises once the
// namespace is configured and its ports are bound, which is when this
// returns) and quits by itself when the namespace file is removed.
func StartPasta(ctx context.Context, r PastaRequest) (_ []Port, err error) {
	ws, err := wants(r.Bindings, r.PublishAll, r.Exposed, false)
	if err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(PastaBinary)
	if err != nil {
		return nil, errorf(ErrInvalid, "rootless networking needs pasta (Debian package passt): %v", err)
	}
	ports, err := pickPorts(ws)
	if err != nil {
		return nil, err
	}
	ns, h, err := createNetNS(r.NetNS)
	if err != nil {
		return nil, err
	}
	ns.Close()
	h.Close()
	defer func() {
		if err != nil {
			StopPasta(r.NetNS, r.PidFile)
		}
	}()
	cmd := exec.CommandContext(ctx, bin, pastaArgs(r, ports)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pasta: %v: %s", err, pastaMessage(out.String()))
	}
	if _, ok := PastaPid(r.PidFile); !ok {
		return nil, fmt.Errorf("pasta exited at start: %s", pastaMessage(out.String()))
	}
	return ports, nil
}

// pastaArgs is pasta's command line for r. Only the published ports are
// forwarded ("none" otherwise: pasta's default would forward every port
// the container binds, and the host's ports into the container), and the
// gateway address is not mapped to the host's loopback, as podman does:
// a container must not reach the host's local-only services.
func pastaArgs(r PastaRequest, ports []Port) []string {
	args := []string{
		"--config-net", "--quiet",
		"--netns", r.NetNS, "--pid", r.PidFile,
		// As the caller (root of the rootless user namespace), not
		// "nobody", who could not enter the namespace.
		"--runas", "0:0",
		"--no-map-gw", "-T", "none", "-U", "none",
	}
	specs := map[string][]string{}
	for _, p := range ports {
		spec := fmt.Sprintf("%d:%d", p.HostPort, p.ContainerPort)
		if !p.HostIP.IsUnspecified() {
			spec = p.HostIP.String() + "/" + spec
		}
		specs[p.Proto] = append(specs[p.Proto], spec)
	}
	for _, proto := range []string{"tcp", "udp"} {
		flag := "-" + proto[:1]
		if len(specs[proto]) == 0 {
			args = append(args, flag, "none")
		}
		for _, s := range specs[proto] {
			args = append(args, flag, s)
		}
	}
	return args
}

// pickPorts resolves each wanted port (a given one, the first free one
// of a range, or one the kernel picks) by binding it, and frees it again
// for pasta to bind: a port taken now is a clear error rather than a
// pasta failure later.
func pickPorts(ws []portWant) ([]Port, error) {
	var ports []Port
	for _, w := range ws {
		if w.proto == "sctp" {
			return nil, errorf(ErrInvalid, "cannot publish %d/sctp: pasta forwards tcp and udp only", w.cport)
		}
		p := Port{Proto: w.proto, HostIP: w.bindAddr(), ContainerPort: w.cport}
		f, port, err := reserve(w, p, nil, 0)
		if err != nil {
			return nil, err
		}
		f.Close()
		p.HostPort = port
		ports = append(ports, p)
	}
	return ports, nil
}

// pastaMessage keeps pasta's own words: it also reports, on stderr,
// that it could not reach a system logger.
func pastaMessage(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Failed to send") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "; ")
}

// PastaPid reads pasta's pid file and reports whether that process is
// still a pasta.
func PastaPid(pidFile string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	// passt re-executes itself as passt.avx2 where the CPU has it, so
	// the command name varies; the program it was started as does not.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return pid, filepath.Base(argv0) == PastaBinary
}

// StopPasta stops the pasta of a namespace and removes the namespace
// and pid file. It is idempotent: a missing pasta or file is no error.
func StopPasta(netNS, pidFile string) error {
	if pid, ok := PastaPid(pidFile); ok {
		_ = unix.Kill(pid, unix.SIGTERM)
		// pasta is not our child: poll until it is gone, briefly.
		for i := 0; i < 100; i++ {
			if _, ok := PastaPid(pidFile); !ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, ok := PastaPid(pidFile); ok {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	err := removeNetNS(netNS)
	if rerr := os.Remove(pidFile); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
