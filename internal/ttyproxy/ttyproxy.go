// Package ttyproxy is the console socket of a foreground container
// process run with a terminal: it receives the pty master the init sends
// (SCM_RIGHTS) and copies between it and our own stdin and stdout, with
// our terminal in raw mode. pelagos-runc and the pelagos CLI both use it.
package ttyproxy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Proxy is one console socket and, once attached, the pty master.
type Proxy struct {
	ours, theirs *os.File
	master       *os.File
	restore      func()
	in           *os.File
	out          io.Writer
	tee          func(r io.Reader, w io.Writer)
	done         sync.WaitGroup
}

// New makes the console socket. Output goes to out; tee, when not nil,
// does that copy itself (to keep a log too) instead of io.Copy.
func New(in *os.File, out io.Writer, tee func(r io.Reader, w io.Writer)) (*Proxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	return &Proxy{
		ours: os.NewFile(uintptr(fds[0]), "console"), theirs: os.NewFile(uintptr(fds[1]), "console-child"),
		in: in, out: out, tee: tee,
	}, nil
}

// Socket is the end the runtime passes to the init as its console socket.
func (t *Proxy) Socket() *os.File { return t.theirs }

// Attach receives the master and starts copying; stdin is forwarded only
// when interactive.
func (t *Proxy) Attach(interactive bool) error {
	t.theirs.Close()
	master, err := recvFd(t.ours)
	if err != nil {
		return fmt.Errorf("receive the container's terminal: %w", err)
	}
	t.master = master
	if t.in != nil && term.IsTerminal(int(t.in.Fd())) {
		if state, err := term.MakeRaw(int(t.in.Fd())); err == nil {
			t.restore = func() { _ = term.Restore(int(t.in.Fd()), state) }
		}
		t.Resize()
	}
	if interactive && t.in != nil {
		go func() { _, _ = io.Copy(master, t.in) }()
	}
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		if t.tee != nil {
			t.tee(master, t.out)
			return
		}
		_, _ = io.Copy(t.out, master)
	}()
	return nil
}

// Resize copies our terminal's size to the container's.
func (t *Proxy) Resize() {
	if t.master == nil || t.in == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(t.in.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// Wait lets the last output drain after the process exited, for at most
// two seconds (a process left holding the pty must not hang us).
func (t *Proxy) Wait() {
	done := make(chan struct{})
	go func() { t.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// Close restores our terminal and closes every descriptor.
func (t *Proxy) Close() {
	if t.restore != nil {
		t.restore()
	}
	t.ours.Close()
	t.theirs.Close()
	if t.master != nil {
		t.master.Close()
	}
}

// recvFd receives one descriptor sent with SCM_RIGHTS.
func recvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("recvmsg", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no descriptor received")
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}
