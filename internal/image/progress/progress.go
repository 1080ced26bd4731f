// Package progress carries pull and push progress as events and renders
// them three ways: bars updated in place on a terminal (as docker pull
// draws them), one line per state change otherwise, and Docker's JSON
// message stream for the Docker API. Producers only send events; they
// never format.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Event is one change of state of one item (a layer, by its short
// digest) or, with ID empty, a message about the whole operation.
type Event struct {
	ID      string `json:"id,omitempty"`
	Status  string `json:"status"`
	Current int64  `json:"current,omitempty"`
	Total   int64  `json:"total,omitempty"`
}

// Statuses producers send, in Docker's words.
const (
	PullingFS        = "Pulling fs layer"
	Waiting          = "Waiting"
	Downloading      = "Downloading"
	Retrying         = "Retrying"
	Verifying        = "Verifying Checksum"
	DownloadComplete = "Download complete"
	PullComplete     = "Pull complete"
	AlreadyExists    = "Already exists"
	Preparing        = "Preparing"
	Pushing          = "Pushing"
	Pushed           = "Pushed"
	LayerExists      = "Layer already exists"
	Mounted          = "Mounted from"
	LoadingLayer     = "Loading layer"
	LoadedComplete   = "Loaded"
)

// Sink receives events. Implementations are safe for concurrent use.
type Sink interface {
	Send(Event)
}

// Discard drops every event.
type Discard struct{}

// Send implements Sink.
func (Discard) Send(Event) {}

// Lines writes one line per change of status (progress within a status
// is not repeated): the form for logs and pipes.
type Lines struct {
	W    io.Writer
	mu   sync.Mutex
	last map[string]string
}

// Send implements Sink.
func (l *Lines) Send(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]string{}
	}
	if e.ID != "" && l.last[e.ID] == e.Status {
		return
	}
	l.last[e.ID] = e.Status
	if e.ID == "" {
		fmt.Fprintln(l.W, e.Status)
		return
	}
	fmt.Fprintf(l.W, "%s: %s\n", e.ID, e.Status)
}

// JSON writes Docker's JSON message stream, one object per line, as the
// Docker Engine API's /images/create answers.
type JSON struct {
	W  io.Writer
	mu sync.Mutex
}

type jsonMessage struct {
	Status         string          `json:"status,omitempty"`
	ID             string          `json:"id,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	Progress       string          `json:"progress,omitempty"`
	ErrorDetail    *errorDetail    `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
}

type errorDetail struct {
	Message string `json:"message"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// Send implements Sink.
func (j *JSON) Send(e Event) {
	m := jsonMessage{Status: e.Status, ID: e.ID}
	if e.Total > 0 || e.Current > 0 {
		m.ProgressDetail = &progressDetail{Current: e.Current, Total: e.Total}
		m.Progress = bar(e.Current, e.Total, 50)
	}
	j.write(m)
}

// Error ends the stream with a failure as Docker does: a message with
// "error" and "errorDetail", which clients print and exit non-zero on.
// The HTTP status was sent with the first event, so this is the only way
// a stream can say it failed.
func (j *JSON) Error(err error) {
	j.write(jsonMessage{Error: err.Error(), ErrorDetail: &errorDetail{Message: err.Error()}})
}

func (j *JSON) write(m jsonMessage) {
	b, _ := json.Marshal(m)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.W.Write(append(b, '\n'))
}

// bar draws "[=====>    ]  1.2MB/3.4MB".
func bar(cur, total int64, width int) string {
	if total <= 0 {
		return HumanSize(cur)
	}
	n := int(float64(width) * float64(min(cur, total)) / float64(total))
	s := strings.Repeat("=", n)
	if n < width {
		s += ">" + strings.Repeat(" ", width-n-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", s, HumanSize(cur), HumanSize(total))
}

// HumanSize formats bytes as Docker does (decimal units, 3 significant
// digits): "5.6MB", "200kB".
func HumanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.4g", f), ".0"), ".") + units[i]
}
