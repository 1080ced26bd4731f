// Package reference parses and normalises image references the way Docker
// does: "alpine" means "docker.io/library/alpine:latest", a first component
// with a dot, a colon or the name "localhost" is a registry, and a reference
// may carry a tag, a digest or both.
//
// It only parses strings; it never talks to a registry.
package reference

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultDomain is the registry a reference without one names.
const DefaultDomain = "docker.io"

// DefaultTag is the tag a reference without a tag or digest names.
const DefaultTag = "latest"

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid reference")

var (
	// A path component: lowercase alphanumerics separated by ".", "_", "__" or runs of "-".
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	tagRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE    = regexp.MustCompile(`^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$`)
	// A registry host: a DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port.
	domainRE = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$`)
)

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
		if !digestRE.MatchString(r.Digest) {
			return bad("digest must be sha256:<64 hex> or sha512:<128 hex>")
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !tagRE.MatchString(r.Tag) {
			return bad("tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -")
		}
	}
	r.Domain, r.Path = splitDomain(rest)
	if !domainRE.MatchString(r.Domain) {
		return bad("bad registry host " + r.Domain)
	}
	if r.Path == "" {
		return bad("no repository name")
	}
	for _, c := range strings.Split(r.Path, "/") {
		if !componentRE.MatchString(c) {
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

// RegistryHost is the host go-containerregistry and registries' auth
// realms know Docker Hub by ("index.docker.io"); other hosts unchanged.
func (r Reference) RegistryHost() string {
	if r.Domain == DefaultDomain {
		return name.DefaultRegistry
	}
	return r.Domain
}

// Name converts r to go-containerregistry's form, which the registry
// client speaks. A digest wins over a tag. insecure allows plain HTTP.
func (r Reference) Name(insecure bool) (name.Reference, error) {
	return r.NameOn(r.RegistryHost(), insecure)
}

// NameOn is Name with the registry replaced by host, as a mirror serves
// the same repository under another host.
func (r Reference) NameOn(host string, insecure bool) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	repo := host + "/" + r.Path
	if r.Digest != "" {
		return name.NewDigest(repo+"@"+r.Digest, opts...)
	}
	return name.NewTag(repo+":"+r.Tag, opts...)
}
