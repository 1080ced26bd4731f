// Command cgroups-bench measures what cgroup setup and teardown cost per
// container: pelagos's internal/cgroups manager against runc's own cgroup
// manager (libcontainer/cgroups/fs of runc v1.1.5, the runc installed on
// these machines), doing the same work in the same process, interleaved.
//
// One iteration, for each manager: create the cgroup, move a process in,
// apply the same resources (memory, pids, cpu, and the same device rule
// list), and after the process is gone remove the cgroup. Starting and
// killing the process is the same for both and is not timed.
//
// It is a separate module so that runc's dependencies stay out of
// pelagos's go.mod. Run as root: go run . -n 300
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/opencontainers/runc/libcontainer/cgroups/fs"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/devices"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

const (
	memLimit  = 256 << 20
	pidsLimit = 100
	shares    = 512
	quota     = 50000
	period    = 100000
)

func main() {
	n := flag.Int("n", 200, "iterations per manager")
	only := flag.String("only", "", `run one manager alone, "pelagos" or "runc" (for profiling with strace -c or perf)`)
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "cgroups-bench: run as root")
		os.Exit(1)
	}
	if *only != "" {
		if err := runOnly(*only, *n); err != nil {
			fmt.Fprintln(os.Stderr, "cgroups-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "cgroups-bench:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	mode, err := cgroups.DetectMode()
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("/pelagos-bench-cgroups-%d", os.Getpid())
	var pel, rc []time.Duration
	for i := 0; i < n; i++ {
		// Interleave, alternating who goes first, so that drift on a busy
		// machine hits both alike.
		a := func() error { return measure(&pel, fmt.Sprintf("%s-p%d", prefix, i), pelagosOnce) }
		b := func() error { return measure(&rc, fmt.Sprintf("%s-r%d", prefix, i), runcOnce) }
		if i%2 == 1 {
			a, b = b, a
		}
		if err := a(); err != nil {
			return err
		}
		if err := b(); err != nil {
			return err
		}
	}
	pm, rm := median(pel), median(rc)
	fmt.Printf("cgroup setup+teardown per container, %s host, %d interleaved iterations\n", mode, n)
	fmt.Printf("  resources: memory %d MiB, pids %d, cpu shares %d quota %d/%d, deny-all + %d device rules\n",
		memLimit>>20, pidsLimit, shares, quota, period, len(cgroups.DefaultDevices))
	fmt.Printf("  %-26s median %8.1f µs   p90 %8.1f µs\n", "pelagos internal/cgroups", us(pm), us(pct(pel, 90)))
	fmt.Printf("  %-26s median %8.1f µs   p90 %8.1f µs\n", "runc v1.1.5 cgroups/fs", us(rm), us(pct(rc, 90)))
	fmt.Printf("  ratio pelagos/runc (median): %.2f\n", float64(pm)/float64(rm))
	return nil
}

// runOnly runs n iterations of one manager and prints its median.
func runOnly(name string, n int) error {
	once := map[string]func(string) phases{"pelagos": pelagosOnce, "runc": runcOnce}[name]
	if once == nil {
		return fmt.Errorf("-only %q: want pelagos or runc", name)
	}
	prefix := fmt.Sprintf("/pelagos-bench-cgroups-%d", os.Getpid())
	var d []time.Duration
	for i := 0; i < n; i++ {
		if err := measure(&d, fmt.Sprintf("%s-%d", prefix, i), once); err != nil {
			return err
		}
	}
	fmt.Printf("%s: median %.1f µs over %d iterations\n", name, us(median(d)), n)
	return nil
}

// phases is one manager's work, split around the untimed process exit.
type phases struct {
	setup    func(pid int) error // create, join, set
	teardown func() error        // remove
}

// measure starts a sleeping process, times setup, kills the process
// (untimed), then times teardown.
func measure(into *[]time.Duration, path string, once func(string) phases) error {
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		return err
	}
	p := once(path)
	t0 := time.Now()
	err := p.setup(cmd.Process.Pid)
	setup := time.Since(t0)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t1 := time.Now()
	if terr := p.teardown(); err == nil {
		err = terr
	}
	*into = append(*into, setup+time.Since(t1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func pelagosOnce(path string) phases {
	var m *cgroups.Manager
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(memLimit)},
		Pids:   &specs.LinuxPids{Limit: i64(pidsLimit)},
		CPU:    &specs.LinuxCPU{Shares: u64(shares), Quota: i64(quota), Period: u64(period)},
	}
	return phases{
		setup: func(pid int) error {
			var err error
			if m, err = cgroups.New(cgroups.Config{Path: path}); err != nil {
				return err
			}
			if err := m.Create(); err != nil {
				return err
			}
			if err := m.Apply(pid); err != nil {
				return err
			}
			return m.Set(r)
		},
		teardown: func() error {
			if m == nil {
				return nil
			}
			return m.Destroy()
		},
	}
}

func runcOnce(path string) phases {
	rules := []*devices.Rule{{Type: devices.WildcardDevice, Major: -1, Minor: -1, Permissions: "rwm", Allow: false}}
	for _, d := range cgroups.DefaultDevices {
		minor := int64(-1)
		if d.Minor != nil {
			minor = *d.Minor
		}
		rules = append(rules, &devices.Rule{Type: devices.CharDevice, Major: *d.Major, Minor: minor, Permissions: devices.Permissions(d.Access), Allow: true})
	}
	cg := &configs.Cgroup{Path: path, Resources: &configs.Resources{
		Memory: memLimit, PidsLimit: pidsLimit, CpuShares: shares, CpuQuota: quota, CpuPeriod: period,
		Devices: rules,
	}}
	var m interface {
		Apply(int) error
		Set(*configs.Resources) error
		Destroy() error
	}
	return phases{
		setup: func(pid int) error {
			mgr, err := fs.NewManager(cg, nil)
			if err != nil {
				return err
			}
			m = mgr
			if err := m.Apply(pid); err != nil {
				return err
			}
			return m.Set(cg.Resources)
		},
		teardown: func() error {
			if m == nil {
				return nil
			}
			return m.Destroy()
		},
	}
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
