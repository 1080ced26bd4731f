package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// MaxManifestSize bounds manifests and indexes: real ones are a few
// kilobytes, and a registry that sends more is not sending a manifest.
const MaxManifestSize = 4 << 20

// MaxConfigSize bounds image configs (long histories make them large,
// but not this large).
const MaxConfigSize = 16 << 20

// manifestAccept lists every manifest type pelagos reads.
var manifestAccept = strings.Join([]string{
	string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2),
}, ", ")

// Manifest is a fetched manifest or index, not yet verified.
type Manifest struct {
	Body      []byte
	MediaType types.MediaType
	Digest    string // Docker-Content-Digest as the registry reported it, if any
}

// Manifest fetches the manifest or index that ref (a tag or a digest)
// names, retrying transient failures.
func (s *Session) Manifest(ctx context.Context, ref string) (Manifest, error) {
	var m Manifest
	err := retry(ctx, func() error {
		var err error
		m, err = s.manifestOnce(ctx, ref)
		return err
	})
	return m, err
}

func (s *Session) manifestOnce(ctx context.Context, ref string) (Manifest, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("manifests", ref), nil)
	if err != nil {
		return Manifest{}, err
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := s.Do(req)
	if err != nil {
		return Manifest{}, describe(s.Endpoint.Host, err)
	}
	if err := checkResponse(s.Endpoint.Host, resp, http.StatusOK); err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: %d bytes, more than the %d allowed", errTooLarge, resp.ContentLength, MaxManifestSize)
	}
	body, err := readLimited(resp.Body, MaxManifestSize)
	if err != nil {
		return Manifest{}, err
	}
	mt := types.MediaType(strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0]))
	return Manifest{Body: body, MediaType: mt, Digest: resp.Header.Get("Docker-Content-Digest")}, nil
}

// SmallBlob fetches a blob of at most limit bytes (a config) into memory.
func (s *Session) SmallBlob(ctx context.Context, d v1.Hash, limit int64) ([]byte, error) {
	var body []byte
	err := retry(ctx, func() error {
		rc, _, err := s.Blob(ctx, d, 0, 0)
		if err != nil {
			return err
		}
		defer rc.Close()
		body, err = readLimited(rc, limit)
		return err
	})
	return body, err
}

// Blob opens blob d (of size bytes) from byte offset on. It returns the
// body and the offset the body actually starts at: offset when the
// registry honoured the Range request, 0 when it sent the whole blob
// again. The range is closed ("bytes=N-M"): some registries refuse an
// open one.
func (s *Session) Blob(ctx context.Context, d v1.Hash, offset, size int64) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("blobs", d.String()), nil)
	if err != nil {
		return nil, 0, err
	}
	return rangedGet(s.Do, s.Endpoint.Host, req, offset, size)
}

// URLBlob fetches a blob from one of the URLs its descriptor lists (a
// non-distributable layer's home): a plain GET through the base
// transport, never with the registry's credentials, which must not go
// to another host; Range as in Blob.
func (c *Client) URLBlob(ctx context.Context, rawURL string, offset, size int64) (io.ReadCloser, int64, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, fmt.Errorf("layer URL %q: not an http or https URL", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	return rangedGet(c.base.RoundTrip, u.Host, req, offset, size)
}

// rangedGet sends req, asking for bytes offset..size-1 when offset > 0,
// and returns the body with the offset it starts at.
func rangedGet(do func(*http.Request) (*http.Response, error), host string, req *http.Request, offset, size int64) (io.ReadCloser, int64, error) {
	if offset > 0 && size > offset {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-"+strconv.FormatInt(size-1, 10))
	}
	resp, err := do(req)
	if err != nil {
		return nil, 0, describe(host, err)
	}
	if err := checkResponse(host, resp, http.StatusOK, http.StatusPartialContent); err != nil {
		return nil, 0, err
	}
	if resp.StatusCode == http.StatusPartialContent {
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-") {
			drain(resp.Body)
			return nil, 0, fmt.Errorf("%s sent range %q, asked for %d-", host, resp.Header.Get("Content-Range"), offset)
		}
		return resp.Body, offset, nil
	}
	return resp.Body, 0, nil
}

// BlobExists asks whether the repository has blob d (a HEAD request).
func (s *Session) BlobExists(ctx context.Context, d v1.Hash) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.url("blobs", d.String()), nil)
	if err != nil {
		return false, err
	}
	resp, err := s.Do(req)
	if err != nil {
		return false, describe(s.Endpoint.Host, err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, &StatusError{Host: s.Endpoint.Host, Code: resp.StatusCode}
}

var errTooLarge = errors.New("too large")

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooLarge, limit)
	}
	return b, nil
}

// Temporary reports whether err may go away on retry: a dropped
// connection, a timeout, a 429 or a 5xx.
func Temporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.temporary()
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isNetErr(err)
}

// retry runs fn up to three times while it fails temporarily.
func retry(ctx context.Context, fn func() error) error {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == 3 || !Temporary(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay *= 2
	}
}
