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

// UserNetRequest is what a rootless container's network needs: a network
// namespace of its own, connected to the caller's by a user-mode network
// program (pasta, or slirp4netns), which relays its traffic through
// ordinary sockets (no privilege: the caller's namespace is not touched)
// and forwards the published ports.
type UserNetRequest struct {
	// NetNS is the file the namespace is bound on; PidFile receives
	// the program's pid. Both are the caller's to choose (under its
	// runtime root) and go at StopUserNet, with every other file named
	// PidFile's name plus a suffix.
	NetNS, PidFile string
	Bindings       map[string][]PortBinding
	PublishAll     bool
	Exposed        []string
}

// prepareUserNet does what every user-mode network helper needs first:
// it finds the helper's binary (needs names it for the error), chooses the
// host ports to publish and creates r's network namespace.
func prepareUserNet(r UserNetRequest, binary, needs string) (bin string, ports []Port, err error) {
	ws, err := wants(r.Bindings, r.PublishAll, r.Exposed, false)
	if err != nil {
		return "", nil, err
	}
	if bin, err = exec.LookPath(binary); err != nil {
		return "", nil, errorf(ErrInvalid, "rootless networking needs %s: %v", needs, err)
	}
	if ports, err = pickPorts(ws); err != nil {
		return "", nil, err
	}
	ns, h, err := createNetNS(r.NetNS)
	if err != nil {
		return "", nil, err
	}
	ns.Close()
	h.Close()
	return bin, ports, nil
}

// StartPasta creates r's namespace and starts pasta on it; it returns the
// published ports as bound. pasta runs detached (it daemonises once the
// namespace is configured and its ports are bound, which is when this
// returns) and quits by itself when the namespace file is removed.
func StartPasta(ctx context.Context, r UserNetRequest) (_ []Port, err error) {
	bin, ports, err := prepareUserNet(r, PastaBinary, "pasta (Debian package passt)")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			StopUserNet(r.NetNS, r.PidFile)
		}
	}()
	cmd := exec.CommandContext(ctx, bin, pastaArgs(r, ports)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pasta: %v: %s", err, pastaMessage(out.String()))
	}
	if _, ok := UserNetPid(r.PidFile); !ok {
		return nil, fmt.Errorf("pasta exited at start: %s", pastaMessage(out.String()))
	}
	return ports, nil
}

// pastaArgs is pasta's command line for r. Only the published ports are
// forwarded ("none" otherwise: pasta's default would forward every port
// the container binds, and the host's ports into the container), and the
// gateway address is not mapped to the host's loopback, as podman does:
// a container must not reach the host's local-only services.
func pastaArgs(r UserNetRequest, ports []Port) []string {
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

// UserNetPid reads a pid file of StartPasta or StartSlirp4netns and
// reports whether that process is still such a program.
func UserNetPid(pidFile string) (int, bool) {
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
	base := filepath.Base(argv0)
	return pid, base == PastaBinary || base == Slirp4netnsBinary
}

// StopUserNet stops the program of a namespace (pasta or slirp4netns)
// and removes the namespace, the pid file and the files beside it. It is
// idempotent: a missing process or file is no error.
func StopUserNet(netNS, pidFile string) error {
	if pid, ok := UserNetPid(pidFile); ok {
		_ = unix.Kill(pid, unix.SIGTERM)
		// It is not our child: poll until it is gone, briefly.
		for i := 0; i < 100; i++ {
			if _, ok := UserNetPid(pidFile); !ok {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, ok := UserNetPid(pidFile); ok {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	errs := []error{removeNetNS(netNS)}
	for _, f := range []string{pidFile, pidFile + apiSuffix, pidFile + logSuffix} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
