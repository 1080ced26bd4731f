package runtime_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"github.com/pelagos-go/pelagos/tests/bundle"
)

// x86_64 syscall numbers the tests call through /bin/attack.
const (
	sysGetppid = 110
	sysUname   = 63
	sysKeyctl  = 250
	sysMkdir   = 83
)

func withSeccomp(sc *specs.LinuxSeccomp) bundle.Modifier {
	return func(s *specs.Spec) { s.Linux.Seccomp = sc }
}

// Each action reaches the container process: ERRNO with its errno (only
// when the argument matches), KILL_PROCESS as death by SIGSYS, ALLOW for
// everything else.
func TestSeccompActionsInContainer(t *testing.T) {
	r := newRuntime(t)
	eperm := uint(1)
	sc := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"keyctl"}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: 7, Op: specs.OpEqualTo}}},
			{Names: []string{"uname"}, Action: specs.ActKillProcess},
		},
	}
	cases := []struct {
		name, want string
		args       []string
		exitCode   int
	}{
		{"errno on a matching argument", "operation not permitted", []string{"syscall", itoa(sysKeyctl), "7"}, 0},
		{"no errno on another argument", "", []string{"syscall", itoa(sysKeyctl), "8"}, 0},
		{"allow by default", "ok", []string{"syscall", itoa(sysGetppid)}, 0},
		{"kill process", "", []string{"syscall", itoa(sysUname), "0"}, 128 + int(unix.SIGSYS)},
	}
	for i, c := range cases {
		b := newBundle(t, withSeccomp(sc), bundle.Args(append([]string{"/bin/attack"}, c.args...)...))
		out, _, err := r.run("run", "--bundle", b.Dir, "seccomp"+itoa(i))
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok && err != nil {
			code = ee.ExitCode()
		}
		if code != c.exitCode {
			t.Errorf("%s: exit code %d, want %d (output %q)", c.name, code, c.exitCode, out)
		}
		if c.want != "" && !strings.HasPrefix(strings.TrimSpace(out), c.want) {
			t.Errorf("%s: %q, want %q", c.name, out, c.want)
		}
		if c.name == "no errno on another argument" && strings.Contains(out, "operation not permitted") {
			t.Errorf("%s: the rule matched an argument it should not: %q", c.name, out)
		}
	}
}

// SCMP_ACT_NOTIFY: the listener reaches the agent at listenerPath with the
// container's state and metadata, and the agent's answer reaches the
// container process.
func TestSeccompNotifyAgent(t *testing.T) {
	r := newRuntime(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		state specs.ContainerProcessState
		err   error
	}
	done := make(chan got, 1)
	go func() { done <- serveAgent(l) }()
	sc := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		Architectures:    []specs.Arch{specs.ArchX86_64},
		ListenerPath:     sock,
		ListenerMetadata: "pelagos-test",
		Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	b := newBundle(t, withSeccomp(sc), bundle.WritableRoot(), bundle.Args("/bin/attack", "syscall", itoa(sysMkdir), "0", "0"))
	out, errs, err := r.run("run", "--bundle", b.Dir, "notify1")
	if err != nil {
		t.Fatalf("run: %v: %s", err, errs)
	}
	g := <-done
	if g.err != nil {
		t.Fatalf("agent: %v", g.err)
	}
	if g.state.State.ID != "notify1" || g.state.Metadata != "pelagos-test" || len(g.state.Fds) != 1 || g.state.Pid == 0 {
		t.Errorf("agent got state %+v", g.state)
	}
	if !strings.Contains(out, "read-only file system") {
		t.Errorf("the agent's answer (EROFS) did not reach the process: %q", out)
	}
}

// serveAgent accepts one listener, answers one notification with EROFS.
func serveAgent(l *net.UnixListener) (g struct {
	state specs.ContainerProcessState
	err   error
}) {
	c, err := l.AcceptUnix()
	if err != nil {
		g.err = err
		return
	}
	defer c.Close()
	buf, oob := make([]byte, 65536), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		g.err = err
		return
	}
	if err := json.Unmarshal(buf[:n], &g.state); err != nil {
		g.err = err
		return
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		g.err = err
		return
	}
	listener := fds[0]
	defer unix.Close(listener)
	// struct seccomp_notif is 80 bytes: id u64, pid u32, flags u32,
	// seccomp_data (nr i32, arch u32, ip u64, args [6]u64).
	var notif [80]byte
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), ioctlNotifRecv, uintptr(unsafe.Pointer(&notif[0]))); errno != 0 {
		g.err = errno
		return
	}
	resp := struct {
		ID    uint64
		Val   int64
		Error int32
		Flags uint32
	}{ID: *(*uint64)(unsafe.Pointer(&notif[0])), Error: -int32(unix.EROFS)}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), ioctlNotifSend, uintptr(unsafe.Pointer(&resp))); errno != 0 {
		g.err = errno
	}
	return
}

// SECCOMP_IOCTL_NOTIF_RECV and _SEND: _IOWR('!', 0, struct seccomp_notif)
// and _IOWR('!', 1, struct seccomp_notif_resp).
const (
	ioctlNotifRecv = 0xc0502100
	ioctlNotifSend = 0xc0182101
)

// Docker's default profile blocks what Docker blocks while a busybox
// userland works under it.
func TestDockerProfileInContainer(t *testing.T) {
	r := newRuntime(t)
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	prof, err := dockerprofile.Default(caps)
	if err != nil {
		t.Fatal(err)
	}
	script := `echo hello | sort | awk '{print toupper($0)}'; mkdir -p /tmp/d && tar -cf /tmp/a.tar /etc 2>/dev/null && echo tar-ok; ` +
		`/bin/attack syscall 250 0; unshare -U true 2>/dev/null && echo unshare-worked; true`
	b := newBundle(t, withSeccomp(prof), bundle.WritableRoot(), bundle.Args("sh", "-c", script), func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	})
	out := r.mustRun("run", "--bundle", b.Dir, "docker-profile")
	for _, want := range []string{"HELLO", "tar-ok", "operation not permitted"} {
		if !strings.Contains(out, want) {
			t.Errorf("under Docker's profile the output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unshare-worked") {
		t.Errorf("unshare of a user namespace worked under Docker's profile:\n%s", out)
	}
}

// Bad profiles are refused before anything is created, naming the rule.
func TestSeccompBadProfiles(t *testing.T) {
	r := newRuntime(t)
	cases := []struct {
		name string
		sc   *specs.LinuxSeccomp
		want string
	}{
		{"unknown syscall", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno}, {Names: []string{"no_such_call"}, Action: specs.ActErrno}}}, `syscalls[1]: unknown syscall "no_such_call"`},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: "SCMP_ACT_EXPLODE"}}}, "SCMP_ACT_EXPLODE"},
		{"unknown architecture", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, "SCMP_ARCH_Z80"},
		{"unknown default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, "SCMP_ACT_MAYBE"},
		{"notify without a listener", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActNotify}}}, "listenerPath"},
	}
	for i, c := range cases {
		b := newBundle(t, withSeccomp(c.sc), bundle.Args("true"))
		before := len(initProcesses())
		_, errs, err := r.run("run", "--bundle", b.Dir, "badseccomp"+itoa(i))
		if err == nil || !strings.Contains(errs, c.want) {
			t.Errorf("%s: err %v, stderr %q; want it refused naming %q", c.name, err, errs, c.want)
		}
		if n := len(initProcesses()); n > before {
			t.Errorf("%s: an init was left running", c.name)
		}
		if entries, _ := os.ReadDir(r.root); len(entries) > 0 {
			t.Errorf("%s: state left behind", c.name)
		}
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
