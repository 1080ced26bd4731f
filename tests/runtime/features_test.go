package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// What the probe sees for the process attributes the config sets.
func TestProcessAttributes(t *testing.T) {
	r := newRuntime(t)
	umask := uint32(0o027)
	prio := 3
	b := newBundle(t, func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 27}, Umask: &umask}
		s.Process.OOMScoreAdj = &prio
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
		s.Process.Cwd = "/tmp/work"
		s.Process.Env = append(s.Process.Env, "PELAGOS_TEST=1")
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
		s.Domainname = "example.org"
	})
	rep := r.runProbe(b, "attrs")
	checks := []struct {
		what      string
		got, want any
	}{
		{"uids", rep.UIDs, [4]int{1000, 1000, 1000, 1000}},
		{"gids", rep.GIDs, [4]int{1000, 1000, 1000, 1000}},
		{"groups", rep.Groups, []int{5, 27}},
		{"umask", rep.Umask, "0027"},
		{"oom_score_adj", rep.OOMScoreAdj, 3},
		{"scheduler policy (SCHED_BATCH)", rep.Scheduler.Policy, uint32(3)},
		{"nice", rep.Scheduler.Nice, int32(5)},
		{"io priority (BE, 6)", rep.IOPriority, 2<<13 | 6},
		{"personality (PER_LINUX32)", rep.Personality & 0xff, uint32(8)},
		{"cwd (created)", rep.Cwd, "/tmp/work"},
		{"domainname", rep.Domainname, "example.org"},
		{"env", contains(rep.Env, "PELAGOS_TEST=1"), true},
		{"HOME from /etc/passwd or /", hasHome(rep.Env), true},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.what, diff)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func hasHome(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "HOME=") {
			return true
		}
	}
	return false
}

// A time namespace shifts the container's boot clock by timeOffsets.
func TestTimeNamespaceOffsets(t *testing.T) {
	r := newRuntime(t)
	const offset = 100000 // seconds
	b := newBundle(t, bundle.Args("cat", "/proc/uptime"), func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: offset}}
	})
	host, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	out := r.mustRun("run", "--bundle", b.Dir, "timens")
	hostUp, _ := strconv.ParseFloat(strings.Fields(string(host))[0], 64)
	inUp, err := strconv.ParseFloat(strings.Fields(out)[0], 64)
	if err != nil {
		t.Fatalf("uptime inside: %q", out)
	}
	if d := inUp - hostUp; d < offset-60 || d > offset+60 {
		t.Errorf("uptime inside %.0f, host %.0f: want the inside %d s ahead", inUp, hostUp, offset)
	}
}

// --no-pivot (MS_MOVE + chroot) and mount options: tmpcopyup keeps the
// image's files in a fresh tmpfs, rro makes a whole bind tree read-only.
func TestRootAndMountOptions(t *testing.T) {
	r := newRuntime(t)
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, bundle.Args("sh", "-c",
		"cat /etc/seeded; touch /etc/new && echo etc-writable; touch /rro/sub/x 2>/dev/null || echo rro-readonly"),
		bundle.Mount(specs.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}}),
		bundle.Mount(specs.Mount{Destination: "/rro", Type: "bind", Source: host, Options: []string{"rbind", "rro"}}))
	if err := os.WriteFile(filepath.Join(b.Rootfs(), "etc", "seeded"), []byte("seeded\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A tmpfs bind under the rro tree, to check the recursion.
	out := r.mustRun("run", "--no-pivot", "--bundle", b.Dir, "mountopts")
	for _, want := range []string{"seeded", "etc-writable", "rro-readonly"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// --preserve-fds passes the caller's descriptors 3.. to the process, and
// only those.
func TestPreserveFds(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("/bin/probe"))
	f, err := os.CreateTemp(t.TempDir(), "passed")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), "out")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.bin, "--root", r.root, "run", "--preserve-fds", "1", "--bundle", b.Dir, "fds")
	cmd.ExtraFiles = []*os.File{f}
	var errb strings.Builder
	cmd.Stdout, cmd.Stderr = of, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v: %s", err, errb.String())
	}
	of.Close()
	data, _ := os.ReadFile(out)
	rep := decodeProbe(t, string(data))
	if got := rep.FDs[3]; !strings.Contains(got, "passed") {
		t.Errorf("fd 3 inside is %q, want the preserved file", got)
	}
	for fd := range rep.FDs {
		if fd > 3 {
			t.Errorf("descriptor %d (%s) reached the container beyond the preserved one", fd, rep.FDs[fd])
		}
	}
}

