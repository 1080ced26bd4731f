package seccomp

import (
	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// dockerProbes are calls Docker's profile decides on, with arguments for
// which the kernel itself (as root, no filter) answers something other
// than EPERM, so an EPERM can only come from the filter.
func dockerProbes(t *testing.T) []struct {
	name string
	c    call
} {
	const keySpecSession = ^uint64(2) // KEY_SPEC_SESSION_KEYRING (-3)
	return []struct {
		name string
		c    call
	}{
		{"keyctl", call{Nr: sysnr(t, "keyctl"), Args: [6]uint64{0 /* KEYCTL_GET_KEYRING_ID */, keySpecSession, 1}}},
		{"add_key", call{Nr: sysnr(t, "add_key")}},
		{"mount", call{Nr: sysnr(t, "mount")}},                                                         // kernel: EFAULT
		{"unshare(CLONE_NEWUSER)", call{Nr: sysnr(t, "unshare"), Args: [6]uint64{unix.CLONE_NEWUSER}}}, // kernel: EINVAL (threaded)
		{"setns", call{Nr: sysnr(t, "setns"), Args: [6]uint64{^uint64(0)}}},                            // kernel: EBADF
		{"personality(ADDR_NO_RANDOMIZE)", call{Nr: sysnr(t, "personality"), Args: [6]uint64{0x0040000 /* ADDR_NO_RANDOMIZE */}}},
		{"socket(AF_VSOCK)", call{Nr: sysnr(t, "socket"), Args: [6]uint64{unix.AF_VSOCK, unix.SOCK_STREAM}}},
		{"clone3", call{Nr: sysnr(t, "clone3")}}, // kernel: EFAULT/EINVAL; profile: ENOSYS
		{"getppid", call{Nr: sysnr(t, "getppid")}},
		{"socket(AF_UNIX)", call{Nr: sysnr(t, "socket"), Args: [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM}}},
		{"personality(query)", call{Nr: sysnr(t, "personality"), Args: [6]uint64{0xffffffff}}},
	}
}

// TestKernelDockerProfile runs the probes without a filter, under Docker's
// default profile for Docker's default capabilities, and under it with
// CAP_SYS_ADMIN added.
func TestKernelDockerProfile(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root: the control run must show the kernel allowing mount, setns and unshare")
	}
	probes := dockerProbes(t)
	var calls []call
	for _, p := range probes {
		calls = append(calls, p.c)
	}
	plain, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := dockerprofile.Default(append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN"))
	if err != nil {
		t.Fatal(err)
	}
	control := runChild(t, job{NoFilter: true, Calls: calls})
	underPlain := runChild(t, job{Profile: plain, Calls: calls})
	underAdmin := runChild(t, job{Profile: admin, Calls: calls})
	for _, o := range []outcome{control, underPlain, underAdmin} {
		o.mustLoad(t)
		if !o.done {
			t.Fatalf("child did not finish: signal %v, thread gone %v, stderr %q", o.signal, o.threadGone, o.stderr)
		}
	}
	const (
		blocked = "EPERM from the filter"
		enosys  = "ENOSYS from the filter"
		passes  = "reaches the kernel"
	)
	want := map[string][2]string{ // without, with CAP_SYS_ADMIN
		"keyctl":                         {blocked, blocked},
		"add_key":                        {blocked, blocked},
		"mount":                          {blocked, passes},
		"unshare(CLONE_NEWUSER)":         {blocked, passes},
		"setns":                          {blocked, passes},
		"personality(ADDR_NO_RANDOMIZE)": {blocked, blocked},
		"socket(AF_VSOCK)":               {blocked, blocked},
		"clone3":                         {enosys, passes},
		"getppid":                        {passes, passes},
		"socket(AF_UNIX)":                {passes, passes},
		"personality(query)":             {passes, passes},
	}
	for i, p := range probes {
		kernel := syscall.Errno(control.calls[i].Errno)
		for k, o := range []outcome{underPlain, underAdmin} {
			got := syscall.Errno(o.calls[i].Errno)
			switch want[p.name][k] {
			case blocked:
				if kernel == unix.EPERM {
					t.Fatalf("%s: the kernel itself returns EPERM; the probe cannot tell the filter apart", p.name)
				}
				if got != unix.EPERM {
					t.Errorf("%s (CAP_SYS_ADMIN %v): errno %v, want EPERM from the profile", p.name, k == 1, got)
				}
			case enosys:
				if kernel == unix.ENOSYS {
					t.Fatalf("%s: the kernel itself returns ENOSYS", p.name)
				}
				if got != unix.ENOSYS {
					t.Errorf("%s (CAP_SYS_ADMIN %v): errno %v, want ENOSYS from the profile", p.name, k == 1, got)
				}
			case passes:
				if got != kernel {
					t.Errorf("%s (CAP_SYS_ADMIN %v): errno %v, want the kernel's own answer %v", p.name, k == 1, got, kernel)
				}
			}
		}
	}
}

// TestKernelDockerProfileBusybox runs a busybox userland under Docker's
// default profile: everyday commands work, the blocked ones fail.
func TestKernelDockerProfileBusybox(t *testing.T) {
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skipf("needs Debian's busybox-static at %s (scripts/install-test-deps.sh installs it): %v", bb, err)
	}
	plain, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "m"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := `set -e
cd "$1"
echo hello > f
cat f
mkdir -p d/e && mv f d/e/g && ls d/e
printf 'b\na\nc\n' | sort | tr '\n' ' ' ; echo
echo 'x y z' | awk '{print $2}'
sed -n 's/^Seccomp:[[:space:]]*/seccomp mode /p' /proc/self/status
id -u
tar -cf t.tar d && tar -tf t.tar | wc -l
gzip -k t.tar && ls t.tar.gz
find . -name g
date +%Y >/dev/null && sleep 0
ps >/dev/null && echo ps-ok
sh -c 'exit 3' || echo "child exit $?"
(unshare -U true 2>/dev/null && echo unshare-allowed) || echo unshare-blocked
(mount -t tmpfs none m 2>/dev/null && echo mount-allowed) || echo mount-blocked
rm -r d t.tar t.tar.gz
echo done
`
	o := runChild(t, job{Profile: plain, Exec: []string{bb, "sh", "-c", script, "sh", dir}})
	lines := nonJSON(o)
	out := strings.Join(lines, "\n")
	if o.exitCode != 0 || o.signal != 0 {
		t.Fatalf("busybox under the profile: exit %d, signal %v\nstdout:\n%s\nstderr:\n%s", o.exitCode, o.signal, out, o.stderr)
	}
	for _, want := range []string{"hello", "g", "a b c", "y", "seccomp mode 2", "0", "3", "t.tar.gz", "./d/e/g", "ps-ok",
		"child exit 3", "unshare-blocked", "mount-blocked", "done"} {
		if !slices.Contains(lines, want) {
			t.Errorf("busybox output lacks line %q:\n%s\nstderr:\n%s", want, out, o.stderr)
		}
	}
}
