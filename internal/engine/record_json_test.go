package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pelagos-go/pelagos/internal/network"
	"github.com/pelagos-go/pelagos/internal/spec"
)

// fillRecord sets every exported field reachable from v to a value of its
// own (strings and numbers from a counter, two elements per slice and
// map, times in two zones), so that a field the codec forgot shows up as
// a difference. With escape, strings also hold what encoding/json
// escapes.
func fillRecord(v reflect.Value, n *int, escape bool) {
	*n++
	if v.Type() == reflect.TypeFor[time.Time]() {
		zone := time.UTC
		if *n%2 == 0 {
			zone = time.FixedZone("x", -(*n%12)*3600-1800)
		}
		v.Set(reflect.ValueOf(time.Unix(int64(*n)*1e6, int64(*n)).In(zone)))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillRecord(v.Elem(), n, escape)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillRecord(v.Field(i), n, escape)
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fillRecord(v.Index(0), n, escape)
		fillRecord(v.Index(1), n, escape)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			e := reflect.New(v.Type().Elem()).Elem()
			fillRecord(e, n, escape)
			k := reflect.New(v.Type().Key()).Elem()
			fillRecord(k, n, escape)
			v.SetMapIndex(k, e)
		}
	case reflect.String:
		s := fmt.Sprintf("s%d", *n)
		if escape {
			s += "\"\\\b\f\n\r\t\x00\x1f<>&\u2028\u2029é\xff/"
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n) << 20)
	}
}

