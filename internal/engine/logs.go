package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// LogOptions select what Logs returns.
type LogOptions struct {
	Since, Until time.Time // zero: unbounded
	Tail         int       // the last Tail entries; negative: all
	Follow       bool
}

// LogEntry is one json-file entry.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// followPoll is how often a followed log is checked for new entries.
const followPoll = 50 * time.Millisecond

// Logs sends c's log entries to emit, oldest first, across rotated files;
// with Follow it keeps sending new ones until the container stops (or ctx
// ends).
func (e *Engine) Logs(ctx context.Context, c *Container, o LogOptions, emit func(LogEntry) error) error {
	keep := func(en LogEntry) bool {
		return (o.Since.IsZero() || !en.Time.Before(o.Since)) && (o.Until.IsZero() || en.Time.Before(o.Until))
	}
	var tail []LogEntry
	send := func(en LogEntry) error {
		if !keep(en) {
			return nil
		}
		if o.Tail >= 0 {
			if o.Tail == 0 {
				return nil
			}
			if len(tail) == o.Tail {
				tail = tail[1:]
			}
			tail = append(tail, en)
			return nil
		}
		return emit(en)
	}
	path := c.LogPath()
	for i := maxLogFiles(c) - 1; i >= 1; i-- {
		if err := readLogFile(path+"."+strconv.Itoa(i), send); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !o.Follow {
			return flushTail(tail, emit)
		}
	} else if err != nil {
		return err
	}
	r := &logReader{f: f, path: path}
	defer r.close()
	if err := r.readAll(send); err != nil {
		return err
	}
	if err := flushTail(tail, emit); err != nil {
		return err
	}
	if !o.Follow {
		return nil
	}
	filtered := func(en LogEntry) error {
		if keep(en) {
			return emit(en)
		}
		return nil
	}
	return e.follow(ctx, c.ID, r, filtered, o.Until)
}

func flushTail(tail []LogEntry, emit func(LogEntry) error) error {
	for _, en := range tail {
		if err := emit(en); err != nil {
			return err
		}
	}
	return nil
}

// follow reads new entries until the container is no longer running.
func (e *Engine) follow(ctx context.Context, id string, r *logReader, emit func(LogEntry) error, until time.Time) error {
	for {
		c, err := e.load(ctx, id)
		done := err != nil || (!c.State.Running && !c.State.Restarting) || (!until.IsZero() && time.Now().After(until))
		if err := r.readAll(emit); err != nil {
			return err
		}
		if err := r.reopenIfRotated(emit); err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(followPoll):
		}
	}
}

func maxLogFiles(c *Container) int {
	n, err := strconv.Atoi(c.HostConfig.LogConfig.Config["max-file"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func readLogFile(path string, emit func(LogEntry) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	r := &logReader{f: f, path: path}
	defer r.close()
	return r.readAll(emit)
}

// logReader reads whole entries from a log file that may still grow; a
// partial last line waits for its end.
type logReader struct {
	f       *os.File
	path    string
	partial []byte
}

func (r *logReader) close() {
	if r.f != nil {
		r.f.Close()
	}
}

func (r *logReader) readAll(emit func(LogEntry) error) error {
	if r.f == nil {
		f, err := os.Open(r.path)
		if err != nil {
			return nil // not there yet
		}
		r.f = f
	}
	br := bufio.NewReaderSize(r.f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				r.partial = append(r.partial, line...)
			} else {
				if len(r.partial) > 0 {
					line = append(r.partial, line...)
					r.partial = nil
				}
				var en LogEntry
				if json.Unmarshal(bytes.TrimSpace(line), &en) == nil {
					if err := emit(en); err != nil {
						return err
					}
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// reopenIfRotated switches to the new file once the log was rotated,
// after reading what was left in the old one.
func (r *logReader) reopenIfRotated(emit func(LogEntry) error) error {
	if r.f == nil {
		return nil
	}
	cur, err1 := r.f.Stat()
	now, err2 := os.Stat(r.path)
	if err1 != nil || err2 != nil || os.SameFile(cur, now) {
		if err1 == nil && err2 == nil {
			if off, err := r.f.Seek(0, io.SeekCurrent); err == nil && now.Size() < off {
				// Truncated in place (max-file 1): start over.
				_, _ = r.f.Seek(0, io.SeekStart)
				r.partial = nil
			}
		}
		return nil
	}
	if err := r.readAll(emit); err != nil {
		return err
	}
	r.f.Close()
	r.f, r.partial = nil, nil
	return r.readAll(emit)
}
