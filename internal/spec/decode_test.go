package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
)

// viaEncodingJSON is what Decode must agree with: encoding/json's Decoder
// into a specs.Spec, refusing trailing data, as the runtime decoded
// configs before Decode existed.
func viaEncodingJSON(b []byte) (*specs.Spec, error) {
	var s specs.Spec
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return &s, nil
}

// sameAsEncodingJSON fails t unless Decode and encoding/json both refuse
// b or both decode it to the same value.
func sameAsEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	want, wantErr := viaEncodingJSON(b)
	got, err := Decode(b)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Decode(%.300q) error = %v, encoding/json's = %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Decode(%.300q) differs from encoding/json (-encoding/json +Decode):\n%s", b, diff)
	}
}

// fill sets every field reachable from v to a value of its own (strings
// and numbers from a counter, two elements per slice and map), so that a
// field Decode forgot shows up as a difference.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), n)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), n)
		fill(v.Index(1), n)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n)
			v.SetMapIndex(reflect.ValueOf(fmt.Sprintf("k%d", *n)).Convert(v.Type().Key()), e)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Interface:
		v.Set(reflect.ValueOf(fmt.Sprintf("any%d", *n)))
	}
}

// fullSpec is a config with every field of every runtime-spec type set.
func fullSpec(t testing.TB) []byte {
	var s specs.Spec
	n := 0
	fill(reflect.ValueOf(&s).Elem(), &n)
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corpus is the configs the decoder must read as encoding/json does:
// the runtime's own defaults, Docker's seccomp profile, and a config with
// every field set.
func corpus(t testing.TB) [][]byte {
	enc := func(s *specs.Spec) []byte {
		b, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withSeccomp := Default(false, 0, 0)
	sc, err := dockerprofile.Default(withSeccomp.Process.Capabilities.Bounding)
	if err != nil {
		t.Fatal(err)
	}
	withSeccomp.Linux.Seccomp = sc
	return [][]byte{
		enc(Default(false, 0, 0)),
		enc(Default(true, 1000, 1000)),
		enc(withSeccomp),
		fullSpec(t),
	}
}

func TestDecodeCorpus(t *testing.T) {
	for i, b := range corpus(t) {
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsEncodingJSON(t, b) })
	}
}

// TestDecodeEveryField checks that a config with every field set decodes
// to exactly what was encoded, also with every key in upper case (field
// names match case-insensitively).
func TestDecodeEveryField(t *testing.T) {
	var want specs.Spec
	n := 0
	fill(reflect.ValueOf(&want).Elem(), &n)
	b := fullSpec(t)
	upper := regexp.MustCompile(`"[A-Za-z0-9]+":`).ReplaceAllFunc(b, func(k []byte) []byte {
		return []byte(strings.ToUpper(string(k)))
	})
	for _, in := range [][]byte{b, upper} {
		got, err := Decode(in)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		// Map keys were upper-cased too: compare with encoding/json there.
		if diff := cmp.Diff(&want, got); diff != "" && string(in) == string(b) {
			t.Errorf("Decode(every field set) (-want +got):\n%s", diff)
		}
		sameAsEncodingJSON(t, in)
	}
}

