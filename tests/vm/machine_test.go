package vm

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// machine is one boot of the VM: what goes into its initramfs and what its
// /init runs.
type machine struct {
	// files maps a path inside the VM (no leading slash) to the host file
	// copied there.
	files map[string]string
	// modules are kernel modules (host paths) loaded in order at boot,
	// each with its parameters ("brd.ko rd_nr=1").
	modules []module
	// layout is the shell that mounts the cgroup filesystems.
	layout string
	// env is exported before the runs ("KEY=value").
	env []string
	// runs are the programs /init runs, one after the other.
	runs []guestRun
}

type module struct {
	path   string
	params string
}

// guestRun is one program run inside the VM, whose `go test -v` output is
// replayed as subtests named <name>/<Test>.
type guestRun struct {
	name string // subtest group
	bin  string // path inside the VM
	dir  string // working directory inside the VM
	args []string
}

// stage1 runs first as PID 1 in the initramfs. pivot_root cannot move the
// initramfs root (it has no parent mount), so a runtime's pivot_root would
// fail there: copy everything into a tmpfs and switch_root to it, as a
// distribution's initramfs hands over to the real root.
const stage1 = `#!/bin/busybox sh
if [ ! -e /.stage2 ]; then
	/bin/busybox mkdir /newroot
	/bin/busybox mount -t tmpfs -o mode=0755 root /newroot
	for f in /*; do [ "$f" = /newroot ] || /bin/busybox cp -a "$f" /newroot/; done
	/bin/busybox touch /newroot/.stage2
	exec /bin/busybox switch_root /newroot /init
fi
/bin/busybox --install -s /bin
export PATH=/bin TMPDIR=/tmp HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
# The OCI validation programs unpack their rootfs with
# "tar -xf rootfs-amd64.tar.gz"; this busybox's tar does not detect gzip.
mkdir -p /usr/local/bin
printf '#!/bin/sh\nexec busybox tar -z "$@"\n' >/usr/local/bin/tar
chmod 755 /usr/local/bin/tar
export PATH=/usr/local/bin:/bin
`

// initScript is the whole /init of m.
func (m *machine) initScript() string {
	var b strings.Builder
	b.WriteString(stage1)
	for _, mod := range m.modules {
		fmt.Fprintf(&b, "insmod /modules/%s %s\n", filepath.Base(mod.path), mod.params)
	}
	b.WriteString(m.layout)
	for _, e := range m.env {
		fmt.Fprintf(&b, "export %s\n", shellQuote(e))
	}
	for _, r := range m.runs {
		args := make([]string, len(r.args))
		for i, a := range r.args {
			args[i] = shellQuote(a)
		}
		fmt.Fprintf(&b, "cd %s\necho \"PELAGOS-VM begin %s\"\n%s %s\necho \"PELAGOS-VM exit %s $?\"\n",
			shellQuote(r.dir), r.name, shellQuote(r.bin), strings.Join(args, " "), r.name)
	}
	b.WriteString("poweroff -f\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// requireVM finds QEMU and a Debian kernel with its modules in /boot and
// returns the kernel and its module directory. On CI, where
// scripts/install-test-deps.sh installs them, a missing piece is a
// failure; elsewhere the test is skipped with the reason.
func requireVM(t *testing.T) (kernel, modules string) {
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
		dir := filepath.Join("/lib/modules", version, "kernel")
		if _, err := os.Stat(filepath.Join(dir, "drivers/block/brd.ko")); err == nil {
			return k, dir
		}
	}
	missing("a Debian kernel in /boot with its modules")
	return "", ""
}

// writeInitramfs writes m's initramfs (an uncompressed newc cpio: the
// kernel unpacks it faster than it would inflate a gzipped one under TCG).
func writeInitramfs(t *testing.T, path string, m *machine) {
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
	dirs := map[string]bool{}
	mkdirs := func(p string) {
		var parents []string
		for d := filepath.Dir(p); d != "." && !dirs[d]; d = filepath.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			c.Dir(parents[i])
		}
	}
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "run", "root", "modules"} {
		c.Dir(d)
		dirs[d] = true
	}
	c.HostFile("bin/busybox", busybox)
	for _, mod := range m.modules {
		c.HostFile("modules/"+filepath.Base(mod.path), mod.path)
	}
	for _, dst := range sortedKeys(m.files) {
		mkdirs(dst)
		c.HostFile(dst, m.files[dst])
	}
	c.File("init", 0o755, []byte(m.initScript()))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}

