package runccli

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

// ttyProxy is the console socket of a foreground run or exec -t without
// --console-socket: it receives the pty master from the init and copies
// between it and our own stdin/stdout, with our terminal in raw mode.
type ttyProxy struct {
	ours, theirs *os.File
	master       *os.File
	restore      func()
	out          sync.WaitGroup
}

func newTTYProxy() (*ttyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	return &ttyProxy{
		ours:   os.NewFile(uintptr(fds[0]), "console"),
		theirs: os.NewFile(uintptr(fds[1]), "console-child"),
	}, nil
}

func (t *ttyProxy) socket() *os.File { return t.theirs }

// attach receives the master and starts copying.
func (t *ttyProxy) attach() error {
	t.theirs.Close()
	master, err := recvFd(t.ours)
	if err != nil {
		return fmt.Errorf("receive the container's terminal: %w", err)
	}
	t.master = master
	if term.IsTerminal(int(os.Stdin.Fd())) {
		state, err := term.MakeRaw(int(os.Stdin.Fd()))
		if err == nil {
			t.restore = func() { _ = term.Restore(int(os.Stdin.Fd()), state) }
		}
		t.resize()
	}
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	t.out.Add(1)
	go func() {
		defer t.out.Done()
		_, _ = io.Copy(os.Stdout, master)
	}()
	return nil
}

// resize copies our terminal's size to the container's.
func (t *ttyProxy) resize() {
	if t.master == nil {
		return
	}
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err == nil {
		_ = unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// wait lets the last output drain after the process exited.
func (t *ttyProxy) wait() {
	done := make(chan struct{})
	go func() { t.out.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

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
