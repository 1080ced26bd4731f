// Command pelagos-systemd is the systemd cgroup driver's D-Bus side: the
// runtime (pelagos-runc --systemd-cgroup) runs it with one request as JSON
// on stdin (cgroups.SystemdRequest): start, stop or update a container's
// transient scope. It prints nothing on success; on failure it writes the
// reason on stderr and exits 1, or cgroups.SystemdUnreachable when systemd
// cannot be reached at all. It is a program of its own so that the D-Bus
// client stays out of pelagos-runc, which every container start executes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/pelagos-go/pelagos/internal/cgroups"
	"github.com/pelagos-go/pelagos/internal/systemd"
)

func main() {
	var req cgroups.SystemdRequest
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "pelagos-systemd: bad request on stdin:", err)
		os.Exit(2)
	}
	if err := systemd.Do(context.Background(), req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if errors.Is(err, systemd.ErrUnreachable) {
			os.Exit(cgroups.SystemdUnreachable)
		}
		os.Exit(1)
	}
}
