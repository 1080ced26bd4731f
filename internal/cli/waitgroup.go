package cli

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ttyProxy is the console socket of a foreground run or exec with -t: it
// receives the pty master from the init and copies between it and our own
// stdin and stdout (and the log), with our terminal in raw mode.
type ttyProxy struct {
	ours, theirs *os.File
	master       *os.File
	restore      func()
	in           *os.File
	out          io.Writer
	tee          func(r io.Reader, w io.Writer)
	done         sync.WaitGroup
}

// newTTYProxy makes the console socket. tee, when not nil, copies the
// container's output to w itself (and to the log); else it is io.Copy.
func newTTYProxy(in *os.File, out io.Writer, tee func(r io.Reader, w io.Writer)) (*ttyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	return &ttyProxy{
		ours: os.NewFile(uintptr(fds[0]), "console"), theirs: os.NewFile(uintptr(fds[1]), "console-child"),
		in: in, out: out, tee: tee,
	}, nil
}

func (t *ttyProxy) socket() *os.File { return t.theirs }

// attach receives the master and starts copying; stdin is forwarded only
// with interactive.
func (t *ttyProxy) attach(interactive bool) error {
	t.theirs.Close()
	master, err := recvFd(t.ours)
	if err != nil {
		return err
	}
	t.master = master
	if t.in != nil && term.IsTerminal(int(t.in.Fd())) {
		if state, err := term.MakeRaw(int(t.in.Fd())); err == nil {
			t.restore = func() { _ = term.Restore(int(t.in.Fd()), state) }
		}
		t.resize()
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

// resize copies our terminal's size to the container's.
func (t *ttyProxy) resize() {
	if t.master == nil || t.in == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(t.in.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// wait lets the last output drain after the process exited.
func (t *ttyProxy) wait() { waitGroupFor(&t.done, 2*time.Second) }

func (t *ttyProxy) Close() {
	if t.restore != nil {
		t.restore()
	}
	t.ours.Close()
	t.theirs.Close()
	if t.master != nil {
		t.master.Close()
	}
}

// waitGroupFor waits for wg, at most d.
func waitGroupFor(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
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
		return nil, errors.New("receive the container's terminal: no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("receive the container's terminal: no descriptor received")
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}
