package engine

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRunForegroundOutputAndExitCodes(t *testing.T) {
	c := newCLI(t)
	out, errs, code := c.run(nil, "run", "--rm", "busybox:test", "sh", "-c", "echo out; echo err >&2; exit 3")
	if out != "out\n" || errs != "err\n" || code != 3 {
		t.Errorf("run: stdout %q stderr %q exit %d, want \"out\\n\" \"err\\n\" 3", out, errs, code)
	}
	cases := []struct {
		name string
		args []string
		want int
		msg  string
	}{
		{"success", []string{"run", "--rm", "busybox:test", "true"}, 0, ""},
		{"not found", []string{"run", "--rm", "busybox:test", "nosuchcmd"}, 127, "executable file not found in $PATH"},
		{"not executable", []string{"run", "--rm", "busybox:test", "/etc/notexec"}, 126, "permission denied"},
		{"a directory", []string{"run", "--rm", "busybox:test", "/etc"}, 126, "is a directory"},
		{"unknown flag", []string{"run", "--nosuchflag", "busybox:test"}, 125, "unknown flag"},
		{"bad restart", []string{"run", "--restart", "sometimes", "busybox:test", "true"}, 125, "invalid restart policy"},
		{"rm and restart", []string{"run", "--rm", "--restart", "always", "busybox:test", "true"}, 125, "cannot specify both --restart and --rm"},
		{"no image", []string{"run", "--rm", "--pull", "never", "nosuchimage:1", "true"}, 125, "No such image"},
		{"bad name", []string{"run", "--name", "-bad", "busybox:test", "true"}, 125, "Invalid container name"},
		{"unknown user", []string{"run", "--rm", "-u", "nosuchuser", "busybox:test", "true"}, 125, "unable to find user nosuchuser"},
		{"bad volume", []string{"run", "--rm", "-v", "b$d:/x", "busybox:test", "true"}, 125, "includes invalid characters for a local volume name"},
		{"volume mode", []string{"run", "--rm", "-v", "vol:/x:rshared", "busybox:test", "true"}, 125, "invalid mode: rshared"},
		{"volume driver", []string{"run", "--rm", "--mount", "type=volume,src=vd,dst=/x,volume-driver=nfs", "busybox:test", "true"}, 125, `plugin "nfs" not found`},
		{"duplicate mount", []string{"run", "--rm", "-v", "vol:/x", "--tmpfs", "/x", "busybox:test", "true"}, 125, "Duplicate mount point: /x"},
		{"bad mount", []string{"run", "--rm", "--mount", "type=bind,target=/x", "busybox:test", "true"}, 125, "field Source must not be empty"},
		{"bad memory", []string{"run", "--rm", "-m", "lots", "busybox:test", "true"}, 125, "invalid size"},
		{"bad cpus", []string{"run", "--rm", "--cpus", "x", "busybox:test", "true"}, 125, "--cpus"},
		{"bad ulimit", []string{"run", "--rm", "--ulimit", "nofile", "busybox:test", "true"}, 125, "invalid ulimit argument"},
		{"ulimit above host", []string{"run", "--rm", "--ulimit", "nofile=1000000:1000000", "busybox:test", "true"}, 125, "exceeds this host's hard limit"},
		{"unknown cap", []string{"run", "--rm", "--cap-add", "CAP_NOPE", "busybox:test", "true"}, 125, "unknown capability"},
		{"bad network", []string{"run", "--rm", "--network", "mynet", "busybox:test", "true"}, 125, "network mynet not found"},
		{"bad security opt", []string{"run", "--rm", "--security-opt", "label=bogus", "busybox:test", "true"}, 125, "invalid --security-opt"},
		{"bad signal", []string{"run", "--rm", "--stop-signal", "SIGNOPE", "busybox:test", "true"}, 125, "invalid signal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, code := c.run(nil, tc.args...)
			if code != tc.want || !strings.Contains(errs, tc.msg) {
				t.Errorf("pelagos %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, errs, tc.want, tc.msg)
			}
		})
	}
	// Failed starts of --rm containers are removed too.
	c.assertClean()
}

