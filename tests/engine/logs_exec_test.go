package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLogs(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--name", "lg", "busybox:test", "sh", "-c", "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; printf partial")
	out, errs, _ := c.run(nil, "logs", "lg")
	if out != "out1\nout2\nout3\nout4\nout5\npartial" || errs != "err1\nerr2\nerr3\nerr4\nerr5\n" {
		t.Errorf("logs: stdout %q stderr %q", out, errs)
	}
	// stdout and stderr are copied side by side: their entries interleave
	// in arrival order, so the last two are whatever the log file ends
	// with (partial, err5, err4 ...).
	raw, err := os.ReadFile(c.field("lg", "{{.LogPath}}"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var want []string
	for _, l := range lines[len(lines)-2:] {
		var e struct{ Log string }
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		want = append(want, strings.TrimSuffix(e.Log, "\n"))
	}
	out, errs, _ = c.run(nil, "logs", "--tail", "2", "lg")
	got := strings.Fields(out + "\n" + errs)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("logs --tail 2: stdout %q stderr %q; want the log's last two entries %q", out, errs, want)
	}
	if out, errs, _ := c.run(nil, "logs", "--tail", "0", "lg"); out+errs != "" {
		t.Errorf("logs --tail 0: %q %q", out, errs)
	}
	ts, _, _ := c.run(nil, "logs", "-t", "lg")
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1$`)
	if first := strings.Split(ts, "\n")[0]; !re.MatchString(first) {
		t.Errorf("logs -t: first line %q, want docker's fixed nanosecond timestamp", first)
	}
	if out, errs, _ := c.run(nil, "logs", "--since", "1m", "lg"); !strings.Contains(out, "out1") || errs == "" {
		t.Errorf("logs --since 1m: %q %q", out, errs)
	}
	if out, errs, _ := c.run(nil, "logs", "--until", "1h", "lg"); out+errs != "" {
		t.Errorf("logs --until 1h (an hour ago): %q %q", out, errs)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if out, _, _ := c.run(nil, "logs", "--since", future, "lg"); out != "" {
		t.Errorf("logs --since the future: %q", out)
	}
	// The file is docker's json-file format (stdout's and stderr's
	// entries interleave in arrival order: match a whole line).
	path := c.field("lg", "{{.LogPath}}")
	b, err := os.ReadFile(path)
	if err != nil || !regexp.MustCompile(`(?m)^\{"log":"out1\\n","stream":"stdout","time":"[^"]+"\}$`).Match(b) {
		t.Errorf("%s is not json-file: %q %v", path, b[:min(len(b), 120)], err)
	}
	c.ok("rm", "lg")
}

