package differential

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/probe"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// runProbe runs the probe as the container process of a fresh bundle
// (DefaultSpec changed by mods) with `runtime run` and returns its report.
func runProbe(t *testing.T, runtime, name string, mods ...bundle.Modifier) *probe.Report {
	t.Helper()
	if err := testenv.CleanStale("pelagos-difftest-"); err != nil {
		t.Fatalf("clean up after an earlier run: %v", err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.New(filepath.Join(dir, "bundle"), bundle.Options{Probe: testenv.Probe(t)})
	if err != nil {
		t.Fatal(err)
	}
	cgParent := fmt.Sprintf("/pelagos-difftest-%d-%s", os.Getpid(), name)
	t.Cleanup(func() {
		if err := testenv.RemoveRootCgroups(cgParent); err != nil {
			t.Errorf("remove test cgroups: %v", err)
		}
	})
	mods = append([]bundle.Modifier{bundle.Args(bundle.ProbePath), bundle.CgroupsPath(cgParent + "/" + name)}, mods...)
	if err := b.Apply(mods...); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "state")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(runtime, "--root", root, "run", "--bundle", b.Dir, name)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		exec.Command(runtime, "--root", root, "delete", "--force", name).Run()
		t.Fatalf("%s run: %v\nstderr: %s", runtime, err, stderr.String())
	}
	var r probe.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("probe output from %s: %v\n%s", runtime, err, stdout.String())
	}
	if len(r.Errors) > 0 {
		t.Errorf("probe under %s could not read: %v", runtime, r.Errors)
	}
	return &r
}

// TestProbeUnderReference proves the probe and DefaultSpec against runc:
// what the container sees is what runc spec's config asks for.
func TestProbeUnderReference(t *testing.T) {
	testenv.RequireRoot(t)
	r := runProbe(t, testenv.Reference(t), "probe-ref")
	spec := bundle.DefaultSpec()
	caps := spec.Process.Capabilities
	// The kernel raises an ambient capability only if it is also
	// inheritable (capabilities(7)); runc spec's config has no inheritable
	// set, so its ambient list cannot take effect.
	want := probe.Caps{Inheritable: []string{}, Bounding: caps.Bounding, Effective: caps.Effective,
		Permitted: caps.Permitted, Ambient: intersect(caps.Ambient, caps.Inheritable)}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	if diff := cmp.Diff(r.Caps, want, sorted); diff != "" {
		t.Errorf("caps (-container +config):\n%s", diff)
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"pid 1", r.PID == 1},
		{"hostname runc", r.Hostname == spec.Hostname},
		{"uid 0", r.UIDs == [4]int{}},
		{"no_new_privs", r.NoNewPrivs},
		{"no seccomp", r.Seccomp == 0},
		{"cwd /", r.Cwd == "/"},
		{"RLIMIT_NOFILE 1024", r.Rlimits["RLIMIT_NOFILE"] == probe.Rlimit{Soft: 1024, Hard: 1024}},
		{"only stdio open", len(r.FDs) == 3},
		{"PATH from config", contains(r.Env, spec.Process.Env[0])},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("container does not have %s: %s", c.what, dump(r))
		}
	}
	if m, ok := r.Mount("/"); !ok || !m.HasOption("ro") {
		t.Errorf("root mount %+v: want read-only", m)
	}
	if m, ok := r.Mount("/proc"); !ok || m.FSType != "proc" {
		t.Errorf("/proc mount %+v: want proc", m)
	}
	host := probe.Collect()
	for _, ns := range []string{"pid", "net", "ipc", "uts", "mnt"} {
		if r.Namespaces[ns] == host.Namespaces[ns] {
			t.Errorf("container shares the host's %s namespace", ns)
		}
	}
}

// TestProbeMatchesReference runs the probe on the same bundle under the
// runtime under test and under runc, and compares what the two containers
// see, after dropping what must differ (namespace inodes, mount ids and
// device numbers, the container's cgroup path).
func TestProbeMatchesReference(t *testing.T) {
	testenv.RequireRoot(t)
	variants := []struct {
		name string
		mods []bundle.Modifier
	}{
		{"default", nil},
		{"writable root, extra env, no network namespace", []bundle.Modifier{
			bundle.WritableRoot(), bundle.Env("PELAGOS=1"), bundle.Hostname("diff"),
			bundle.WithoutNamespace(specs.NetworkNamespace)}},
	}
	for i, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			id := fmt.Sprintf("probe-diff-%d", i)
			got := normalize(runProbe(t, testenv.Runtime(t), id, v.mods...))
			want := normalize(runProbe(t, testenv.Reference(t), id, v.mods...))
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("container view differs from runc's (-under test +runc):\n%s", diff)
			}
		})
	}
}