// recordCorpus is records the codec must handle as encoding/json does: a
// created and a running run --rm, a container made with many flags,
// every field set (twice: plain and with strings that need escaping) and
// the zero record.
func recordCorpus(t testing.TB) []*Container {
	must := func(m Mount, err error) Mount {
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	rm := testContainer(HostConfig{AutoRemove: true, NetworkMode: "none", LogConfig: LogConfig{Type: "json-file"}})
	rm.Created = time.Now().UTC()
	rm.State = State{Status: StatusCreated}
	running := *rm
	running.State = State{Status: StatusRunning, Running: true, Pid: 4242, StartedAt: time.Now()}
	running.Monitor, running.MonitorStart, running.Mounted, running.Runtime = 4241, 123456789, true, true

	pids, yes, no, stop := int64(100), true, false, 7
	many := testContainer(HostConfig{
		Binds:         []string{"/h:/c:ro"},
		LogConfig:     LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "3"}},
		NetworkMode:   "bridge",
		RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: 5},
		CapAdd:        []string{"NET_ADMIN"}, CapDrop: []string{"ALL"}, Privileged: true, ReadonlyRootfs: true,
		SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined"},
		Tmpfs:       map[string]string{"/run": "size=1m"}, ShmSize: 1 << 20, CgroupParent: "/p",
		Memory: 64 << 20, MemorySwap: -1, NanoCpus: 1.5e9, PidsLimit: &pids, Init: &yes,
		Ulimits: []Ulimit{{Name: "nofile", Hard: 1024, Soft: 512}},
		Mounts: []Mount{
			must(ParseVolume("data:/data:ro,nocopy")), must(ParseVolume("/src:/dst:rshared")),
			must(ParseMount("type=volume,src=vol1,dst=/v,volume-label=a=b,volume-driver=local,volume-opt=o=x")),
			must(ParseTmpfs("/tmp:size=64k,mode=1777,noexec")),
		},
		VolumesFrom:  []string{"other:ro"},
		PortBindings: map[string][]network.PortBinding{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}, {HostPort: ""}}},
		DNS:          []string{"1.1.1.1"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"},
		ExtraHosts: []string{"h:10.0.0.1"},
		HostOptions: HostOptions{
			Devices:           []DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/n", CgroupPermissions: "rw"}},
			DeviceCgroupRules: []string{"c 1:3 rwm"}, Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			PidMode: "host", IpcMode: "shareable", UTSMode: "host", UsernsMode: "auto", CgroupnsMode: "private",
			CPUShares: 512, CpusetCpus: "0", CpusetMems: "0", MemoryReservation: 32 << 20, OomKillDisable: &no,
			OomScoreAdj: -500, GroupAdd: []string{"10"},
		},
		CPUPeriod: 100000, CPUQuota: 50000,
	})
	many.Name = "many"
	many.Created = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("", 3600))
	many.Config = Config{
		Hostname: "h", User: "1000:1000", AttachStdout: true, AttachStderr: true, Tty: true, OpenStdin: true,
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}}, Env: []string{"A=<b>&c"}, Cmd: []string{"sh"},
		Image: "busybox:test", Volumes: map[string]struct{}{"/data": {}}, WorkingDir: "/w", Entrypoint: []string{},
		Labels: map[string]string{"b": "2", "a": "1"}, StopSignal: "SIGINT", StopTimeout: &stop,
		Healthcheck: &Healthcheck{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second, Retries: 3},
	}
	many.State = State{Status: StatusExited, ExitCode: 137, OOMKilled: true, Error: "oom",
		StartedAt: time.Now(), FinishedAt: time.Now().Add(time.Second),
		Health: &Health{Status: HealthUnhealthy, FailingStreak: 3, Log: []HealthResult{{Start: time.Now(), ExitCode: 1, Output: "no\n"}}}}
	many.RestartCount, many.ManualStop, many.RestartDelay = 2, true, 400*time.Millisecond
	many.NetworkSettings = NetworkSettings{
		SandboxKey: "/run/netns/x", Ports: map[string][]network.PortBinding{"80/tcp": nil},
		Networks: map[string]*EndpointSettings{
			"bridge": {IPAMConfig: &EndpointIPAMConfig{IPv4Address: "10.88.0.9"}, Aliases: []string{"a"}, IPAddress: "10.88.0.9", IPPrefixLen: 16, DNSNames: []string{"many"}, MacRequested: "02:42:ac:11:00:02"},
			"gone":   nil,
		},
		Order: []string{"bridge", "gone"},
	}
	many.MountPoints = []MountPoint{{Type: "volume", Name: "data", Destination: "/data", Driver: "local", Mode: "ro,nocopy", Anonymous: true, CopyData: true}}
	many.Userns = &Userns{HostUID: 100000, HostGID: 100000, Size: 65536}

	var full, escaped Container
	n := 0
	fillRecord(reflect.ValueOf(&full).Elem(), &n, false)
	fillRecord(reflect.ValueOf(&escaped).Elem(), &n, true)
	return []*Container{rm, &running, many, &full, &escaped, {}}
}

// sameBytesAsMarshal fails t unless c.marshal() is json.Marshal(c).
func sameBytesAsMarshal(t *testing.T, c *Container) {
	t.Helper()
	want, wantErr := json.Marshal(c)
	got, err := c.marshal()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("marshal error = %v, json.Marshal's = %v", err, wantErr)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("marshal differs from json.Marshal (-json.Marshal +marshal):\n%s", diff)
	}
}

func TestRecordMarshalCorpus(t *testing.T) {
	for i, c := range recordCorpus(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameBytesAsMarshal(t, c) })
	}
}

