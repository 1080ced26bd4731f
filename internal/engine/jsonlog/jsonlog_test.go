package jsonlog

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func TestAppendEntryIsJSON(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.UTC)
	for _, msg := range []string{
		"hello\n", "", "quote \" backslash \\ tab \t cr \r", "\x00\x01\x1f<>&",
		"é ü 日本 \U0001F600", "bad \xff\xfe utf8", "sep \u2028 \u2029",
	} {
		line := AppendEntry(nil, "stderr", []byte(msg), ts)
		if line[len(line)-1] != '\n' || strings.Count(string(line), "\n") != 1 {
			t.Errorf("AppendEntry(%q) = %q: want exactly one line", msg, line)
		}
		var got entry
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("AppendEntry(%q) = %q: not JSON: %v", msg, line, err)
		}
		// encoding/json's own reading of the string is the reference.
		var wantLog string
		ref, _ := json.Marshal(msg)
		if err := json.Unmarshal(ref, &wantLog); err != nil {
			t.Fatal(err)
		}
		want := entry{Log: wantLog, Stream: "stderr", Time: ts}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AppendEntry(%q) decoded (-want +got):\n%s", msg, diff)
		}
	}
}

func TestAppendEntryMatchesDockersForm(t *testing.T) {
	ts := time.Date(2024, 5, 1, 10, 0, 0, 5, time.UTC)
	got := string(AppendEntry(nil, "stdout", []byte("hi\n"), ts))
	want := `{"log":"hi\n","stream":"stdout","time":"2024-05-01T10:00:00.000000005Z"}` + "\n"
	if got != want {
		t.Errorf("AppendEntry = %s, want %s", got, want)
	}
}

func readEntries(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		out = append(out, e.Log)
	}
	return out
}

func TestCopySplitsLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	w, err := Open(p, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxEntry+10)
	in := "a\nb\n" + long + "\nlast"
	var tee strings.Builder
	if err := w.Copy("stdout", strings.NewReader(in), &tee); err != nil {
		t.Fatal(err)
	}
	w.Close()
	want := []string{"a\n", "b\n", long[:MaxEntry], long[MaxEntry:] + "\n", "last"}
	if diff := cmp.Diff(want, readEntries(t, p)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if tee.String() != in {
		t.Errorf("tee got %d bytes, want %d", tee.Len(), len(in))
	}
}

func TestRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	ts := time.Date(2024, 5, 1, 10, 0, 0, 123, time.UTC)
	one := len(AppendEntry(nil, "stdout", []byte("line 00\n"), ts))
	w, err := Open(p, int64(3*one), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := w.Write("stdout", []byte("line "+string(rune('0'+i/10))+string(rune('0'+i%10))+"\n"), ts); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// 10 entries, 3 per file, 3 files: [3 4 5] in .2, [6 7 8] in .1, [9].
	got := append(append(readEntries(t, p+".2"), readEntries(t, p+".1")...), readEntries(t, p)...)
	var want []string
	for i := 3; i < 10; i++ {
		want = append(want, "line 0"+string(rune('0'+i))+"\n")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries across files (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(p + ".3"); err == nil {
		t.Errorf("%s.3 exists: max-file 3 keeps three files", p)
	}
}

func TestRotationWithOneFileTruncates(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	one := len(AppendEntry(nil, "stdout", []byte("x\n"), time.Now()))
	w, err := Open(p, int64(2*one), 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := w.Write("stdout", []byte("x\n"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if got := len(readEntries(t, p)); got != 1 {
		t.Errorf("%d entries after 5 writes with room for 2 and one file, want 1", got)
	}
}
