package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []byte
		bad  bool
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"ctrl-A,x", []byte{1, 'x'}, false},
		{"ctrl-@,ctrl-_", []byte{0, 31}, false},
		{"", nil, false},
		{"ctrl-1", nil, true},
		{"ab", nil, true},
	} {
		got, err := parseDetachKeys(tt.in)
		if (err != nil) != tt.bad || !bytes.Equal(got, tt.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v, want %v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestSendInput(t *testing.T) {
	keys := []byte{16, 17}
	for _, tt := range []struct {
		in, sent string
		detached bool
	}{
		{"hello\n", "hello\n", false},
		{"ab\x10\x11cd", "ab", true},
		{"a\x10b\x10\x10\x11", "a\x10b\x10", true},
		{"\x10x", "\x10x", false},
	} {
		var w bytes.Buffer
		err := sendInput(&w, strings.NewReader(tt.in), keys)
		if w.String() != tt.sent || (err == errDetached) != tt.detached {
			t.Errorf("sendInput(%q) sent %q, %v; want %q, detached %v", tt.in, w.String(), err, tt.sent, tt.detached)
		}
	}
}
