package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Client reaches registries. It is safe for concurrent use.
type Client struct {
	Config   Config
	Keychain authn.Keychain
	base     http.RoundTripper
	insecure http.RoundTripper
}

// New returns a client using the Docker credential store (config.json,
// credential helpers) for authentication.
func New(cfg Config) *Client {
	return &Client{Config: cfg, Keychain: authn.DefaultKeychain, base: newTransport(false), insecure: newTransport(true)}
}

func newTransport(skipVerify bool) http.RoundTripper {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		// Layers are already compressed; never let the transport add or
		// undo a Content-Encoding behind the digest check's back.
		DisableCompression: true,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: skipVerify}, //nolint:gosec // only for registries the user listed as insecure
	}
}

// Session is an authenticated connection to one repository on one
// endpoint, reused for every request of a pull or push.
type Session struct {
	Endpoint Endpoint
	Repo     name.Repository
	rt       http.RoundTripper
	scheme   string
}

// Open authenticates to repository path on ep with the given actions
// ("pull", or "pull,push").
func (c *Client) Open(ctx context.Context, ep Endpoint, path string, actions ...string) (*Session, error) {
	opts := []name.Option{name.StrictValidation}
	if ep.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(ep.Host+"/"+path, opts...)
	if err != nil {
		return nil, err
	}
	auth, err := authn.Resolve(ctx, c.Keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", ep.Host, err)
	}
	base := c.base
	if ep.Insecure {
		base = c.insecure
	}
	if len(actions) == 0 {
		actions = []string{transport.PullScope}
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(strings.Join(actions, ","))})
	if err != nil {
		return nil, describe(ep.Host, err)
	}
	// The transport rewrites the scheme to whichever its ping found
	// working, so URLs are built with https and may go out as http.
	return &Session{Endpoint: ep, Repo: repo, rt: rt, scheme: "https"}, nil
}

// url builds a registry API URL for this session's repository.
func (s *Session) url(kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", s.scheme, s.Repo.RegistryStr(), s.Repo.RepositoryStr(), kind, ref)
}

// Do sends req through the authenticated transport.
func (s *Session) Do(req *http.Request) (*http.Response, error) {
	return s.rt.RoundTrip(req)
}

// StatusError is a registry's non-success answer, with what Docker users
// expect to read.
type StatusError struct {
	Host   string
	Code   int
	Detail string // the registry's error message, if it sent one
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s answered %d %s", e.Host, e.Code, http.StatusText(e.Code))
	switch e.Code {
	case http.StatusUnauthorized:
		msg += " (authentication required or credentials rejected; try pelagos login " + e.Host + ")"
	case http.StatusForbidden:
		msg += " (access denied)"
	case http.StatusTooManyRequests:
		msg += " (rate limited; try again later)"
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Errors callers branch on.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
)

// Is lets errors.Is(err, ErrNotFound) and ErrUnauthorized see through a StatusError.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	}
	return false
}

// temporary reports whether retrying may help.
func (e *StatusError) temporary() bool {
	return e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// checkResponse turns a non-2xx response into a StatusError.
func checkResponse(host string, resp *http.Response, ok ...int) error {
	for _, c := range ok {
		if resp.StatusCode == c {
			return nil
		}
	}
	defer resp.Body.Close()
	err := transport.CheckError(resp, ok...)
	return fromTransport(host, err, resp.StatusCode)
}

func fromTransport(host string, err error, code int) error {
	var te *transport.Error
	detail := ""
	if errors.As(err, &te) {
		code = te.StatusCode
		var parts []string
		for _, d := range te.Errors {
			parts = append(parts, strings.ToLower(d.Message))
		}
		detail = strings.Join(parts, "; ")
	}
	if code == 0 {
		return err
	}
	return &StatusError{Host: host, Code: code, Detail: detail}
}

// describe rewrites errors from connecting and authenticating so they
// name the registry and the cause in one line.
func describe(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		return fromTransport(host, err, te.StatusCode)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("registry %s: unknown host", host)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return fmt.Errorf("registry %s: %w", host, opErr.Err)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// drain discards a little of a body so the connection can be reused.
func drain(rc io.ReadCloser) {
	io.CopyN(io.Discard, rc, 4096)
	rc.Close()
}

// Transport is the base HTTP transport for a registry (skipping TLS
// verification only for insecure ones), for callers that drive
// go-containerregistry's remote package themselves.
func (c *Client) Transport(insecure bool) http.RoundTripper {
	if insecure {
		return c.insecure
	}
	return c.base
}
