package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startCLI starts pelagos args in the background with stdin and returns
// it and a function that waits for its stdout, stderr and exit code.
func (c *cli) startCLI(stdin string, args ...string) (*exec.Cmd, func() (string, string, int)) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	return cmd, func() (string, string, int) {
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return out.String(), errb.String(), code
	}
}

// hasSocket reports whether process pid holds a socket.
func hasSocket(pid int) bool {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			return true
		}
	}
	return false
}

// TestAttachStreamsAndStdin: attach follows a detached container's stdout
// and stderr apart and exits with its status; with -i, our stdin reaches
// it; --no-stdin keeps it away.
func TestAttachStreamsAndStdin(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "talk", "busybox:test", "sh", "-c",
		`read go; for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 3`)
	// Output before the attach is not replayed (docker's attach without --logs).
	c.ok("run", "-di", "--name", "echo", "busybox:test", "sh", "-c",
		`while read l; do echo got $l; [ "$l" = quit ] && exit 4; done`)
	out, errs, code := c.run([]byte("hello\nquit\n"), "attach", "echo")
	if code != 4 || out != "got hello\ngot quit\n" {
		t.Errorf("attach -i: exit %d, stdout %q (stderr %q)", code, out, errs)
	}

	// talk was not started with -i: its stdin is closed, read fails and it
	// goes on at once; start the attach first so that nothing is missed.
	c.ok("rm", "talk")
	c.ok("create", "--name", "talk", "busybox:test", "sh", "-c",
		`sleep 0.5; for i in 1 2 3; do echo out$i; echo err$i >&2; done; exit 3`)
	c.ok("start", "talk")
	out, errs, code = c.run(nil, "attach", "talk")
	if code != 3 || out != "out1\nout2\nout3\n" || errs != "err1\nerr2\nerr3\n" {
		t.Errorf("attach: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// The monitor sends the status: it arrives though --rm removes the
	// container at once.
	c.ok("run", "-di", "--rm", "--name", "rmi", "busybox:test", "sh", "-c", `read l; echo bye; exit 9`)
	if out, errs, code := c.run([]byte("x\n"), "attach", "rmi"); code != 9 || out != "bye\n" {
		t.Errorf("attach to an --rm container: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	c.ok("run", "-di", "--name", "deaf", "busybox:test", "sh", "-c", `while read l; do echo got $l; done`)
	_, wait := c.startCLI("quit\n", "attach", "--no-stdin", "deaf")
	time.Sleep(500 * time.Millisecond)
	c.ok("stop", "-t", "0", "deaf")
	wait()
	if logs := c.ok("logs", "deaf"); strings.Contains(logs, "got") {
		t.Errorf("--no-stdin: the container read %q", logs)
	}
	if errs := c.fails(1, "attach", "talk"); !strings.Contains(errs, "You cannot attach to a stopped container, start it first") {
		t.Errorf("attach to a stopped container: %q", errs)
	}
	c.ok("rm", "-f", "talk", "echo", "deaf")
	c.assertClean()
}

// TestAttachSigProxyAndDetachKeys: a signal to attach reaches the
// container; the detach keys (docker's default and --detach-keys) end
// attach with status 0 and leave the container running.
func TestAttachSigProxyAndDetachKeys(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "trap", "busybox:test", "sh", "-c", `trap "echo got-usr1; exit 3" USR1; echo ready; while :; do sleep 0.05; done`)
	waitFor(t, "the trap to be set", func() bool { out, _, _ := c.run(nil, "logs", "trap"); return strings.Contains(out, "ready") })
	cmd, wait := c.startCLI("", "attach", "trap")
	// attach catches signals before it connects to the monitor.
	waitFor(t, "attach to connect", func() bool { return hasSocket(cmd.Process.Pid) })
	waitFor(t, "attach to proxy USR1", func() bool {
		_ = cmd.Process.Signal(syscall.SIGUSR1)
		return c.field("trap", "{{.State.Running}}") == "false"
	})
	if out, errs, code := wait(); code != 3 || !strings.Contains(out, "got-usr1") {
		t.Errorf("attach with a proxied USR1: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	// --sig-proxy=false: the signal stays with attach (a Go program
	// ignores USR1); the trap would end the container at once.
	c.ok("run", "-d", "--name", "trap2", "busybox:test", "sh", "-c", `trap "echo got-usr1; exit 3" USR1; while :; do sleep 0.05; done`)
	cmd, wait = c.startCLI("", "attach", "--sig-proxy=false", "trap2")
	waitFor(t, "attach to connect", func() bool { return hasSocket(cmd.Process.Pid) })
	_ = cmd.Process.Signal(syscall.SIGUSR1)
	time.Sleep(500 * time.Millisecond)
	if got := c.field("trap2", "{{.State.Running}}"); got != "true" {
		t.Errorf("--sig-proxy=false: the container got the signal (running %s)", got)
	}
	c.ok("kill", "trap2")
	if _, _, code := wait(); code != 137 {
		t.Errorf("attach --sig-proxy=false after kill: exit %d, want 137", code)
	}

	c.ok("run", "-di", "--name", "stay", "busybox:test", "sh", "-c", `while read l; do echo got $l; done`)
	out, errs, code := c.run([]byte("one\n\x01"), "attach", "--detach-keys", "ctrl-a", "stay")
	if code != 0 || !strings.Contains(errs, "read escape sequence") {
		t.Errorf("--detach-keys ctrl-a: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := c.field("stay", "{{.State.Running}}"); got != "true" {
		t.Errorf("running after detach: %s", got)
	}
	if errs := c.fails(125, "attach", "--detach-keys", "ctrl-é", "stay"); !strings.Contains(errs, "Invalid detach keys") {
		t.Errorf("bad detach keys: %q", errs)
	}

	// On a real terminal: the default ctrl-p,ctrl-q.
	c.ok("run", "-dit", "--name", "term", "busybox:test", "sh")
	p := c.startPTY(&unix.Winsize{Row: 33, Col: 111}, "attach", "term")
	p.write("echo $((6*7)); stty size\n")
	p.waitShown("42") // attach gives the container's terminal the size of ours
	p.waitShown("33 111")
	p.write("\x10\x11")
	if code := p.wait(); code != 0 {
		t.Errorf("attach on a pty, detached with ctrl-p ctrl-q: exit %d; terminal showed %q", code, p.shown())
	}
	if got := c.field("term", "{{.State.Running}}"); got != "true" {
		t.Errorf("running after detach: %s", got)
	}
	c.ok("rm", "-f", "trap", "trap2", "stay", "term")
	c.assertClean()
}

// TestStartInteractive: start -ai connects before the process starts (its
// first output is not missed), sends stdin, exits with its status; on a
// terminal, ctrl-p ctrl-q detaches and leaves it running.
func TestStartInteractive(t *testing.T) {
	c := newCLI(t)
	c.ok("create", "-i", "--name", "si", "busybox:test", "sh", "-c", `echo hello-first; read l; echo got $l; exit 6`)
	out, errs, code := c.run([]byte("x\n"), "start", "-ai", "si")
	if code != 6 || out != "hello-first\ngot x\n" {
		t.Errorf("start -ai: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	c.ok("create", "-it", "--name", "sit", "busybox:test", "sh")
	p := c.startPTY(nil, "start", "-ai", "sit")
	// Keys typed before start -ai puts the terminal in raw mode would
	// meet the line discipline (which eats ctrl-q): wait for the prompt.
	p.waitShown("# ")
	p.write("echo $((6*7))\n")
	p.waitShown("42")
	p.write("\x10\x11")
	if code := p.wait(); code != 0 {
		t.Errorf("start -ai on a pty, detached: exit %d; terminal showed %q", code, p.shown())
	}
	if got := c.field("sit", "{{.State.Running}}"); got != "true" {
		t.Errorf("running after detach: %s", got)
	}

	// run -it is create, attach, start as under docker: the detach keys
	// leave it running; run --rm -t exits with the status, removed.
	p = c.startPTY(nil, "run", "-it", "--name", "rit", "busybox:test", "sh")
	p.waitShown("# ")
	p.write("echo $((6*7))\n")
	p.waitShown("42")
	p.write("\x10\x11")
	if code := p.wait(); code != 0 {
		t.Errorf("run -it on a pty, detached: exit %d; terminal showed %q", code, p.shown())
	}
	if got := c.field("rit", "{{.State.Running}}"); got != "true" {
		t.Errorf("run -it: running after detach: %s", got)
	}
	if shown, code := c.ptySession(t, "", "run", "--rm", "-t", "--name", "rmt", "busybox:test", "sh", "-c", "echo first; exit 3"); code != 3 || !strings.Contains(shown, "first") {
		t.Errorf("run --rm -t: exit %d, terminal showed %q", code, shown)
	}
	c.fails(1, "inspect", "rmt")
	c.ok("rm", "-f", "si", "sit", "rit")
	c.assertClean()
}

// ptyProc is pelagos running on a real terminal of the test's.
type ptyProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	cancel context.CancelFunc
}

// startPTY runs pelagos args on a new pty (of size ws, if not nil).
func (c *cli) startPTY(ws *unix.Winsize, args ...string) *ptyProc {
	t := c.t.(*testing.T)
	t.Helper()
	master, slave := openPTY(t)
	t.Cleanup(func() { master.Close() })
	if ws != nil {
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	p := &ptyProc{t: t, master: master, cancel: cancel}
	p.cmd = exec.CommandContext(ctx, c.bin, args...)
	p.cmd.Env = c.env
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = slave, slave, slave
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *ptyProc) write(s string) { _, _ = p.master.WriteString(s) }

func (p *ptyProc) shown() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *ptyProc) waitShown(s string) {
	p.t.Helper()
	waitFor(p.t, fmt.Sprintf("%q on the terminal", s), func() bool { return strings.Contains(p.shown(), s) })
}

// wait returns the exit code (-1 when killed at the timeout).
func (p *ptyProc) wait() int {
	defer p.cancel()
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return 0
}
