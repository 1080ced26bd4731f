package devicefilter

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup2Dir makes a fresh cgroup in the host's cgroup2 tree (the whole
// tree on v2, /sys/fs/cgroup/unified on a hybrid host), removed at the end.
func cgroup2Dir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("attaching device programs needs root")
	}
	root := cgroup2Mount(t)
	dir := filepath.Join(root, fmt.Sprintf("pelagos-test-devicefilter-%d", rand.Int63()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

func cgroup2Mount(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		for i, x := range fields {
			if x == "-" && i+1 < len(fields) && fields[i+1] == "cgroup2" && fields[3] == "/" {
				return fields[4]
			}
		}
	}
	t.Skip("no cgroup2 hierarchy mounted: device programs cannot be attached")
	return ""
}

// runIn starts busybox sh -c script directly inside the cgroup at dir
// (clone3 with CLONE_INTO_CGROUP) and returns its combined output and error.
func runIn(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed (scripts/install-test-deps.sh installs busybox-static)")
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(busybox, "sh", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

var nullOnly = []specs.LinuxDeviceCgroup{
	{Allow: false, Access: "rwm"},
	{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"},
}

// TestApplyDeniesDevices is the attack: a process in the cgroup reads a
// device the rules do not allow. Without an enforcing program the read
// succeeds, so the test fails on a filter that is not attached or wrong.
func TestApplyDeniesDevices(t *testing.T) {
	dir := cgroup2Dir(t)
	if out, err := runIn(t, dir, "head -c 4 /dev/zero | wc -c"); err != nil || out != "4" {
		t.Fatalf("before filtering, reading /dev/zero: %q, %v; want 4 bytes", out, err)
	}
	if err := Apply(dir, nullOnly); err != nil {
		t.Fatal(err)
	}
	if out, err := runIn(t, dir, "echo hi > /dev/null && echo ok"); err != nil || out != "ok" {
		t.Errorf("writing the allowed /dev/null: %q, %v", out, err)
	}
	out, err := runIn(t, dir, "head -c 4 /dev/zero")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("reading /dev/zero under a filter that denies it: %q, %v; want EPERM", out, err)
	}
	out, err = runIn(t, dir, "mknod ./null c 1 3")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mknod of 1:3 without the m permission: %q, %v; want EPERM", out, err)
	}
}

// TestApplyReplaces checks that a second Apply replaces the first program
// rather than stacking on it: stacked programs would keep denying.
func TestApplyReplaces(t *testing.T) {
	dir := cgroup2Dir(t)
	if err := Apply(dir, nullOnly); err != nil {
		t.Fatal(err)
	}
	wider := append(append([]specs.LinuxDeviceCgroup{}, nullOnly...),
		specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"})
	if err := Apply(dir, wider); err != nil {
		t.Fatal(err)
	}
	if out, err := runIn(t, dir, "head -c 4 /dev/zero | wc -c"); err != nil || out != "4" {
		t.Errorf("reading /dev/zero after allowing it: %q, %v", out, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ids, err := Attached(fd)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 {
		t.Errorf("after two Applies %d programs are attached, want 1", len(ids))
	}
}

// TestLoadManyRules makes sure the verifier accepts a long rule list.
func TestLoadManyRules(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF programs needs root")
	}
	var rules []specs.LinuxDeviceCgroup
	for i := int64(0); i < 500; i++ {
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: i%3 != 0, Type: "cb"[i%2 : i%2+1], Major: i64(i), Minor: i64(i * 7), Access: "rwm"[:1+i%3]})
	}
	fd, err := Load(rules)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
}
