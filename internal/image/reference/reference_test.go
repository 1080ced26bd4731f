package reference

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct{ in, full, familiar string }{
		{"alpine", "docker.io/library/alpine:latest", "alpine:latest"},
		{"alpine:3.19", "docker.io/library/alpine:3.19", "alpine:3.19"},
		{"user/app", "docker.io/user/app:latest", "user/app:latest"},
		{"docker.io/alpine", "docker.io/library/alpine:latest", "alpine:latest"},
		{"index.docker.io/library/alpine:1", "docker.io/library/alpine:1", "alpine:1"},
		{"localhost/app", "localhost/app:latest", "localhost/app:latest"},
		{"localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c"},
		{"127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"},
		{"[::1]:5000/x:1", "[::1]:5000/x:1", "[::1]:5000/x:1"},
		{"quay.io/org/img@sha256:" + hex64, "quay.io/org/img@sha256:" + hex64, "quay.io/org/img@sha256:" + hex64},
		{"alpine:3@sha256:" + hex64, "docker.io/library/alpine:3@sha256:" + hex64, "alpine:3@sha256:" + hex64},
		{"a__b/c-d.e--f", "docker.io/a__b/c-d.e--f:latest", "a__b/c-d.e--f:latest"},
	}
	for _, c := range cases {
		r, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := r.String(); got != c.full {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, c.full)
		}
		if got := r.Familiar(); got != c.familiar {
			t.Errorf("Parse(%q).Familiar() = %q, want %q", c.in, got, c.familiar)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "Alpine", "alpine:", "alpine:-x", "alpine@sha256:short", "a//b", "-a/b", "a/b-",
		"host:99999999/x", "alpine:bad tag", "UPPER.io/Repo",
	} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) err = %v, want ErrInvalid", in, err)
		}
	}
}
