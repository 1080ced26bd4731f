package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pelagos-go/pelagos/tests/ocisuite"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// buildPrefix names the directory the VM's binaries are built in.
const buildPrefix = "pelagos-vm-"

func TestMain(m *testing.M) {
	if err := testenv.CleanStale(buildPrefix); err != nil {
		fmt.Fprintln(os.Stderr, "vm: clean up after an earlier run:", err)
	}
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// libraryPackages are the test binaries of the cgroup library run inside
// the VM, by import path relative to the module root.
var libraryPackages = []string{"internal/cgroups", "internal/cgroups/devicefilter"}

// testArgs are the flags a test binary runs with in the VM, then extra.
func testArgs(extra ...string) []string {
	return append([]string{"-test.v", "-test.count=1", "-test.timeout=6m"}, extra...)
}

// v2Layout mounts cgroup2 with every controller at /sys/fs/cgroup, as a
// current distribution does (systemd mounts it with nsdelegate).
const v2Layout = `mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "PELAGOS-VM controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
`

// TestCgroupV2InVM boots a pure cgroup v2 VM and runs there the cgroup
// library's tests, seccomp's int $0x80 test (IA32 emulation is off on the
// development machines), the guest tests that drive pelagos-runc through its CLI,
// and one OCI validation program (to show the suite cannot judge v2), and
// reports every test they ran as a subtest here.
func TestCgroupV2InVM(t *testing.T) {
	t.Parallel()
	kernel, modules := requireVM(t)
	b := buildAll(t)
	m := &machine{
		files: map[string]string{},
		// RAM disks: a block device for the io controller to throttle,
		// and two identical ones for the device filter to tell apart.
		// overlay: the engine's guest tests run containers from an image.
		modules: []module{{filepath.Join(modules, "drivers/block/brd.ko"), "rd_nr=2 rd_size=16384"},
			{filepath.Join(modules, "fs/overlayfs/overlay.ko"), ""}},
		layout: v2Layout,
	}
	for _, name := range sortedKeys(b.library) {
		m.files[name+".test"] = b.library[name]
		m.runs = append(m.runs, guestRun{name: name, bin: "/" + name + ".test", dir: "/tmp", args: testArgs()})
	}
	// The development machines boot with IA32 emulation off, so seccomp's
	// int $0x80 test can only run here, under Debian's kernel.
	m.files["seccomp.test"] = b.seccomp
	m.runs = append(m.runs, guestRun{name: "seccomp", bin: "/seccomp.test", dir: "/tmp",
		args: testArgs("-test.run", "^TestKernelInt80$")})
	b.addGuest(t, m, "linux_cgroups_pids")
	b.addEngine(m)
	m.runs = append(m.runs, guestRun{name: "cli", bin: "/guest.test", dir: "/tmp",
		args: testArgs("-test.skip", "^TestValidationSuite")})
	m.runs = append(m.runs, guestRun{name: "ocisuite", bin: "/guest.test", dir: "/tmp",
		args: testArgs("-test.run", "^TestValidationSuiteCgroups$")})
	// The systemd driver against a real systemd, with every controller:
	// limits as unit properties and update through SetUnitProperties,
	// which the development machines' hybrid cgroup2 tree cannot show.
	m.addSystemd(t)
	m.files["systemd.test"] = b.systemd
	m.files["bin/pelagos-systemd"] = b.sdhelper
	m.env = append(m.env, "PELAGOS_SYSD_LOG_TARGET=console", testenv.EnvSystemdHelper+"=/bin/pelagos-systemd")
	m.runs = append(m.runs, guestRun{name: "systemd", bin: "/systemd.test", dir: "/tmp",
		args: testArgs("-test.run", "^TestScopeWithRealSystemd$")})
	report(t, boot(t, kernel, m), m.runs)
}

// v1Layout mounts the cgroup v1 hierarchies the way systemd's hybrid
// layout does (cpu,cpuacct and net_cls,net_prio co-mounted, with a symlink
// per controller) plus an empty cgroup2 tree: unlike the development
// machines it has hugetlb, net_cls and net_prio hierarchies. The dummy
// interface is the second network interface the suite's network program
// needs.
const v1Layout = `mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
for c in cpu,cpuacct cpuset memory devices freezer net_cls,net_prio blkio hugetlb pids rdma; do
	mkdir /sys/fs/cgroup/$c
	mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
ln -s cpu,cpuacct /sys/fs/cgroup/cpu
ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct
ln -s net_cls,net_prio /sys/fs/cgroup/net_cls
ln -s net_cls,net_prio /sys/fs/cgroup/net_prio
mkdir /sys/fs/cgroup/unified
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup/unified
ip link set lo up
ip link set dummy0 up
echo "PELAGOS-VM controllers: $(ls /sys/fs/cgroup | tr '\n' ' ')"
`

// TestCgroupV1InVM boots a VM with a cgroup v1 layout that has what the
// development machines lack (hugetlb, net_cls and net_prio hierarchies)
// and runs there the OCI validation suite's linux_cgroups_* programs,
// and its process_capabilities programs with a full bounding set,
// against pelagos-runc. (The suite cannot judge a v2 host: its cgroup
// reader, runtime-tools cgroups.FindCgroup, answers "cgroupv2 is not
// supported yet" when only cgroup2 is mounted.)
func TestCgroupV1InVM(t *testing.T) {
	t.Parallel()
	kernel, modules := requireVM(t)
	b := buildAll(t)
	m := &machine{
		files:   map[string]string{},
		modules: []module{{filepath.Join(modules, "drivers/net/dummy.ko"), "numdummies=1"}},
		layout:  v1Layout,
	}
	var progs []string
	for _, p := range b.suite.Programs {
		if strings.HasPrefix(p, "linux_cgroups_") || strings.HasPrefix(p, "process_capabilities") {
			progs = append(progs, p)
		}
	}
	b.addGuest(t, m, progs...)
	m.runs = append(m.runs, guestRun{name: "ocisuite", bin: "/guest.test", dir: "/tmp",
		args: testArgs("-test.run", "^TestValidationSuite(Cgroups|Capabilities)$")})
	report(t, boot(t, kernel, m), m.runs)
}

// builds are the binaries both VMs need, built once per test process.
type builds struct {
	library  map[string]string // test binaries of libraryPackages, by short name
	guest    string            // the guest test binary
	seccomp  string            // internal/seccomp's test binary, for TestKernelInt80
	systemd  string            // tests/systemd's test binary, for the systemd driver
	sdhelper string            // pelagos-systemd, the driver's D-Bus side
	runtime  string            // pelagos-runc, as scripts/build.sh builds it
	probe    string
	pelagos  string // the pelagos CLI and its monitor, for the engine's guest tests
	monitor  string
	suite    *ocisuite.Suite
}

var (
	buildOnce sync.Once
	built     *builds
	buildErr  error
	buildDir  string // removed by TestMain
)

// buildAll builds (once) everything the VMs run. A failure fails every
// test that needs it.
func buildAll(t *testing.T) *builds {
	t.Helper()
	buildOnce.Do(func() { built, buildErr = build(t) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func build(t *testing.T) (*builds, error) {
	// The directory outlives the test that happened to build it: TestMain
	// removes it, or the next run's stale cleanup if this one is killed.
	dir, err := testenv.TempDir(buildPrefix)
	if err != nil {
		return nil, err
	}
	buildDir = dir
	b := &builds{library: map[string]string{}, guest: filepath.Join(dir, "guest.test")}
	for _, p := range libraryPackages {
		name := strings.ReplaceAll(filepath.Base(p), "-", "_")
		b.library[name] = filepath.Join(dir, name+".test")
		if err := buildTest(p, b.library[name]); err != nil {
			return nil, err
		}
	}
	if err := buildTest("tests/vm/guest", b.guest, "-tags", "vmguest"); err != nil {
		return nil, err
	}
	b.systemd = filepath.Join(dir, "systemd.test")
	if err := buildTest("tests/systemd", b.systemd); err != nil {
		return nil, err
	}
	b.seccomp = filepath.Join(dir, "seccomp.test")
	if err := buildTest("internal/seccomp", b.seccomp); err != nil {
		return nil, err
	}
	ctx := context.Background()
	b.runtime, b.probe = filepath.Join(dir, "pelagos-runc"), filepath.Join(dir, "probe")
	if err := testenv.GoBuild(ctx, testenv.PkgRuntime, b.runtime, testenv.BuildOptions{Release: true}); err != nil {
		return nil, err
	}
	if err := testenv.GoBuild(ctx, testenv.PkgProbe, b.probe, testenv.BuildOptions{Static: true}); err != nil {
		return nil, err
	}
	b.sdhelper = filepath.Join(dir, "pelagos-systemd")
	if err := testenv.GoBuild(ctx, testenv.PkgSystemdHelper, b.sdhelper, testenv.BuildOptions{Release: true}); err != nil {
		return nil, err
	}
	b.pelagos, b.monitor = filepath.Join(dir, "pelagos"), filepath.Join(dir, "pelagos-monitor")
	if err := testenv.GoBuild(ctx, "./cmd/pelagos", b.pelagos, testenv.BuildOptions{Release: true}); err != nil {
		return nil, err
	}
	if err := testenv.GoBuild(ctx, "./cmd/pelagos-monitor", b.monitor, testenv.BuildOptions{Release: true}); err != nil {
		return nil, err
	}
	cache, err := testenv.CacheDir()
	if err != nil {
		return nil, err
	}
	var log bytes.Buffer
	b.suite, err = ocisuite.Build(ctx, cache, &log)
	if log.Len() > 0 {
		t.Log(log.String())
	}
	return b, err
}

// addGuest puts into m the guest test binary, pelagos-runc, the probe and
// the named OCI validation programs (with runtimetest, the suite's rootfs
// and the C library the programs link), and the environment the guest
// tests find them by.
func (b *builds) addGuest(t *testing.T, m *machine, programs ...string) {
	t.Helper()
	m.files["guest.test"] = b.guest
	m.files["bin/pelagos-runc"] = b.runtime
	m.files["bin/probe"] = b.probe
	m.files["ocisuite/runtimetest"] = filepath.Join(b.suite.Dir, "runtimetest")
	m.files["ocisuite/rootfs-amd64.tar.gz"] = filepath.Join(b.suite.Dir, "rootfs-amd64.tar.gz")
	for _, p := range programs {
		m.files["ocisuite/bin/"+p] = b.suite.Program(p)
		m.addDynamicLibs(t, b.suite.Program(p))
	}
	m.env = append(m.env, testenv.EnvRuntime+"=/bin/pelagos-runc", "PELAGOS_VM_PROBE=/bin/probe",
		"PELAGOS_VM_OCISUITE=/ocisuite")
}

// addEngine puts into m the pelagos CLI and its monitor, and the
// environment the engine's guest tests find them by.
func (b *builds) addEngine(m *machine) {
	m.files["bin/pelagos"] = b.pelagos
	m.files["bin/pelagos-monitor"] = b.monitor
	m.env = append(m.env, "PELAGOS_VM_PELAGOS=/bin/pelagos", "PELAGOS_VM_MONITOR=/bin/pelagos-monitor")
}

// buildTest builds the test binary of pkg statically (no libc in the VM).
func buildTest(pkg, out string, flags ...string) error {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	args := append([]string{"test", "-c", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, "./"+pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var resultRE = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// report replays each package's results as subtests: a test that passed in
// the VM passes here, one that failed fails with its output, one that was
// skipped is skipped with its reason. A package that did not exit 0, or
// never ran, fails the whole test.
func report(t *testing.T, console string, runs []guestRun) {
	t.Helper()
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, "PELAGOS-VM controllers:") {
			t.Log(line)
		}
	}
	for _, r := range runs {
		n := r.name
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
					t.Errorf("failed in the VM:\n%s", detail)
				case "SKIP":
					t.Skipf("skipped in the VM:\n%s", detail)
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
// "=== RUN", "=== CONT" or "=== NAME" line.
func testOutput(lines []string, name string) string {
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "=== RUN   "+name) || strings.HasPrefix(l, "=== CONT  "+name) || strings.HasPrefix(l, "=== NAME  "+name) {
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