// TestRecordMarshalBadTime: a time encoding/json refuses is refused, not
// written.
func TestRecordMarshalBadTime(t *testing.T) {
	c := testContainer(HostConfig{})
	c.State.Health = &Health{Log: []HealthResult{{End: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if b, err := c.marshal(); err == nil {
		t.Fatalf("marshal of a year-10000 time = %s, want an error", b)
	}
	sameBytesAsMarshal(t, c)
}

// FuzzRecordMarshal holds marshal to json.Marshal on every record
// encoding/json decodes from the input. Seeds: the corpus.
func FuzzRecordMarshal(f *testing.F) {
	for _, c := range recordCorpus(f) {
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"HostConfig": {"Mounts": [{"BindOptions": {}, "TmpfsOptions": {}, "VolumeOptions": {"DriverConfig": {}}}]}}`))
	f.Add([]byte(`{"NetworkSettings": {"Networks": {"a": null, "b": {"IPAMConfig": {}}}, "Ports": {"1/tcp": []}}}`))
	f.Add([]byte(`{"Config": {"ExposedPorts": {}, "Volumes": {}, "Labels": {}, "Healthcheck": {}}, "State": {"Health": {"Log": []}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Container
		if json.Unmarshal(b, &c) != nil {
			return
		}
		sameBytesAsMarshal(t, &c)
	})
}

// TestEncodeGeneratedSpecs holds spec.Encode, which writes config.json at
// every start, to json.Marshal on the specs the engine generates: Docker's
// defaults (seccomp profile included) and the flags of the corpus's
// containers.
func TestEncodeGeneratedSpecs(t *testing.T) {
	pids := int64(10)
	hcs := []HostConfig{
		{},
		{NetworkMode: "host", Memory: 64 << 20, NanoCpus: 1.5e9, PidsLimit: &pids, ShmSize: 1 << 20,
			ReadonlyRootfs: true, CapDrop: []string{"chown"}, CapAdd: []string{"sys_admin"},
			SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"},
			Mounts:      []Mount{{Type: "tmpfs", Target: "/t", ReadOnly: true, TmpfsOptions: &TmpfsOptions{SizeBytes: 4096}}}},
	}
	for _, c := range recordCorpus(t)[:3] {
		hcs = append(hcs, c.HostConfig)
	}
	for i, hc := range hcs {
		hc.UsernsMode = "" // auto needs a mapping allocated at create
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s, err := generateSpec(testContainer(hc), specInput{user: execUser{uid: 1, home: "/h"}, rootfs: "/r", cgroup: "/p/x", hostname: "h", nofileMax: 20000})
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := spec.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("spec.Encode differs from json.Marshal (-json.Marshal +Encode):\n%s", diff)
			}
		})
	}
}

// sameRecordAsUnmarshal fails t unless unmarshalRecord and json.Unmarshal
// both refuse b or both decode it to the same record.
func sameRecordAsUnmarshal(t *testing.T, b []byte) {
	t.Helper()
	var want, got Container
	wantErr := json.Unmarshal(b, &want)
	err := unmarshalRecord(b, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("unmarshalRecord(%.300q) error = %v, json.Unmarshal's = %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Container{}, MountPoint{})); diff != "" {
		t.Fatalf("unmarshalRecord(%.300q) differs from json.Unmarshal (-json.Unmarshal +unmarshalRecord):\n%s", b, diff)
	}
}

// recordDecodeEdgeCases are inputs where encoding/json's rules are easy to
// get wrong.
var recordDecodeEdgeCases = []string{
	``, `null`, `{}`, `[]`, `{"Id": "a"} }`, `{"Id": "a"} x`, `{"Id": 1}`,
	`{"id": "lower", "ID": "upper"}`,
	`{"Created": "2026-11-29T06:00:00.5+01:00"}`,
	`{"Created": null}`, `{"Created": 5}`, `{"Created": "yesterday"}`, `{"Created": {}}`,
	`{"State": {"StartedAt": "2026-11-29T06:00:00Z", "Health": {"Log": [{"End": "0001-01-01T00:00:00Z"}]}}}`,
	`{"Config": {"ExposedPorts": {"80/tcp": {}, "53/udp": {"x": 1}}, "Volumes": null}}`,
	`{"Config": {"ExposedPorts": {"80/tcp": []}}}`,
	`{"Config": {"ExposedPorts": {"80/tcp": null}}}`,
	`{"Config": {"StopTimeout": null, "Healthcheck": {"Interval": 1000000000, "Test": []}}}`,
	`{"Config": {"StopTimeout": 1.5}}`,
	`{"HostConfig": {"PidsLimit": 9223372036854775807, "Init": false, "OomKillDisable": null, "CpuShares": 2}}`,
	`{"HostConfig": {"PidsLimit": 9223372036854775808}}`,
	`{"HostConfig": {"Sysctls": {"a": "1"}, "cpushares": 5, "CPUPERIOD": 1}}`,
	`{"HostConfig": {"Mounts": [{"Type": "tmpfs", "TmpfsOptions": {"Mode": 4294967295}}]}}`,
	`{"HostConfig": {"Mounts": [{"Type": "tmpfs", "TmpfsOptions": {"Mode": -1}}]}}`,
	`{"HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}], "81/tcp": null}}}`,
	`{"NetworkSettings": {"Networks": {"a": null, "b": {"IPAMConfig": null, "DNSNames": []}}}}`,
	`{"NetworkSettings": {"Networks": {"a": {"IPPrefixLen": "16"}}}}`,
	`{"MountPoints": [{"Name": "v", "RW": true}], "MountPoints": [{"Driver": "local"}]}`,
	`{"Userns": {"Size": 65536}, "Userns": null}`,
	`{"RestartDelay": -5, "MonitorStart": 18446744073709551615}`,
	`{"unknown": {"deep": [1, {"x": [true, null, "s\"]"]}]}, "Name": "n"}`,
	"{\"Name\": \"bad \xff utf8\", \"Path\": \"\\u00e9\\ud800\"}",
}

func TestRecordDecode(t *testing.T) {
	for i, c := range recordCorpus(t) {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameRecordAsUnmarshal(t, b) })
	}
	for _, in := range recordDecodeEdgeCases {
		t.Run("", func(t *testing.T) { sameRecordAsUnmarshal(t, []byte(in)) })
	}
}

