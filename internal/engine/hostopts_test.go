package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseDevice(t *testing.T) {
	cases := []struct {
		in      string
		want    DeviceMapping
		wantErr bool
	}{
		{"/dev/fuse", DeviceMapping{"/dev/fuse", "/dev/fuse", "rwm"}, false},
		{"/dev/fuse:/dev/f", DeviceMapping{"/dev/fuse", "/dev/f", "rwm"}, false},
		{"/dev/fuse:r", DeviceMapping{"/dev/fuse", "/dev/fuse", "r"}, false},
		{"/dev/fuse:/dev/f:mw", DeviceMapping{"/dev/fuse", "/dev/f", "mw"}, false},
		{"/dev/fuse:/dev/f:rr", DeviceMapping{}, true},
		{"/dev/fuse:/dev/f:x", DeviceMapping{}, true},
		{"/dev/fuse:f", DeviceMapping{}, true},
		{":/dev/f", DeviceMapping{}, true},
		{"a:b:c:d", DeviceMapping{}, true},
	}
	for _, tc := range cases {
		got, err := ParseDevice(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDevice(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseDevice(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseDeviceCgroupRule(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	cases := []struct {
		in   string
		want *specs.LinuxDeviceCgroup
	}{
		{"c 1:3 mr", &specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i(1), Minor: i(3), Access: "mr"}},
		{"a *:* rwm", &specs.LinuxDeviceCgroup{Allow: true, Type: "a", Access: "rwm"}},
		{"b 8:* r", &specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: i(8), Access: "r"}},
		{"x 1:3 r", nil},
		{"c 1 r", nil},
		{"c 1:-3 r", nil},
		{"c 1:3 q", nil},
		{"c 1:3", nil},
	}
	for _, tc := range cases {
		got, err := ParseDeviceCgroupRule(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("ParseDeviceCgroupRule(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDeviceCgroupRule(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(*tc.want, got); diff != "" {
			t.Errorf("ParseDeviceCgroupRule(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseSysctl(t *testing.T) {
	ok := []string{"net.ipv4.ip_forward=1", "kernel.shmmax=1", "fs.mqueue.msg_max=10", "kernel.domainname=x", "kernel.sem=1 2 3 4"}
	for _, s := range ok {
		if _, _, err := ParseSysctl(s); err != nil {
			t.Errorf("ParseSysctl(%q): %v", s, err)
		}
	}
	bad := []string{"vm.swappiness=1", "kernel.core_pattern=|x", "net.ipv4.ip_forward", "=1", "net.a/../../b=1", "kernel.shmmaxx=1"}
	for _, s := range bad {
		if _, _, err := ParseSysctl(s); err == nil {
			t.Errorf("ParseSysctl(%q) accepted, want an error", s)
		}
	}
}

func TestValidateHostOptions(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		hc   HostConfig
		ok   bool
	}{
		{"defaults", Config{}, HostConfig{}, true},
		{"pid host", Config{}, HostConfig{HostOptions: HostOptions{PidMode: "host"}}, true},
		{"pid container", Config{}, HostConfig{HostOptions: HostOptions{PidMode: "container:x"}}, true},
		{"uts container", Config{}, HostConfig{HostOptions: HostOptions{UTSMode: "container:x"}}, false},
		{"userns auto", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto"}}, true},
		{"userns auto size", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto:size=1024"}}, true},
		{"userns auto size 0", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto:size=0"}}, false},
		{"userns bogus", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "bogus"}}, false},
		{"userns auto privileged", Config{}, HostConfig{Privileged: true, HostOptions: HostOptions{UsernsMode: "auto"}}, false},
		{"userns auto pid host", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto", PidMode: "host"}}, false},
		{"userns auto pid container", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto", PidMode: "container:x"}}, false},
		{"userns auto ipc container", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto", IpcMode: "container:x"}}, false},
		{"userns auto ipc host", Config{}, HostConfig{HostOptions: HostOptions{UsernsMode: "auto", IpcMode: "host"}}, false},
		{"idmap bind without userns", Config{}, HostConfig{Mounts: []Mount{{Type: "bind", Source: "/h", Target: "/c", BindOptions: &BindOptions{IDMap: true}}}}, false},
		{"idmap bind with userns auto", Config{}, HostConfig{Mounts: []Mount{{Type: "bind", Source: "/h", Target: "/c", BindOptions: &BindOptions{IDMap: true}}}, HostOptions: HostOptions{UsernsMode: "auto"}}, true},
		{"userns auto network host", Config{}, HostConfig{NetworkMode: "host", HostOptions: HostOptions{UsernsMode: "auto"}}, true},
		{"uts host and hostname", Config{Hostname: "h"}, HostConfig{HostOptions: HostOptions{UTSMode: "host"}}, false},
		{"long hostname", Config{Hostname: string(make([]byte, 65))}, HostConfig{}, false},
		{"shm with ipc none", Config{}, HostConfig{ShmSize: 1, HostOptions: HostOptions{IpcMode: "none"}}, false},
		{"shm with shareable", Config{}, HostConfig{ShmSize: 1, HostOptions: HostOptions{IpcMode: "shareable"}}, true},
		{"net sysctl on host network", Config{}, HostConfig{NetworkMode: "host", HostOptions: HostOptions{Sysctls: map[string]string{"net.x": "1"}}}, false},
		{"ipc sysctl with ipc container", Config{}, HostConfig{HostOptions: HostOptions{IpcMode: "container:x", Sysctls: map[string]string{"kernel.shmmax": "1"}}}, false},
		{"oom score", Config{}, HostConfig{HostOptions: HostOptions{OomScoreAdj: -1001}}, false},
		{"reservation over limit", Config{}, HostConfig{Memory: 10 << 20, HostOptions: HostOptions{MemoryReservation: 20 << 20}}, false},
		{"bad cpuset", Config{}, HostConfig{HostOptions: HostOptions{CpusetCpus: "1-0"}}, false},
		{"missing device", Config{}, HostConfig{HostOptions: HostOptions{Devices: []DeviceMapping{{"/dev/nosuch", "/dev/x", "rwm"}}}}, false},
	}
	for _, tc := range cases {
		err := validateHostOptions(&tc.cfg, &tc.hc)
		if (err == nil) != tc.ok {
			t.Errorf("%s: validateHostOptions = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
