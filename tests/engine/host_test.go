package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

// TestRunDevices: --device creates the node inside the container with the
// host's numbers, grants only the asked access in the device cgroup, and a
// missing device is a clear error; --device-cgroup-rule opens a device
// the container makes itself.
func TestRunDevices(t *testing.T) {
	c := newCLI(t)
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skipf("no /dev/loop-control on this host to map: %v", err)
	}
	out := c.ok("run", "--rm", "--device", "/dev/null:/dev/mynull", "busybox:test", "sh", "-c", "ls -l /dev/mynull; echo x > /dev/mynull && echo wrote")
	if !strings.HasPrefix(out, "c") || !strings.Contains(out, "1,   3") || !strings.Contains(out, "wrote") {
		t.Errorf("--device /dev/null:/dev/mynull: got %q, want a writable character device 1, 3", out)
	}
	// loop-control is not among the devices every container may use:
	// only the rule --device makes lets it in, with the asked access.
	_, errs, code := c.run(nil, "run", "--rm", "--device", "/dev/loop-control:/dev/lc:r", "busybox:test", "sh", "-c", ": < /dev/lc && echo > /dev/lc")
	if code == 0 || !strings.Contains(errs, "Operation not permitted") {
		t.Errorf("write to a device mapped :r: exit %d, stderr %q; want Operation not permitted", code, errs)
	}
	c.ok("run", "--rm", "--device", "/dev/loop-control:/dev/lc", "busybox:test", "sh", "-c", ": < /dev/lc && : > /dev/lc")
	_, errs, _ = c.run(nil, "run", "--rm", "busybox:test", "sh", "-c", "mknod /dev/lc c 10 237 && : < /dev/lc")
	if !strings.Contains(errs, "Operation not permitted") {
		t.Errorf("open of a device no rule allows: stderr %q, want Operation not permitted", errs)
	}
	c.ok("run", "--rm", "--device-cgroup-rule", "c 10:237 r", "busybox:test", "sh", "-c", "mknod /dev/lc c 10 237 && : < /dev/lc")
	if got := c.field(strings.TrimSpace(c.ok("create", "--device", "/dev/null:/dev/n:rw", "busybox:test")), "{{json .HostConfig.Devices}}"); got != `[{"CgroupPermissions":"rw","PathInContainer":"/dev/n","PathOnHost":"/dev/null"}]` {
		t.Errorf("inspect HostConfig.Devices = %s", got)
	}
	// A directory maps every device node below it.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []struct {
		path string
		dev  int
	}{{"null", int(unix.Mkdev(1, 3))}, {"sub/zero", int(unix.Mkdev(1, 5))}} {
		if err := unix.Mknod(filepath.Join(dir, n.path), unix.S_IFCHR|0o666, n.dev); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notadevice"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out = c.ok("run", "--rm", "--device", dir+":/dev/set", "busybox:test", "sh", "-c", "find /dev/set | sort; head -c 4 /dev/set/sub/zero | od -An -c")
	if want := "/dev/set\n/dev/set/null\n/dev/set/sub\n/dev/set/sub/zero\n  \\0  \\0  \\0  \\0\n"; out != want {
		t.Errorf("--device DIR: got %q, want %q", out, want)
	}
	empty := t.TempDir()
	for _, tc := range []struct{ args, msg string }{
		{"--device " + empty, "a directory with no device nodes"},
		{"--device /dev/nosuchdevice", `error gathering device information while adding custom device "/dev/nosuchdevice": no such file or directory`},
		{"--device /etc/passwd", "not a device node"},
		{"--device /dev/null:/dev/n:rwx", "invalid device mode: rwx"},
		{"--device /dev/null:relative", "must be absolute"},
		{"--device-cgroup-rule x", "invalid device cgroup rule"},
	} {
		args := append(append([]string{"run", "--rm"}, strings.Fields(tc.args)...), "busybox:test", "true")
		if errs := c.fails(125, args...); !strings.Contains(errs, tc.msg) {
			t.Errorf("pelagos %s: stderr %q, want %q", strings.Join(args, " "), errs, tc.msg)
		}
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}

// TestRunSysctl: namespaced sysctls are set and read back inside; the
// host-wide ones and net.* without a network namespace of its own are
// refused.
func TestRunSysctl(t *testing.T) {
	c := newCLI(t)
	out := c.ok("run", "--rm", "--sysctl", "kernel.shmmax=12345678", "--sysctl", "net.ipv4.ip_forward=1",
		"--sysctl", "fs.mqueue.msg_max=20", "busybox:test", "cat", "/proc/sys/kernel/shmmax", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/fs/mqueue/msg_max")
	if want := "12345678\n1\n20\n"; out != want {
		t.Errorf("sysctls read back %q, want %q", out, want)
	}
	hostShm, _ := os.ReadFile("/proc/sys/kernel/shmmax")
	if strings.TrimSpace(string(hostShm)) == "12345678" {
		t.Errorf("the host's kernel.shmmax changed")
	}
	for _, tc := range []struct{ args, msg string }{
		{"--sysctl vm.swappiness=1", "sysctl 'vm.swappiness' is not allowed"},
		{"--sysctl kernel.core_pattern=x", "is not allowed"},
		{"--sysctl net.ipv4.ip_forward", "want KEY=VALUE"},
		{"--sysctl net.ipv4/../../kernel/core_pattern=x", "not a sysctl name"},
		{"--network host --sysctl net.ipv4.ip_forward=1", "not allowed with --network host"},
		{"--ipc host --sysctl kernel.shmmax=1", "not allowed with --ipc host"},
		{"--uts host --sysctl kernel.domainname=x", "not allowed with --uts host"},
	} {
		args := append(append([]string{"run", "--rm"}, strings.Fields(tc.args)...), "busybox:test", "true")
		if errs := c.fails(125, args...); !strings.Contains(errs, tc.msg) {
			t.Errorf("pelagos %s: stderr %q, want %q", strings.Join(args, " "), errs, tc.msg)
		}
	}
	c.assertClean()
}

// nsLink is our own namespace of type typ, as /proc/self/ns shows it.
func nsLink(t *testing.T, typ string) string {
	t.Helper()
	l, err := os.Readlink("/proc/self/ns/" + typ)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRunNamespaceModes: --pid, --ipc, --uts, --cgroupns host keep the
// host's namespace, the defaults do not; --userns host is the host's.
func TestRunNamespaceModes(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		flag, ns string
		own      []string // what gives the container its own namespace
	}{{"--pid", "pid", nil}, {"--ipc", "ipc", nil}, {"--uts", "uts", nil}, {"--cgroupns", "cgroup", []string{"--cgroupns", "private"}}} {
		host := nsLink(t, tc.ns)
		got := strings.TrimSpace(c.ok("run", "--rm", tc.flag, "host", "busybox:test", "readlink", "/proc/self/ns/"+tc.ns))
		if got != host {
			t.Errorf("%s host: namespace %s, want the host's %s", tc.flag, got, host)
		}
		got = strings.TrimSpace(c.ok(append(append([]string{"run", "--rm"}, tc.own...), "busybox:test", "readlink", "/proc/self/ns/"+tc.ns)...))
		if got == host {
			t.Errorf("%v: namespace %s is the host's", tc.own, got)
		}
	}
	// --pid host: our own process is visible; by default it is not.
	probe := fmt.Sprintf("test -d /proc/%d && echo visible || echo hidden", os.Getpid())
	if got := c.ok("run", "--rm", "--pid", "host", "busybox:test", "sh", "-c", probe); got != "visible\n" {
		t.Errorf("--pid host: the test process is %q, want visible", got)
	}
	if got := c.ok("run", "--rm", "busybox:test", "sh", "-c", probe); got != "hidden\n" {
		t.Errorf("default pid namespace: the test process is %q, want hidden", got)
	}
	// --uts host: the host's name, everywhere the container looks.
	host, _ := os.Hostname()
	if got, want := c.ok("run", "--rm", "--uts", "host", "busybox:test", "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME"), strings.Repeat(host+"\n", 3); got != want {
		t.Errorf("--uts host: hostname %q, want %q", got, want)
	}
	// --cgroupns host: the full cgroup path shows.
	if got := c.ok("run", "--rm", "--cgroupns", "host", "busybox:test", "cat", "/proc/self/cgroup"); !strings.Contains(got, c.cgroup+"/") {
		t.Errorf("--cgroupns host: /proc/self/cgroup %q does not show the cgroup parent %s", got, c.cgroup)
	}
	if got := c.ok("run", "--rm", "--userns", "host", "busybox:test", "cat", "/proc/self/uid_map"); strings.Join(strings.Fields(got), " ") != "0 0 4294967295" {
		t.Errorf("--userns host: uid_map %q, want the host's identity map", got)
	}
	for _, tc := range []struct{ args, msg string }{
		{"--pid bogus", `invalid --pid mode: "bogus"`},
		{"--ipc container:", "needs a container name"},
		{"--userns bogus", `invalid --userns mode: "bogus"`},
		{"--uts host -h name", "Conflicting options: hostname and the UTS mode"},
		{"--ipc host --shm-size 1m", "--shm-size applies to a private /dev/shm only"},
		{"-h " + strings.Repeat("x", 65), "invalid hostname format"},
	} {
		args := append(append([]string{"run", "--rm"}, strings.Fields(tc.args)...), "busybox:test", "true")
		if errs := c.fails(125, args...); !strings.Contains(errs, tc.msg) {
			t.Errorf("pelagos %s: stderr %q, want %q", strings.Join(args, " "), errs, tc.msg)
		}
	}
	c.assertClean()
}

// TestRunJoinContainerNamespaces: --pid container:NAME sees that
// container's processes; --ipc container:NAME shares its IPC namespace and
// its /dev/shm, and only a shareable donor's; --ipc none has no /dev/shm.
func TestRunJoinContainerNamespaces(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "donor", "--ipc", "shareable", "--shm-size", "2m", "busybox:test", "sh", "-c", "echo shared > /dev/shm/x; exec sleep 1000")
	c.ok("run", "-d", "--name", "private", "busybox:test", "sleep", "1000")
	waitFor(t, "the donor to write /dev/shm/x", func() bool {
		_, _, code := c.run(nil, "exec", "donor", "test", "-f", "/dev/shm/x")
		return code == 0
	})
	if got := c.ok("run", "--rm", "--pid", "container:donor", "busybox:test", "ps", "-o", "args"); !strings.Contains(got, "sleep 1000") {
		t.Errorf("--pid container:donor: ps shows %q, want the donor's sleep", got)
	}
	donorIPC := strings.TrimSpace(c.ok("exec", "donor", "readlink", "/proc/1/ns/ipc"))
	out := c.ok("run", "--rm", "--ipc", "container:donor", "busybox:test", "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/x; df -k /dev/shm | tail -1")
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || lines[0] != donorIPC || lines[1] != "shared" || !strings.Contains(lines[2], " 2048 ") {
		t.Errorf("--ipc container:donor: got %q, want namespace %s, /dev/shm/x \"shared\" and the donor's 2 MiB /dev/shm", out, donorIPC)
	}
	if errs := c.fails(125, "run", "--rm", "--ipc", "container:private", "busybox:test", "true"); !strings.Contains(errs, "non-shareable") {
		t.Errorf("--ipc container:private: stderr %q, want the non-shareable refusal", errs)
	}
	c.ok("create", "--name", "notrunning", "busybox:test", "true")
	// A donor without a bridge network: the joiner enters the namespace
	// of the donor's init, checked with the runtime to still be that init.
	c.ok("run", "-d", "--name", "netdonor", "--network", "none", "busybox:test", "sleep", "1000")
	donorNet := strings.TrimSpace(c.ok("exec", "netdonor", "readlink", "/proc/1/ns/net"))
	if got := strings.TrimSpace(c.ok("run", "--rm", "--network", "container:netdonor", "busybox:test", "readlink", "/proc/self/ns/net")); got != donorNet {
		t.Errorf("--network container:netdonor: namespace %s, want the donor's %s", got, donorNet)
	}
	for _, mode := range []string{"--pid", "--ipc", "--network"} {
		if errs := c.fails(125, "run", "--rm", mode, "container:notrunning", "busybox:test", "true"); !strings.Contains(errs, "non running container") {
			t.Errorf("%s container:notrunning: stderr %q, want the non running refusal", mode, errs)
		}
	}
	if got := c.ok("run", "--rm", "--ipc", "none", "busybox:test", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts || true"); got != "0\n" {
		t.Errorf("--ipc none: %q /dev/shm mounts, want none", got)
	}
	c.ok("rm", "-f", "donor", "private", "notrunning", "netdonor")
	c.ok("container", "prune", "-f")
	c.assertClean()
}

// TestRunCgroupKnobs: --cpu-shares, --cpuset-cpus, --cpuset-mems,
// --memory-reservation, --oom-kill-disable, --oom-score-adj and
// --group-add, each read back from inside the container.
func TestRunCgroupKnobs(t *testing.T) {
	c := newCLI(t)
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err != nil {
		t.Skipf("this test reads cgroup v1 files and this host has none: %v", err)
	}
	out := c.ok("run", "--rm", "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0",
		"-m", "128m", "--memory-reservation", "64m", "--oom-kill-disable", "--oom-score-adj", "500",
		"--group-add", "extra", "--group-add", "77", "busybox:test", "sh", "-c",
		"cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems /sys/fs/cgroup/memory/memory.soft_limit_in_bytes; "+
			"grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control; cat /proc/self/oom_score_adj; id -G; grep Cpus_allowed_list /proc/self/status")
	want := "512\n0\n0\n67108864\noom_kill_disable 1\n500\n0 60 77\nCpus_allowed_list:\t0\n"
	if out != want {
		t.Errorf("cgroup knobs read back:\n%s\nwant:\n%s", out, want)
	}
	for _, tc := range []struct{ args, msg string }{
		{"--oom-score-adj 1001", "range for oom score adj is [-1000, 1000]"},
		{"-m 64m --memory-reservation 128m", "can not be less than memory reservation"},
		{"--cpuset-cpus 0-4096", "Requested CPUs are not available"},
		{"--cpuset-cpus x", "Invalid value x for cpuset cpus"},
		{"--group-add nosuchgroup", "Unable to find group nosuchgroup"},
		{"--memory-reservation lots", "invalid size"},
	} {
		args := append(append([]string{"run", "--rm"}, strings.Fields(tc.args)...), "busybox:test", "true")
		if errs := c.fails(125, args...); !strings.Contains(errs, tc.msg) {
			t.Errorf("pelagos %s: stderr %q, want %q", strings.Join(args, " "), errs, tc.msg)
		}
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}

// TestCgroupnsDefault: a container that sets no --cgroupns gets docker's
// default, recorded in its HostConfig: a cgroup namespace of its own on a
// cgroup v2 host, the host's on a v1 or hybrid one (where its full cgroup
// path shows, as under docker there). The config file's
// default-cgroupns-mode replaces the default; a flag wins over the file.
func TestCgroupnsDefault(t *testing.T) {
	c := newCLI(t)
	hs, err := testenv.Hierarchies()
	if err != nil {
		t.Fatal(err)
	}
	want := "host"
	if len(hs) == 1 && hs[0].Name == "" {
		want = "private"
	}
	host := nsLink(t, "cgroup")
	id := strings.TrimSpace(c.ok("create", "busybox:test", "sh", "-c", "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup"))
	if got := c.field(id, "{{.HostConfig.CgroupnsMode}}"); got != want {
		t.Errorf("default cgroupns mode %q, want docker's %q on this host", got, want)
	}
	out := c.ok("start", "-a", id)
	ns, _, _ := strings.Cut(out, "\n")
	switch {
	case want == "host" && ns != host:
		t.Errorf("default on a cgroup v1 host: namespace %s, want the host's %s", ns, host)
	case want == "host" && !strings.Contains(out, c.cgroup+"/"+id):
		t.Errorf("default on a cgroup v1 host: /proc/self/cgroup %q does not show %s/%s", out, c.cgroup, id)
	case want == "private" && ns == host:
		t.Errorf("default on a cgroup v2 host: namespace %s is the host's", ns)
	}
	c.ok("rm", id)
	for _, mode := range []string{"private", "host"} {
		cfg := c.withConfig(t, `{"default-cgroupns-mode": "`+mode+`"}`)
		id := strings.TrimSpace(cfg.ok("create", "busybox:test", "readlink", "/proc/self/ns/cgroup"))
		if got := cfg.field(id, "{{.HostConfig.CgroupnsMode}}"); got != mode {
			t.Errorf("default-cgroupns-mode %s: the container's mode is %q", mode, got)
		}
		if ns := strings.TrimSpace(cfg.ok("start", "-a", id)); (ns == host) != (mode == "host") {
			t.Errorf("default-cgroupns-mode %s: namespace %s (the host's: %s)", mode, ns, host)
		}
		cfg.ok("rm", id)
		other := map[string]string{"private": "host", "host": "private"}[mode]
		if got := cfg.ok("run", "--rm", "--cgroupns", other, "busybox:test", "readlink", "/proc/self/ns/cgroup"); (strings.TrimSpace(got) == host) != (other == "host") {
			t.Errorf("--cgroupns %s over the file's %s: namespace %s (the host's: %s)", other, mode, strings.TrimSpace(got), host)
		}
	}
	c.assertClean()
}
