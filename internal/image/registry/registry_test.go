package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "registries.json")
	if c, err := LoadConfig(p); err != nil || c.Mirrors != nil || c.Insecure != nil {
		t.Errorf("LoadConfig(missing) = %+v, %v; want empty, nil", c, err)
	}
	os.WriteFile(p, []byte(`{"mirrors": {"docker.io": ["https://m1:5000/", "m2"]}, "insecure": ["reg.lan:5000"]}`), 0o644)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Endpoints("docker.io", "registry-1.docker.io")
	want := []Endpoint{{Host: "m1:5000", Mirror: true}, {Host: "m2", Mirror: true}, {Host: "registry-1.docker.io"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Endpoints (-want +got):\n%s", diff)
	}
	os.WriteFile(p, []byte(`{"mirrors": [`), 0o644)
	if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadConfig(bad JSON) = %v, want an error naming the file", err)
	}
}

func TestIsInsecure(t *testing.T) {
	c := Config{Insecure: []string{"reg.lan:5000"}}
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "a.localhost:1": true, "127.0.0.1:5000": true, "[::1]:5000": true,
		"reg.lan:5000": true, "reg.lan": false, "reg.lan:5001": false, "docker.io": false, "localhost.example.com": false,
	} {
		if got := c.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestStatusError(t *testing.T) {
	for _, c := range []struct {
		code      int
		want      string
		notFound  bool
		unauth    bool
		temporary bool
	}{
		{401, "h answered 401 Unauthorized (authentication required or credentials rejected; try pelagos login h): why", false, true, false},
		{403, "h answered 403 Forbidden (access denied): why", false, true, false},
		{404, "h answered 404 Not Found: why", true, false, false},
		{429, "h answered 429 Too Many Requests (rate limited; try again later): why", false, false, true},
		{500, "h answered 500 Internal Server Error: why", false, false, true},
		{503, "h answered 503 Service Unavailable: why", false, false, true},
	} {
		err := fmt.Errorf("blob x: %w", &StatusError{Host: "h", Code: c.code, Detail: "why"})
		if got := errors.Unwrap(err).Error(); got != c.want {
			t.Errorf("%d: %q, want %q", c.code, got, c.want)
		}
		if errors.Is(err, ErrNotFound) != c.notFound || errors.Is(err, ErrUnauthorized) != c.unauth || Temporary(err) != c.temporary {
			t.Errorf("%d: NotFound %v Unauthorized %v Temporary %v; want %v %v %v", c.code,
				errors.Is(err, ErrNotFound), errors.Is(err, ErrUnauthorized), Temporary(err), c.notFound, c.unauth, c.temporary)
		}
	}
	for _, err := range []error{io.ErrUnexpectedEOF, fmt.Errorf("read: %w", io.EOF)} {
		if !Temporary(err) {
			t.Errorf("Temporary(%v) = false, want true (a dropped connection)", err)
		}
	}
	for _, err := range []error{nil, context.Canceled, errors.New("parse error")} {
		if Temporary(err) {
			t.Errorf("Temporary(%v) = true, want false", err)
		}
	}
}

// rangeServer serves blob bytes at /v2/r/blobs/<digest>, honouring Range
// or not, or answering a wrong Content-Range.
func rangeServer(t *testing.T, blob []byte, mode string) (*Session, v1.Hash) {
	t.Helper()
	d, _, _ := v1.SHA256(strings.NewReader(string(blob)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		var from int
		if rg := r.Header.Get("Range"); rg != "" && mode != "ignore" {
			fmt.Sscanf(rg, "bytes=%d-", &from)
			if mode == "wrong" {
				from++
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(blob)-1, len(blob)))
			w.WriteHeader(http.StatusPartialContent)
		}
		w.Write(blob[from:])
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	c := New(Config{})
	s, err := c.Open(context.Background(), Endpoint{Host: host, Insecure: true}, "r")
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

// Blob resumes with a closed Range; a registry that ignores it sends the
// whole blob (start 0), and one that answers another range is refused.
func TestBlobRange(t *testing.T) {
	blob := []byte("0123456789")
	for _, c := range []struct {
		mode      string
		wantStart int64
		wantBody  string
		wantErr   string
	}{
		{"honour", 4, "456789", ""},
		{"ignore", 0, "0123456789", ""},
		{"wrong", 0, "", `sent range "bytes 5-9/10", asked for 4-`},
	} {
		t.Run(c.mode, func(t *testing.T) {
			s, d := rangeServer(t, blob, c.mode)
			rc, start, err := s.Blob(context.Background(), d, 4, int64(len(blob)))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Blob = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			if start != c.wantStart || string(b) != c.wantBody {
				t.Errorf("Blob from 4 = start %d body %q, want %d %q", start, b, c.wantStart, c.wantBody)
			}
		})
	}
}

// SmallBlob refuses more than its limit instead of reading on.
func TestSmallBlobBound(t *testing.T) {
	s, d := rangeServer(t, make([]byte, 1000), "honour")
	if _, err := s.SmallBlob(context.Background(), d, 999); !errors.Is(err, errTooLarge) {
		t.Errorf("SmallBlob over its limit = %v, want errTooLarge", err)
	}
	if b, err := s.SmallBlob(context.Background(), d, 1000); err != nil || len(b) != 1000 {
		t.Errorf("SmallBlob at its limit = %d bytes, %v", len(b), err)
	}
}

// URLBlob takes only http and https URLs.
func TestURLBlobSchemes(t *testing.T) {
	c := New(Config{})
	for _, u := range []string{"file:///etc/passwd", "ftp://x/y", "/relative", "http://"} {
		if _, _, err := c.URLBlob(context.Background(), u, 0, 1); err == nil || !strings.Contains(err.Error(), "not an http or https URL") {
			t.Errorf("URLBlob(%q) = %v, want a refusal", u, err)
		}
	}
}

func TestUnknownHost(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := New(Config{}).Open(context.Background(), Endpoint{Host: "nonexistent.invalid"}, "a/b")
	if err == nil || err.Error() != "registry nonexistent.invalid: unknown host" {
		t.Errorf("Open(unknown host) = %v, want \"registry nonexistent.invalid: unknown host\"", err)
	}
}