func TestLogsFollowAndRotation(t *testing.T) {
	c := newCLI(t)
	// 80 lines of ~100 bytes, 20 ms apart, through 1 KiB files, three
	// kept: the log rotates every ten lines or so while logs -f follows
	// it across the files.
	script := `i=0; while [ $i -lt 80 ]; do printf "line %03d %s\n" $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); usleep 20000; done`
	c.ok("run", "-d", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "busybox:test", "sh", "-c", "sleep 0.3; "+script+"; sleep 0.3")
	cmd := exec.Command(c.bin, "logs", "-f", "rot")
	cmd.Env = c.env
	var followed bytes.Buffer
	cmd.Stdout = &followed
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("logs -f: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("logs -f did not end when the container exited")
	}
	lines := strings.Split(strings.TrimSpace(followed.String()), "\n")
	if len(lines) != 80 || !strings.HasPrefix(lines[len(lines)-1], "line 079 ") {
		t.Errorf("logs -f across rotations: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for i := 1; i < len(lines); i++ {
		if lines[i] <= lines[i-1] {
			t.Errorf("logs -f out of order at %d: %q after %q", i, lines[i], lines[i-1])
			break
		}
	}
	path := c.field("rot", "{{.LogPath}}")
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Errorf("log files %v, want 3 (max-file=3)", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Size() > 1024 {
			t.Errorf("%s is %d bytes, over max-size 1k", f, st.Size())
		}
	}
	out := c.ok("logs", "rot")
	kept := strings.Split(strings.TrimSpace(out), "\n")
	if len(kept) == 0 || len(kept) > 30 || !strings.HasPrefix(kept[len(kept)-1], "line 079 ") {
		t.Errorf("logs after rotation: %d lines ending %q; want the newest (at most 3 KiB)", len(kept), kept[len(kept)-1])
	}
	c.ok("rm", "rot")
	c.assertClean()
}

func TestExec(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "ex", "-e", "BASE=1", "-w", "/tmp", "busybox:test", "sleep", "1000")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"exec", "ex", "sh", "-c", "echo $BASE $PWD $(id -u)"}, "1 /tmp 0"},
		{[]string{"exec", "-e", "X=2", "-e", "BASE=3", "ex", "sh", "-c", "echo $X $BASE"}, "2 3"},
		{[]string{"exec", "-w", "/etc", "ex", "pwd"}, "/etc"},
		{[]string{"exec", "-u", "app", "ex", "id", "-u"}, "1000"},
		{[]string{"exec", "-u", "app", "ex", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t0000000000000000"},
		{[]string{"exec", "--privileged", "ex", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t000001fffeffffff"},
	}
	for _, tc := range cases {
		if got := strings.TrimSpace(c.ok(tc.args...)); got != tc.want {
			if strings.Contains(tc.want, "1fffeffffff") && strings.HasPrefix(got, "CapEff") && got != "CapEff:\t00000000a80425fb" {
				continue // all the capabilities this host lets us hold
			}
			t.Errorf("pelagos %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	out, _, code := c.run([]byte("piped\n"), "exec", "-i", "ex", "cat")
	if code != 0 || out != "piped\n" {
		t.Errorf("exec -i cat: %q exit %d", out, code)
	}
	c.fails(3, "exec", "ex", "sh", "-c", "exit 3")
	if errs := c.fails(127, "exec", "ex", "nosuch"); !strings.Contains(errs, "executable file not found") {
		t.Errorf("exec of a missing command: %q", errs)
	}
	c.fails(126, "exec", "ex", "/etc/notexec")
	c.ok("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d")
	waitFor(t, "exec -d to run", func() bool { out, _, _ := c.run(nil, "exec", "ex", "cat", "/tmp/d"); return out == "detached\n" })
	c.ok("stop", "-t", "0", "ex")
	if errs := c.fails(1, "exec", "ex", "true"); !strings.Contains(errs, "is not running") {
		t.Errorf("exec in a stopped container: %q", errs)
	}
	c.ok("rm", "ex")
	c.assertClean()
}

// openPTY returns a new pty master and its slave.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
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
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// ptySession runs pelagos args on a real terminal, types input once the
// shell shows its prompt and returns everything the terminal showed.
func (c *cli) ptySession(t *testing.T, input string, args ...string) (string, int) {
	t.Helper()
	return c.ptySessionTyping(t, false, input, args...)
}

// ptySessionTyping is ptySession; with ahead, input is typed at once,
// before the container exists.
func (c *cli) ptySessionTyping(t *testing.T, ahead bool, input string, args ...string) (string, int) {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var shown bytes.Buffer
	read := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			shown.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				close(read)
				return
			}
		}
	}()
	// Type once the shell shows its prompt (a loaded machine can take
	// seconds), unless typing ahead.
	prompted := func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(shown.String(), "# ") }
	for deadline := time.Now().Add(10 * time.Second); !ahead && input != "" && !prompted() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	master.WriteString(input)
	err := cmd.Wait()
	<-read
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("pelagos %v on a pty: %v", args, err)
	}
	return shown.String(), code
}

// TestRunTypeAhead: what is typed while `run -it` starts the container
// reaches the shell. The monitor used to drop input that came before it
// had the container's terminal.
func TestRunTypeAhead(t *testing.T) {
	c := newCLI(t)
	for i := 0; i < 3; i++ {
		shown, code := c.ptySessionTyping(t, true, "tty; exit 5\n", "run", "--rm", "-it", "busybox:test", "sh")
		if code != 5 || !strings.Contains(shown, "/dev/pts/0") {
			t.Fatalf("input typed ahead of run -it: exit %d, terminal showed %q", code, shown)
		}
	}
	c.assertClean()
}

func TestExecAndRunWithTerminal(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "tty", "busybox:test", "sleep", "1000")
	shown, code := c.ptySession(t, "tty; echo $((6*7)); stty size; exit 5\n", "exec", "-it", "tty", "sh")
	if code != 5 {
		t.Errorf("exec -it: exit %d, want 5; terminal showed:\n%s", code, shown)
	}
	for _, want := range []string{"/dev/pts/0", "42"} {
		if !strings.Contains(shown, want) {
			t.Errorf("exec -it: terminal showed %q, want %q in it", shown, want)
		}
	}
	shown, code = c.ptySession(t, "echo term=$TERM; exit 0\n", "run", "--rm", "-it", "busybox:test", "sh")
	if code != 0 || !strings.Contains(shown, "term=xterm") {
		t.Errorf("run -it: exit %d, terminal showed %q", code, shown)
	}
	// A detached container with a terminal keeps running (sh reads the
	// pty) and its output is logged.
	c.ok("run", "-dit", "--name", "dt", "busybox:test", "sh", "-c", "echo in-tty; tty; exec sh")
	waitFor(t, "the tty output in the log", func() bool {
		out, _, _ := c.run(nil, "logs", "dt")
		return strings.Contains(out, "in-tty") && strings.Contains(out, "/dev/pts/0")
	})
	if got := c.field("dt", "{{.State.Running}}"); got != "true" {
		t.Errorf("run -dit sh: running %s", got)
	}
	c.ok("rm", "-f", "tty", "dt")
	c.assertClean()
}
