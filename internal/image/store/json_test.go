package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func indexCorpus() []imageIndex {
	a, b, c := digestOf("a"), digestOf("b"), digestOf("c")
	now := time.Date(2026, 11, 29, 6, 0, 0, 123, time.UTC)
	return []imageIndex{
		{},
		{Images: []Image{}},
		{Images: []Image{
			{ID: a, Manifest: b, MediaType: "application/vnd.oci.image.manifest.v1+json",
				RepoTags: []string{"docker.io/library/busybox:test"}, RepoDigests: []string{"docker.io/library/busybox@" + b.String()},
				Layers: []v1.Hash{c}, Blobs: []v1.Hash{a, b, c}, Size: 1 << 20, Created: now, Added: now.In(time.FixedZone("", 3600))},
			{ID: b, MediaType: "x<&>", Layers: []v1.Hash{}, Created: time.Unix(0, 0)},
		}},
	}
}

var holdCorpus = []Hold{
	{},
	{ID: "c1", Image: digestOf("a")},
	{ID: "c2\"<&>\u2028", Image: digestOf("a"), Layers: []v1.Hash{}},
	{ID: "0123456789ab", Image: digestOf("a"), Layers: []v1.Hash{digestOf("b"), digestOf("c")}},
	{ID: "one", Image: digestOf("a"), Layers: []v1.Hash{digestOf("b")}},
}

// sameAsUnmarshal fails t unless decode and json.Unmarshal both refuse b
// or both decode it to the same value.
func sameAsUnmarshal[T any](t *testing.T, b []byte, decode func([]byte, *T) error) {
	t.Helper()
	var want, got T
	wantErr := json.Unmarshal(b, &want)
	err := decode(b, &got)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decode(%.300q) error = %v, json.Unmarshal's = %v", b, err, wantErr)
	}
	if err != nil {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("decode(%.300q) differs from json.Unmarshal (-json.Unmarshal +decode):\n%s", b, diff)
	}
}

var storeDecodeEdgeCases = []string{
	``, `null`, `{}`, `[]`, `{"images": null}`, `{"images": [null]}`, `{"images": {}}`,
	`{"images": [{"id": null}]}`, `{"images": [{"id": ""}]}`, `{"images": [{"id": "sha256:xyz"}]}`,
	`{"images": [{"id": 5}]}`, `{"images": [{"id": "sha256:ab", "ID": "sha256:cd"}]}`,
	`{"images": [{"layers": ["sha256:ab", null]}]}`, `{"images": [{"layers": []}]}`,
	`{"images": [{"created": "2026-01-01T00:00:00+02:00", "added": null, "size": 1.5}]}`,
	`{"images": [{"size": 9223372036854775808}]}`, `{"IMAGES": [{"MediaType": "m"}]} `,
	`{"id": "x", "image": "sha256:0a", "layers": ["sha256:0b"]}`, `{"image": "no-colon"}`,
	`{"image": "sha256:\u0030a"}`, `{"id": 1}`, `{"layers": "sha256:0a"}`, `{} }`, `{"id": "x"} x`,
}

func TestIndexDecode(t *testing.T) {
	for i, ix := range indexCorpus() {
		b, err := json.MarshalIndent(ix, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { sameAsUnmarshal(t, b, unmarshalIndex) })
	}
	for _, in := range storeDecodeEdgeCases {
		sameAsUnmarshal(t, []byte(in), unmarshalIndex)
	}
}

func TestHoldCodec(t *testing.T) {
	for i, h := range holdCorpus {
		want, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got := marshalHold(&h)
		if diff := cmp.Diff(string(want)+"\n", string(got)); diff != "" {
			t.Errorf("marshalHold(hold %d) differs from json.MarshalIndent (-json +marshalHold):\n%s", i, diff)
		}
		sameAsUnmarshal(t, got, unmarshalHold)
	}
	for _, in := range storeDecodeEdgeCases {
		sameAsUnmarshal(t, []byte(in), unmarshalHold)
	}
}

// FuzzStoreDecode holds the index and hold decoders to json.Unmarshal on
// any input, and marshalHold to json.MarshalIndent on every hold that
// input decodes to.
func FuzzStoreDecode(f *testing.F) {
	for _, ix := range indexCorpus() {
		b, err := json.Marshal(ix)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, h := range holdCorpus {
		f.Add(marshalHold(&h))
	}
	for _, in := range storeDecodeEdgeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsUnmarshal(t, b, unmarshalIndex)
		sameAsUnmarshal(t, b, unmarshalHold)
		var h Hold
		if json.Unmarshal(b, &h) != nil {
			return
		}
		want, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := marshalHold(&h); string(got) != string(want)+"\n" {
			t.Fatalf("marshalHold(%+v) = %s, json.MarshalIndent = %s", h, got, want)
		}
	})
}
