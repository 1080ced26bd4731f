package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHumanSize(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0B"}, {999, "999B"}, {1000, "1kB"}, {1234, "1.234kB"}, {5_600_000, "5.6MB"}, {200_000, "200kB"}, {3_000_000_000, "3GB"}} {
		if got := HumanSize(c.n); got != c.want {
			t.Errorf("HumanSize(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestBar(t *testing.T) {
	for _, c := range []struct {
		cur, total int64
		want       string
	}{
		{0, 100, "[>         ]       0B/100B"},
		{50, 100, "[=====>    ]      50B/100B"},
		{100, 100, "[==========]     100B/100B"},
		{150, 100, "[==========]     150B/100B"},
		{42, 0, "42B"},
	} {
		if got := bar(c.cur, c.total, 10); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.cur, c.total, got, c.want)
		}
	}
}

// Lines prints a line per change of status, not per progress event.
func TestLines(t *testing.T) {
	var b bytes.Buffer
	l := &Lines{W: &b}
	for _, e := range []Event{
		{ID: "1", Status: "Pulling from x"},
		{ID: "aaa", Status: PullingFS},
		{ID: "aaa", Status: Downloading, Current: 1, Total: 9},
		{ID: "aaa", Status: Downloading, Current: 5, Total: 9},
		{ID: "bbb", Status: PullingFS},
		{ID: "aaa", Status: PullComplete},
		{Status: "Digest: sha256:x"},
		{Status: "Digest: sha256:x"},
	} {
		l.Send(e)
	}
	want := "1: Pulling from x\naaa: Pulling fs layer\naaa: Downloading\nbbb: Pulling fs layer\naaa: Pull complete\nDigest: sha256:x\nDigest: sha256:x\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Lines output (-want +got):\n%s", diff)
	}
}

// JSON writes the messages the Docker Engine API streams, which the
// docker CLI's jsonmessage package reads.
func TestJSON(t *testing.T) {
	var b bytes.Buffer
	j := &JSON{W: &b}
	j.Send(Event{ID: "latest", Status: "Pulling from library/x"})
	j.Send(Event{ID: "abc", Status: Downloading, Current: 500, Total: 1000})
	j.Send(Event{Status: "Digest: sha256:x"})
	j.Error(errors.New("pull x: layer y: digest mismatch"))
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"status": "Pulling from library/x", "id": "latest"},
		{"status": "Downloading", "id": "abc", "progressDetail": map[string]any{"current": 500.0, "total": 1000.0},
			"progress": "[" + strings.Repeat("=", 25) + ">" + strings.Repeat(" ", 24) + "]     500B/1kB"},
		{"status": "Digest: sha256:x"},
		{"error": "pull x: layer y: digest mismatch", "errorDetail": map[string]any{"message": "pull x: layer y: digest mismatch"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON messages (-want +got):\n%s", diff)
	}
}

// TTY prints a line per item once and then rewrites it in place.
func TestTTY(t *testing.T) {
	var b bytes.Buffer
	tt := &TTY{W: &b}
	tt.Send(Event{ID: "aaa", Status: PullingFS})
	tt.Send(Event{ID: "bbb", Status: PullingFS})
	tt.Send(Event{ID: "aaa", Status: PullComplete})
	tt.Send(Event{Status: "Digest: sha256:x"})
	tt.Send(Event{ID: "ccc", Status: Pushed})
	want := "aaa: Pulling fs layer\nbbb: Pulling fs layer\n" +
		"\x1b[2A\r\x1b[2Kaaa: Pull complete\r\x1b[2B" + // two lines up, rewrite, back down
		"Digest: sha256:x\nccc: Pushed\n" // a message starts a new block
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("TTY output (-want +got):\n%s", diff)
	}
}
