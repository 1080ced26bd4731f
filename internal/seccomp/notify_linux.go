package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"

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
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("seccomp listener: %w", err)
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return fmt.Errorf("seccomp listener: %w", err)
		}
	}
	n, _, err := conn.WriteMsgUnix(payload, unix.UnixRights(listener), nil)
	if err != nil {
		return fmt.Errorf("seccomp listener: send to %s: %w", path, err)
	}
	// A stream socket may take the payload in parts; the fd went with the
	// first, as the spec requires.
	if _, err := conn.Write(payload[n:]); err != nil {
		return fmt.Errorf("seccomp listener: send to %s: %w", path, err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("seccomp listener: close %s: %w", path, err)
	}
	return nil
}
