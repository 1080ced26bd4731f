package spec

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"github.com/pelagos-go/pelagos/tests/bundle"
)

// sameBytesAsMarshal fails t unless Encode(s) is json.Marshal(s), byte
// for byte.
func sameBytesAsMarshal(t *testing.T, s *specs.Spec) {
	t.Helper()
	want, wantErr := json.Marshal(s)
	got, err := Encode(s)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Encode error = %v, json.Marshal's = %v", err, wantErr)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("Encode differs from json.Marshal (-json.Marshal +Encode):\n%s", diff)
	}
}

// encodeCorpus is the specs the encoder must write as json.Marshal does:
// the runtime's defaults, with Docker's seccomp profile, the test
// bundles' default, every field set (twice: from a counter and with
// strings that need escaping), and values at omitempty's edges.
func encodeCorpus(t testing.TB) []*specs.Spec {
	withSeccomp := Default(false, 0, 0)
	sc, err := dockerprofile.Default(withSeccomp.Process.Capabilities.Bounding)
	if err != nil {
		t.Fatal(err)
	}
	withSeccomp.Linux.Seccomp = sc
	var full specs.Spec
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	var escaped specs.Spec
	fillStrings(reflect.ValueOf(&escaped).Elem())
	zero, one := 0, 1
	var zero64 int64
	f := false
	edges := &specs.Spec{
		Process: &specs.Process{
			Args: []string{}, Env: []string{""}, OOMScoreAdj: &zero,
			ConsoleSize:     &specs.Box{},
			Capabilities:    &specs.LinuxCapabilities{Bounding: []string{}},
			Scheduler:       &specs.Scheduler{Nice: -1, Flags: []specs.LinuxSchedulerFlag{}},
			IOPriority:      &specs.LinuxIOPriority{Priority: -3},
			ExecCPUAffinity: &specs.CPUAffinity{},
		},
		Root:        &specs.Root{},
		Mounts:      []specs.Mount{},
		Hooks:       &specs.Hooks{Poststop: []specs.Hook{{Timeout: &one}}},
		Annotations: map[string]string{},
		Linux: &specs.Linux{
			Sysctl: map[string]string{"b": "", "a": "<&>"},
			Resources: &specs.LinuxResources{
				Memory: &specs.LinuxMemory{Limit: &zero64, DisableOOMKiller: &f},
				CPU:    &specs.LinuxCPU{}, Pids: &specs.LinuxPids{}, BlockIO: &specs.LinuxBlockIO{},
				Network: &specs.LinuxNetwork{}, Rdma: map[string]specs.LinuxRdma{"x": {}},
				Devices: []specs.LinuxDeviceCgroup{{}},
			},
			NetDevices:  map[string]specs.LinuxNetDevice{"eth0": {}},
			Seccomp:     &specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{{}}},
			IntelRdt:    &specs.LinuxIntelRdt{},
			TimeOffsets: map[string]specs.LinuxTimeOffset{"boottime": {}, "monotonic": {Secs: -1}},
		},
	}
	return []*specs.Spec{
		{},
		Default(false, 0, 0),
		Default(true, 1000, 1000),
		withSeccomp,
		bundle.DefaultSpec(),
		&full,
		&escaped,
		edges,
	}
}

// fillStrings is fill with strings that encoding/json escapes: quotes,
// control characters, HTML characters, U+2028 and invalid UTF-8.
func fillStrings(v reflect.Value) {
	n := 0
	fill(v, &n)
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			walk(v.Elem())
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				e := reflect.New(v.Type().Elem()).Elem()
				e.Set(v.MapIndex(k))
				walk(e)
				v.SetMapIndex(k, reflect.Value{})
				v.SetMapIndex(reflect.ValueOf(k.String()+"\u2029<\x01\xff").Convert(k.Type()), e)
			}
		case reflect.String:
			v.SetString(v.String() + "\"\\\b\f\n\r\t\x00\x1f<>&\u2028é\xff\xfe/")
		}
	}
	walk(v)
}

func TestEncodeCorpus(t *testing.T) {
	for i, s := range encodeCorpus(t) {
		t.Run(string(rune('a'+i)), func(t *testing.T) { sameBytesAsMarshal(t, s) })
	}
}

// FuzzEncode holds Encode to json.Marshal on every spec encoding/json
// decodes from the input. Seeds: the encode corpus and the decoder's.
func FuzzEncode(f *testing.F) {
	for _, s := range encodeCorpus(f) {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range corpus(f) {
		f.Add(b)
	}
	for _, in := range decodeEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s specs.Spec
		if json.Unmarshal(b, &s) != nil {
			return
		}
		sameBytesAsMarshal(t, &s)
	})
}
