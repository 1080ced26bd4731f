package systemd

import (
	"math"
	"strings"
	"testing"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// propMap flattens properties to name -> Go value for comparison.
func propMap(props []sdbus.Property) map[string]any {
	out := map[string]any{}
	for _, p := range props {
		out[p.Name] = p.Value.Value()
	}
	return out
}

func TestResourceProperties(t *testing.T) {
	full := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20), Swap: i64(96 << 20)},
		CPU: &specs.LinuxCPU{
			Shares: u64(1024), Quota: i64(50000), Period: u64(100000),
			Cpus: "0-2,5", Mems: "0",
		},
		Pids:    &specs.LinuxPids{Limit: i64(64)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(500)},
	}
	for _, tt := range []struct {
		name string
		mode cgroups.Mode
		r    *specs.LinuxResources
		want map[string]any
	}{
		{"nil", cgroups.Unified, nil, map[string]any{}},
		{"v2 full", cgroups.Unified, full, map[string]any{
			"MemoryMax":          uint64(64 << 20),
			"MemoryLow":          uint64(32 << 20),
			"MemorySwapMax":      uint64(32 << 20), // swap - limit
			"CPUWeight":          uint64(39),       // CPUWeight(1024), as cpu.weight
			"CPUQuotaPeriodUSec": uint64(100000),
			"CPUQuotaPerSecUSec": uint64(500000),
			"AllowedCPUs":        []byte{0x27},
			"AllowedMemoryNodes": []byte{0x01},
			"TasksMax":           uint64(64),
			"IOWeight":           uint64(4950), // IOWeight(500), as io.weight
		}},
		{"v1 full", cgroups.Legacy, full, map[string]any{
			"MemoryLimit":        uint64(64 << 20),
			"CPUShares":          uint64(1024),
			"CPUQuotaPeriodUSec": uint64(100000),
			"CPUQuotaPerSecUSec": uint64(500000),
			"TasksMax":           uint64(64),
			"BlockIOWeight":      uint64(500),
		}},
		{"unlimited", cgroups.Unified, &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)},
			CPU:    &specs.LinuxCPU{Quota: i64(-1)},
			Pids:   &specs.LinuxPids{Limit: i64(0)},
		}, map[string]any{
			"MemoryMax":          uint64(math.MaxUint64),
			"MemorySwapMax":      uint64(math.MaxUint64),
			"CPUQuotaPerSecUSec": uint64(math.MaxUint64),
			"TasksMax":           uint64(math.MaxUint64),
		}},
		{"quota rounds up to 10ms per second", cgroups.Unified, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Quota: i64(12345), Period: u64(100000)},
		}, map[string]any{
			"CPUQuotaPeriodUSec": uint64(100000),
			"CPUQuotaPerSecUSec": uint64(130000),
		}},
		{"quota with the default period", cgroups.Unified, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Quota: i64(20000)},
		}, map[string]any{"CPUQuotaPerSecUSec": uint64(200000)}},
		{"big cpu list", cgroups.Unified, &specs.LinuxResources{
			CPU: &specs.LinuxCPU{Cpus: "9,16"},
		}, map[string]any{"AllowedCPUs": []byte{0x00, 0x02, 0x01}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			props, err := resourceProperties(tt.mode, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, propMap(props)); diff != "" {
				t.Errorf("resourceProperties (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResourcePropertiesBad(t *testing.T) {
	for _, tt := range []struct {
		name    string
		r       *specs.LinuxResources
		wantErr string
	}{
		{"swap below limit", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(100), Swap: i64(50)}}, "below memory.limit"},
		{"bad cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-x"}}, "bad range"},
		{"reversed cpus", &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "3-1"}}, "bad range"},
		{"bad mems", &specs.LinuxResources{CPU: &specs.LinuxCPU{Mems: "a"}}, "bad entry"},
	} {
		_, err := resourceProperties(cgroups.Unified, tt.r)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: resourceProperties error = %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestScopeProperties(t *testing.T) {
	extra, err := AnnotationProperties(map[string]string{
		cgroups.AnnotationPrefix + "TimeoutStopSec": "30",
		cgroups.AnnotationPrefix + "CollectMode":    "'inactive-or-failed'",
		"org.other":                                 "ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	props, err := scopeProperties(cgroups.Scope{Unit: "p-c.scope", Slice: "a-b.slice"}, "pelagos container c", 42, cgroups.Unified,
		&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}, extra)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Description":         "pelagos container c",
		"Slice":               "a-b.slice",
		"DefaultDependencies": false,
		"Delegate":            true,
		"PIDs":                []uint32{42},
		"MemoryAccounting":    true,
		"CPUAccounting":       true,
		"TasksAccounting":     true,
		"IOAccounting":        true,
		"TasksMax":            uint64(10),
		"TimeoutStopUSec":     uint64(30000000),
		"CollectMode":         "inactive-or-failed",
	}
	if diff := cmp.Diff(want, propMap(props)); diff != "" {
		t.Errorf("scopeProperties (-want +got):\n%s", diff)
	}
	// An annotation may not override what pelagos sets.
	dup, err := AnnotationProperties(map[string]string{cgroups.AnnotationPrefix + "Delegate": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scopeProperties(cgroups.Scope{Unit: "p-c.scope", Slice: "system.slice"}, "d", 1, cgroups.Unified, nil, dup); err == nil || !strings.Contains(err.Error(), "sets that property itself") {
		t.Errorf("scopeProperties with an annotation Delegate: error = %v, want a refusal", err)
	}
}

func TestAnnotationPropertiesBad(t *testing.T) {
	for _, tt := range []struct {
		name, key, value, wantErr string
	}{
		{"bad name", "Memory-Max", "1", "letters and digits only"},
		{"empty name", "", "1", "letters and digits only"},
		{"bad variant", "CPUWeight", "uint64 x", "value"},
		{"seconds not a number", "TimeoutStopSec", "'soon'", "number of seconds"},
		{"negative seconds", "TimeoutStopSec", "-1", "out of range"},
	} {
		_, err := AnnotationProperties(map[string]string{cgroups.AnnotationPrefix + tt.key: tt.value})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: AnnotationProperties error = %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
