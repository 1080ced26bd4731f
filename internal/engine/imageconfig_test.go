package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// runPart is what unmarshalRunConfig must decode of cf: the platform and
// the config fields applyImage uses.
func runPart(cf *v1.ConfigFile) *v1.ConfigFile {
	c := cf.Config
	return &v1.ConfigFile{
		Architecture: cf.Architecture, OS: cf.OS, Variant: cf.Variant,
		Config: v1.Config{
			Cmd: c.Cmd, Healthcheck: c.Healthcheck, Entrypoint: c.Entrypoint, Env: c.Env, Labels: c.Labels,
			User: c.User, Volumes: c.Volumes, WorkingDir: c.WorkingDir, ExposedPorts: c.ExposedPorts, StopSignal: c.StopSignal,
		},
	}
}

// sameRunConfig fails t unless unmarshalRunConfig decodes b's run part as
// json.Unmarshal does, whenever json.Unmarshal accepts b, and refuses b
// only when json.Unmarshal does too.
func sameRunConfig(t *testing.T, b []byte) {
	t.Helper()
	var want, got v1.ConfigFile
	wantErr := json.Unmarshal(b, &want)
	err := unmarshalRunConfig(b, &got)
	if err != nil && wantErr == nil {
		t.Fatalf("unmarshalRunConfig(%.300q) = %v, json.Unmarshal accepts it", b, err)
	}
	if wantErr != nil {
		return
	}
	if diff := cmp.Diff(runPart(&want), &got); diff != "" {
		t.Fatalf("unmarshalRunConfig(%.300q) differs from json.Unmarshal (-json.Unmarshal +unmarshalRunConfig):\n%s", b, diff)
	}
}

func runConfigCorpus(t testing.TB) [][]byte {
	var full v1.ConfigFile
	n := 0
	fillRecord(reflect.ValueOf(&full.Config).Elem(), &n, true)
	full.OS, full.Architecture, full.Variant, full.OSVersion = "linux", "arm64", "v8", "1"
	full.Created = v1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	full.RootFS = v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: strings.Repeat("0a", 32)}}}
	full.History = []v1.History{{CreatedBy: "x", EmptyLayer: true}}
	busybox := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}}}
	var out [][]byte
	for _, cf := range []*v1.ConfigFile{&full, busybox, {}} {
		b, err := json.Marshal(cf)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, new(v1.ConfigFile)); err != nil {
			t.Fatalf("the corpus must be valid configs: %v", err)
		}
		out = append(out, b)
	}
	return out
}

var runConfigEdgeCases = []string{
	``, `null`, `{}`, `[]`, `{"os": 1}`, `{"OS": "linux", "Architecture": "amd64"}`,
	`{"config": null}`, `{"config": {"Cmd": null, "Env": []}}`, `{"config": {"Cmd": "sh"}}`,
	`{"config": {"ExposedPorts": {"80/tcp": {}}, "Volumes": {"/v": {"x": 1}}}}`,
	`{"config": {"Volumes": {"/v": 1}}}`,
	`{"config": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 3}}}`,
	`{"config": {"Healthcheck": {"Interval": "1s"}}}`, `{"config": {"Healthcheck": null}}`,
	`{"config": {"Labels": {"a": "1", "b": null}}, "config": {"User": "u"}}`,
	`{"history": 5, "config": {"User": "u"}}`, `{"rootfs": {"diff_ids": ["nohash"]}}`,
	`{"config": {"Cmd": ["a"]}} }`, `{"config": {"Cmd": ["a"]}} x`,
	`{"container_config": {"Cmd": ["nope"]}, "config": {"Cmd": ["yes"]}}`,
}

func TestUnmarshalRunConfig(t *testing.T) {
	for _, b := range runConfigCorpus(t) {
		sameRunConfig(t, b)
	}
	for _, in := range runConfigEdgeCases {
		sameRunConfig(t, []byte(in))
	}
	// A wrong field that create does not use is skipped, as the doc says.
	var cf v1.ConfigFile
	if err := unmarshalRunConfig([]byte(`{"history": 5, "config": {"User": "u"}}`), &cf); err != nil || cf.Config.User != "u" {
		t.Errorf("unmarshalRunConfig with a bad history = %v, user %q; want the user, no error", err, cf.Config.User)
	}
}

// FuzzUnmarshalRunConfig holds unmarshalRunConfig to json.Unmarshal on
// any input (see sameRunConfig).
func FuzzUnmarshalRunConfig(f *testing.F) {
	for _, b := range runConfigCorpus(f) {
		f.Add(b)
	}
	for _, in := range runConfigEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(sameRunConfig)
}
