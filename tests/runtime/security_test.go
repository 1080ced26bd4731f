package runtime_test

// Each defence is tested as the attack it stops: the test fails on a
// runtime without the defence (docs/SECURITY.md lists how each was shown
// to fail with its defence switched off).

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// CVE-2019-5736: a container process that reaches /proc/<pid>/exe of the
// runtime's init (or of a process exec'd into the container) must not be
// able to overwrite the runtime binary on the host.
func TestInitBinaryIsSealedCopy(t *testing.T) { bothModes(t, testInitBinaryIsSealedCopy) }

func testInitBinaryIsSealedCopy(t *testing.T, r *runtime, newBundle bundleMaker) {
	b := newBundle(t, bundle.Args("sleep", "60"))
	r.mustRun("create", "--bundle", b.Dir, "sealed")
	pid := r.state("sealed").Pid

	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !sealedInitExe(exe) {
		t.Errorf("init executes %q, want the runtime sealed (a memfd copy or a private read-only overlay)", exe)
	}
	before := fileHash(t, r.bin)
	// Hold the init's executable the way the CVE's exploit did (O_PATH),
	// let the init go away, then reopen it for writing through the
	// handle and write.
	h, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	r.mustRun("delete", "--force", "sealed")
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", h.Fd()), os.O_WRONLY, 0)
	if err == nil {
		_, err = w.Write([]byte("\x7fELF-pwned"))
		w.Close()
	}
	if err == nil {
		t.Error("writing through the init's /proc/<pid>/exe succeeded")
	}
	if after := fileHash(t, r.bin); after != before {
		t.Fatal("the runtime binary on the host changed")
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// The init cannot be ptraced, nor its executable opened, from inside the
// container before it executes the container process. Without a user
// namespace the init is non-dumpable (a same-uid process could attach to
// it otherwise); with one, it was also executed before entering the
// namespace, so even CAP_SYS_PTRACE inside the namespace does not reach it.
func TestInitCannotBePtraced(t *testing.T) {
	r := newRuntime(t)
	cases := []struct {
		name string
		mods []bundle.Modifier
		caps []string
	}{
		{"no user namespace", nil, nil},
		{"user namespace with CAP_SYS_PTRACE", []bundle.Modifier{userNamespace(100000)}, []string{"--cap", "CAP_SYS_PTRACE"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, append([]bundle.Modifier{bundle.Args("sleep", "60")}, c.mods...)...)
			openUp(t, b.Rootfs())
			id := fmt.Sprintf("noptrace%d", i)
			r.mustRun("create", "--bundle", b.Dir, id)
			// The init is pid 1 in the container and has not executed sleep yet.
			exec := append(append([]string{"exec"}, c.caps...), id, "/bin/attack")
			out := r.mustRun(append(exec, "ptrace", "1")...)
			if strings.TrimSpace(out) == "ok" || !strings.Contains(out, "operation not permitted") {
				t.Errorf("ptrace of the waiting init from inside the container: %q, want operation not permitted", out)
			}
			out = r.mustRun(append(exec, "openexe", "1")...)
			if strings.TrimSpace(out) == "ok" {
				t.Errorf("opening the waiting init's /proc/1/exe from inside the container succeeded")
			}
		})
	}
}

// userNamespace gives the container a user namespace mapping root to host.
func userNamespace(host uint32) bundle.Modifier {
	return func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: 65536}}
		// A user namespace cannot mount sysfs for a network namespace it
		// does not own, nor set gid=5 on devpts without a mapped group 5:
		// both are fine here (the netns is new, group 5 is mapped).
	}
}

// CVE-2024-21626: no runtime descriptor reaches the container process.
func TestNoDescriptorLeaks(t *testing.T) { bothModes(t, testNoDescriptorLeaks) }

func testNoDescriptorLeaks(t *testing.T, r *runtime, newBundle bundleMaker) {
	for _, mode := range []string{"run", "exec"} {
		t.Run(mode, func(t *testing.T) {
			b := newBundle(t)
			var fds map[int]string
			if mode == "run" {
				fds = r.runProbe(b, "fds-run").FDs
			} else {
				if err := b.Apply(bundle.Args("sleep", "60")); err != nil {
					t.Fatal(err)
				}
				r.mustRun("run", "--detach", "--bundle", b.Dir, "fds-exec")
				fds = decodeProbe(t, r.mustRun("exec", "fds-exec", "/bin/probe")).FDs
			}
			for fd, what := range fds {
				if fd > 2 {
					t.Errorf("descriptor %d (%s) reached the container process", fd, what)
				}
			}
		})
	}
}

