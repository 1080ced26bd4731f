package cgroups

import (
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }

// badResources are configs no host accepts; Validate must reject each
// before anything is created. The integration tests reuse them.
var badResources = map[string]*specs.LinuxResources{
	"negative memory":         {Memory: &specs.LinuxMemory{Limit: i64(-5)}},
	"swap below memory":       {Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(1 << 20)}},
	"swappiness 200":          {Memory: &specs.LinuxMemory{Swappiness: u64(200)}},
	"shares absurd":           {CPU: &specs.LinuxCPU{Shares: u64(1 << 30)}},
	"negative quota":          {CPU: &specs.LinuxCPU{Quota: i64(-50)}},
	"tiny quota":              {CPU: &specs.LinuxCPU{Quota: i64(10)}},
	"period too long":         {CPU: &specs.LinuxCPU{Period: u64(10_000_000)}},
	"burst without quota":     {CPU: &specs.LinuxCPU{Burst: u64(1000)}},
	"rt runtime above period": {CPU: &specs.LinuxCPU{RealtimeRuntime: i64(2000), RealtimePeriod: u64(1000)}},
	"idle 5":                  {CPU: &specs.LinuxCPU{Idle: i64(5)}},
	"cpus open range":         {CPU: &specs.LinuxCPU{Cpus: "0-"}},
	"cpus reversed":           {CPU: &specs.LinuxCPU{Cpus: "3-1"}},
	"mems garbage":            {CPU: &specs.LinuxCPU{Mems: "zero"}},
	"negative pids":           {Pids: &specs.LinuxPids{Limit: i64(-7)}},
	"blkio weight 5000":       {BlockIO: &specs.LinuxBlockIO{Weight: u16(5000)}},
	"blkio negative device":   {BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: -1, Minor: 0}, Rate: 1}}}},
	"page size garbage":       {HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2 megs", Limit: 1}}},
	"device type x":           {Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x", Access: "r"}}},
	"device access q":         {Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rq"}}},
	"unified traversal":       {Unified: map[string]string{"../../memory.max": "1"}},
	"unified no dot":          {Unified: map[string]string{"memory": "1"}},
	"unified procs":           {Unified: map[string]string{"cgroup.procs": "1"}},
	"unified newline":         {Unified: map[string]string{"memory.high": "1\n2"}},
	"interface name slash":    {Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "a/b", Priority: 1}}}},
}

func TestValidateRejects(t *testing.T) {
	for name, r := range badResources {
		if err := Validate(r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}

func TestValidateAccepts(t *testing.T) {
	for name, r := range map[string]*specs.LinuxResources{
		"nil":       nil,
		"empty":     {},
		"unlimited": {Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}, Pids: &specs.LinuxPids{Limit: i64(-1)}},
		"typical": {
			Memory:         &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(2 << 30), Swappiness: u64(60)},
			CPU:            &specs.LinuxCPU{Shares: u64(1024), Quota: i64(50000), Period: u64(100000), Burst: u64(1000), Cpus: "0-3,6", Mems: "0"},
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}},
			Unified:        map[string]string{"memory.high": "max", "cgroup.max.depth": "3"},
			Devices:        []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"}},
		},
	} {
		if err := Validate(r); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("0-2,5,7-8")
	want := []int{0, 1, 2, 5, 7, 8}
	if err != nil || len(got) != len(want) {
		t.Fatalf("ParseList = %v, %v; want %v", got, err, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ParseList = %v, want %v", got, want)
		}
	}
}
