// Package jsonlog writes container output in Docker's json-file log format,
// one JSON object per line:
//
//	{"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
//
// with size-based rotation (max-size, max-file) as Docker's driver does it:
// the file is renamed to .1, .1 to .2, and so on, the oldest dropped.
//
// It is linked into the per-container monitor, which must stay small: it
// uses no reflection-based encoding (entries are escaped by package jsonenc) and no
// package beyond the standard library's basics. Reading logs is the
// engine's business (package engine), not this one's.
package jsonlog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/pelagos-go/pelagos/internal/jsonenc"
)

// MaxEntry is the most bytes of output one entry holds: a longer line is
// split, as Docker splits at its 16 KiB buffer.
const MaxEntry = 16 << 10

// Writer appends entries to one log file and rotates it. It is safe for
// concurrent use (stdout and stderr are copied at once).
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64 // 0: no rotation
	maxFiles int
	buf      []byte
}

// Open opens (creating or appending to) the log at path. With maxSize > 0
// the file is rotated before it would exceed maxSize, keeping maxFiles
// files in all (at least 1: then the file is truncated).
func Open(path string, maxSize int64, maxFiles int) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Writer{path: path, f: f, size: st.Size(), maxSize: maxSize, maxFiles: max(maxFiles, 1)}, nil
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// Write appends one entry.
func (w *Writer) Write(stream string, msg []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = AppendEntry(w.buf[:0], stream, msg, t)
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	return err
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts a new
// file; with one file it truncates.
func (w *Writer) rotate() error {
	if w.maxFiles == 1 {
		if err := w.f.Truncate(0); err != nil {
			return err
		}
		w.size = 0
		return nil
	}
	for i := w.maxFiles - 1; i > 1; i-- {
		err := os.Rename(w.path+"."+strconv.Itoa(i-1), w.path+"."+strconv.Itoa(i))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(w.path, w.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	w.f.Close()
	w.f, w.size = f, 0
	return nil
}

// Copy writes what r yields as entries of stream, one per line (a line
// longer than MaxEntry is split; a last line without a newline is an
// entry of its own), until r ends. Each chunk read also goes to tee when
// tee is not nil. It returns the first write error to the log.
func (w *Writer) Copy(stream string, r io.Reader, tee io.Writer) error {
	buf := make([]byte, 32<<10)
	var pending []byte
	var werr error
	write := func(b []byte) {
		if werr == nil {
			werr = w.Write(stream, b, time.Now())
		}
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if tee != nil {
				_, _ = tee.Write(buf[:n])
			}
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				switch {
				case i >= 0 && i < MaxEntry:
					write(pending[:i+1])
					pending = pending[i+1:]
					continue
				case len(pending) >= MaxEntry:
					write(pending[:MaxEntry])
					pending = pending[MaxEntry:]
					continue
				}
				break
			}
			pending = append(buf[:0:0], pending...)
		}
		if err != nil {
			if len(pending) > 0 {
				write(pending)
			}
			return werr
		}
	}
}

// AppendEntry appends one log line for msg to b.
func AppendEntry(b []byte, stream string, msg []byte, t time.Time) []byte {
	b = append(b, `{"log":"`...)
	b = jsonenc.AppendEscaped(b, msg)
	b = append(b, `","stream":"`...)
	b = jsonenc.AppendEscaped(b, stream)
	b = append(b, `","time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}
