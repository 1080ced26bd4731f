package systemd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

// sandbox is a real systemd (Debian's /lib/systemd/systemd) running as
// PID 1 of its own pid, mount, cgroup, uts, ipc and network namespaces,
// with a cgroup2 tree of its own at /sys/fs/cgroup: a cgroup this test
// made in the host's cgroup2 hierarchy, which is the root of the
// sandbox's cgroup namespace. pelagos-runc runs inside it (nsenter) and
// talks to that systemd over /run/systemd/private.
//
// The host is shared, so the sandbox is built to change nothing outside
// itself: /, /sys and /proc/sys are read-only in its mount namespace
// (TestSandboxLeavesHostSysctls checks the kernel settings systemd raises
// at boot), /run, /tmp,
// /var/tmp, /var/log, /var/lib/systemd and /var/cache are private tmpfs,
// and the only unit started is pelagos-test.target, which pulls in
// nothing; the units that touch the machine (tmpfiles, udev, sysctl,
// journald, module loading, binfmt, ...) are masked besides. The test's
// directory is bind-mounted at /run/t, the only place the sandbox can
// write on disk.
type sandbox struct {
	t   *testing.T
	dir string // host directory, /run/t inside
	cg  string // host path of the sandbox's cgroup (its cgroupns root)
	cmd *exec.Cmd
	pid int // systemd, as the host sees it
	tl  tools
}

// inside is where the sandbox sees the test directory.
const inside = "/run/t"

// maskedUnits are masked in the sandbox, should anything pull them in:
// each would change the shared host (its files, devices or kernel
// settings).
var maskedUnits = []string{
	"sysinit.target", "basic.target", "getty.target", "console-getty.service",
	"systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service", "systemd-tmpfiles-clean.timer",
	"systemd-udevd.service", "systemd-udev-trigger.service", "systemd-sysctl.service",
	"systemd-journald.service", "systemd-journald.socket", "systemd-journal-flush.service",
	"systemd-modules-load.service", "systemd-binfmt.service", "systemd-random-seed.service",
	"systemd-remount-fs.service", "systemd-sysusers.service", "systemd-firstboot.service",
	"ldconfig.service", "systemd-update-utmp.service", "systemd-networkd.service",
	"systemd-resolved.service", "systemd-timesyncd.service",
}

// tools are util-linux's programs the sandbox needs, by absolute path:
// busybox's have no cgroup namespace, and busybox's sh runs its own
// applets before searching PATH.
type tools struct {
	unshare, nsenter, mount string
}

func lookTools() (tools, error) {
	var tl tools
	for _, x := range []struct {
		name string
		p    *string
	}{{"unshare", &tl.unshare}, {"nsenter", &tl.nsenter}, {"mount", &tl.mount}} {
		p, err := exec.LookPath(x.name)
		if err != nil {
			return tl, fmt.Errorf("util-linux's %s: %w", x.name, err)
		}
		*x.p = p
	}
	return tl, nil
}

// bootScript sets up the sandbox's mounts and execs systemd. It runs as
// the first process of the new namespaces; $1 is the test directory, $2
// systemd's log target.
func bootScript(mount string) string {
	var b strings.Builder
	b.WriteString(`set -e
mount() { ` + mount + ` "$@"; }
# Wait until the test has moved unshare, our parent, out of the cgroup
# namespace's root: a root cgroup with a process of its own could not
# enable controllers for systemd's slices.
while [ ! -e "$1/.go" ]; do sleep 0.05; done
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p ` + inside + ` /run/systemd/system
mount --bind "$1" ` + inside + `
for d in /tmp /var/tmp /var/log /var/lib/systemd /var/cache; do if [ -d $d ]; then mount -t tmpfs tmpfs $d; fi; done
umount -l /sys/fs/cgroup
# /proc/sys and /sys read-only, as in any container: systemd as PID 1
# raises fs.file-max and friends at boot, which are not namespaced.
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
mount --bind /sys /sys
mount -o remount,bind,ro /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -o remount,bind,ro /
printf '[Unit]\nDescription=pelagos systemd driver tests\nDefaultDependencies=no\n' >/run/systemd/system/pelagos-test.target
`)
	for _, u := range maskedUnits {
		fmt.Fprintf(&b, "ln -s /dev/null /run/systemd/system/%s\n", u)
	}
	b.WriteString(`exec env -i container=pelagos-test PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --unit=pelagos-test.target --show-status=no --log-level=warning --log-target="$2"
`)
	return b.String()
}

// enableAll enables in dir's subtree_control every controller dir has.
func enableAll(t *testing.T, dir string) {
	t.Helper()
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Fields(string(avail)) {
		// One by one: a controller the kernel will not enable (one
		// that a process in dir keeps from being delegated) is only
		// missing in the sandbox, and testLimits says so.
		_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0)
	}
}

// logTarget is where the sandbox's systemd logs: nowhere, unless
// PELAGOS_SYSD_LOG_TARGET says (console, kmsg) to debug a boot.
func logTarget() string {
	if v := os.Getenv("PELAGOS_SYSD_LOG_TARGET"); v != "" {
		return v
	}
	return "null"
}

// cgroup2Root is where the host's cgroup2 hierarchy is mounted: the whole
// tree on a v2 host, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Root() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy mounted")
}