// decodeEdgeCases are inputs where encoding/json's rules are easy to get
// wrong.
var decodeEdgeCases = []string{
	``,
	` `,
	`null`,
	`{}`,
	`[]`,
	`"x"`,
	`1`,
	`true`,
	`{"ociVersion": "1.0.0"} `,
	`{"ociVersion": "1.0.0"} }`,
	`{"ociVersion": "1.0.0"} ]`,
	`{"ociVersion": "1.0.0"} x`,
	`{"ociVersion": "1.0.0"} {}`,
	`{"ociVersion": "1.0.0"`,
	`{"ociVersion": 1}`,
	`{"ociVersion": null}`,
	`{"OCIVERSION": "a", "ociversion": "b"}`,
	`{"ociVersion": "a", "OciVersion": "b"}`,
	`{"ſeccomp": 1, "linux": {"ſeccomp": {"defaultAction": "x"}}}`,
	`{"linux": {"\u017feccomp": {"defaultAction": "x"}}}`,
	"{\"hooks\": {\"prestart\": [{\"path\": \"\u212a\"}], \"poststop\": [{\"timeout\": 5, \"path\": \"/k\"}]}}",
	`{"process": {"terminal": true}, "process": {"cwd": "/"}}`,
	`{"process": {"terminal": true}, "process": null}`,
	`{"process": {"user": {"uid": 1}}, "process": {"user": null}}`,
	`{"process": {"user": {"uid": 1}}, "process": {"user": {"gid": 2}}}`,
	`{"process": {"args": ["a", "b", "c"]}, "process": {"args": ["x"]}}`,
	`{"process": {"args": ["a"]}, "process": {"args": []}}`,
	`{"process": {"args": []}}`,
	`{"process": {"args": null}}`,
	`{"process": {"args": [null, "a"]}}`,
	`{"process": {"args": "a"}}`,
	`{"process": {"args": {}}}`,
	`{"process": {"args": [1]}}`,
	`{"mounts": [{"destination": "/a", "options": ["x", "y", "z"]}, {"destination": "/b"}, {"destination": "/c"}], "mounts": [{"type": "t"}], "mounts": [{"source": "s"}, {"source": "s2"}, {"source": "s3"}]}`,
	`{"mounts": [{"destination": "/a"}, {"destination": "/b"}, {"destination": "/c"}], "mounts": [{"type": "t"}], "mounts": [{"source": "s"}, {"source": "s2"}]}`,
	`{"annotations": {"a": "1", "b": null}}`,
	`{"annotations": {"a": "1"}, "annotations": {"b": "2"}}`,
	`{"annotations": {"a": "1"}, "annotations": null}`,
	`{"annotations": {"a": 1}}`,
	`{"annotations": []}`,
	`{"annotations": {}}`,
	`{"linux": {"timeOffsets": {"monotonic": {"secs": 1}}, "timeOffsets": {"monotonic": {"nanosecs": 2}}}}`,
	`{"linux": {"timeOffsets": {"monotonic": null}}}`,
	`{"process": {"user": {"uid": 4294967295}}}`,
	`{"process": {"user": {"uid": 4294967296}}}`,
	`{"process": {"user": {"uid": -1}}}`,
	`{"process": {"user": {"uid": -0}}}`,
	`{"process": {"user": {"uid": 1.0}}}`,
	`{"process": {"user": {"uid": 1e3}}}`,
	`{"process": {"user": {"uid": "1"}}}`,
	`{"process": {"user": {"uid": true}}}`,
	`{"process": {"user": {"uid": null}}}`,
	`{"process": {"user": 5}}`,
	`{"process": {"oomScoreAdj": -1000}}`,
	`{"process": {"oomScoreAdj": null}}`,
	`{"process": {"oomScoreAdj": 9223372036854775807}}`,
	`{"process": {"oomScoreAdj": 9223372036854775808}}`,
	`{"process": {"oomScoreAdj": -9223372036854775808}}`,
	`{"process": {"scheduler": {"nice": 2147483647, "priority": -2147483648}}}`,
	`{"process": {"scheduler": {"nice": 2147483648}}}`,
	`{"linux": {"resources": {"blockIO": {"weight": 65535}}}}`,
	`{"linux": {"resources": {"blockIO": {"weight": 65536}}}}`,
	`{"linux": {"resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 10}], "throttleReadBpsDevice": [{"major": 8, "rate": 18446744073709551615}]}}}}`,
	`{"linux": {"resources": {"blockIO": {"throttleReadBpsDevice": [{"rate": 18446744073709551616}]}}}}`,
	`{"linux": {"resources": {"memory": {"limit": -1, "swappiness": 0, "disableOOMKiller": false}}}}`,
	`{"linux": {"resources": {"memory": {"disableOOMKiller": "false"}}}}`,
	`{"linux": {"devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0}]}}`,
	`{"linux": {"devices": [{"fileMode": -1}]}}`,
	`{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]}]}}}`,
	`{"process": {"env": ["A=\u00e9", "B=\ud800", "C=\"q\"", "D=\\"]}}`,
	"{\"process\": {\"env\": [\"A=\xff\xfe\"]}}",
	"{\"pro\xffcess\": {}}",
	`{"pro\u0063ess": {"cwd": "/x"}}`,
	`{"unknown": {"deep": [1, {"x": [true, null, "s\"]"]}]}, "ociVersion": "1"}`,
	`{"windows": {"layerFolders": ["a"], "credentialSpec": {"x": 1}}}`,
	`{"windows": {"layerFolders": "a"}}`,
	`{"windows": null, "solaris": {"milestone": "m"}, "vm": {"kernel": {"path": "/k"}}, "zos": {}, "freebsd": {"jail": {"parent": "p"}}}`,
	`{"windows": {"layerFolders": ["a"]}, "windows": {"servicing": true}}`,
	`{"root": {"path": "rootfs", "readonly": true}}`,
	`{"root": []}`,
	`{"linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]}}`,
	`{"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}, "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}}`,
	`{"linux": {"netDevices": {"eth0": {"name": "x"}}, "rdma": {}}}`,
	`{"linux": {"resources": {"rdma": {"mlx": {"hcaHandles": 1}}, "unified": {"memory.high": "1"}}}}`,
	`{"process": {"consoleSize": {"height": 24, "width": 80}, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]}}`,
	`{"process": {"capabilities": {"bounding": ["CAP_KILL"], "ambient": null}}}`,
	"{\"ociVersion\"\n:\t\"1\"\r,\"root\" : {\"path\":\"r\"}}",
}

func TestDecodeEdgeCases(t *testing.T) {
	for _, in := range decodeEdgeCases {
		t.Run("", func(t *testing.T) { sameAsEncodingJSON(t, []byte(in)) })
	}
}

func TestDecodeErrorNamesField(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"process": {"user": {"uid": "0"}}}`, `process.user.uid: string is not a valid uint32`},
		{`{"process": {"user": {"uid": -1}}}`, `process.user.uid: number -1 is not a valid uint32`},
		{`{"mounts": [{}, {"options": [1]}]}`, `mounts[1].options[0]: number 1 is not a valid string`},
		{`{"linux": {"sysctl": {"a": true}}}`, `linux.sysctl.a: bool is not a valid string`},
		{`{"process": {"terminal": "yes"}}`, `process.terminal: string is not a valid bool`},
		{`{"process": []}`, `process: array is not a valid Process`},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%s) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

// FuzzDecode holds Decode to encoding/json on any input. Seeds: the
// corpus and the edge cases.
func FuzzDecode(f *testing.F) {
	for _, b := range corpus(f) {
		f.Add(b)
	}
	for _, in := range decodeEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsEncodingJSON(t, b) })
}
