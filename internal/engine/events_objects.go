package engine

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/pelagos-go/pelagos/internal/network"
)

// objectEvent appends an event about a volume or a network, in docker's
// shape for them (no status, id or from; the Actor is the object). Like
// event, a journal that cannot be written costs a warning only.
func (e *Engine) objectEvent(typ, action, id string, attrs map[string]string) {
	now := time.Now()
	ev := Event{
		Type: typ, Action: action, Actor: Actor{ID: id, Attributes: attrs}, Scope: "local",
		Time: now.Unix(), TimeNano: now.UnixNano(),
	}
	if err := e.appendEvent(ev); err != nil {
		e.warn("event journal: " + err.Error())
	}
}

// volumeEvent records action (create, destroy, mount, unmount) for
// volume name, with docker's attributes: the driver, and for mount and
// unmount the container (mount adds destination, propagation, read/write).
func (e *Engine) volumeEvent(action, name string, extra map[string]string) {
	attrs := map[string]string{"driver": LocalDriver}
	maps.Copy(attrs, extra)
	e.objectEvent("volume", action, name, attrs)
}

// volumeMountEvent is docker's volume mount event for mp in c.
func (e *Engine) volumeMountEvent(c *Container, mp MountPoint) {
	e.volumeEvent("mount", mp.Name, map[string]string{
		"container": c.ID, "destination": mp.Destination, "propagation": "",
		"read/write": strconv.FormatBool(mp.RW),
	})
}

// volumeUnmountEvents are docker's unmount events for c's volumes, at the
// end of a run.
func (e *Engine) volumeUnmountEvents(c *Container) {
	for _, mp := range c.MountPoints {
		e.volumeEvent("unmount", mp.Name, map[string]string{"container": c.ID})
	}
}

// NetworkEvent records action (create, destroy) for network n; network
// create, rm and prune are CLI commands over package network.
func (e *Engine) NetworkEvent(action string, n *network.Network) {
	e.objectEvent("network", action, n.ID, map[string]string{"name": n.Name, "type": n.Driver})
}

// networkEvents records connect or disconnect of c for each of its
// bridge networks, as docker does at each start and stop.
func (e *Engine) networkEvents(ctx context.Context, c *Container, action string, names []string) {
	for _, name := range names {
		es := c.NetworkSettings.Networks[name]
		id := ""
		if es != nil {
			id = es.NetworkID
		}
		if id == "" {
			if n, err := e.Net.Get(ctx, name); err == nil {
				id = n.ID
			}
		}
		e.objectEvent("network", action, id, map[string]string{"container": c.ID, "name": name, "type": "bridge"})
	}
}

// PruneEvent records docker's summary event of a prune of typ
// (container, volume, network): no actor, the bytes reclaimed.
func (e *Engine) PruneEvent(typ string, reclaimed int64) {
	e.objectEvent(typ, "prune", "", map[string]string{"reclaimed": strconv.FormatInt(reclaimed, 10)})
}

// execAction is docker's action text of exec_create and exec_start:
// the verb, then the command line.
func execAction(verb string, cmd []string) string {
	return verb + ": " + strings.Join(cmd, " ")
}

// ExecDied records exec_die for exec execID of container ref with its
// exit code (the caller waited for the process).
func (e *Engine) ExecDied(ctx context.Context, ref, execID string, code int) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return // removed meanwhile: docker drops the event too
	}
	e.event(c, "exec_die", map[string]string{"execID": execID, "exitCode": strconv.Itoa(code)})
}

// NewExecID is a new exec's ID (64 hex digits, as docker's).
func NewExecID() string { return newID() }

// EventFor records a container event with extra attributes (attach,
// detach and other actions that the CLI sees happen).
func (e *Engine) EventFor(c *Container, action string, extra map[string]string) {
	e.event(c, action, extra)
}
