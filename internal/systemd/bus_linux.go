package systemd

import (
	"context"
	"errors"
	"fmt"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// ErrUnreachable wraps a failure to connect to systemd at all.
var ErrUnreachable = errors.New("cannot reach systemd")

// Do carries out one request of the runtime. The caller bounds it with
// ctx.
func Do(ctx context.Context, req cgroups.SystemdRequest) error {
	switch req.Op {
	case "start":
		extra, err := AnnotationProperties(req.Annotations)
		if err != nil {
			return err
		}
		props, err := scopeProperties(req.Scope, req.Description, req.Pid, req.Mode, req.Resources, extra)
		if err != nil {
			return err
		}
		return withSystemd(ctx, func(conn *sdbus.Conn) error { return startUnit(ctx, conn, req.Scope.Unit, props) })
	case "stop":
		return withSystemd(ctx, func(conn *sdbus.Conn) error { return stopUnit(ctx, conn, req.Scope.Unit) })
	case "update":
		props, err := resourceProperties(req.Mode, req.Resources)
		if err != nil || len(props) == 0 {
			return err
		}
		return withSystemd(ctx, func(conn *sdbus.Conn) error {
			if err := conn.SetUnitPropertiesContext(ctx, req.Scope.Unit, true, props...); err != nil {
				return fmt.Errorf("set properties of systemd unit %s: %w", req.Scope.Unit, err)
			}
			return nil
		})
	}
	return fmt.Errorf("unknown request %q", req.Op)
}

// withSystemd runs f with a connection to systemd: over the system bus, or,
// as root, straight to systemd's private socket /run/systemd/private,
// which works without a D-Bus daemon (go-systemd tries them in that order,
// as runc).
func withSystemd(ctx context.Context, f func(*sdbus.Conn) error) error {
	conn, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer conn.Close()
	return f(conn)
}

// startUnit asks systemd for the scope and waits for the job's result. A
// unit of the same name left failed by an earlier container is reset and
// the start tried once more, as runc does; an active one is refused.
func startUnit(ctx context.Context, conn *sdbus.Conn, unit string, props []sdbus.Property) error {
	start := func(ch chan<- string) error {
		_, err := conn.StartTransientUnitContext(ctx, unit, "replace", props, ch)
		return err
	}
	err := runJob(ctx, unit, start)
	if isDBusError(err, "org.freedesktop.systemd1.UnitExists") {
		_ = conn.ResetFailedUnitContext(ctx, unit)
		err = runJob(ctx, unit, start)
	}
	if err != nil {
		return fmt.Errorf("start systemd unit %s: %w", unit, err)
	}
	return nil
}

// stopUnit stops the unit (systemd kills what is left in it and removes
// its cgroup) and clears a failed state so that the name can be reused.
// A unit that is already gone is not an error: an empty scope is stopped
// and collected by systemd on its own as soon as its last process exits.
func stopUnit(ctx context.Context, conn *sdbus.Conn, unit string) error {
	err := runJob(ctx, unit, func(ch chan<- string) error {
		_, err := conn.StopUnitContext(ctx, unit, "replace", ch)
		return err
	})
	if err != nil && !isDBusError(err, "org.freedesktop.systemd1.NoSuchUnit") {
		return fmt.Errorf("stop systemd unit %s: %w", unit, err)
	}
	_ = conn.ResetFailedUnitContext(ctx, unit)
	return nil
}

// runJob starts a systemd job with start and waits until systemd reports
// it removed. A job that ends in anything but "done" is an error.
func runJob(ctx context.Context, unit string, start func(chan<- string) error) error {
	ch := make(chan string, 1)
	if err := start(ch); err != nil {
		return err
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("job for %s ended %q", unit, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("job for %s: %w", unit, ctx.Err())
	}
}

func isDBusError(err error, name string) bool {
	var e dbus.Error
	return errors.As(err, &e) && e.Name == name
}
