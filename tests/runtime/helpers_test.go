// Package runtime_test drives the pelagos-runc binary (or the runtime in
// $PELAGOS_TEST_RUNTIME) through real containers: what a container sees,
// the security defences tested as attacks, and bad input. Everything runs
// as root against the real kernel.
package runtime_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/probe"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// TestMain makes the test process a child subreaper, as an engine's shim
// is: a container init whose runtime command died is reparented to us, so
// initProcesses can count exactly the inits of this test process (other
// tests on the machine have their own).
func TestMain(m *testing.M) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		panic(err)
	}
	testenv.Main(m)
}

// runtime is one runtime binary with a state root of the test's own.
type runtime struct {
	t    *testing.T
	bin  string
	root string
	// cred and env, when set, run the runtime as an unprivileged user
	// (rootless mode) with that environment.
	cred *syscall.Credential
	env  []string
}

func newRuntime(t *testing.T) *runtime {
	t.Helper()
	testenv.RequireRoot(t)
	r := &runtime{t: t, bin: testenv.Runtime(t), root: t.TempDir()}
	t.Cleanup(r.deleteAll)
	return r
}

// newGoInitRuntime is a runtime that starts every container with the Go
// init (PELAGOS_INIT=go): configs the C init takes are tested through
// both inits.
func newGoInitRuntime(t *testing.T) *runtime {
	r := newRuntime(t)
	r.env = append(os.Environ(), "PELAGOS_INIT=go")
	return r
}

// run runs the runtime with args and returns stdout, stderr and the error.
// Output goes through files, not pipes: a container created by the
// command inherits them and may outlive it, so nothing can wait for EOF.
func (r *runtime) run(args ...string) (string, string, error) {
	dir := r.t.TempDir()
	outf, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer outf.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer errf.Close()
	cmd := exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
	cmd.Stdout, cmd.Stderr = outf, errf
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
		cmd.Env = r.env
	} else if r.env != nil {
		cmd.Env = r.env
	}
	err = cmd.Run()
	out, _ := os.ReadFile(outf.Name())
	errs, _ := os.ReadFile(errf.Name())
	return string(out), string(errs), err
}

func (r *runtime) mustRun(args ...string) string {
	r.t.Helper()
	out, errs, err := r.run(args...)
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s", filepath.Base(r.bin), strings.Join(args, " "), err, errs)
	}
	return out
}

func (r *runtime) state(id string) specs.State {
	r.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(r.mustRun("state", id)), &st); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

func (r *runtime) deleteAll() {
	for _, id := range testenv.StateEntries(r.root) {
		_, _, _ = r.run("delete", "--force", id)
	}
}

var probeOnce sync.Once
var probeBin, attackBin string

// tools builds the probe and the attack program once.
func tools(t *testing.T) (probePath, attackPath string) {
	t.Helper()
	probeOnce.Do(func() {
		probeBin = testenv.Probe(t)
		attackBin = testenv.Build(t, "./tests/attack", testenv.BuildOptions{Static: true})
	})
	if probeBin == "" || attackBin == "" {
		t.Fatal("building the probe or the attack program failed earlier")
	}
	return probeBin, attackBin
}

