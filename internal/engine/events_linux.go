package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Event is one entry of the event journal, in the shape of docker's
// events (`docker events --format '{{json .}}'`).
type Event struct {
	Status   string `json:"status,omitempty"`
	ID       string `json:"id,omitempty"`
	From     string `json:"from,omitempty"`
	Type     string `json:"Type"`
	Action   string `json:"Action"`
	Actor    Actor  `json:"Actor"`
	Scope    string `json:"scope"`
	Time     int64  `json:"time"`
	TimeNano int64  `json:"timeNano"`
}

// Actor is the object an event is about.
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// The journal: one JSON event per line, appended by every command and
// monitor step that changes a container (each line one write(2) on an
// O_APPEND descriptor, so writers never interleave); rotated to .1 past
// eventsMax bytes.
const (
	eventsFile = "events.log"
	eventsMax  = 4 << 20
)

func (e *Engine) eventsPath() string { return filepath.Join(e.root, eventsFile) }

// event appends a container event for c; extra attributes join the
// image, the name and the labels. A journal that cannot be written costs
// a warning, never the operation.
func (e *Engine) event(c *Container, action string, extra map[string]string) {
	attrs := map[string]string{}
	maps.Copy(attrs, c.Config.Labels)
	attrs["image"], attrs["name"] = c.Config.Image, c.Name
	maps.Copy(attrs, extra)
	now := time.Now()
	ev := Event{
		Status: action, ID: c.ID, From: c.Config.Image, Type: "container", Action: action,
		Actor: Actor{ID: c.ID, Attributes: attrs}, Scope: "local",
		Time: now.Unix(), TimeNano: now.UnixNano(),
	}
	if err := e.appendEvent(ev); err != nil {
		e.warn("event journal: " + err.Error())
	}
}

// Event records action for container c (for commands made of several
// engine calls, such as restart).
func (e *Engine) Event(c *Container, action string) { e.event(c, action, nil) }

func (e *Engine) appendEvent(ev Event) error {
	b := ev.marshal() // json.Marshal's bytes; see record_json.go
	f, err := os.OpenFile(e.eventsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return e.rotateEvents(f)
}

// rotateEvents moves the journal to .1 once it is past eventsMax; the
// flock keeps two writers from rotating twice.
func (e *Engine) rotateEvents(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() < eventsMax {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	cur, err := os.Stat(e.eventsPath())
	if err != nil || !os.SameFile(st, cur) {
		return nil // rotated by another writer
	}
	return os.Rename(e.eventsPath(), e.eventsPath()+".1")
}

// EventsOptions select events: those at or after Since (zero: none from
// the past), before Until (zero: no end); Follow waits for new ones until
// Until or ctx ends.
type EventsOptions struct {
	Since, Until time.Time
	Follow       bool
}

// Events calls fn with every journal event that o selects, oldest first.
func (e *Engine) Events(ctx context.Context, o EventsOptions, fn func(Event) error) error {
	start := time.Now()
	emit := func(ev Event) (bool, error) {
		t := time.Unix(0, ev.TimeNano)
		if !o.Until.IsZero() && t.After(o.Until) {
			return true, nil
		}
		if o.Since.IsZero() && t.Before(start) || !o.Since.IsZero() && t.Before(o.Since) {
			return false, nil
		}
		return false, fn(ev)
	}
	// The rotated journal first, then the current one, followed.
	if !o.Since.IsZero() {
		if f, err := os.Open(e.eventsPath() + ".1"); err == nil {
			_, done, err := readEvents(bufio.NewReader(f), nil, emit)
			f.Close()
			if err != nil || done {
				return err
			}
		}
	}
	return e.followEvents(ctx, o, emit)
}

// followEvents reads the current journal and, with o.Follow, what is
// appended to it (across rotations) until o.Until or ctx.
func (e *Engine) followEvents(ctx context.Context, o EventsOptions, emit func(Event) (bool, error)) error {
	f, err := openEvents(e.eventsPath())
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	r := bufio.NewReader(f)
	var pending []byte
	for {
		var done bool
		pending, done, err = readEvents(r, pending, emit)
		if err != nil || done || !o.Follow || (!o.Until.IsZero() && time.Now().After(o.Until)) {
			return err
		}
		if len(pending) == 0 && rotated(f, e.eventsPath()) {
			f.Close()
			if f, err = openEvents(e.eventsPath()); err != nil {
				return err
			}
			r = bufio.NewReader(f)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openEvents opens the journal, creating it empty if need be (so that a
// follower sees the first event ever written).
func openEvents(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|os.O_CREATE|unix.O_CLOEXEC, 0o600)
}

// rotated reports whether path is no longer the file f reads.
func rotated(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return true
	}
	b, err := os.Stat(path)
	return err != nil || !os.SameFile(a, b)
}

// readEvents reads lines from r (after pending, the start of a line read
// earlier) and emits them; it returns a last line without its newline
// (still being written), and done once emit says so.
func readEvents(r *bufio.Reader, pending []byte, emit func(Event) (bool, error)) ([]byte, bool, error) {
	for {
		line, rerr := r.ReadBytes('\n')
		if rerr != nil {
			if rerr == io.EOF {
				return append(pending, line...), false, nil
			}
			return nil, false, rerr
		}
		if len(pending) > 0 {
			line, pending = append(pending, line...), nil
		}
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			continue // a torn line from a writer killed mid-write
		}
		if done, err := emit(ev); done || err != nil {
			return nil, done, err
		}
	}
}
