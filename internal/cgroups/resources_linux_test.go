package cgroups_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// check is one interface file and the text it must hold (or contain, for
// files that list several entries) after Set.
type check struct {
	controller, file, want string
	contains               bool
}

// blockDevice finds a real block device's "major:minor" for the I/O tests:
// the disk on the host, /dev/ram0 in the VM.
func blockDevice(t *testing.T) (int64, int64) {
	t.Helper()
	entries, _ := os.ReadDir("/sys/block")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "zram") || strings.HasPrefix(e.Name(), "loop") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/sys/block", e.Name(), "dev"))
		if err != nil {
			continue
		}
		var maj, min int64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err == nil {
			return maj, min
		}
	}
	t.Skip("no block device on this machine to throttle")
	return 0, 0
}

func has(m *cgroups.Manager, controller, file string) bool {
	dir, ok := m.Path(ctl(m, controller))
	if !ok {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// TestSetResources applies each resource on a fresh cgroup and reads the
// interface files back. Where this host cannot provide a controller (a v1
// hierarchy that is not mounted, a file the kernel lacks) the test demands
// a clear ErrNotSupported instead, never a silent success.
func TestSetResources(t *testing.T) {
	root(t)
	maj, min := blockDevice(t)
	dev := fmt.Sprintf("%d:%d", maj, min)
	blk := specs.LinuxBlockIODevice{Major: maj, Minor: min}
	pageSize := "2MB"
	tests := []struct {
		name string
		r    *specs.LinuxResources
		// need is the interface file whose absence makes the resource
		// unsupported on this host ("" when the controller is always there).
		needController, needFile string
		v1, v2                   []check
		v1Unsupported            bool // the field has no v1 meaning
		v2Unsupported            bool // the field has no v2 meaning
	}{
		{
			name: "memory",
			r: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: i64(limit(64)), Reservation: i64(limit(32)), Swap: i64(limit(128)),
			}},
			v1: []check{
				{controller: "memory", file: "memory.limit_in_bytes", want: "67108864"},
				{controller: "memory", file: "memory.soft_limit_in_bytes", want: "33554432"},
				{controller: "memory", file: "memory.memsw.limit_in_bytes", want: "134217728"},
			},
			v2: []check{
				{file: "memory.max", want: "67108864"},
				{file: "memory.low", want: "33554432"},
				{file: "memory.swap.max", want: "67108864"},
			},
		},
		{
			name: "memory unlimited",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			v1:   []check{{controller: "memory", file: "memory.limit_in_bytes", want: "9223372036854771712"}},
			v2:   []check{{file: "memory.max", want: "max"}, {file: "memory.swap.max", want: "max"}},
		},
		{
			name: "memory swappiness and OOM killer",
			r: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Swappiness: u64(10), DisableOOMKiller: boolp(true),
			}},
			v1: []check{
				{controller: "memory", file: "memory.swappiness", want: "10"},
				{controller: "memory", file: "memory.oom_control", want: "oom_kill_disable 1", contains: true},
			},
			v2Unsupported: true,
		},
		{
			// The kernel field is deprecated and ignored (see v1_linux.go);
			// kernelTCP is still a v1 limit.
			name: "memory kernel TCP",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(limit(64))}},
			v1:   []check{{controller: "memory", file: "memory.kmem.tcp.limit_in_bytes", want: "67108864"}},
		},
		{
			name: "cpu bandwidth and shares",
			r: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Burst: u64(10000),
			}},
			v1: []check{
				{controller: "cpu", file: "cpu.shares", want: "1024"},
				{controller: "cpu", file: "cpu.cfs_quota_us", want: "50000"},
				{controller: "cpu", file: "cpu.cfs_period_us", want: "100000"},
				{controller: "cpu", file: "cpu.cfs_burst_us", want: "10000"},
			},
			v2: []check{
				{file: "cpu.weight", want: "39"},
				{file: "cpu.max", want: "50000 100000"},
				{file: "cpu.max.burst", want: "10000"},
			},
		},
		{
			name: "cpu idle",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: i64(1)}},
			v1:   []check{{controller: "cpu", file: "cpu.idle", want: "1"}},
			v2:   []check{{file: "cpu.idle", want: "1"}},
		},
		{
			name: "cpu realtime",
			r: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				RealtimeRuntime: i64(10000), RealtimePeriod: u64(1000000),
			}},
			needController: "cpu", needFile: "cpu.rt_runtime_us",
			v1: []check{
				{controller: "cpu", file: "cpu.rt_runtime_us", want: "10000"},
				{controller: "cpu", file: "cpu.rt_period_us", want: "1000000"},
			},
			v2Unsupported: true,
		},
		{
			name: "cpuset",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0", Mems: "0"}},
			v1: []check{
				{controller: "cpuset", file: "cpuset.cpus", want: "0"},
				{controller: "cpuset", file: "cpuset.mems", want: "0"},
			},
			v2: []check{{file: "cpuset.cpus", want: "0"}, {file: "cpuset.mems", want: "0"}},
		},
		{
			name: "pids",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}},
			v1:   []check{{controller: "pids", file: "pids.max", want: "100"}},
			v2:   []check{{file: "pids.max", want: "100"}},
		},
		{
			name: "pids unlimited",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}},
			v1:   []check{{controller: "pids", file: "pids.max", want: "max"}},
			v2:   []check{{file: "pids.max", want: "max"}},
		},
		{
			name: "block I/O throttles",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk, Rate: 1 << 20}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: blk, Rate: 100}},
			}},
			v1: []check{
				{controller: "blkio", file: "blkio.throttle.read_bps_device", want: dev + " 1048576"},
				{controller: "blkio", file: "blkio.throttle.write_iops_device", want: dev + " 100"},
			},
			v2: []check{{file: "io.max", want: dev + " rbps=1048576 wbps=max riops=max wiops=100"}},
		},
		{
			name:           "block I/O weight",
			r:              &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(500)}},
			needController: "blkio", needFile: "blkio.weight",
			v1: []check{{controller: "blkio", file: "blkio.weight", want: "500"}},
			v2: []check{{file: "io.weight", want: "default 4950"}},
		},
		{
			name:           "hugetlb",
			r:              &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: pageSize, Limit: 4 << 20}}},
			needController: "hugetlb", needFile: "hugetlb." + pageSize + ".max",
			v1: []check{{controller: "hugetlb", file: "hugetlb." + pageSize + ".limit_in_bytes", want: "4194304"}},
			v2: []check{{file: "hugetlb." + pageSize + ".max", want: "4194304"}},
		},
		{
			name:           "network class and priorities",
			r:              &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: func() *uint32 { v := uint32(0x100001); return &v }()}},
			needController: "net_cls", needFile: "net_cls.classid",
			v1:            []check{{controller: "net_cls", file: "net_cls.classid", want: "1048577"}},
			v2Unsupported: true,
		},
		{
			name:          "unified",
			r:             &specs.LinuxResources{Unified: map[string]string{"memory.high": "104857600", "pids.max": "50"}},
			v1Unsupported: true,
			v2:            []check{{file: "memory.high", want: "104857600"}, {file: "pids.max", want: "50"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t)
			v2 := m.Mode() == cgroups.Unified
			checks, unsupported := tt.v1, tt.v1Unsupported
			if v2 {
				checks, unsupported = tt.v2, tt.v2Unsupported
			}
			if !v2 && tt.needController == "blkio" && !has(m, "blkio", "blkio.weight") && has(m, "blkio", "blkio.bfq.weight") {
				// BFQ's weight file, which takes the same range.
				tt.needFile = "blkio.bfq.weight"
				checks = []check{{controller: "blkio", file: "blkio.bfq.weight", want: "500"}}
			}
			if tt.needFile != "" {
				file := tt.needFile
				if v2 && tt.needController == "blkio" {
					file = "io.weight"
				}
				if !has(m, tt.needController, file) {
					unsupported = true
				}
			}
			err := m.Set(tt.r)
			if unsupported {
				if !errors.Is(err, cgroups.ErrNotSupported) {
					t.Fatalf("Set on a host without it = %v, want ErrNotSupported", err)
				}
				t.Logf("not available here, refused as it must be: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range checks {
				got := readFile(t, m, ctl(m, c.controller), c.file)
				if c.contains && !strings.Contains(got, c.want) || !c.contains && got != c.want {
					t.Errorf("%s = %q, want %q", c.file, got, c.want)
				}
			}
		})
	}
}