func TestRunFailedStartKeepsDockersRecord(t *testing.T) {
	c := newCLI(t)
	c.fails(127, "run", "--name", "nocmd", "busybox:test", "nosuchcmd")
	if got := c.field("nocmd", "{{.State.Status}} {{.State.ExitCode}}"); got != "created 127" {
		t.Errorf("after a failed start: state %q, want \"created 127\"", got)
	}
	if got := c.field("nocmd", "{{.State.Error}}"); !strings.Contains(got, "executable file not found") {
		t.Errorf("State.Error = %q, want the start error", got)
	}
	c.ok("rm", "nocmd")
	c.assertClean()
}

func TestRunRemovesWithRm(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--rm", "--name", "gone", "busybox:test", "true")
	c.fails(1, "inspect", "gone")
	c.ok("run", "-d", "--rm", "--name", "gone2", "busybox:test", "true")
	waitFor(t, "the --rm container to be removed", func() bool {
		_, _, code := c.run(nil, "inspect", "gone2")
		return code != 0
	})
	// The monitor removes the container as its last step, then exits:
	// it may still be on its way out when the container is gone.
	waitFor(t, "the monitor to exit after removing the container", func() bool {
		return len(c.monitors()) == 0
	})
	c.assertClean()
}

// TestRunRmRootfsIsVolatile: the writable layer of a --rm container, which
// dies with it, is mounted volatile (no sync at unmount, where overlayfs
// otherwise syncs the whole host filesystem); a container that is kept
// has a durable one.
func TestRunRmRootfsIsVolatile(t *testing.T) {
	c := newCLI(t)
	rootMount := `awk '$2 == "/" && $3 == "overlay"' /proc/self/mounts`
	if m := c.ok("run", "--rm", "busybox:test", "sh", "-c", rootMount); !strings.Contains(m, "volatile") {
		t.Errorf("--rm container's root mount is not volatile: %q", m)
	}
	c.ok("run", "-d", "--name", "kept", "busybox:test", "sleep", "100")
	if m := c.ok("exec", "kept", "sh", "-c", rootMount); m == "" || strings.Contains(m, "volatile") {
		t.Errorf("kept container's root mount: %q, want an overlay without volatile", m)
	}
	c.ok("rm", "-f", "kept")
	c.assertClean()
}

// inside runs a shell command in a new container with extra flags and
// returns its stdout.
func (c *cli) inside(flags []string, script string) string {
	c.t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), "busybox:test", "sh", "-c", script)
	return c.ok(args...)
}

