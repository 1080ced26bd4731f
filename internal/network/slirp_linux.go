package network

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Slirp4netnsBinary is the older user-mode networking program, the
// fallback where pasta is not installed.
const Slirp4netnsBinary = "slirp4netns"

// Files beside a user-mode network program's pid file: slirp4netns's API
// socket (published ports are added through it) and its log.
const (
	apiSuffix = ".api"
	logSuffix = ".log"
)

// slirpReadyTimeout bounds the wait for slirp4netns to configure the
// namespace.
const slirpReadyTimeout = 10 * time.Second

// StartSlirp4netns is StartPasta with slirp4netns: the namespace gets a
// tap device with slirp's fixed addressing (10.0.2.100/24, gateway
// 10.0.2.2, DNS relay 10.0.2.3), the host's loopback is not reachable
// from it, and each published port is added through slirp4netns's API
// socket. slirp4netns runs in its own session, not our child, until
// StopUserNet.
func StartSlirp4netns(ctx context.Context, r UserNetRequest) (_ []Port, err error) {
	bin, ports, err := prepareUserNet(r, Slirp4netnsBinary, "pasta (Debian package passt) or slirp4netns")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			StopUserNet(r.NetNS, r.PidFile)
		}
	}()
	if err := runSlirp(ctx, bin, r); err != nil {
		return nil, err
	}
	for _, p := range ports {
		if err := slirpForward(r.PidFile+apiSuffix, p); err != nil {
			return nil, err
		}
	}
	return ports, nil
}

// runSlirp starts slirp4netns detached and waits until it reports the
// namespace configured on its ready pipe.
func runSlirp(ctx context.Context, bin string, r UserNetRequest) error {
	logf, err := os.OpenFile(r.PidFile+logSuffix, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	ready, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer ready.Close()
	const fdReady = 3 // cmd.ExtraFiles[0]
	// The socket is named relative to the directory slirp4netns runs in:
	// a full path under a deep runtime root may exceed the 108 bytes of
	// a socket address.
	cmd := exec.Command(bin, "--configure", "--mtu=65520", "--disable-host-loopback",
		"--netns-type=path", fmt.Sprintf("--ready-fd=%d", fdReady), "--api-socket", filepath.Base(r.PidFile+apiSuffix),
		r.NetNS, "tap0")
	cmd.Dir = filepath.Dir(r.PidFile)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start slirp4netns: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release() // it outlives us; init reaps it
	if err := os.WriteFile(r.PidFile, []byte(fmt.Sprintf("%d\n", pid)), 0o600); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		return err
	}
	ready.SetReadDeadline(time.Now().Add(slirpReadyTimeout))
	if dl, ok := ctx.Deadline(); ok {
		ready.SetReadDeadline(dl)
	}
	var b [1]byte
	if n, err := ready.Read(b[:]); n != 1 {
		msg, _ := os.ReadFile(r.PidFile + logSuffix)
		return fmt.Errorf("slirp4netns did not configure the namespace (%v): %s", err, bytes.TrimSpace(msg))
	}
	return nil
}

// slirpForward adds one published port through slirp4netns's API,
// reached through a handle on its directory (see runSlirp).
func slirpForward(api string, p Port) error {
	dir, err := os.OpenFile(filepath.Dir(api), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	short := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(api))
	conn, err := net.DialTimeout("unix", short, 5*time.Second)
	if err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
		"proto": p.Proto, "host_addr": p.HostIP.String(), "host_port": p.HostPort, "guest_port": p.ContainerPort,
	}}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	var resp struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("slirp4netns: publish %s: %s", p, resp.Error.Desc)
	}
	return nil
}
