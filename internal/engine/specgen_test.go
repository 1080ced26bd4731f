package engine

import (
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/initproc"
)

func testContainer(hc HostConfig) *Container {
	return &Container{ID: "0123456789ab" + "0123456789abcdef0123456789abcdef0123456789abcdef0123", Path: "/bin/sh", Args: []string{"-c", "true"}, HostConfig: hc,
		Config: Config{Env: []string{"A=1"}}}
}

func gen(t *testing.T, hc HostConfig, u execUser) *specs.Spec {
	t.Helper()
	s, err := generateSpec(testContainer(hc), specInput{user: u, rootfs: "/r", cgroup: "/p/x", hostname: "h", nofileMax: 20000})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenerateSpecDockerDefaults(t *testing.T) {
	s := gen(t, HostConfig{}, execUser{home: "/root"})
	if diff := cmp.Diff(DefaultCaps, s.Process.Capabilities.Bounding); diff != "" {
		t.Errorf("bounding set (-want +got):\n%s", diff)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Errorf("seccomp: %+v, want Docker's profile", s.Linux.Seccomp)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	var shm *specs.Mount
	for i, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			shm = &s.Mounts[i]
		}
	}
	if shm == nil || !slices.Contains(shm.Options, "size=67108864") {
		t.Errorf("/dev/shm: %+v, want 64m", shm)
	}
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 20000, Soft: 20000}}
	if diff := cmp.Diff(want, s.Process.Rlimits); diff != "" {
		t.Errorf("rlimits capped at the caller's hard limit (-want +got):\n%s", diff)
	}
	if s.Linux.CgroupsPath != "/p/x" || s.Hostname != "h" {
		t.Errorf("cgroup %q hostname %q", s.Linux.CgroupsPath, s.Hostname)
	}
	wantEnv := []string{defaultPath, "HOSTNAME=h", "A=1", "HOME=/root"}
	if diff := cmp.Diff(wantEnv, s.Process.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if !hasNamespace(s, specs.NetworkNamespace) {
		t.Error("no network namespace for --network none")
	}
}

func hasNamespace(s *specs.Spec, typ specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == typ })
}

func TestGenerateSpecFlags(t *testing.T) {
	pids := int64(10)
	s := gen(t, HostConfig{
		NetworkMode: "host", Memory: 64 << 20, NanoCpus: 1.5e9, PidsLimit: &pids, ShmSize: 1 << 20,
		ReadonlyRootfs: true, CapDrop: []string{"chown"}, CapAdd: []string{"sys_admin"},
		SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"},
		Mounts:      []Mount{{Type: "tmpfs", Target: "/dev/shm"}, {Type: "tmpfs", Target: "/t", ReadOnly: true, TmpfsOptions: &TmpfsOptions{SizeBytes: 4096}}},
	}, execUser{uid: 1000})
	if hasNamespace(s, specs.NetworkNamespace) {
		t.Error("--network host has a network namespace")
	}
	if *s.Linux.Resources.Memory.Limit != 64<<20 || *s.Linux.Resources.CPU.Quota != 150000 || *s.Linux.Resources.Pids.Limit != 10 {
		t.Errorf("resources: %+v %+v %+v", s.Linux.Resources.Memory, s.Linux.Resources.CPU, s.Linux.Resources.Pids)
	}
	if s.Linux.Seccomp != nil || !s.Process.NoNewPrivileges || !s.Root.Readonly {
		t.Errorf("seccomp %v nnp %v readonly %v", s.Linux.Seccomp != nil, s.Process.NoNewPrivileges, s.Root.Readonly)
	}
	b := s.Process.Capabilities.Bounding
	if slices.Contains(b, "CAP_CHOWN") || !slices.Contains(b, "CAP_SYS_ADMIN") {
		t.Errorf("bounding %v: want CAP_SYS_ADMIN added and CAP_CHOWN dropped", b)
	}
	if len(s.Process.Capabilities.Effective) != 0 {
		t.Errorf("a non-root user gets effective capabilities %v", s.Process.Capabilities.Effective)
	}
	var shm []specs.Mount
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			shm = append(shm, m)
		}
	}
	if len(shm) != 1 || shm[0].Source != "tmpfs" {
		t.Errorf("a user tmpfs on /dev/shm must replace the default one: %+v", shm)
	}
	i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/t" })
	if i < 0 || !slices.Contains(s.Mounts[i].Options, "ro") || !slices.Contains(s.Mounts[i].Options, "size=4096") {
		t.Errorf("tmpfs mount /t: %+v", s.Mounts)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1", "B=2"}, []string{"B=3", "C=4", "A=5"})
	want := []string{"PATH=/bin", "A=5", "B=3", "C=4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mergeEnv (-want +got):\n%s", diff)
	}
}

// The container a plain `pelagos run` makes is one the runtime starts with
// its C init (no Go runtime in the init), with a terminal too; --init's
// reaper (a bind of our binary) changes nothing, a user namespace does.
func TestGenerateSpecTakesTheCInit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the C init is for a root runtime; this test runs as root in CI")
	}
	s := gen(t, HostConfig{}, execUser{home: "/root"})
	if why := initproc.PlanUnsupported(s, s.Process, initproc.ModeCreate, false, false); why != "" {
		t.Errorf("the default container needs the Go init: %s", why)
	}
	s.Process.Terminal = true
	if why := initproc.PlanUnsupported(s, s.Process, initproc.ModeCreate, false, false); why != "" {
		t.Errorf("a terminal container needs the Go init: %s", why)
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	if why := initproc.PlanUnsupported(s, s.Process, initproc.ModeCreate, false, false); why != "user namespace" {
		t.Errorf("a user-namespaced container: %q, want the Go init for the user namespace", why)
	}
}
