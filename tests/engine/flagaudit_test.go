package engine

import (
	"archive/tar"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// The tests in this file are those that internal/cli's TestIssue6Audit
// found missing: each flag of issue 6 that no end-to-end test gave, with
// its effect read back.

// TestSecurityOptsPrivilegedIPCHost: --privileged gives the capabilities
// docker's set lacks, --ipc host shares the host's IPC namespace, and
// apparmor= and label= are accepted and recorded (applied only where the
// host has the module: not here, as docker does on such a host).
func TestSecurityOptsPrivilegedIPCHost(t *testing.T) {
	c := newCLI(t)
	hostIPC, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	c.ok("create", "--name", "sec", "--privileged", "--security-opt", "apparmor=unconfined", "--security-opt", "label=disable",
		"--ipc", "host", "busybox:test", "sh", "-c", "readlink /proc/self/ns/ipc; grep CapEff /proc/self/status")
	out := strings.Fields(c.ok("start", "-a", "sec"))
	if len(out) != 3 || out[0] != hostIPC {
		t.Fatalf("--ipc host --privileged: %q, want the host's IPC namespace %s and CapEff", out, hostIPC)
	}
	const capSysAdmin = 21 // not in docker's default set
	if eff, err := strconv.ParseUint(out[2], 16, 64); err != nil || eff&(1<<capSysAdmin) == 0 {
		t.Errorf("--privileged: CapEff %s lacks CAP_SYS_ADMIN", out[2])
	}
	if got, want := c.field("sec", "{{json .HostConfig.SecurityOpt}} {{.HostConfig.IpcMode}} {{.HostConfig.Privileged}}"),
		`["apparmor=unconfined","label=disable"] host true`; got != want {
		t.Errorf("record: %s, want %s", got, want)
	}
	// A named profile on a host without AppArmor: ignored, as by docker.
	if _, err := os.Stat("/sys/module/apparmor"); err != nil {
		if got := c.ok("run", "--rm", "--security-opt", "apparmor=pelagos-no-such-profile", "--security-opt", "label=type:container_t",
			"busybox:test", "echo", "ran"); got != "ran\n" {
			t.Errorf("apparmor=PROFILE without AppArmor: %q", got)
		}
	}
	c.ok("rm", "sec")
	c.assertClean()
}

// TestRestartNo: --restart no is recorded as docker records it and a
// failing container stays down.
func TestRestartNo(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "rn", "--restart", "no", "busybox:test", "sh", "-c", "exit 3")
	if got := strings.TrimSpace(c.ok("wait", "rn")); got != "3" {
		t.Fatalf("wait: %q", got)
	}
	time.Sleep(300 * time.Millisecond) // a restart would begin at once
	if got, want := c.field("rn", "{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"), "no 0 exited 3"; got != want {
		t.Errorf("--restart no after exit 3: %s, want %s", got, want)
	}
	c.ok("rm", "rn")
	c.assertClean()
}

// markerImage is busybox for the host platform with /marker holding text.
func markerImage(t *testing.T, text string) v1.Image {
	base := imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip)
	marker := imagetest.Layer(t, imagetest.Tar(t, imagetest.Entry{Name: "marker", Type: tar.TypeReg, Body: []byte(text)}), compression.GZip)
	return imagetest.Image(t, engine.HostPlatform().String(), base, marker)
}

// TestPullPolicies: --pull missing pulls only an image not held locally,
// never uses the local one whatever the registry has, always pulls first.
// The registry's tag moves between runs; /marker says which image ran.
func TestPullPolicies(t *testing.T) {
	c := newCLI(t)
	ref := imagetest.Registry(t, nil) + "/lib/moving:1"
	imagetest.Push(t, ref, markerImage(t, "v1"))
	steps := []struct {
		push string
		pull []string
		want string
	}{
		{"", []string{"--pull", "missing"}, "v1"}, // not local yet: pulled
		{"v2", []string{"--pull", "missing"}, "v1"},
		{"", []string{"--pull", "never"}, "v1"},
		{"", []string{"--pull", "always"}, "v2"},
		{"v3", []string{"--pull", "never"}, "v2"},
	}
	for _, s := range steps {
		if s.push != "" {
			imagetest.Push(t, ref, markerImage(t, s.push))
		}
		if got := c.ok(append(append([]string{"run", "--rm"}, s.pull...), ref, "cat", "/marker")...); got != s.want {
			t.Errorf("after pushing %q, run %s ran /marker %q, want %q", s.push, s.pull, got, s.want)
		}
	}
	c.assertClean()
}