// TestRecordRoundTrip: every field the encoder writes, the decoder reads
// back (a field forgotten on either side shows up here).
func TestRecordRoundTrip(t *testing.T) {
	for i, c := range recordCorpus(t)[:4] {
		b, err := c.marshal()
		if err != nil {
			t.Fatal(err)
		}
		var got Container
		if err := unmarshalRecord(b, &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(*c, got, cmpopts.IgnoreUnexported(Container{}, MountPoint{})); diff != "" {
			t.Errorf("record %d after a round trip (-want +got):\n%s", i, diff)
		}
	}
}

// FuzzRecordDecode holds unmarshalRecord to json.Unmarshal on any input.
func FuzzRecordDecode(f *testing.F) {
	for _, c := range recordCorpus(f) {
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, in := range recordDecodeEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(sameRecordAsUnmarshal)
}

func TestEventMarshal(t *testing.T) {
	var full Event
	n := 0
	fillRecord(reflect.ValueOf(&full).Elem(), &n, true)
	for i, ev := range []Event{
		{},
		{Status: "die", ID: "0123", From: "busybox:test", Type: "container", Action: "die",
			Actor: Actor{ID: "0123", Attributes: map[string]string{"exitCode": "0", "name": "x", "image": "busybox:test"}},
			Scope: "local", Time: 1764396000, TimeNano: 1764396000123456789},
		{Type: "container", Actor: Actor{Attributes: map[string]string{}}},
		full,
	} {
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(ev.marshal())); diff != "" {
			t.Errorf("event %d: marshal differs from json.Marshal (-json.Marshal +marshal):\n%s", i, diff)
		}
	}
}

// FuzzEventMarshal holds Event.marshal to json.Marshal on every event
// encoding/json decodes from the input.
func FuzzEventMarshal(f *testing.F) {
	f.Add([]byte(`{"status": "start", "id": "x", "Type": "container", "Action": "start", "Actor": {"ID": "x", "Attributes": {"b": "<", "a": ""}}, "scope": "local", "time": -1, "timeNano": 9223372036854775807}`))
	f.Add([]byte(`{"Actor": {"Attributes": null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev Event
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.marshal(); string(got) != string(want) {
			t.Fatalf("marshal(%+v) = %s, json.Marshal = %s", ev, got, want)
		}
	})
}
