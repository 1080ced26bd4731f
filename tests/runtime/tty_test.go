package runtime_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// openPty returns a pty master and its slave.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// A foreground run (and exec) with process.terminal and no console socket
// proxies the caller's terminal: the process sees a tty, its output and
// our input cross it, and the window size follows ours.
func TestForegroundTerminal(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Terminal(true), bundle.Args("sh", "-c", "tty; stty size; read x; echo got-$x"))
	master, slave := openPty(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "--root", r.root, "run", "--bundle", b.Dir, "tty1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	rd := bufio.NewReader(master)
	lines := make(chan string, 16)
	go func() {
		for {
			l, err := rd.ReadString('\n')
			if l != "" && !strings.HasPrefix(l, "pelagos-runc: warning:") {
				lines <- strings.TrimSpace(l)
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	want := []string{"/dev/pts/0", "33 111"}
	for _, w := range want {
		select {
		case l := <-lines:
			if l != w {
				t.Errorf("terminal line %q, want %q", l, w)
			}
		case <-time.After(30 * time.Second): // a hang guard, not a timing check
			t.Fatalf("no %q from the container's terminal", w)
		}
	}
	if _, err := master.WriteString("typed\n"); err != nil {
		t.Fatal(err)
	}
	found := false
	for l := range lines {
		if l == "got-typed" {
			found = true
			break
		}
	}
	if !found {
		t.Error("input typed on our terminal did not reach the process")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run -t: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run -t did not return after the process exited")
	}
}
