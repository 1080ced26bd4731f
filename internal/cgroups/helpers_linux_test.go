package cgroups_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// childEnv selects what a re-executed test binary does instead of running
// tests (see TestMain).
const childEnv = "PELAGOS_CGTEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// spinCount is what the "spin" child busies itself with.
var spinCount uint64

// childMain is the body of a test child. Every child first waits for a
// line on stdin, so that the test can put it into its cgroup before it
// does anything that the cgroup should limit.
func childMain(mode string) int {
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return 2
	}
	var held [][]byte
	grow := func(mib int) {
		for i := 0; i < mib; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1 // touch every page so that it is really charged
			}
			held = append(held, b)
		}
	}
	switch mode {
	case "memhog":
		fmt.Println("started")
		grow(4 << 10) // 4 GiB: far above any limit the tests set
		fmt.Println("survived")
	case "grow":
		fmt.Println("started")
		for {
			line, err := in.ReadString('\n')
			if err != nil {
				return 0
			}
			n, _ := strconv.Atoi(strings.TrimSpace(line))
			grow(n)
			fmt.Println("ok")
		}
	case "spin":
		fmt.Println("started")
		for {
			spinCount++
		}
	default:
		return 2
	}
	return 0
}

// root skips the test unless it runs as root, which every cgroup test needs.
func root(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("cgroup tests need root: run them with scripts/test.sh")
	}
}

// newManager creates a cgroup for the test under a parent of its own,
// /pelagos-test-cgroups-<random>/c, and destroys it at the end, checking
// that nothing is left in any hierarchy.
func newManager(t *testing.T) *cgroups.Manager {
	t.Helper()
	root(t)
	parent := fmt.Sprintf("/pelagos-test-cgroups-%d", rand.Int63())
	m, err := cgroups.New(cgroups.Config{Path: parent + "/c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { destroyAndCheck(t, m) })
	return m
}

func destroyAndCheck(t *testing.T, m *cgroups.Manager) {
	t.Helper()
	created := m.State().Created
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	for _, d := range created {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after Destroy, %s is still there (%v)", d, err)
		}
	}
}

// child is a process started into a test cgroup.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pipe  *os.File
	out   *bufio.Reader
	done  chan error
}

// startChild runs this test binary as a child of the given mode in m.
func startChild(t *testing.T, m *cgroups.Manager, mode string) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	return start(t, m, cmd)
}

// startShell runs a busybox shell script in m.
func startShell(t *testing.T, m *cgroups.Manager, script string) *child {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed (scripts/install-test-deps.sh installs busybox-static)")
	}
	return start(t, m, exec.Command(busybox, "sh", "-c", "read _; "+script))
}

func start(t *testing.T, m *cgroups.Manager, cmd *exec.Cmd) *child {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// A real pipe, not an io.Writer: grandchildren that outlive the child
	// keep their copy of it, and Wait must not wait for them.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close() })
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, pipe: pr, out: bufio.NewReader(pr), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.send(t, "go")
	return c
}

func (c *child) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("write to child: %v", err)
	}
}

// expect reads the child's output until a line containing one of wants,
// and returns everything read. It fails the test if the output ends first,
// or if nothing comes for two minutes (a liveness guard, not a timing
// assertion: processes the child left behind may hold the pipe open).
func (c *child) expect(t *testing.T, wants ...string) string {
	t.Helper()
	_ = c.pipe.SetReadDeadline(time.Now().Add(2 * time.Minute))
	var all strings.Builder
	for {
		line, err := c.out.ReadString('\n')
		all.WriteString(line)
		for _, w := range wants {
			if strings.Contains(line, w) {
				return all.String()
			}
		}
		if err != nil {
			t.Fatalf("child output ended without %q: %q (%v)", wants, all.String(), err)
		}
	}
}

// wait returns the child's exit error, failing after a generous bound: a
// liveness guard for a hung test, not a timing assertion.
func (c *child) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		return err
	case <-time.After(2 * time.Minute):
		t.Fatal("child did not exit")
		return nil
	}
}

// eventually polls cond until it holds, for at most a liveness bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readFile reads a file of the container's cgroup in the hierarchy of
// controller ("" for the cgroup2 tree).
func readFile(t *testing.T, m *cgroups.Manager, controller, file string) string {
	t.Helper()
	dir, ok := m.Path(controller)
	if !ok {
		t.Fatalf("no %s hierarchy", controller)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// ctl is the hierarchy that holds a controller on this manager: the
// controller's own on v1, the cgroup2 tree on v2.
func ctl(m *cgroups.Manager, controller string) string {
	if m.Mode() == cgroups.Unified {
		return ""
	}
	return controller
}

func i64(v int64) *int64    { return &v }
func u64(v uint64) *uint64  { return &v }
func u16(v uint16) *uint16  { return &v }
func boolp(v bool) *bool    { return &v }
func limit(mib int64) int64 { return mib << 20 }

// memoryLimit is a limit of mib MiB with no swap on top, on either version.
func memoryLimit(mib int64) *specs.LinuxResources {
	return &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(limit(mib)), Swap: i64(limit(mib))}}
}
