package initproc

import (
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// An init that reports an error and exits before it reads a message the
// runtime sent it (the runtime's "cgroup" while the init fails a step
// that comes before it) closes its socket with that message unread: the
// kernel then reports ECONNRESET to the runtime once, ahead of the
// messages the init did send. The runtime must still read the error, and
// then the end of the conversation.
func TestRecvAfterThePeerLeftAMessageUnread(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	runtime := NewConn(os.NewFile(uintptr(fds[0]), "runtime"))
	defer runtime.Close()
	init := NewConn(os.NewFile(uintptr(fds[1]), "init"))
	if err := init.Send(Message{Type: MsgError, Step: "cwd", Error: "no such directory"}); err != nil {
		t.Fatal(err)
	}
	if err := runtime.Send(Message{Type: MsgCgroup}); err != nil {
		t.Fatal(err)
	}
	init.Close() // exits, the runtime's message unread
	m, err := runtime.Recv()
	if err != nil || m.Type != MsgError || m.Step != "cwd" {
		t.Fatalf("Recv: %+v, %v; want the init's error for step cwd", m, err)
	}
	if _, err := runtime.Recv(); err != io.EOF {
		t.Fatalf("second Recv: %v, want io.EOF", err)
	}
}