// CVE-2024-21626: a working directory given as /proc/self/fd/N must not
// let the process start outside the container's root, whatever N is.
func TestCwdOutsideRootRefused(t *testing.T) { bothModes(t, testCwdOutsideRootRefused) }

func testCwdOutsideRootRefused(t *testing.T, r *runtime, newBundle bundleMaker) {
	for fd := 3; fd <= 12; fd++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", fd)
		b := newBundle(t, bundle.Args("/bin/probe"), func(s *specs.Spec) { s.Process.Cwd = cwd })
		id := fmt.Sprintf("cwd%d", fd)
		out, errs, err := r.run("run", "--bundle", b.Dir, id)
		if err == nil {
			rep := decodeProbe(t, out)
			t.Errorf("cwd %s: the container started, in %q", cwd, rep.Cwd)
			continue
		}
		if !strings.Contains(errs, "cwd") {
			t.Errorf("cwd %s: error does not name the cwd: %s", cwd, errs)
		}
	}
}

// CVE-2021-30465 and kin: a mount destination that is a symlink, absolute
// or relative, is resolved inside the rootfs; nothing lands on the host.
func TestMountTargetSymlinksStayInside(t *testing.T) { bothModes(t, testMountTargetSymlinksStayInside) }

func testMountTargetSymlinksStayInside(t *testing.T, r *runtime, newBundle bundleMaker) {
	host := t.TempDir() // the attacker's target on the host
	r.giveToUser(host)
	b := newBundle(t)
	rootfs := b.Rootfs()
	depth := strings.Repeat("../", strings.Count(rootfs, "/")+2)
	links := map[string]string{
		"/abs":      host,                           // absolute: /<host path> inside the rootfs
		"/rel":      filepath.Join(depth, host[1:]), // climbs out with ..
		"/etc/deep": filepath.Join("..", depth, host[1:]),
	}
	for link, target := range links {
		if err := os.Symlink(target, filepath.Join(rootfs, link)); err != nil {
			t.Fatal(err)
		}
	}
	err := b.Apply(
		bundle.Mount(specs.Mount{Destination: "/abs/m1", Type: "tmpfs", Source: "tmpfs"}),
		bundle.Mount(specs.Mount{Destination: "/rel/m2", Type: "tmpfs", Source: "tmpfs"}),
		bundle.Mount(specs.Mount{Destination: "/etc/deep/m3", Type: "bind", Source: "/etc", Options: []string{"rbind", "ro"}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	rep := r.runProbe(b, "symlinks")
	if got := mountsUnder(t, host); len(got) > 0 {
		t.Errorf("mounts landed on the host: %v", got)
	}
	if entries, _ := os.ReadDir(host); len(entries) > 0 {
		t.Errorf("the host directory was written to: %d entries", len(entries))
	}
	for _, m := range []string{"m1", "m2", "m3"} {
		if _, ok := rep.Mount(filepath.Join(host, m)); !ok {
			t.Errorf("mount %s not found inside the container at %s", m, filepath.Join(host, m))
		}
	}
}

// A rootfs whose /proc or /sys is a symlink is refused: mounting procfs
// or sysfs through it could cover anything.
func TestProcSysSymlinkRefused(t *testing.T) { bothModes(t, testProcSysSymlinkRefused) }

func testProcSysSymlinkRefused(t *testing.T, r *runtime, newBundle bundleMaker) {
	for _, dir := range []string{"proc", "sys"} {
		b := newBundle(t, bundle.Args("true"))
		p := filepath.Join(b.Rootfs(), dir)
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/tmp", p); err != nil {
			t.Fatal(err)
		}
		_, errs, err := r.run("run", "--bundle", b.Dir, "symlink-"+dir)
		if err == nil || !strings.Contains(errs, "symlink") {
			t.Errorf("/%s as a symlink: err %v, stderr %q; want a refusal naming the symlink", dir, err, errs)
		}
	}
}

// Bind mounts over /proc files other than the harmless few runc allows are
// refused: they could hide or redirect kernel interfaces.
func TestMountOverProcRefused(t *testing.T) { bothModes(t, testMountOverProcRefused) }

func testMountOverProcRefused(t *testing.T, r *runtime, newBundle bundleMaker) {
	src := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(src, []byte("|/tmp/pwn"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, bundle.Args("true"),
		bundle.Mount(specs.Mount{Destination: "/proc/sys/kernel/core_pattern", Type: "bind", Source: src, Options: []string{"bind"}}))
	_, errs, err := r.run("run", "--bundle", b.Dir, "overproc")
	if err == nil || !strings.Contains(errs, "not allowed") {
		t.Errorf("bind over /proc/sys/kernel/core_pattern: err %v, stderr %q; want it refused", err, errs)
	}
}

// CVE-2025-31133: masked files are covered with the host's /dev/null, not
// whatever the container's /dev/null is. Here the container's /dev is a
// bind mount of a directory the attacker controls (so the runtime creates
// no device nodes there), whose "null" is a symlink to a file the attacker
// wants exposed at the masked path.
func TestMaskSourceIsHostNull(t *testing.T) { bothModes(t, testMaskSourceIsHostNull) }

func testMaskSourceIsHostNull(t *testing.T, r *runtime, newBundle bundleMaker) {
	dev := t.TempDir()
	r.giveToUser(dev)
	if err := os.Symlink("/secret", filepath.Join(dev, "null")); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, withoutMount("/dev/pts"), withoutMount("/dev/shm"), withoutMount("/dev/mqueue"),
		func(s *specs.Spec) {
			for i, m := range s.Mounts {
				if m.Destination == "/dev" {
					s.Mounts[i] = specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind"}}
				}
			}
		},
		bundle.Args("/bin/attack", "readfile", "/proc/keys"))
	if err := os.WriteFile(filepath.Join(b.Rootfs(), "secret"), []byte("exposed"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, err := r.run("run", "--bundle", b.Dir, "masknull")
	if err != nil {
		t.Fatalf("run: %v: %s", err, errs)
	}
	if out != "" {
		t.Errorf("masked /proc/keys reads %q, want it empty (the real null device)", out)
	}
}

// CVE-2025-52565: a /dev/console that is a symlink in the rootfs is
// refused rather than followed when the console is bind-mounted there.
func TestConsoleSymlinkRefused(t *testing.T) { bothModes(t, testConsoleSymlinkRefused) }

func testConsoleSymlinkRefused(t *testing.T, r *runtime, newBundle bundleMaker) {
	b := newBundle(t, withoutMount("/dev"), bundle.Terminal(true), bundle.Args("true"))
	dev := filepath.Join(b.Rootfs(), "dev")
	if err := os.MkdirAll(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dev, "console")); err != nil {
		t.Fatal(err)
	}
	sock := consoleSocket(t)
	r.giveToUser(filepath.Dir(sock.path))
	r.giveToUser(sock.path)
	_, errs, err := r.run("create", "--bundle", b.Dir, "--console-socket", sock.path, "consolelink")
	if err == nil || !strings.Contains(errs, "/dev/console") {
		t.Errorf("/dev/console as a symlink: err %v, stderr %q; want a refusal", err, errs)
	}
}

// CVE-2025-52881: sysctls are written through the runtime's own procfs,
// not the container's /proc. Here the container has no /proc mount and its
// rootfs plants /proc/sys/net/ipv4/ip_forward as a symlink to a file the
// write would corrupt.
func TestSysctlNotRedirected(t *testing.T) { bothModes(t, testSysctlNotRedirected) }

func testSysctlNotRedirected(t *testing.T, r *runtime, newBundle bundleMaker) {
	b := newBundle(t, withoutMount("/proc"), bundle.WritableRoot(), bundle.Args("true"), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	})
	victim := filepath.Join(b.Rootfs(), "victim")
	if err := os.WriteFile(victim, []byte("intact"), 0o644); err != nil {
		t.Fatal(err)
	}
	ownLikeRootfs(t, b, victim) // writable by the container's root, user namespace or not
	dir := filepath.Join(b.Rootfs(), "proc/sys/net/ipv4")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/victim", filepath.Join(dir, "ip_forward")); err != nil {
		t.Fatal(err)
	}
	r.mustRun("run", "--bundle", b.Dir, "sysctl")
	if got, _ := os.ReadFile(victim); string(got) != "intact" {
		t.Errorf("the sysctl write went through the rootfs symlink: victim now %q", got)
	}
}

func withoutMount(dest string) bundle.Modifier {
	return func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != dest {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	}
}
