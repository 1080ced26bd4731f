package progress

import (
	"fmt"
	"io"
	"sync"
)

// TTY draws one line per item and rewrites them in place with ANSI
// cursor movement, as docker pull does on a terminal. Messages without
// an ID are printed above the items' block.
type TTY struct {
	W     io.Writer
	mu    sync.Mutex
	order []string
	state map[string]Event
}

// Send implements Sink.
func (t *TTY) Send(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == nil {
		t.state = map[string]Event{}
	}
	if e.ID == "" {
		fmt.Fprintln(t.W, e.Status)
		t.order, t.state = nil, map[string]Event{}
		return
	}
	if _, ok := t.state[e.ID]; !ok {
		t.order = append(t.order, e.ID)
		t.state[e.ID] = e
		fmt.Fprintln(t.W, line(e))
		return
	}
	t.state[e.ID] = e
	// Move up to the item's line, rewrite it, move back down.
	up := len(t.order)
	for i, id := range t.order {
		if id == e.ID {
			up = len(t.order) - i
			break
		}
	}
	fmt.Fprintf(t.W, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", up, line(e), up)
}

func line(e Event) string {
	s := e.ID + ": " + e.Status
	if e.Status == Downloading || e.Status == Pushing {
		s += " " + bar(e.Current, e.Total, 50)
	}
	return s
}