// view is the part of a report two runtimes must agree on.
type view struct {
	UIDs, GIDs          [4]int
	Groups              []int
	Umask               string
	Caps                probe.Caps
	NoNewPrivs          bool
	Seccomp             int
	Hostname, Domain    string
	Cwd                 string
	Env                 []string
	PID                 int
	Rlimits             map[string]probe.Rlimit
	OOMScoreAdj         int
	Personality         uint32
	Scheduler           probe.Scheduler
	FDs                 []string
	Stdio               probe.Stdio
	SharedWithHost      []string // namespaces the container shares with the host
	Mounts              []string // point fstype options propagation
	CgroupsControllers  []string
	CgroupNamespaceRoot bool // every cgroup path is "/" (a cgroup namespace)
}

func normalize(r *probe.Report) view {
	host := probe.Collect()
	v := view{UIDs: r.UIDs, GIDs: r.GIDs, Groups: r.Groups, Umask: r.Umask, Caps: r.Caps,
		NoNewPrivs: r.NoNewPrivs, Seccomp: r.Seccomp, Hostname: r.Hostname, Domain: r.Domainname,
		Cwd: r.Cwd, Env: sortedCopy(r.Env), PID: r.PID, Rlimits: r.Rlimits, OOMScoreAdj: r.OOMScoreAdj,
		Personality: r.Personality, Scheduler: r.Scheduler, Stdio: r.Stdio, CgroupNamespaceRoot: true}
	for _, set := range []*[]string{&v.Caps.Inheritable, &v.Caps.Permitted, &v.Caps.Effective, &v.Caps.Bounding, &v.Caps.Ambient} {
		*set = sortedCopy(*set)
	}
	for fd, target := range r.FDs {
		// Keep the kind ("pipe", "/dev/null", "socket"), not the inode.
		kind, _, _ := strings.Cut(target, ":[")
		if fd <= 2 {
			// Intended difference: a foreground `runc run` copies stdio
			// through pipes of its own; pelagos-runc hands the container
			// the caller's descriptors (no copying process in between).
			kind = "stdio"
		}
		v.FDs = append(v.FDs, fmt.Sprintf("%d %s", fd, kind))
	}
	sort.Strings(v.FDs)
	for name, link := range r.Namespaces {
		if host.Namespaces[name] == link {
			v.SharedWithHost = append(v.SharedWithHost, name)
		}
	}
	sort.Strings(v.SharedWithHost)
	for _, m := range r.Mounts {
		if m.Point == "/sys/fs/cgroup/unified" {
			// Intended difference: on a hybrid host pelagos also mounts
			// the cgroup2 tree, where the container has a cgroup too (as
			// systemd-based hosts show it); runc 1.1 leaves it out.
			continue
		}
		v.Mounts = append(v.Mounts, intendedMountDifferences(fmt.Sprintf("%s %s %s %s", m.Point, m.FSType, strings.Join(m.Options, ","), m.Propagated), m))
	}
	// Order matters only between a mount and those under it, which
	// sorting by point keeps; the order of siblings (cgroup hierarchies,
	// masked paths) does not.
	sort.Strings(v.Mounts)
	for _, c := range r.Cgroups {
		v.CgroupsControllers = append(v.CgroupsControllers, c.Controllers)
		if c.Path != "/" {
			v.CgroupNamespaceRoot = false
		}
	}
	sort.Strings(v.CgroupsControllers)
	return v
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

func intersect(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func dump(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// intendedMountDifferences rewrites the mounts where pelagos deliberately
// differs from runc 1.1 into one shared form:
//   - masked files are covered with the host's /dev/null (devtmpfs), never
//     the container's (CVE-2025-31133); runc 1.1 uses the container's
//     /dev/null (on the /dev tmpfs);
//   - the tmpfs holding the v1 cgroup hierarchies at /sys/fs/cgroup is
//     read-only when the config's cgroup mount says ro; runc 1.1 leaves
//     that tmpfs writable and makes only the hierarchies read-only.
func intendedMountDifferences(line string, m probe.Mount) string {
	switch {
	case strings.HasPrefix(m.Point, "/proc/") && (m.FSType == "devtmpfs" || m.FSType == "tmpfs") && !m.HasOption("ro"):
		return m.Point + " <null device> " + m.Propagated
	case m.Point == "/sys/fs/cgroup" && m.FSType == "tmpfs":
		return m.Point + " tmpfs <ro or rw> " + m.Propagated
	}
	return line
}
