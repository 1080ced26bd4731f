package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendListener hands a notification listener fd to the seccomp agent
// listening on path (the profile's listenerPath), as runtime-spec
// config-linux.md "The Container Process State" prescribes: one new
// SOCK_STREAM connection, the container process state as JSON payload,
// the fd in SCM_RIGHTS of the first sendmsg, then close.
//
// st carries the caller's pid, metadata (the profile's listenerMetadata)
// and container state; SendListener sets ociVersion and fds itself.
func SendListener(ctx context.Context, path string, listener int, st specs.ContainerProcessState) error {
	st.Version = specs.Version
	st.Fds = []string{specs.SeccompFdName}
	payload, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("seccomp listener state: %w", err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", os.NewSyscallError("socket", err))
	}
	defer unix.Close(fd)
	if dl, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(time.Until(dl).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fmt.Errorf("seccomp listener %s: %w", path, os.NewSyscallError("connect", err))
	}
	// The fd goes with the first bytes, as the spec requires; a stream
	// socket may take the rest of the payload in further writes.
	n, err := unix.SendmsgN(fd, payload, unix.UnixRights(listener), nil, 0)
	for err == nil && n < len(payload) {
		var m int
		m, err = unix.Write(fd, payload[n:])
		n += m
	}
	if err != nil {
		return fmt.Errorf("seccomp listener: send to %s: %w", path, err)
	}
	return nil
}
