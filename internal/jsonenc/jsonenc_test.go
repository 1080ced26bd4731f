package jsonenc

import (
	"encoding/json"
	"go/build"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// marshal is json.Marshal for the tests' values, which it never refuses.
func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var stringCases = []string{
	"", "plain", `"quoted" \back\slash/`, "\b\f\n\r\t\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "é ü 日本 \U0001F600", "sep \u2028 \u2029 \u2027 \u202a",
	"bad \xff\xfe utf8 \xed\xa0\x80 surrogate \xf4\x90\x80\x80 too big", "cut \xe6\x97",
}

// sameAsMarshal fails t unless String and AppendEscaped (of the string and
// of its bytes) write what json.Marshal writes for s.
func sameAsMarshal(t *testing.T, s string) {
	t.Helper()
	want := marshal(t, s)
	for _, got := range []string{
		string(String(nil, s)),
		`"` + string(AppendEscaped(nil, s)) + `"`,
		`"` + string(AppendEscaped(nil, []byte(s))) + `"`,
	} {
		if got != want {
			t.Fatalf("String(%q) = %s, json.Marshal = %s", s, got, want)
		}
	}
}

func TestString(t *testing.T) {
	for _, s := range stringCases {
		sameAsMarshal(t, s)
	}
	for c := 0; c < 256; c++ {
		sameAsMarshal(t, string([]byte{'a', byte(c), 'z'}))
	}
}

func FuzzString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(sameAsMarshal)
}

// TestComposites holds the helpers for slices, maps, pointers, sets,
// objects and times to json.Marshal, nil and empty included.
func TestComposites(t *testing.T) {
	type kind string
	n := int64(-5)
	yes := true
	zone := time.FixedZone("", -(3*3600 + 1800))
	var err error
	object := func(fields ...string) []byte {
		b := []byte("x")
		start := Start(b)
		for _, f := range fields {
			b = append(b, f...)
		}
		return End(b, start)[1:]
	}
	tests := []struct {
		got  []byte
		want any
	}{
		{Strings[string](nil, nil), []string(nil)},
		{Strings(nil, []string{}), []string{}},
		{Strings(nil, []kind{"a", "<b>"}), []kind{"a", "<b>"}},
		{Slice(nil, []int64{1, -2}, IntElem), []int64{1, -2}},
		{Slice(nil, []uint32{0, 1 << 31}, UintElem), []uint32{0, 1 << 31}},
		{Slice[bool](nil, nil, BoolElem), []bool(nil)},
		{Ptr(nil, &n, IntElem), &n},
		{Ptr(nil, &yes, BoolElem), &yes},
		{Ptr[int64](nil, nil, IntElem), (*int64)(nil)},
		{StringMap[string, string](nil, nil), map[string]string(nil)},
		{StringMap(nil, map[string]string{}), map[string]string{}},
		{StringMap(nil, map[kind]kind{"b": "1", "a": "2", "<": "&", "B": ""}), map[kind]kind{"b": "1", "a": "2", "<": "&", "B": ""}},
		{Set(nil, map[string]struct{}{"80/tcp": {}, "53/udp": {}}), map[string]struct{}{"80/tcp": {}, "53/udp": {}}},
		{Set[string](nil, nil), map[string]struct{}(nil)},
		{Map(nil, map[string][]string{"x": nil, "a": {"1"}}, func(b []byte, v *[]string) []byte { return Strings(b, *v) }), map[string][]string{"x": nil, "a": {"1"}}},
		{Int(nil, int64(-1<<63)), int64(-1 << 63)},
		{Uint(nil, uint64(1<<64-1)), uint64(1<<64 - 1)},
		{object(), struct{}{}},
		{object(`,"a":1`, `,"b":2`), struct {
			A int `json:"a"`
			B int `json:"b"`
		}{1, 2}},
		{Time(nil, time.Date(2026, 11, 29, 6, 0, 0, 120, zone), &err), time.Date(2026, 11, 29, 6, 0, 0, 120, zone)},
		{Time(nil, time.Time{}, &err), time.Time{}},
	}
	for i, tt := range tests {
		if diff := cmp.Diff(marshal(t, tt.want), string(tt.got)); diff != "" {
			t.Errorf("case %d (-json.Marshal +got):\n%s", i, diff)
		}
	}
	if err != nil {
		t.Errorf("Time: %v", err)
	}
}

func TestTimeOutOfRange(t *testing.T) {
	var err error
	bad := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	Time(nil, bad, &err)
	_, want := json.Marshal(bad)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("Time(year 10000) error = %v, json.Marshal's = %v", err, want)
	}
}

// TestImportsNoReflection: the per-container monitor writes its logs with
// this package and must not link encoding/json or reflect through it.
func TestImportsNoReflection(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		if imp == "encoding/json" || imp == "reflect" {
			t.Errorf("package jsonenc imports %s", imp)
		}
	}
}
