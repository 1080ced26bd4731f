package monitor

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The attach socket: a unix stream socket in the container's directory
// that `pelagos attach` connects to. The monitor sends the container's
// output as docker's multiplexed stream frames (an 8-byte header: the
// stream, 3 zero bytes, the payload's length as a big-endian uint32;
// then the payload), stdout as StreamStdout with a terminal; what a
// client writes goes to the container's stdin (the stdin pipe, or the
// pty) when it was started with -i, and is dropped otherwise. Output a
// client cannot take within attachWriteTimeout drops that client, never
// the container's output. When the process exits, every client gets a
// StreamExit frame whose payload is the exit status in decimal, and its
// connection is closed (the status arrives even when --rm removes the
// container at once).
const (
	StreamStdout = 1
	StreamStderr = 2
	StreamExit   = 255
	// FrameHeader is the size of a frame's header.
	FrameHeader = 8
)

// attachWriteTimeout bounds how long a client may block the output.
const attachWriteTimeout = 2 * time.Second

// attachHub is the attach socket and its clients.
type attachHub struct {
	ln int
	mu sync.Mutex
	// clients get the output; stdin is where their input goes (nil:
	// the container takes no input).
	clients []*os.File
	stdin   *os.File
	// changed is signalled when stdin or clients change: input typed
	// before the container's stdin exists waits on it.
	changed *sync.Cond
}

// shortPath makes a socket path that fits sockaddr_un whatever the
// length of dir: /proc/self/fd/N/base, N an O_PATH descriptor of dir that
// the caller closes.
func shortPath(path string) (string, int, error) {
	d, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", -1, &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	return "/proc/self/fd/" + strconv.Itoa(d) + "/" + filepath.Base(path), d, nil
}

// listenAttach makes the attach socket at path (replacing one a killed
// monitor left) and starts accepting clients.
func listenAttach(path string) (*attachHub, error) {
	p, d, err := shortPath(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(d)
	_ = unix.Unlink(p)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// Only root may attach: the socket gives the container's stdin.
	old := unix.Umask(0o077)
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: p})
	unix.Umask(old)
	if err == nil {
		err = unix.Listen(fd, 16)
	}
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("listen", err)
	}
	h := &attachHub{ln: fd}
	h.changed = sync.NewCond(&h.mu)
	go h.accept()
	return h, nil
}

// DialAttach connects to the attach socket at path.
func DialAttach(path string) (*os.File, error) {
	p, d, err := shortPath(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(d)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: p}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	return pollable(fd, "attach"), nil
}

// pollable wraps a socket so that deadlines work on it.
func pollable(fd int, name string) *os.File {
	_ = unix.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

func (h *attachHub) accept() {
	for {
		fd, _, err := unix.Accept4(h.ln, unix.SOCK_CLOEXEC)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil {
			return // closed
		}
		c := pollable(fd, "attach")
		h.mu.Lock()
		h.clients = append(h.clients, c)
		h.mu.Unlock()
		go h.input(c)
	}
}

// input copies a client's input to the container's stdin. Input typed
// ahead, before the container's stdin exists (a `run -it` client connects
// while the container starts), waits for it rather than being lost.
func (h *attachHub) input(c *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if in := h.stdinFor(c); in != nil {
				_, _ = in.Write(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// stdinFor waits until the container's stdin exists and returns it, or
// returns nil once client c has been dropped.
func (h *attachHub) stdinFor(c *os.File) *os.File {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.stdin == nil && slices.Contains(h.clients, c) {
		h.changed.Wait()
	}
	return h.stdin
}

// setStdin sets where clients' input goes.
func (h *attachHub) setStdin(f *os.File) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.stdin = f
	h.changed.Broadcast()
	h.mu.Unlock()
}

// send writes one frame of stream to every client.
func (h *attachHub) send(stream byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) == 0 {
		return
	}
	frame := make([]byte, FrameHeader+len(p))
	frame[0] = stream
	n := uint32(len(p))
	frame[4], frame[5], frame[6], frame[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(frame[FrameHeader:], p)
	kept := h.clients[:0]
	for _, c := range h.clients {
		_ = c.SetWriteDeadline(time.Now().Add(attachWriteTimeout))
		if _, err := c.Write(frame); err != nil {
			c.Close()
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) < len(h.clients) {
		h.changed.Broadcast()
	}
	h.clients = kept
}

// exited sends every client the exit status and hangs up.
func (h *attachHub) exited(code int) {
	if h == nil {
		return
	}
	h.send(StreamExit, []byte(strconv.Itoa(code)))
	h.hangUp()
}

// hangUp closes every client's connection.
func (h *attachHub) hangUp() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.clients {
		c.Close()
	}
	h.clients, h.stdin = nil, nil
	h.changed.Broadcast()
}

// close stops accepting and removes the socket.
func (h *attachHub) close(path string) {
	if h == nil {
		return
	}
	h.hangUp()
	// shutdown, unlike close, wakes the blocked accept.
	_ = unix.Shutdown(h.ln, unix.SHUT_RDWR)
	unix.Close(h.ln)
	if p, d, err := shortPath(path); err == nil {
		_ = unix.Unlink(p)
		unix.Close(d)
	}
}

// streamWriter sends what is written as frames of one stream.
type streamWriter struct {
	h      *attachHub
	stream byte
}

func (w streamWriter) Write(p []byte) (int, error) {
	w.h.send(w.stream, p)
	return len(p), nil
}

// tee is the writer for stream's output, nil without an attach socket.
func (h *attachHub) tee(stream byte) io.Writer {
	if h == nil {
		return nil
	}
	return streamWriter{h: h, stream: stream}
}
