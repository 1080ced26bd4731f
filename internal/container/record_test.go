package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/cgroups"
)

// records are state.json contents the codec must write and read as
// encoding/json does, down to the byte.
func records() []record {
	timeout := 5
	return []record{
		{},
		{ID: "c", Bundle: "/b", Rootfs: "/b/rootfs", Status: specs.StateCreating,
			Created: time.Date(2026, 11, 29, 3, 4, 5, 123456789, time.UTC), Version: "1.2.0"},
		{ID: "full", Bundle: "/b", Rootfs: "/b/rootfs", Status: specs.StateCreated,
			Pid: 1234, PidStart: 99887766, InitExe: &FileID{Dev: 2049, Ino: 1 << 40},
			Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Owner: "root",
			Creator: 77, CreatorStart: 88, Version: "1.3.0",
			Annotations: map[string]string{"b": "2", "a": "1", "": "empty", "q\"<>&\u2028": "\x00\x1f\b\f\n\r\t\\\xff é"},
			Hooks:       &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true", Args: []string{"true"}, Timeout: &timeout}}},
			HostMounts:  true,
			Cgroup: &cgroups.State{Mode: cgroups.Legacy, Paths: map[string]string{"memory": "/sys/fs/cgroup/memory/x", "": "/u"},
				Mounts: map[string]string{"memory": "/sys/fs/cgroup/memory"}, Created: []string{"/a", "/b"},
				Scope: &cgroups.Scope{Unit: "u.scope", Slice: "system.slice"}, ScopeStarted: true}},
		{ID: "v2", Status: specs.StateRunning, Cgroup: &cgroups.State{Mode: cgroups.Unified}},
		{ID: "emptymaps", Annotations: map[string]string{}, Cgroup: &cgroups.State{Paths: map[string]string{}, Mounts: map[string]string{}}},
	}
}

func TestRecordMarshalMatchesEncodingJSON(t *testing.T) {
	for _, r := range records() {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.marshal()
		if err != nil {
			t.Fatalf("marshal(%s): %v", r.ID, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("marshal(%s) =\n%s\nwant (encoding/json)\n%s", r.ID, got, want)
		}
	}
}

// recordViaEncodingJSON is what unmarshalRecord must agree with.
func recordViaEncodingJSON(b []byte) (record, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	if dec.More() {
		return r, errors.New("trailing data")
	}
	return r, nil
}

func sameRecord(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := recordViaEncodingJSON(b)
	var got record
	err := unmarshalRecord(b, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("unmarshalRecord(%.300q) error = %v, encoding/json's = %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("unmarshalRecord(%.300q) differs from encoding/json (-encoding/json +unmarshalRecord):\n%s", b, diff)
	}
}

var recordEdgeCases = []string{
	`{}`,
	`null`,
	`{"ID": "upper", "PID": 5, "CGROUP": {"PATHS": {"a": "b"}}}`,
	`{"pid": -1, "pidStart": -1}`,
	`{"pid": 1.5}`,
	`{"created": "not a time"}`,
	`{"created": null}`,
	`{"created": 5}`,
	`{"initExe": null}`,
	`{"initExe": {"dev": 1}, "initExe": {"ino": 2}}`,
	`{"hooks": {"poststop": [{"path": "/x"}]}, "hooks": null}`,
	`{"hooks": []}`,
	`{"cgroup": {"mode": 2, "created": ["a", null]}}`,
	`{"cgroup": {"scope": {"unit": 1}}}`,
	`{"cgroup": {"mode": "1"}}`,
	`{"id": "x"} trailing`,
	`{"id": "x"`,
}

func TestUnmarshalRecordMatchesEncodingJSON(t *testing.T) {
	for _, r := range records() {
		b, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, b)
	}
	for _, in := range recordEdgeCases {
		sameRecord(t, []byte(in))
	}
}

func FuzzUnmarshalRecord(f *testing.F) {
	for _, r := range records() {
		b, err := json.Marshal(&r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, in := range recordEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameRecord(t, b) })
}
