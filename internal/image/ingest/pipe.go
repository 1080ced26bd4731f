package ingest

import (
	"errors"
	"io"
	"sync"
)

// errStopped is a producer's end when its consumer stopped reading.
var errStopped = errors.New("reader stopped")

// pipe carries a stream from one goroutine to another in a few large
// buffers, so the producer fills the next buffer while the consumer
// works through the last one: the stages of a layer (download and blob
// hash, decompression, untar) then run on separate cores. Unlike io.Pipe
// the producer runs ahead by up to len(buffers) without waiting for each
// read, and the buffers are reused, so the memory touched per layer is
// fixed (page faults are expensive on the VMs this runs on).
type pipe struct {
	full chan []byte // filled buffers, in stream order
	free chan []byte // buffers the consumer is done with

	stop     chan struct{} // closed when the consumer stops reading
	stopOnce sync.Once

	err error // the producer's end: io.EOF, errStopped or a failure; set before full closes

	// Consumer side only.
	held []byte // the buffer being read
	cur  []byte // its unread rest
	seen func([]byte)
}

// newPipe makes a pipe of n buffers of size bytes. seen, if not nil, is
// called in the consumer's goroutine with each buffer as the consumer
// first reaches it: a digest over everything the consumer took, taken off
// the producer's core.
func newPipe(n, size int, seen func([]byte)) *pipe {
	p := &pipe{full: make(chan []byte, n), free: make(chan []byte, n), stop: make(chan struct{}), seen: seen}
	for range n {
		p.free <- make([]byte, size)
	}
	return p
}

// fill runs in the producer's goroutine: it fills buffer after buffer
// with read until read fails (io.EOF at the end) or the consumer stops,
// and returns that end. With drain, a stopped consumer does not stop the
// producer: read goes on into a spare buffer to the end of the stream (a
// blob's digest must cover all of it).
func (p *pipe) fill(read func([]byte) (int, error), drain bool) error {
	defer close(p.full)
	for {
		var b []byte
		select {
		case b = <-p.free:
		case <-p.stop:
			p.err = errStopped
			if drain {
				p.err = drainAll(read)
			}
			return p.err
		}
		n, err := read(b[:cap(b)])
		if n > 0 {
			p.full <- b[:n] // never blocks: full holds every buffer there is
		} else {
			p.free <- b
		}
		if err != nil {
			p.err = err
			return err
		}
	}
}

func drainAll(read func([]byte) (int, error)) error {
	b := make([]byte, 64<<10)
	for {
		if _, err := read(b); err != nil {
			return err
		}
	}
}

// Read implements io.Reader for the consumer. It returns the producer's
// error once the buffers are used up.
func (p *pipe) Read(b []byte) (int, error) {
	for len(p.cur) == 0 {
		if p.held != nil {
			p.free <- p.held[:cap(p.held)] // never blocks, as in fill
			p.held = nil
		}
		buf, ok := <-p.full
		if !ok {
			return 0, p.err
		}
		if p.seen != nil {
			p.seen(buf)
		}
		p.held, p.cur = buf, buf
	}
	n := copy(b, p.cur)
	p.cur = p.cur[n:]
	return n, nil
}

// closeRead tells the producer that the consumer reads no more.
func (p *pipe) closeRead() { p.stopOnce.Do(func() { close(p.stop) }) }

// readFull fills b from r and returns what it read with r's error, io.EOF
// included, unchanged (io.ReadFull would turn a short read before EOF
// into io.ErrUnexpectedEOF, hiding a source's own error).
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