// newSandbox boots systemd and waits until it runs; Cleanup kills it
// (SIGKILL to a pid namespace's init ends every process in it) and
// removes its cgroups and directory.
func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	testenv.RequireRoot(t)
	const systemdBin = "/lib/systemd/systemd"
	if _, err := os.Stat(systemdBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v (scripts/install-test-deps.sh installs systemd)", systemdBin, err)
		}
		t.Skipf("no systemd to test against (%v): apt-get install systemd", err)
	}
	root, err := cgroup2Root()
	if err != nil {
		t.Fatal(err)
	}
	tl, err := lookTools()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := testenv.TempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	s := &sandbox{t: t, dir: dir, cg: filepath.Join(root, filepath.Base(dir)), tl: tl}
	t.Cleanup(s.stop)
	if root == "/sys/fs/cgroup" {
		// A pure v2 host: offer the sandbox every controller the root
		// has, as systemd does on such a host (there this changes
		// nothing; in tests/vm's VM nobody else has). On a hybrid host
		// the cgroup2 root belongs to the machine and is left alone.
		enableAll(t, root)
	}
	for _, d := range []string{s.cg, filepath.Join(s.cg, "pelagos-client")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "boot.sh")
	if err := os.WriteFile(script, []byte(bootScript(tl.mount)), 0o755); err != nil {
		t.Fatal(err)
	}
	// sh joins the sandbox's cgroup itself (its own $$) before unshare
	// makes that cgroup the root of the new cgroup namespace.
	var out bytes.Buffer
	s.cmd = exec.Command("sh", "-c", `echo $$ >"$1/cgroup.procs" && exec "$5" --pid --mount --cgroup --uts --ipc --net --fork --mount-proc sh "$2" "$3" "$4"`,
		"sh", s.cg, script, dir, logTarget(), tl.unshare)
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	s.cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Pdeathsig: unix.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.release(); err != nil {
		t.Fatalf("start the sandbox: %v\n%s", err, out.String())
	}
	if err := s.waitRunning(); err != nil {
		t.Fatalf("boot systemd in a sandbox: %v\n%s", err, out.String())
	}
	return s
}

// release moves unshare out of the sandbox's root cgroup into
// pelagos-client once it has made the cgroup namespace (it has forked the
// sandbox's first process by then), and lets the boot go on.
func (s *sandbox) release() error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid))
		if len(strings.Fields(string(data))) == 0 {
			continue
		}
		procs := filepath.Join(s.cg, "pelagos-client", "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(s.cmd.Process.Pid)), 0); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.dir, ".go"), nil, 0o644)
	}
	return errors.New("unshare did not fork within 30s")
}

// waitRunning finds systemd (unshare's child) and waits until it reports
// the system running.
func (s *sandbox) waitRunning() error {
	deadline := time.Now().Add(60 * time.Second)
	last := "systemd not found"
	for time.Now().Before(deadline) {
		if s.pid == 0 {
			data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid))
			if f := strings.Fields(string(data)); len(f) > 0 {
				s.pid, _ = strconv.Atoi(f[0])
			}
		}
		if s.pid != 0 {
			out, errOut, err := s.exec(context.Background(), "systemctl", "is-system-running")
			if st := strings.TrimSpace(out); st == "running" || st == "degraded" {
				return nil
			}
			last = fmt.Sprintf("systemctl is-system-running: %s %s %v", strings.TrimSpace(out), strings.TrimSpace(errOut), err)
		}
		if s.cmd.ProcessState != nil {
			return errors.New("unshare exited")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("systemd did not come up within 60s (last: %s)", last)
}

// exec runs a command inside the sandbox, from the cgroup pelagos-client
// (a process outside the cgroup namespace's root could not be moved into
// a scope by systemd, which sees only that subtree).
func (s *sandbox) exec(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{"-c",
		`cg=$1 pid=$2 nsenter=$3; shift 3; echo $$ >"$cg/pelagos-client/cgroup.procs" && exec "$nsenter" -t "$pid" -m -p -C -u -i -n -- "$@"`,
		"sh", s.cg, strconv.Itoa(s.pid), s.tl.nsenter}, args...)...)
	// Files, not pipes: a container that create leaves behind holds its
	// stdio, and a pipe would keep Wait waiting for it.
	o, err := os.CreateTemp(s.dir, ".out-")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(o.Name())
	defer o.Close()
	e, err := os.CreateTemp(s.dir, ".err-")
	if err != nil {
		return "", "", err
	}
	defer os.Remove(e.Name())
	defer e.Close()
	cmd.Stdout, cmd.Stderr = o, e
	err = cmd.Run()
	ob, _ := os.ReadFile(o.Name())
	eb, _ := os.ReadFile(e.Name())
	return string(ob), string(eb), err
}

// mustExec is exec that fails the test on error.
func (s *sandbox) mustExec(args ...string) string {
	s.t.Helper()
	out, errOut, err := s.exec(context.Background(), args...)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// unitProps reads properties of a unit from systemd (systemctl show).
func (s *sandbox) unitProps(unit string, names ...string) map[string]string {
	s.t.Helper()
	args := []string{"systemctl", "show", unit}
	for _, n := range names {
		args = append(args, "-p", n)
	}
	out := s.mustExec(args...)
	props := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			props[k] = v
		}
	}
	return props
}

func (s *sandbox) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		if s.pid != 0 {
			_ = unix.Kill(s.pid, unix.SIGKILL)
		}
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	if err := testenv.RemoveCgroupTree(s.cg); err != nil {
		s.t.Errorf("remove the sandbox's cgroup: %v", err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		s.t.Errorf("remove the sandbox's directory: %v", err)
	}
}