// TestRunSigProxyAndDetachKeys: run --sig-proxy=false keeps a signal to
// the CLI from the container (the default proxies it); run
// --detach-keys on a terminal detaches with the keys given.
func TestRunSigProxyAndDetachKeys(t *testing.T) {
	c := newCLI(t)
	const script = `trap "echo got-usr1; exit 3" USR1; touch /tmp/ready; while :; do sleep 0.05; done`
	ready := func(name string) func() bool {
		return func() bool { _, _, code := c.run(nil, "exec", name, "test", "-e", "/tmp/ready"); return code == 0 }
	}
	cmd, wait := c.startCLI("", "run", "--name", "noproxy", "--sig-proxy=false", "busybox:test", "sh", "-c", script)
	waitFor(t, "the trap to be set", ready("noproxy"))
	_ = cmd.Process.Signal(syscall.SIGUSR1)
	time.Sleep(500 * time.Millisecond)
	if got := c.field("noproxy", "{{.State.Running}}"); got != "true" {
		t.Errorf("run --sig-proxy=false: the container got the signal (running %s)", got)
	}
	c.ok("kill", "noproxy")
	if out, errs, code := wait(); code != 137 || strings.Contains(out, "got-usr1") {
		t.Errorf("run --sig-proxy=false after kill: exit %d, stdout %q, stderr %q; want 137 and no trap", code, out, errs)
	}

	cmd, wait = c.startCLI("", "run", "--name", "proxy", "busybox:test", "sh", "-c", script)
	waitFor(t, "the trap to be set", ready("proxy"))
	waitFor(t, "run to proxy USR1", func() bool {
		_ = cmd.Process.Signal(syscall.SIGUSR1)
		return c.field("proxy", "{{.State.Running}}") == "false"
	})
	if out, errs, code := wait(); code != 3 || !strings.Contains(out, "got-usr1") {
		t.Errorf("run with a proxied USR1: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	p := c.startPTY(nil, "run", "-it", "--detach-keys", "ctrl-x,x", "--name", "dk", "busybox:test", "sh")
	p.waitShown("# ")
	p.write("echo $((6*7))\n")
	p.waitShown("42")
	p.write("\x18x")
	if code := p.wait(); code != 0 {
		t.Errorf("run -it --detach-keys ctrl-x,x: exit %d; terminal showed %q", code, p.shown())
	}
	if got := c.field("dk", "{{.State.Running}}"); got != "true" {
		t.Errorf("run --detach-keys: running after detach: %s", got)
	}
	c.ok("rm", "-f", "noproxy", "proxy", "dk")
	c.assertClean()
}

// TestExecTTYAndManagementForms: exec -t gives the process a terminal
// (without it, none); ps --format table prints docker's header; the
// container ls and container inspect forms see the same containers.
func TestExecTTYAndManagementForms(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "-d", "--name", "ex", "busybox:test", "sleep", "1000")
	out := c.ok("exec", "-t", "ex", "sh", "-c", "tty; echo $TERM")
	if !strings.HasPrefix(out, "/dev/pts/") || !strings.HasSuffix(out, "\r\nxterm\r\n") {
		t.Errorf("exec -t: %q, want a /dev/pts terminal (with its \\r\\n) and TERM=xterm", out)
	}
	if out := c.ok("exec", "ex", "sh", "-c", "tty || true"); out != "not a tty\n" {
		t.Errorf("exec without -t: %q", out)
	}
	c.ok("create", "--name", "idle", "busybox:test", "true")

	lines := strings.Split(strings.TrimSpace(c.ok("ps", "-a", "--format", "table {{.Names}}\t{{.Status}}")), "\n")
	var got [][]string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "ex" {
			f = f[:1] // "Up N seconds" varies
		}
		got = append(got, f)
	}
	if diff := cmp.Diff([][]string{{"NAMES", "STATUS"}, {"idle", "Created"}, {"ex"}}, got); diff != "" {
		t.Errorf("ps --format table (-want +got):\n%s", diff)
	}
	if got := c.ok("container", "ls", "--format", "{{.Names}}"); got != "ex\n" {
		t.Errorf("container ls: %q, want the running one", got)
	}
	if got := strings.Fields(c.ok("container", "ls", "-aq", "--no-trunc")); len(got) != 2 || len(got[0]) != 64 {
		t.Errorf("container ls -aq --no-trunc: %q, want two full IDs", got)
	}
	if got := c.ok("container", "inspect", "-f", "{{.Name}} {{.State.Status}}", "idle", "ex"); got != "/idle created\n/ex running\n" {
		t.Errorf("container inspect: %q", got)
	}
	// container inspect knows containers only, unlike inspect.
	if errs := c.fails(1, "container", "inspect", "busybox:test"); errs != "Error: No such container: busybox:test\n" {
		t.Errorf("container inspect of an image: %q", errs)
	}
	c.ok("rm", "-f", "ex", "idle")
	c.assertClean()
}
