package initproc

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func messageCorpus() []Message {
	return []Message{
		{},
		{Type: MsgStart},
		{Type: MsgReady},
		{Type: MsgPid, Pid: 4242},
		{Type: MsgMount, Index: RootfsTargetIndex},
		{Type: MsgError, Step: "pivot_root", Error: "operation not permitted: \"<&>\" \u2028 \xff\n"},
		{Type: MsgBootstrap, Bootstrap: &Bootstrap{
			Mode: ModeCreate, ID: "c1", RawSpec: json.RawMessage(`{"ociVersion": "1.2.0", "x": "<"}`),
			Process: &specs.Process{Args: []string{"sh"}, Cwd: "/"}, Rootfs: "/r", Bundle: "/b", Pid: 1,
			NoPivot: true, Cgroups: []CgroupHierarchy{{Name: "memory", Type: "cgroup", Dir: "/sys/fs/cgroup/memory/x"}},
			Fds: FdSlots{Start: 4, Console: 5}, PreserveFds: 1, PreparedMounts: 2,
			Seccomp: []byte{0, 1, 2, 0xff}, SeccompFlags: 3,
		}},
	}
}

var messageDecodeEdgeCases = []string{
	``, `null`, `{}`, `[]`, `{"type": 1}`, `{"type": "pid", "pid": "1"}`, `{"type": "pid", "pid": 1.0}`,
	`{"TYPE": "ready", "Pid": 9223372036854775807}`, `{"pid": 9223372036854775808}`,
	`{"type": "error", "step": "x", "error": "y"} }`, `{"type": "x"} x`,
	`{"bootstrap": null}`, `{"bootstrap": {"mode": "exec", "spec": {"a": [1]}}}`,
	`{"bootstrap": {"mode": 5}}`, `{"bootstrap": {"seccomp": "AAEC/w=="}}`, `{"bootstrap": {"seccomp": "!"}}`,
	`{"index": -1, "unknown": {"a": [true, null]}}`,
}

// sameMessage fails t unless unmarshalMessage and json.Unmarshal both
// refuse b or both decode it to the same message.
func sameMessage(t *testing.T, b []byte) {
	t.Helper()
	var want, got Message
	wantErr := json.Unmarshal(b, &want)
	err := unmarshalMessage(b, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("unmarshalMessage(%.300q) error = %v, json.Unmarshal's = %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("unmarshalMessage(%.300q) (-json.Unmarshal +unmarshalMessage):\n%s", b, diff)
	}
	wantB, wantErr := json.Marshal(&got)
	gotB, err := got.marshal()
	if (err == nil) != (wantErr == nil) || string(gotB) != string(wantB) {
		t.Fatalf("marshal(%+v) = %s, %v; json.Marshal = %s, %v", got, gotB, err, wantB, wantErr)
	}
}

func TestMessageCodec(t *testing.T) {
	for i, m := range messageCorpus() {
		b, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := m.marshal()
			if err != nil || string(got) != string(b) {
				t.Fatalf("marshal(%+v) = %s, %v; json.Marshal = %s", m, got, err, b)
			}
			sameMessage(t, b)
		})
	}
	for _, in := range messageDecodeEdgeCases {
		sameMessage(t, []byte(in))
	}
}

// FuzzMessage holds the message codec to encoding/json on any input: the
// decode, and the encode of what it decodes.
func FuzzMessage(f *testing.F) {
	for _, m := range messageCorpus() {
		b, err := json.Marshal(&m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, in := range messageDecodeEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(sameMessage)
}