// The CLI verbs engines use, with runc's output shapes.
func TestCLIVerbs(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("sleep", "30"))
	r.mustRun("create", "--bundle", b.Dir, "verbs")
	// delete of a created container is an error without --force (spec).
	if _, _, err := r.run("delete", "verbs"); err == nil {
		t.Error("delete of a created container succeeded without --force")
	}
	r.mustRun("start", "verbs")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.mustRun("list", "--format", "json")), &list); err != nil || len(list) != 1 {
		t.Fatalf("list --format json: %v %v", list, err)
	}
	for _, k := range []string{"id", "pid", "status", "bundle", "rootfs", "created", "owner"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("list json lacks %q: %v", k, list[0])
		}
	}
	var pids []int
	if err := json.Unmarshal([]byte(r.mustRun("ps", "--format", "json", "verbs")), &pids); err != nil || len(pids) == 0 {
		t.Errorf("ps --format json: %v %v", pids, err)
	}
	if out := r.mustRun("ps", "verbs"); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep") {
		t.Errorf("ps table:\n%s", out)
	}
	// exec with --env, --cwd, --user.
	out := r.mustRun("exec", "--env", "X=1", "--cwd", "/tmp", "--user", "7:8", "verbs", "sh", "-c", "echo $X $(pwd) $(id -u):$(id -g)")
	if strings.TrimSpace(out) != "1 /tmp 7:8" {
		t.Errorf("exec with --env --cwd --user: %q", out)
	}
	// kill with a signal number, then a name.
	r.mustRun("kill", "verbs", "19") // SIGSTOP
	r.mustRun("kill", "verbs", "SIGCONT")
	r.mustRun("kill", "verbs", "KILL")
	deadline := time.Now().Add(5 * time.Second)
	for r.state("verbs").Status != specs.StateStopped && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := r.run("kill", "verbs", "TERM"); err == nil {
		t.Error("kill of a stopped container succeeded")
	}
	r.mustRun("delete", "verbs")
	if _, _, err := r.run("state", "verbs"); err == nil {
		t.Error("state of a deleted container succeeded")
	}
	// run --keep leaves the stopped container for the caller.
	b2 := newBundle(t, bundle.Args("true"))
	r.mustRun("run", "--keep", "--bundle", b2.Dir, "kept")
	if st := r.state("kept").Status; st != specs.StateStopped {
		t.Errorf("run --keep: status %q, want stopped", st)
	}
	// A non-zero exit status comes back from run.
	b3 := newBundle(t, bundle.Args("sh", "-c", "exit 42"))
	if _, _, err := r.run("run", "--bundle", b3.Dir, "exit42"); err == nil || err.(*exec.ExitError).ExitCode() != 42 {
		t.Errorf("run of 'exit 42' = %v, want exit status 42", err)
	}
}

// kill --all on a stopped container signals what is left in its cgroup: a
// container without a PID namespace leaves its init's children running
// when the init exits, and containerd kills them this way before delete.
func TestKillAllStoppedLeftovers(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.WritableRoot(), bundle.WithoutNamespace(specs.PIDNamespace),
		bundle.Args("sh", "-c", "sleep 300 & echo $! > /leftover"))
	r.mustRun("create", "--bundle", b.Dir, "left")
	r.mustRun("start", "left")
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(filepath.Join(b.Rootfs(), "leftover"))
		if err == nil && len(data) > 0 && r.state("left").Status == specs.StateStopped {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid <= 0 {
		t.Fatal("the container did not stop leaving a process behind")
	}
	if !processLive(pid) {
		t.Fatalf("leftover process %d is not running before the kill", pid)
	}
	if _, stderr, err := r.run("kill", "--all", "left", "KILL"); err != nil {
		t.Fatalf("kill --all of a stopped container: %v: %s", err, stderr)
	}
	deadline = time.Now().Add(5 * time.Second)
	for processLive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processLive(pid) {
		t.Errorf("leftover process %d survived kill --all", pid)
	}
	// Without --all a stopped container has nothing to signal.
	if _, _, err := r.run("kill", "left", "KILL"); err == nil {
		t.Error("kill of a stopped container without --all succeeded")
	}
}

// processLive reports whether pid exists and is not a zombie.
func processLive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// process.rlimits reach the container's process as written, the soft
// RLIMIT_NOFILE included. The reader is busybox, not a Go program: Go's
// runtime raises its own soft RLIMIT_NOFILE to hard-1 at start-up, which is
// why the OCI suite's Go runtimetest cannot check this value.
func TestRlimitsAsWritten(t *testing.T) {
	r := newRuntime(t)
	b := newBundle(t, bundle.Args("cat", "/proc/self/limits"), func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_NOFILE", Soft: 3000, Hard: 4000},
			{Type: "RLIMIT_CORE", Soft: 1024, Hard: 2048},
			{Type: "RLIMIT_NPROC", Soft: 500, Hard: 600},
		}
	})
	out := r.mustRun("run", "--bundle", b.Dir, "rlimits")
	for _, want := range []string{
		`Max open files\s+3000\s+4000\s+files`,
		`Max core file size\s+1024\s+2048\s+bytes`,
		`Max processes\s+500\s+600\s+processes`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("/proc/self/limits lacks %q:\n%s", want, out)
		}
	}
}