// newBundle makes a busybox bundle with the probe at /bin/probe and the
// attack program at /bin/attack, modified by mods.
func newBundle(t *testing.T, mods ...bundle.Modifier) *bundle.Bundle {
	t.Helper()
	p, a := tools(t)
	b, err := bundle.New(filepath.Join(t.TempDir(), "bundle"), bundle.Options{Probe: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFile(a, filepath.Join(b.Rootfs(), "bin", "attack")); err != nil {
		t.Fatal(err)
	}
	if err := b.Apply(mods...); err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// runProbe runs the probe as the container process and decodes its report.
func (r *runtime) runProbe(b *bundle.Bundle, id string) *probe.Report {
	r.t.Helper()
	if err := b.Apply(bundle.Args("/bin/probe")); err != nil {
		r.t.Fatal(err)
	}
	out := r.mustRun("run", "--bundle", b.Dir, id)
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		r.t.Fatalf("probe output: %v\n%s", err, out)
	}
	return &rep
}

// mountsUnder lists the host's mount points at or below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// initProcesses lists this test process's pelagos inits still running:
// its children (the runtime forks the init as a child of its own caller,
// and orphans come to us as the subreaper) running the sealed init.
func initProcesses() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || !sealedInitExe(exe) {
			continue
		}
		if ppid, err := parentPid(pid); err == nil && ppid == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sealedInitExe tells, from the target of /proc/<pid>/exe, a process that
// runs the runtime's sealed init binary: a memfd copy, or the binary seen
// through the runtime's private overlayfs mount (attached nowhere, so the
// path is the file's name at that mount's root).
func sealedInitExe(link string) bool {
	return strings.HasPrefix(link, "/memfd:pelagos-init") || link == "/pelagos-runc"
}

func parentPid(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	var ppid int
	_, err = fmt.Sscan(f[1], &ppid)
	return ppid, err
}

// uniqueCgroup returns an absolute cgroupsPath under a parent of the
// test's own, and the pids-hierarchy directory it maps to.
func uniqueCgroup(t *testing.T, name string) (cgroupsPath, pidsDir string) {
	t.Helper()
	p := fmt.Sprintf("/pelagos-test-runtime-%d/%s", os.Getpid(), name)
	return p, filepath.Join("/sys/fs/cgroup/pids", p)
}

func decodeProbe(t *testing.T, out string) *probe.Report {
	t.Helper()
	var rep probe.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe output: %v\n%s", err, out)
	}
	return &rep
}

// consoleSock is a --console-socket that receives the pty master.
type consoleSock struct {
	path   string
	master chan *os.File
}

func consoleSocket(t *testing.T) *consoleSock {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	c := &consoleSock{path: path, master: make(chan *os.File, 1)}
	go func() {
		defer l.Close()
		conn, err := l.AcceptUnix()
		if err != nil {
			close(c.master)
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			close(c.master)
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			if fds, err := unix.ParseUnixRights(&m); err == nil && len(fds) == 1 {
				c.master <- os.NewFile(uintptr(fds[0]), "pty-master")
				return
			}
		}
		close(c.master)
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

// openUp makes dir and its parents up to /tmp traversable by anyone, so
// that a container whose root maps to an unprivileged host uid can reach
// its rootfs (test temp dirs are 0700).
func openUp(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != "/tmp" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// bundleMaker makes a test bundle (newBundle or a user-namespaced one).
type bundleMaker func(t *testing.T, mods ...bundle.Modifier) *bundle.Bundle

// bothModes runs a test against a container without a user namespace
// (started by the C init, and again by the Go init), one whose root is
// host uid 100000 in a user namespace (rootfs owned by that uid, as a real
// user-namespaced container's is), and a rootless one: the runtime itself
// run by an unprivileged user.
func bothModes(t *testing.T, test func(*testing.T, *runtime, bundleMaker)) {
	t.Run("root", func(t *testing.T) { test(t, newRuntime(t), newBundle) })
	t.Run("root-goinit", func(t *testing.T) { test(t, newGoInitRuntime(t), newBundle) })
	t.Run("userns", func(t *testing.T) { test(t, newRuntime(t), newUserNSBundle) })
	t.Run("rootless", func(t *testing.T) {
		rl := newRootless(t)
		test(t, rl.runtime(), func(t *testing.T, mods ...bundle.Modifier) *bundle.Bundle {
			return rl.bundle(mods...)
		})
	})
}

// giveToUser lets the runtime's user (in rootless mode) reach and own
// path, so that an attack aimed at it is one the user could carry out;
// as root it does nothing.
func (r *runtime) giveToUser(path string) {
	r.t.Helper()
	if r.cred == nil {
		return
	}
	openUp(r.t, path)
	if err := os.Lchown(path, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
		r.t.Fatal(err)
	}
}

func newUserNSBundle(t *testing.T, mods ...bundle.Modifier) *bundle.Bundle {
	t.Helper()
	b := newBundle(t, append([]bundle.Modifier{userNamespace(100000)}, mods...)...)
	openUp(t, b.Rootfs())
	err := filepath.Walk(b.Rootfs(), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 100000, 100000)
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ownLikeRootfs gives path the owner of the bundle's rootfs (host root, or
// the user namespace's root).
func ownLikeRootfs(t *testing.T, b *bundle.Bundle, path string) {
	t.Helper()
	st, err := os.Stat(b.Rootfs())
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if err := os.Lchown(path, int(sys.Uid), int(sys.Gid)); err != nil {
		t.Fatal(err)
	}
}