// addDynamicLibs adds to m the program interpreter and shared libraries a
// dynamically linked host executable needs (the OCI validation programs
// are built with cgo), at the paths the executable asks for.
func (m *machine) addDynamicLibs(t *testing.T, exe string) {
	t.Helper()
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var paths []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, strings.TrimRight(string(b), "\x00"))
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		found := ""
		for _, dir := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib"} {
			if _, err := os.Stat(filepath.Join(dir, lib)); err == nil {
				found = filepath.Join(dir, lib)
				break
			}
		}
		if found == "" {
			t.Fatalf("%s needs %s, not found on this machine", exe, lib)
		}
		paths = append(paths, found)
	}
	for _, p := range paths {
		// Copy the file a symlink names, under the name asked for.
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		m.files[strings.TrimPrefix(p, "/")] = real
	}
}

// vmTimeout bounds one boot. TCG is slow, and slower still when the host
// is busy: a v2 boot that takes 2 minutes alone took over 8 on a loaded
// 2-core machine with the v1 boot beside it.
const vmTimeout = 12 * time.Minute

// boot writes m's initramfs, runs the VM to completion and returns its
// console output. TCG is
// required: /dev/kvm exists on these machines but a KVM guest hangs.
func boot(t *testing.T, kernel string, m *machine) string {
	t.Helper()
	initrd := filepath.Join(t.TempDir(), "initramfs.cpio")
	writeInitramfs(t, initrd, m)
	ctx, cancel := context.WithTimeout(context.Background(), vmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-accel", "tcg", "-m", "1536", "-smp", "2", "-nographic", "-no-reboot",
		"-nic", "none", "-vga", "none",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 quiet loglevel=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("VM ran for %v", time.Since(start).Round(time.Second))
	console := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if p := os.Getenv("PELAGOS_VM_CONSOLE"); p != "" {
		// Keep the whole console for debugging a run.
		if err := os.WriteFile(p+"."+t.Name(), []byte(console), 0o644); err != nil {
			t.Log(err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("VM did not power off within %v; console:\n%s", vmTimeout, tail(console, 100))
	}
	if err != nil {
		t.Fatalf("qemu: %v; console:\n%s", err, tail(console, 100))
	}
	return console
}

// addSystemd puts into m what tests/systemd's sandbox needs: Debian's
// systemd and systemctl, util-linux's unshare, nsenter and mount (busybox's
// have no cgroup namespace) in /usr/local/bin, which comes first on the
// VM's PATH, every shared library they load, and os-release.
func (m *machine) addSystemd(t *testing.T) {
	t.Helper()
	bins := map[string]string{
		"lib/systemd/systemd":     "/lib/systemd/systemd",
		"usr/local/bin/systemctl": "/bin/systemctl",
		"usr/local/bin/unshare":   "/usr/bin/unshare",
		"usr/local/bin/nsenter":   "/usr/bin/nsenter",
		"usr/local/bin/mount":     "/bin/mount",
		"etc/os-release":          "/usr/lib/os-release",
	}
	for dst, src := range bins {
		real, err := filepath.EvalSymlinks(src)
		if err != nil {
			t.Fatalf("%s (scripts/install-test-deps.sh installs systemd): %v", src, err)
		}
		m.files[dst] = real
		if strings.HasPrefix(dst, "etc/") {
			continue
		}
		m.addLddLibs(t, real)
	}
}

// addLddLibs adds every shared library ldd says exe loads, transitive
// ones and those found through its RUNPATH included (systemd's own
// libsystemd-shared), and the program interpreter.
func (m *machine) addLddLibs(t *testing.T, exe string) {
	t.Helper()
	out, err := exec.Command("ldd", exe).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", exe, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		var p string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			p = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			p = f[0] // the interpreter
		default:
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		m.files[strings.TrimPrefix(p, "/")] = real
	}
}
