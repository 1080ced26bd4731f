package vm

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// packages are the test binaries run inside the VM, by import path
// relative to the module root.
var packages = []string{"internal/cgroups", "internal/cgroups/devicefilter"}

// vmTimeout bounds the whole VM run (TCG is slow, but the suite is small).
const vmTimeout = 8 * time.Minute

const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin TMPDIR=/tmp HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
# A RAM disk gives the io controller a real block device to throttle.
insmod /brd.ko rd_nr=1 rd_size=65536
echo "PELAGOS-VM controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
cd /tmp
for t in %s; do
	echo "PELAGOS-VM begin $t"
	/$t.test -test.v -test.count=1 -test.timeout=6m
	echo "PELAGOS-VM exit $t $?"
done
poweroff -f
`

// TestCgroupV2InVM builds the cgroup test binaries statically, boots them
// in a cgroup v2 VM and reports every test they ran as a subtest here.
func TestCgroupV2InVM(t *testing.T) {
	kernel, brd := requireVM(t)
	dir := t.TempDir()
	var names []string
	for _, p := range packages {
		name := strings.ReplaceAll(filepath.Base(p), "-", "_")
		buildStatic(t, p, filepath.Join(dir, name+".test"))
		names = append(names, name)
	}
	initrd := filepath.Join(dir, "initramfs.cpio")
	writeInitramfs(t, initrd, dir, names, brd)
	out := boot(t, kernel, initrd)
	if p := os.Getenv("PELAGOS_VM_CONSOLE"); p != "" {
		// Keep the whole console for debugging a run.
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Log(err)
		}
	}
	report(t, out, names)
}

// requireVM finds QEMU, the kernel and the brd module. On CI, where
// scripts/install-test-deps.sh installs them, a missing piece is a failure;
// elsewhere the test is skipped with the reason.
func requireVM(t *testing.T) (kernel, brd string) {
	t.Helper()
	missing := func(what string) {
		msg := what + " missing: install qemu-system-x86 and linux-image-amd64 (scripts/install-test-deps.sh)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the VM harness boots an amd64 Debian kernel")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing("qemu-system-x86_64")
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	for _, k := range kernels {
		version := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		m := filepath.Join("/lib/modules", version, "kernel/drivers/block/brd.ko")
		if _, err := os.Stat(m); err == nil {
			return k, m
		}
	}
	missing("a Debian kernel in /boot with its modules")
	return "", ""
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func buildStatic(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "test", "-c", "-o", out, "./"+pkg)
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
}

func writeInitramfs(t *testing.T, path, dir string, names []string, brd string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox missing (busybox-static, scripts/install-test-deps.sh)")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	c := &cpioWriter{w: bw}
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "root"} {
		c.Dir(d)
	}
	c.HostFile("bin/busybox", busybox)
	c.HostFile("brd.ko", brd)
	for _, n := range names {
		c.HostFile(n+".test", filepath.Join(dir, n+".test"))
	}
	c.File("init", 0o755, []byte(fmt.Sprintf(initScript, strings.Join(names, " "))))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}

// boot runs the VM to completion and returns its console output. TCG is
// required: /dev/kvm exists on these machines but a KVM guest hangs.
func boot(t *testing.T, kernel, initrd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), vmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-accel", "tcg", "-m", "1024", "-smp", "2", "-nographic", "-no-reboot",
		"-nic", "none", "-vga", "none",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet loglevel=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("VM ran for %v", time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		t.Fatalf("VM did not power off within %v; console:\n%s", vmTimeout, tail(out.String(), 100))
	}
	if err != nil {
		t.Fatalf("qemu: %v; console:\n%s", err, tail(out.String(), 100))
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

var resultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// report replays each package's results as subtests: a test that passed in
// the VM passes here, one that failed fails with its output, one that was
// skipped is skipped with its reason. A package that did not exit 0, or
// never ran, fails the whole test.
func report(t *testing.T, console string, names []string) {
	t.Helper()
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, "PELAGOS-VM controllers:") {
			t.Log(line)
		}
	}
	for _, n := range names {
		section, ok := between(console, "PELAGOS-VM begin "+n+"\n", "PELAGOS-VM exit "+n+" ")
		if !ok {
			t.Errorf("%s never ran in the VM; console:\n%s", n, tail(console, 100))
			continue
		}
		lines := strings.Split(section, "\n")
		var ran int
		for i, line := range lines {
			m := resultRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			ran++
			status, name := m[1], m[2]
			detail := testOutput(lines[:i], name)
			t.Run(n+"/"+name, func(t *testing.T) {
				switch status {
				case "FAIL":
					t.Errorf("failed on cgroup v2:\n%s", detail)
				case "SKIP":
					t.Skipf("skipped on cgroup v2:\n%s", detail)
				}
			})
		}
		code := exitCode(console, n)
		if code != "0" || ran == 0 {
			t.Errorf("%s in the VM exited %s after %d tests:\n%s", n, code, ran, tail(section, 60))
		}
	}
}

// testOutput is what the inner test logged: the lines since its last
// "=== RUN"/"=== CONT" line.
func testOutput(lines []string, name string) string {
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "=== RUN   "+name) || strings.HasPrefix(l, "=== CONT  "+name) {
			start = i
		}
	}
	return strings.Join(lines[start:], "\n")
}

func exitCode(console, name string) string {
	marker := "PELAGOS-VM exit " + name + " "
	i := strings.Index(console, marker)
	if i < 0 {
		return "missing"
	}
	rest := console[i+len(marker):]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return strings.TrimSpace(rest)
}

func between(s, from, to string) (string, bool) {
	i := strings.Index(s, from)
	if i < 0 {
		return "", false
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		return s, false
	}
	return s[:j], true
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
