// Package reference parses and normalises image references the way Docker
// does: "alpine" means "docker.io/library/alpine:latest", a first component
// with a dot, a colon or the name "localhost" is a registry, and a reference
// may carry a tag, a digest or both.
//
// It only parses strings; it never talks to a registry (go-containerregistry's
// form of a reference, which needs go-digest's regular expressions at
// package init, is made where a registry is talked to: push).
package reference

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultDomain is the registry a reference without one names.
const DefaultDomain = "docker.io"

// DefaultTag is the tag a reference without a tag or digest names.
const DefaultTag = "latest"

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid reference")

// The grammar's pieces are matched by hand rather than by regular
// expressions: compiling four expressions at package init was a visible
// part of every pelagos command's start (the tests check these functions
// against the expressions).

// isComponent matches a path component: lowercase alphanumerics separated
// by ".", "_", "__" or runs of "-".
func isComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false // empty, or a separator with nothing before or after it
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '.':
			i++
		case s[i] == '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isTag matches 1 to 128 of [A-Za-z0-9_.-], not starting with "." or "-".
func isTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isDigest matches sha256:<64 lowercase hex> and sha512:<128 lowercase hex>.
func isDigest(s string) bool {
	var hex string
	switch {
	case strings.HasPrefix(s, "sha256:"):
		hex = s[len("sha256:"):]
		if len(hex) != 64 {
			return false
		}
	case strings.HasPrefix(s, "sha512:"):
		hex = s[len("sha512:"):]
		if len(hex) != 128 {
			return false
		}
	default:
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isDomain matches a registry host: a DNS name or IPv4 address (labels of
// alphanumerics and inner "-", separated by "."), or a bracketed IPv6
// address, with an optional port of 1 to 5 digits.
func isDomain(s string) bool {
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		port := s[i+1:]
		if len(port) == 0 || len(port) > 5 {
			return false
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return false
			}
		}
		host = s[:i]
	}
	if strings.HasPrefix(host, "[") {
		inner, ok := strings.CutSuffix(host[1:], "]")
		if !ok || inner == "" {
			return false
		}
		for i := 0; i < len(inner); i++ {
			if c := inner[i]; !isHex(c) && c != ':' {
				return false
			}
		}
		return true
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }
func isHex(c byte) bool        { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// Reference is a parsed, normalised image reference.
type Reference struct {
	Domain string // registry host[:port], e.g. "docker.io", "localhost:5000"
	Path   string // repository path, e.g. "library/alpine"
	Tag    string // may be empty when Digest is set
	Digest string // "sha256:...", or empty
}

// Parse parses s and applies Docker's defaults: the docker.io registry,
// the library/ namespace for one-component Docker Hub names, and the
// "latest" tag when neither a tag nor a digest is given.
func Parse(s string) (Reference, error) {
	r, err := ParseNoTag(s)
	if err != nil {
		return r, err
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

// ParseNoTag is Parse without the default tag: a repository name stays
// without tag, as "pelagos images alpine" and "pelagos push -a" want it.
func ParseNoTag(s string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s", ErrInvalid, s, why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 4096 {
		return bad("too long")
	}
	var r Reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if !isDigest(r.Digest) {
			return bad("digest must be sha256:<64 hex> or sha512:<128 hex>")
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !isTag(r.Tag) {
			return bad("tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -")
		}
	}
	r.Domain, r.Path = splitDomain(rest)
	if !isDomain(r.Domain) {
		return bad("bad registry host " + r.Domain)
	}
	if r.Path == "" {
		return bad("no repository name")
	}
	for _, c := range strings.Split(r.Path, "/") {
		if !isComponent(c) {
			return bad(fmt.Sprintf("repository component %q must be lowercase letters, digits and separators", c))
		}
	}
	if len(r.Domain)+1+len(r.Path) > 255 {
		return bad("repository name longer than 255 characters")
	}
	return r, nil
}

// splitDomain separates the registry from the path as Docker does: the
// first component is a registry only if it looks like a host.
func splitDomain(s string) (domain, path string) {
	i := strings.IndexByte(s, '/')
	if i < 0 || !looksLikeHost(s[:i]) {
		domain, path = DefaultDomain, s
	} else {
		domain, path = s[:i], s[i+1:]
	}
	if domain == "index.docker.io" {
		domain = DefaultDomain
	}
	if domain == DefaultDomain && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return domain, path
}

func looksLikeHost(c string) bool {
	return strings.ContainsAny(c, ".:") || c == "localhost" || c != strings.ToLower(c)
}

// Repository is the fully qualified repository: "docker.io/library/alpine".
func (r Reference) Repository() string { return r.Domain + "/" + r.Path }

// String is the fully qualified reference, with tag and digest when set.
func (r Reference) String() string {
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// FamiliarRepository is the repository as Docker prints it: "alpine" for
// docker.io/library/alpine, "user/app" for docker.io/user/app.
func (r Reference) FamiliarRepository() string {
	if r.Domain != DefaultDomain {
		return r.Repository()
	}
	return strings.TrimPrefix(r.Path, "library/")
}

// Familiar is the reference as Docker prints it ("alpine:latest").
func (r Reference) Familiar() string {
	s := r.FamiliarRepository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDigest returns r naming digest d and no tag: the form a registry
// is asked for once a tag has been resolved.
func (r Reference) WithDigest(d string) Reference {
	return Reference{Domain: r.Domain, Path: r.Path, Digest: d}
}

// DockerHubHost is the host registries' auth realms and
// go-containerregistry know Docker Hub by.
const DockerHubHost = "index.docker.io"

// RegistryHost is the host to talk to: DockerHubHost for docker.io, other
// hosts unchanged.
func (r Reference) RegistryHost() string {
	if r.Domain == DefaultDomain {
		return DockerHubHost
	}
	return r.Domain
}
