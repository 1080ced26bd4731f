package runtime_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// rootlessUser is the unprivileged user scripts/install-test-deps.sh
// creates, with subordinate id ranges for newuidmap/newgidmap.
const rootlessUser = "pelagos-rootless"

// rootless runs the runtime as an unprivileged user.
type rootless struct {
	t        *testing.T
	bin      string
	uid, gid uint32
	runDir   string
}

func newRootless(t *testing.T) *rootless {
	t.Helper()
	r := newRuntime(t) // builds the binary, requires root to set up
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		t.Skipf("no user %s (scripts/install-test-deps.sh creates it): %v", rootlessUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The user needs to execute the binary and own a runtime dir.
	bin := filepath.Join(t.TempDir(), "pelagos-runc")
	if err := copyFile(r.bin, bin); err != nil {
		t.Fatal(err)
	}
	openUp(t, bin)
	run := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	openUp(t, filepath.Dir(run))
	if err := os.Chown(run, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &rootless{t: t, bin: bin, uid: uint32(uid), gid: uint32(gid), runDir: run}
}

func (r *rootless) run(args ...string) (string, string, error) {
	cmd := exec.Command(r.bin, args...)
	cmd.Env = []string{"XDG_RUNTIME_DIR=" + r.runDir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: r.uid, Gid: r.gid}}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// runtime is the rootless runtime as the escape tests drive it: the
// user's copy of the binary, a state root the user owns.
func (r *rootless) runtime() *runtime {
	r.t.Helper()
	root := filepath.Join(r.t.TempDir(), "state")
	if err := os.Mkdir(root, 0o700); err != nil {
		r.t.Fatal(err)
	}
	openUp(r.t, filepath.Dir(root))
	if err := os.Chown(root, int(r.uid), int(r.gid)); err != nil {
		r.t.Fatal(err)
	}
	rt := &runtime{t: r.t, bin: r.bin, root: root,
		cred: &syscall.Credential{Uid: r.uid, Gid: r.gid},
		env:  []string{"XDG_RUNTIME_DIR=" + r.runDir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}}
	r.t.Cleanup(rt.deleteAll)
	return rt
}

// rootlessBundle is the busybox bundle with `spec --rootless`'s changes,
// owned by the rootless user.
func (r *rootless) bundle(mods ...bundle.Modifier) *bundle.Bundle {
	r.t.Helper()
	b := newBundle(r.t, append([]bundle.Modifier{func(s *specs.Spec) {
		s.Linux.Resources = nil
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.uid, Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.gid, Size: 1}}
		for i, m := range s.Mounts {
			switch m.Destination {
			case "/sys":
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			case "/dev/pts":
				s.Mounts[i].Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
			}
		}
	}}, mods...)...)
	openUp(r.t, b.Rootfs())
	if err := filepath.Walk(b.Dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(r.uid), int(r.gid))
	}); err != nil {
		r.t.Fatal(err)
	}
	return b
}

// An unprivileged user runs a busybox container in a user namespace; the
// container's root is the user, files it creates on a bind mount belong to
// the user on the host, and it cannot become an id that is not mapped.
func TestRootlessRun(t *testing.T) {
	r := newRootless(t)
	shared := t.TempDir()
	openUp(t, shared)
	if err := os.Chown(shared, int(r.uid), int(r.gid)); err != nil {
		t.Fatal(err)
	}
	b := r.bundle(bundle.Args("sh", "-c", "id -u; touch /shared/made-inside"),
		bundle.Mount(specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind"}}))
	out, errs, err := r.run("run", "--bundle", b.Dir, "rootless1")
	if err != nil {
		t.Fatalf("rootless run: %v\n%s", err, errs)
	}
	if strings.TrimSpace(out) != "0" {
		t.Errorf("uid inside = %q, want 0", out)
	}
	st, err := os.Stat(filepath.Join(shared, "made-inside"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != r.uid {
		t.Errorf("file made by the container's root is owned by host uid %d, want %d", sys.Uid, r.uid)
	}

	// Only one id is mapped: becoming another must fail.
	b2 := r.bundle(bundle.Args("true"), func(s *specs.Spec) { s.Process.User = specs.User{UID: 5, GID: 5} })
	if _, errs, err := r.run("run", "--bundle", b2.Dir, "rootless2"); err == nil {
		t.Error("a rootless container became an unmapped uid")
	} else if !strings.Contains(errs, "setres") {
		t.Errorf("unmapped uid: error %q does not say which call failed", errs)
	}
}

// With newuidmap and subordinate ids, a rootless container maps a range.
func TestRootlessRangeMapping(t *testing.T) {
	r := newRootless(t)
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("newuidmap not installed (uidmap package)")
	}
	b := r.bundle(bundle.Args("sh", "-c", "cat /proc/self/uid_map"), func(s *specs.Spec) {
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.uid, Size: 1}, {ContainerID: 1, HostID: 300000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: r.gid, Size: 1}, {ContainerID: 1, HostID: 300000, Size: 65536}}
	})
	out, errs, err := r.run("run", "--bundle", b.Dir, "rootless3")
	if err != nil {
		t.Fatalf("rootless run with a range: %v\n%s", err, errs)
	}
	want := "1 300000 65536"
	if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("uid_map inside:\n%s\nwant a line %q", out, want)
	}
}

// A rootless exec joins every namespace of the container, the pid
// namespace included, and reports the process's exit status. (An
// unprivileged runtime can join the namespaces a container's user
// namespace owns only from inside it: see internal/nsenter.)
func TestRootlessExec(t *testing.T) {
	rl := newRootless(t)
	r := rl.runtime()
	b := rl.bundle(bundle.Args("sleep", "60"))
	r.mustRun("run", "--detach", "--bundle", b.Dir, "rlexec")
	init := r.state("rlexec").Pid
	for _, ns := range []string{"user", "mnt", "net", "ipc", "uts", "pid", "cgroup"} {
		want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", init, ns))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(r.mustRun("exec", "rlexec", "readlink", "/proc/self/ns/"+ns))
		if got != want {
			t.Errorf("exec's %s namespace is %s, the container's %s", ns, got, want)
		}
	}
	if out := strings.TrimSpace(r.mustRun("exec", "rlexec", "cat", "/proc/1/cmdline")); !strings.HasPrefix(out, "sleep") {
		t.Errorf("pid 1 seen from the exec is %q, want the container's sleep", out)
	}
	_, _, err := r.run("exec", "rlexec", "sh", "-c", "exit 7")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Errorf("exec of exit 7: %v, want exit status 7", err)
	}
	r.mustRun("delete", "--force", "rlexec")
}