// TestDeviceRules is the attack: a process in the container opens a device
// its rules do not allow. Without enforcement (a v1 child cgroup starts
// with its parent's allow-all list; v2 has no devices controller at all)
// the open succeeds, as the control case shows.
func TestDeviceRules(t *testing.T) {
	const probe = `if true </dev/kmsg; then echo opened; else echo denied; fi`
	for _, tt := range []struct {
		name  string
		set   bool
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{name: "no rules set (control)", set: false, want: "opened"},
		{name: "defaults only", set: true, want: "denied"},
		{name: "kmsg allowed", set: true, rules: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(11), Access: "r"}}, want: "opened"},
		{name: "kmsg allowed then denied", set: true, rules: []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(11), Access: "rw"},
			{Allow: false, Type: "c", Major: i64(1), Minor: i64(11), Access: "r"},
		}, want: "denied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat("/dev/kmsg"); err != nil {
				t.Skip("no /dev/kmsg to probe with")
			}
			m := newManager(t)
			if tt.set {
				if err := m.Set(&specs.LinuxResources{Devices: tt.rules}); err != nil {
					t.Fatal(err)
				}
			}
			out := startShell(t, m, probe).expect(t, "opened", "denied")
			if !strings.Contains(out, tt.want) {
				t.Errorf("opening /dev/kmsg: %q, want %s", out, tt.want)
			}
		})
	}
}
