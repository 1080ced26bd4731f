package gorunc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gorunc "github.com/containerd/go-runc"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/probe"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

func TestMain(m *testing.M) {
	// Be a child subreaper, as a containerd shim is: a container's init is
	// reparented to us when the runtime's create exits, so we can wait4 it
	// and read its exit status.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "PR_SET_CHILD_SUBREAPER:", err)
		os.Exit(1)
	}
	testenv.Main(m)
}

// env is one test's runtime client, bundle and cgroup parent.
type env struct {
	rc       *gorunc.Runc
	bundle   *bundle.Bundle
	cgParent string
	dir      string
}

func newEnv(t *testing.T, name string) *env {
	t.Helper()
	testenv.RequireRoot(t)
	if err := testenv.CleanStale("pelagos-gorunc-"); err != nil {
		t.Fatalf("clean up after an earlier run: %v", err)
	}
	dir := t.TempDir()
	// The bundle goes in a world-searchable directory: t.TempDir is 0700.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.New(filepath.Join(dir, "bundle"), bundle.Options{Probe: testenv.Probe(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		rc: &gorunc.Runc{
			Command:   testenv.Runtime(t),
			Root:      filepath.Join(dir, "state"),
			Log:       filepath.Join(dir, "runtime-log.json"),
			LogFormat: gorunc.JSON,
		},
		bundle:   b,
		cgParent: fmt.Sprintf("/pelagos-gorunc-%d-%s", os.Getpid(), name),
		dir:      dir,
	}
	t.Cleanup(func() {
		// Whatever the test left: containers first, then the cgroups
		// their cgroupsPath created.
		ctx := context.Background()
		if cs, err := e.rc.List(ctx); err == nil {
			for _, c := range cs {
				e.rc.Delete(ctx, c.ID, &gorunc.DeleteOpts{Force: true})
			}
		}
		if err := testenv.RemoveRootCgroups(e.cgParent); err != nil {
			t.Errorf("remove test cgroups: %v", err)
		}
		if t.Failed() {
			if log, err := os.ReadFile(e.rc.Log); err == nil {
				t.Logf("runtime log:\n%s", log)
			}
		}
	})
	return e
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t, "lifecycle")
	ctx := context.Background()
	const id = "gorunc-lifecycle"
	// The init answers on stdout to prove stdin and stdout are wired, and
	// exits 143 on SIGTERM (a pid 1 without a handler would ignore it).
	script := `trap 'echo term; exit 143' TERM; echo started; read line; echo "got $line"; sleep 1000 & wait`
	err := e.bundle.Apply(bundle.Args("sh", "-c", script), bundle.CgroupsPath(e.cgParent+"/"+id))
	if err != nil {
		t.Fatal(err)
	}
	pio, err := gorunc.NewPipeIO(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pio.Close()
	stdout := bufio.NewReader(pio.Stdout())
	pidFile := filepath.Join(e.dir, "init.pid")

	if err := e.rc.Create(ctx, id, e.bundle.Dir, &gorunc.CreateOpts{IO: pio, PidFile: pidFile}); err != nil {
		t.Fatalf("create: %v", err)
	}
	c := wantState(t, e.rc, id, "created")
	if c.Pid <= 0 || c.Bundle != e.bundle.Dir {
		t.Errorf("state after create = %+v; want a pid and bundle %s", c, e.bundle.Dir)
	}
	if got := readPidFile(t, pidFile); got != c.Pid {
		t.Errorf("--pid-file holds %d, state says %d", got, c.Pid)
	}
	initPid := c.Pid

	if err := e.rc.Start(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	wantLine(t, stdout, "started")
	wantState(t, e.rc, id, "running")
	if _, err := io.WriteString(pio.Stdin(), "ping\n"); err != nil {
		t.Fatalf("write to the container's stdin: %v", err)
	}
	wantLine(t, stdout, "got ping")

	t.Run("exec", func(t *testing.T) { testExec(t, e, id, initPid) })
	t.Run("ps", func(t *testing.T) {
		pids, err := e.rc.Ps(ctx, id)
		if err != nil {
			t.Fatalf("ps: %v", err)
		}
		if !contains(pids, initPid) {
			t.Errorf("ps = %v, want it to include the init pid %d", pids, initPid)
		}
	})
	t.Run("list", func(t *testing.T) {
		cs, err := e.rc.List(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if len(cs) != 1 || cs[0].ID != id || cs[0].Status != "running" || cs[0].Pid != initPid {
			t.Errorf("list = %s, want only %s running with pid %d", dump(cs), id, initPid)
		}
	})

	if err := e.rc.Kill(ctx, id, int(unix.SIGTERM), nil); err != nil {
		t.Fatalf("kill TERM: %v", err)
	}
	wantLine(t, stdout, "term")
	if status := waitExit(t, initPid); status != 143 {
		t.Errorf("init exit status = %d, want 143 (the TERM trap ran)", status)
	}
	wantState(t, e.rc, id, "stopped")

	if err := e.rc.Delete(ctx, id, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if c, err := e.rc.State(ctx, id); err == nil {
		t.Errorf("state after delete = %+v, want an error", c)
	}
	if cs, err := e.rc.List(ctx); err != nil || len(cs) != 0 {
		t.Errorf("list after delete = %s, %v; want empty", dump(cs), err)
	}
	wantNoCgroup(t, e.cgParent+"/"+id)
}

// testExec runs processes in the running container with a full process
// spec, as containerd's exec does.
func testExec(t *testing.T, e *env, id string, initPid int) {
	ctx := context.Background()
	proc := *e.bundle.Spec.Process
	proc.Args = []string{bundle.ProbePath}
	proc.Env = append(proc.Env, "PELAGOS_EXEC=1")
	proc.Cwd = "/tmp"
	pio, err := gorunc.NewPipeIO(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pio.Close()
	out := make(chan []byte, 1)
	go func() { data, _ := io.ReadAll(pio.Stdout()); out <- data }()
	if err := e.rc.Exec(ctx, id, proc, &gorunc.ExecOpts{IO: pio}); err != nil {
		t.Fatalf("exec probe: %v", err)
	}
	// go-runc closed our copies of the process's ends after starting it:
	// the reader sees EOF once the probe is gone. Closing the pipes before
	// it has read everything would cut the report short.
	data := <-out
	pio.Close()
	var rep probe.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("exec probe output: %v", err)
	}
	// The exec'd process must be inside the container: same namespaces
	// as its init, and the process spec's cwd and env.
	for _, ns := range []string{"pid", "mnt", "net", "ipc", "uts"} {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", initPid, ns))
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Namespaces[ns]; got != want {
			t.Errorf("exec'd process %s namespace = %s, init's = %s", ns, got, want)
		}
	}
	if rep.Cwd != "/tmp" || !contains(rep.Env, "PELAGOS_EXEC=1") {
		t.Errorf("exec'd process cwd %q env %q; want /tmp and PELAGOS_EXEC=1", rep.Cwd, rep.Env)
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(rep.Caps.Effective, e.bundle.Spec.Process.Capabilities.Effective, sorted); diff != "" {
		t.Errorf("exec'd process effective caps (-got +want):\n%s", diff)
	}

	// An exec's exit status comes back as go-runc's ExitError.
	proc.Args = []string{"sh", "-c", "exit 3"}
	err = e.rc.Exec(ctx, id, proc, &gorunc.ExecOpts{IO: nullIO(t)})
	var ee *gorunc.ExitError
	if !errors.As(err, &ee) || ee.Status != 3 {
		t.Errorf("exec of 'exit 3' = %v, want exit status 3", err)
	}
}

// TestTerminal gives the container a pseudo-terminal through a console
// socket, as containerd does for `ctr run -t`: the runtime must send the
// pty master over the socket and the process must see a tty.
func TestTerminal(t *testing.T) {
	e := newEnv(t, "terminal")
	ctx := context.Background()
	const id = "gorunc-terminal"
	err := e.bundle.Apply(bundle.Terminal(true), bundle.Args("sh", "-c", "tty; read x; echo bye $x"),
		bundle.CgroupsPath(e.cgParent+"/"+id))
	if err != nil {
		t.Fatal(err)
	}
	sock, err := gorunc.NewTempConsoleSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	type master struct {
		f   io.ReadWriteCloser
		err error
	}
	got := make(chan master, 1)
	go func() { c, err := sock.ReceiveMaster(); got <- master{c, err} }()
	if err := e.rc.Create(ctx, id, e.bundle.Dir, &gorunc.CreateOpts{ConsoleSocket: sock}); err != nil {
		t.Fatalf("create with console socket: %v", err)
	}
	var m master
	select {
	case m = <-got:
	case <-time.After(30 * time.Second): // a hang guard, not a timing check
		t.Fatal("no pty master arrived on the console socket")
	}
	if m.err != nil {
		t.Fatalf("receive pty master: %v", m.err)
	}
	defer m.f.Close()
	initPid := wantState(t, e.rc, id, "created").Pid
	if err := e.rc.Start(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	r := bufio.NewReader(m.f)
	wantLine(t, r, "/dev/pts/0")
	if _, err := io.WriteString(m.f, "tty-input\n"); err != nil {
		t.Fatal(err)
	}
	// The terminal echoes our input before the answer.
	wantLine(t, r, "tty-input")
	wantLine(t, r, "bye tty-input")
	if status := waitExit(t, initPid); status != 0 {
		t.Errorf("init exit status = %d, want 0", status)
	}
	if err := e.rc.Delete(ctx, id, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

// TestDeleteForce removes a running container in one call, as containerd
// does when a task is killed and cleaned up together.
func TestDeleteForce(t *testing.T) {
	e := newEnv(t, "force")
	ctx := context.Background()
	const id = "gorunc-force"
	if err := e.bundle.Apply(bundle.Args("sleep", "1000"), bundle.CgroupsPath(e.cgParent+"/"+id)); err != nil {
		t.Fatal(err)
	}
	if err := e.rc.Create(ctx, id, e.bundle.Dir, &gorunc.CreateOpts{IO: nullIO(t)}); err != nil {
		t.Fatalf("create: %v", err)
	}
	initPid := wantState(t, e.rc, id, "created").Pid
	if err := e.rc.Start(ctx, id); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := e.rc.Delete(ctx, id, &gorunc.DeleteOpts{Force: true}); err != nil {
		t.Fatalf("delete --force: %v", err)
	}
	if status := waitExit(t, initPid); status != 128+int(unix.SIGKILL) {
		t.Errorf("init exit status = %d, want %d (SIGKILL)", status, 128+int(unix.SIGKILL))
	}
	if cs, err := e.rc.List(ctx); err != nil || len(cs) != 0 {
		t.Errorf("list after delete --force = %s, %v; want empty", dump(cs), err)
	}
	wantNoCgroup(t, e.cgParent+"/"+id)
}

func wantState(t *testing.T, rc *gorunc.Runc, id, status string) *gorunc.Container {
	t.Helper()
	c, err := rc.State(context.Background(), id)
	if err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	if c.ID != id || c.Status != status {
		t.Fatalf("state = %s, want id %s status %s", dump(c), id, status)
	}
	return c
}

// wantLine reads one line and fails unless it is want. A container that
// never writes makes ReadString block: the test binary's -timeout ends it.
func wantLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	line, err := r.ReadString('\n')
	if got := strings.TrimRight(line, "\r\n"); got != want || err != nil {
		t.Fatalf("container output line = %q, %v; want %q", got, err, want)
	}
}

// waitExit reaps the container's init (reparented to us, the subreaper)
// and returns its exit status, 128+signal when killed.
func waitExit(t *testing.T, pid int) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		if got == pid {
			if ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
		if time.Now().After(deadline) {
			t.Fatalf("container init %d did not exit", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPidFile(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	return pid
}

// wantNoCgroup fails if the container's cgroup (an absolute cgroupsPath)
// is still there after delete in any hierarchy.
func wantNoCgroup(t *testing.T, cgPath string) {
	t.Helper()
	hs, err := testenv.Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		p := filepath.Join(h.Mount, cgPath)
		if _, err := os.Stat(p); err == nil {
			t.Errorf("cgroup %s still exists after delete", p)
		}
	}
}

func nullIO(t *testing.T) gorunc.IO {
	t.Helper()
	nio, err := gorunc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nio.Close() })
	return nio
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func dump(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