func TestRunProcessFlags(t *testing.T) {
	t.Setenv("PASSED", "through")
	c := newCLI(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROMFILE=yes\n\nOVER=file\n"), 0o644)
	cases := []struct {
		name   string
		flags  []string
		script string
		want   string
	}{
		{"env", []string{"-e", "A=1", "-e", "B=two words", "-e", "PASSED", "--env-file", envFile, "-e", "OVER=flag"}, `echo "$A|$B|$PASSED|$FROMFILE|$OVER"`, "1|two words|through|yes|flag"},
		{"default env", nil, `echo "$PATH|$HOSTNAME|$HOME"`, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|%h|/root"},
		{"workdir", []string{"-w", "/tmp/new/dir"}, "pwd", "/tmp/new/dir"},
		{"user by name", []string{"-u", "app"}, "id", "uid=1000(app) gid=50(staff) groups=60(extra)"},
		{"user and group", []string{"-u", "app:root"}, "id -u; id -g", "1000\n0"},
		{"numeric user", []string{"-u", "4242:4343"}, "id -u; id -g", "4242\n4343"},
		{"user home", []string{"-u", "app"}, "echo $HOME", "/home/app"},
		{"hostname", []string{"-h", "myhost"}, "hostname; cat /etc/hostname", "myhost\nmyhost"},
		{"default hostname", nil, "hostname", "%h"},
		{"labels are not env", []string{"-l", "a=b"}, "env | grep -c a=b || true", "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flags := append([]string{"--name", "p-" + strings.ReplaceAll(tc.name, " ", "-")}, tc.flags...)
			args := append(append([]string{"run"}, flags...), "busybox:test", "sh", "-c", tc.script)
			got := strings.TrimSpace(c.ok(args...))
			want := strings.ReplaceAll(tc.want, "%h", c.field(flags[1], "{{slice .Id 0 12}}"))
			c.ok("rm", flags[1])
			if got != want {
				t.Errorf("run %v: %q, want %q", tc.flags, got, want)
			}
		})
	}
}

func TestRunEntrypointAndCmd(t *testing.T) {
	c := newCLI(t)
	// The image's CMD is /bin/sh: with -i and stdin it runs the script.
	out, _, code := c.run([]byte("echo from-stdin\n"), "run", "--rm", "-i", "busybox:test")
	if code != 0 || out != "from-stdin\n" {
		t.Errorf("image CMD with -i: %q exit %d", out, code)
	}
	if got := c.ok("run", "--rm", "--entrypoint", "/bin/echo", "busybox:test", "a", "b"); got != "a b\n" {
		t.Errorf("--entrypoint echo a b: %q", got)
	}
	// --entrypoint alone drops the image's CMD.
	if got := c.ok("run", "--rm", "--entrypoint", "/bin/echo", "busybox:test"); got != "\n" {
		t.Errorf("--entrypoint echo without args: %q, want an empty line", got)
	}
	// Without -i the container's stdin is empty.
	out, _, _ = c.run([]byte("echo leaked\n"), "run", "--rm", "busybox:test", "cat")
	if out != "" {
		t.Errorf("stdin reached a container run without -i: %q", out)
	}
}

func TestRunMounts(t *testing.T) {
	c := newCLI(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("host file\n"), 0o644)
	missing := filepath.Join(t.TempDir(), "made", "by", "v")
	cases := []struct {
		name   string
		flags  []string
		script string
		want   string
	}{
		{"bind rw", []string{"-v", host + ":/data"}, "cat /data/f; echo new > /data/g", "host file"},
		{"bind ro", []string{"-v", host + ":/data:ro"}, "cat /data/f; echo x > /data/h 2>/dev/null || echo refused", "host file\nrefused"},
		{"-v creates its source", []string{"-v", missing + ":/m"}, "ls -d /m", "/m"},
		{"mount bind readonly", []string{"--mount", "type=bind,source=" + host + ",target=/d,readonly"}, "touch /d/x 2>/dev/null || echo refused", "refused"},
		{"mount tmpfs", []string{"--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m"}, "grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4", "tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k"},
		{"tmpfs flag", []string{"--tmpfs", "/run/x:size=2m"}, "grep ' /run/x ' /proc/mounts | cut -d' ' -f3", "tmpfs"},
		{"read-only rootfs", []string{"--read-only"}, "touch /x 2>/dev/null || echo refused; touch /tmp/y 2>/dev/null || echo tmp-refused", "refused\ntmp-refused"},
		{"shm 64m", nil, "grep ' /dev/shm ' /proc/mounts | cut -d' ' -f4", "rw,nosuid,nodev,noexec,relatime,size=65536k"},
		{"shm size", []string{"--shm-size", "8m"}, "grep ' /dev/shm ' /proc/mounts | grep -o size=[0-9a-z]*", "size=8192k"},
		{"etc files", nil, "grep -c localhost /etc/hosts; grep -c nameserver /etc/resolv.conf >/dev/null && echo ns", "2\nns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.TrimSpace(c.inside(tc.flags, tc.script)); got != tc.want {
				t.Errorf("run %v: %q, want %q", tc.flags, got, tc.want)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(host, "g")); err != nil || string(b) != "new\n" {
		t.Errorf("write through the rw bind: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(host, "h")); err == nil {
		t.Errorf("a write went through the read-only bind")
	}
	c.fails(125, "run", "--rm", "--mount", "type=bind,source=/nonexistent-pelagos,target=/x", "busybox:test", "true")
	c.assertClean()
}

func TestRunSecurityDefaults(t *testing.T) {
	c := newCLI(t)
	status := func(flags ...string) map[string]string {
		t.Helper()
		out := c.inside(flags, "cat /proc/self/status")
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				m[k] = strings.TrimSpace(v)
			}
		}
		return m
	}
	// Docker's 14 default capabilities.
	const dockerCaps = "00000000a80425fb"
	def := status()
	if def["CapEff"] != dockerCaps || def["CapBnd"] != dockerCaps || def["Seccomp"] != "2" || def["NoNewPrivs"] != "0" {
		t.Errorf("defaults: CapEff %s CapBnd %s Seccomp %s NoNewPrivs %s; want %s %s 2 0", def["CapEff"], def["CapBnd"], def["Seccomp"], def["NoNewPrivs"], dockerCaps, dockerCaps)
	}
	if s := status("--cap-add", "SYS_ADMIN", "--cap-drop", "NET_RAW"); s["CapEff"] != "00000000a82405fb" {
		t.Errorf("--cap-add SYS_ADMIN --cap-drop NET_RAW: CapEff %s, want 00000000a82405fb", s["CapEff"])
	}
	if s := status("--cap-drop", "ALL", "--cap-add", "CHOWN"); s["CapEff"] != "0000000000000001" {
		t.Errorf("--cap-drop ALL --cap-add CHOWN: CapEff %s", s["CapEff"])
	}
	if s := status("-u", "app"); s["CapEff"] != "0000000000000000" || s["CapBnd"] != dockerCaps {
		t.Errorf("non-root user: CapEff %s CapBnd %s, want none effective", s["CapEff"], s["CapBnd"])
	}
	if s := status("--security-opt", "seccomp=unconfined"); s["Seccomp"] != "0" {
		t.Errorf("seccomp=unconfined: Seccomp %s", s["Seccomp"])
	}
	if s := status("--security-opt", "no-new-privileges"); s["NoNewPrivs"] != "1" {
		t.Errorf("no-new-privileges: NoNewPrivs %s", s["NoNewPrivs"])
	}
	if s := status("--privileged"); s["Seccomp"] != "0" || strings.TrimLeft(s["CapEff"], "0") == strings.TrimLeft(dockerCaps, "0") {
		t.Errorf("--privileged: Seccomp %s CapEff %s", s["Seccomp"], s["CapEff"])
	}
	// Masked and read-only kernel paths, as attacks: reading a masked
	// file gives nothing, writing a sysctl fails.
	got := c.inside(nil, "wc -c < /proc/interrupts; echo 1 > /proc/sys/kernel/sysrq 2>/dev/null || echo ro")
	if f := strings.Fields(got); len(f) != 2 || f[0] != "0" || f[1] != "ro" {
		t.Errorf("masked /proc/interrupts or read-only /proc/sys not in place: %q", got)
	}
	if got := c.inside([]string{"--privileged"}, "wc -c < /proc/interrupts"); strings.TrimSpace(got) == "0" {
		t.Errorf("--privileged keeps /proc/interrupts masked: %q", got)
	}
	// The default seccomp profile blocks what Docker's blocks.
	if got := c.inside(nil, "unshare -U true 2>&1 || echo blocked"); !strings.Contains(got, "blocked") {
		t.Errorf("unshare of a user namespace allowed under the default profile: %q", got)
	}
}

func TestRunResourcesAndLimits(t *testing.T) {
	c := newCLI(t)
	cases := []struct {
		name   string
		flags  []string
		script string
		want   string
	}{
		{"memory", []string{"-m", "64m"}, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes", "67108864"},
		{"cpus", []string{"--cpus", "0.5"}, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us", "50000\n100000"},
		{"pids", []string{"--pids-limit", "42"}, "cat /sys/fs/cgroup/pids/pids.max", "42"},
		{"ulimit", []string{"--ulimit", "nofile=100:200"}, "ulimit -Sn; ulimit -Hn", "100\n200"},
		{"default nofile within the host's", nil, "ulimit -Hn", ""},
		{"own cgroup", []string{"--cgroupns", "private"}, "cat /proc/self/cgroup | grep -c memory:/$", "1"},
	}
	var hard string
	if b, err := os.ReadFile("/proc/self/limits"); err == nil {
		re := regexp.MustCompile(`Max open files\s+\d+\s+(\d+)`)
		if m := re.FindSubmatch(b); m != nil {
			hard = string(m[1])
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = hard
			}
			if got := strings.TrimSpace(c.inside(tc.flags, tc.script)); got != want {
				t.Errorf("run %v: %q, want %q", tc.flags, got, want)
			}
		})
	}
	// The container's cgroup is its own, under the configured parent.
	id := strings.TrimSpace(c.ok("run", "-d", "busybox:test", "sleep", "100"))
	for _, d := range c.cgroupDirs() {
		if strings.Contains(d, "/memory/") {
			if _, err := os.Stat(filepath.Join(d, id)); err != nil {
				t.Errorf("container cgroup %s/%s: %v", d, id, err)
			}
		}
	}
	c.ok("rm", "-f", id)
	c.assertClean()
}

func TestRunNetworkModes(t *testing.T) {
	c := newCLI(t)
	if got := c.inside([]string{"--network", "none"}, "ls /sys/class/net | tr '\\n' ' '"); strings.TrimSpace(got) != "lo" {
		t.Errorf("--network none: interfaces %q, want lo alone", got)
	}
	// The interfaces of our own network namespace (the tests run in one
	// of their own: /sys shows the machine's).
	hostIfs, _ := net.Interfaces()
	got := strings.Fields(c.inside([]string{"--network", "host"}, "ls /sys/class/net"))
	if len(got) != len(hostIfs) {
		t.Errorf("--network host: %d interfaces, the host has %d", len(got), len(hostIfs))
	}
	hn, _ := os.Hostname()
	if got := strings.TrimSpace(c.inside([]string{"--network", "host"}, "hostname")); got != hn {
		t.Errorf("--network host: hostname %q, want the host's %q", got, hn)
	}
}

// -a/--attach picks the streams a foreground run shows; the others are
// still logged. stdin reaches the process only when attached.
func TestRunAttachStreams(t *testing.T) {
	c := newCLI(t)
	script := "echo out; echo err >&2; read -r line; echo in=$line"
	cases := []struct {
		name             string
		flags            []string
		wantOut, wantErr string
	}{
		{"default", nil, "out\nin=\n", "err\n"},
		{"stdout only", []string{"-a", "stdout"}, "out\nin=\n", ""},
		{"stderr only", []string{"-a", "STDERR"}, "", "err\n"},
		{"stdin and stdout", []string{"-i", "-a", "stdin", "-a", "stdout"}, "out\nin=hello\n", ""},
		{"-i without -a stdin", []string{"-i", "-a", "stdout"}, "out\nin=\n", ""},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("att%d", i)
		args := append(append([]string{"run", "--name", name}, tc.flags...), "busybox:test", "sh", "-c", script)
		out, errs, code := c.run([]byte("hello\n"), args...)
		if code != 0 || out != tc.wantOut || errs != tc.wantErr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0, %q, %q", tc.name, code, out, errs, tc.wantOut, tc.wantErr)
		}
		// Whatever was not shown was logged.
		if logs, logErrs, _ := c.run(nil, "logs", name); !strings.Contains(logs, "out\n") || !strings.Contains(logErrs, "err\n") {
			t.Errorf("%s: logs %q / %q, want both streams", tc.name, logs, logErrs)
		}
	}
	if errs := c.fails(125, "run", "-d", "-a", "stdout", "busybox:test", "true"); !strings.Contains(errs, "Conflicting options: -a and -d") {
		t.Errorf("-a with -d: %q", errs)
	}
	if errs := c.fails(125, "run", "-a", "stdfoo", "busybox:test", "true"); !strings.Contains(errs, "valid streams are STDIN, STDOUT and STDERR") {
		t.Errorf("-a stdfoo: %q", errs)
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}
