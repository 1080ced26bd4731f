package engine

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

func i64(v int64) *int64 { return &v }

func TestApplyUpdate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hc      HostConfig
		u       UpdateOptions
		want    HostConfig
		wantErr string
	}{
		{name: "memory keeps the swap in force", hc: HostConfig{Memory: 64 << 20},
			u: UpdateOptions{Memory: i64(100 << 20)}, want: HostConfig{Memory: 100 << 20, MemorySwap: 128 << 20}},
		{name: "memory above the swap in force", hc: HostConfig{Memory: 64 << 20},
			u: UpdateOptions{Memory: i64(200 << 20)}, wantErr: "Memory limit should be smaller than already set memoryswap limit"},
		{name: "memory and swap together", hc: HostConfig{Memory: 64 << 20},
			u: UpdateOptions{Memory: i64(200 << 20), MemorySwap: i64(400 << 20)}, want: HostConfig{Memory: 200 << 20, MemorySwap: 400 << 20}},
		{name: "unlimited swap", hc: HostConfig{Memory: 64 << 20},
			u: UpdateOptions{Memory: i64(200 << 20), MemorySwap: i64(-1)}, want: HostConfig{Memory: 200 << 20, MemorySwap: -1}},
		{name: "tiny memory", u: UpdateOptions{Memory: i64(1 << 20)}, wantErr: "Minimum memory limit allowed is 6MB"},
		{name: "swap without memory", u: UpdateOptions{MemorySwap: i64(100 << 20)}, wantErr: "You should always set the Memory limit when using Memoryswap limit"},
		{name: "reservation above the limit", hc: HostConfig{Memory: 64 << 20},
			u: UpdateOptions{MemoryReservation: i64(100 << 20)}, wantErr: "Minimum memory limit can not be less than memory reservation limit"},
		{name: "cpus then quota", hc: HostConfig{NanoCpus: 5e8}, u: UpdateOptions{CPUQuota: i64(20000)}, wantErr: "Nano CPUs and CPU Quota cannot both be set"},
		{name: "cpus cleared for a quota", hc: HostConfig{NanoCpus: 5e8}, u: UpdateOptions{NanoCpus: i64(0), CPUQuota: i64(20000)},
			want: HostConfig{CPUQuota: 20000}},
		{name: "period bounds", u: UpdateOptions{CPUPeriod: i64(500)}, wantErr: "CPU cfs period can not be less than 1ms"},
		{name: "quota bounds", u: UpdateOptions{CPUQuota: i64(10)}, wantErr: "CPU cfs quota can not be less than 1ms"},
		{name: "cpus too many", u: UpdateOptions{NanoCpus: i64(1 << 40)}, wantErr: "Range of CPUs is from 0.01 to"},
		{name: "cpuset garbage", u: UpdateOptions{CpusetCpus: strp("1-0")}, wantErr: `Invalid value 1-0 for cpuset cpus`},
		{name: "restart on --rm", hc: HostConfig{AutoRemove: true}, u: UpdateOptions{RestartPolicy: &RestartPolicy{Name: "always"}},
			wantErr: "AutoRemove is enabled"},
		{name: "pids", u: UpdateOptions{PidsLimit: i64(5), CPUShares: i64(100)}, want: HostConfig{PidsLimit: i64(5), HostOptions: HostOptions{CPUShares: 100}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc := tc.hc
			err := applyUpdate(&hc, tc.u)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("applyUpdate = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, hc); diff != "" {
				t.Errorf("HostConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func strp(s string) *string { return &s }

func TestUpdateResourcesUnlimits(t *testing.T) {
	hc := HostConfig{}
	r := updateResources(&hc, UpdateOptions{PidsLimit: i64(-1), NanoCpus: i64(0), Memory: i64(0)})
	if *r.Pids.Limit != -1 || *r.CPU.Quota != -1 || *r.Memory.Limit != -1 {
		t.Errorf("removed limits: pids %d quota %d memory %d, want -1 each", *r.Pids.Limit, *r.CPU.Quota, *r.Memory.Limit)
	}
	if r2 := updateResources(&hc, UpdateOptions{PidsLimit: i64(3)}); r2.CPU != nil || r2.Memory != nil {
		t.Errorf("a pids update touches CPU or memory: %+v", r2)
	}
}

func TestParseCPUList(t *testing.T) {
	got, err := parseCPUList("0-2,5")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int]bool{0: true, 1: true, 2: true, 5: true}, got); diff != "" {
		t.Errorf("parseCPUList (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1,,2"} {
		if _, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) accepted", bad)
		}
	}
}

// TestSampleMath: docker's CPU %, and memory without inactive file
// cache from v1's and v2's memory.stat names.
func TestSampleMath(t *testing.T) {
	prev := Sample{CPU: 1e9, System: 100e9, OnlineCPUs: 4}
	now := Sample{CPU: 1.5e9, System: 102e9, OnlineCPUs: 4}
	if got := now.CPUPercent(prev); got != 100 {
		t.Errorf("CPUPercent = %v, want 100 (0.5 s of 2 s host time over 4 CPUs)", got)
	}
	if got := now.CPUPercent(Sample{}); got != 0 {
		t.Errorf("CPUPercent without a previous reading = %v, want 0", got)
	}
	for _, raw := range []map[string]uint64{{"total_inactive_file": 300}, {"inactive_file": 300}} {
		st := &cgroups.Stats{}
		st.Memory.Usage = cgroups.MemoryEntry{Usage: 1000, Limit: 4000}
		st.Memory.Raw = raw
		if u, l := memUsage(st); u != 700 || l != 4000 {
			t.Errorf("memUsage with %v = %d / %d, want 700 / 4000", raw, u, l)
		}
	}
	st := &cgroups.Stats{}
	st.Blkio.IoServiceBytesRecursive = []cgroups.BlkioEntry{{Op: "Read", Value: 5}, {Op: "Write", Value: 7}, {Op: "read", Value: 1}, {Op: "Total", Value: 13}}
	if r, w := blkio(st); r != 6 || w != 7 {
		t.Errorf("blkio = %d / %d, want 6 / 7", r, w)
	}
}

func TestPruneDirs(t *testing.T) {
	got := pruneDirs([]Change{
		{Changed, "/etc"}, {Added, "/tmp/x"}, {Changed, "/tmp"}, {Changed, "/var"},
	})
	want := []Change{{Changed, "/tmp"}, {Added, "/tmp/x"}, {Changed, "/var"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pruneDirs (-want +got):\n%s", diff)
	}
	got = pruneDirs([]Change{{Changed, "/etc"}, {Added, "/etc/new"}})
	if len(got) != 2 {
		t.Errorf("a directory with a change beneath it was dropped: %v", got)
	}
}

func TestCommitConfig(t *testing.T) {
	c := &Container{Config: Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin", "A=1"}, Labels: map[string]string{"x": "1"}, WorkingDir: "/w"}}
	got := commitConfig(c, v1.Config{Env: []string{"A=2", "B=3"}, Cmd: []string{"cat"}, Labels: map[string]string{"y": "2"}})
	want := v1.Config{Cmd: []string{"cat"}, Env: []string{"PATH=/bin", "A=2", "B=3"}, Labels: map[string]string{"x": "1", "y": "2"}, WorkingDir: "/w"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commitConfig (-want +got):\n%s", diff)
	}
	if c.Config.Env[1] != "A=1" || len(c.Config.Labels) != 1 {
		t.Errorf("commitConfig changed the container's config: %v %v", c.Config.Env, c.Config.Labels)
	}
}
