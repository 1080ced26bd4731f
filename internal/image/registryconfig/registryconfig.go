// Package registryconfig is how pelagos reaches registries: mirrors and
// insecure registries, from /etc/pelagos/registries.json. It is apart
// from package registry (the client) so that what only reads the
// configuration (pelagos info) does not link an HTTP client.
package registryconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// DefaultConfigPath is where the registries configuration is read from
// when no other path is given.
const DefaultConfigPath = "/etc/pelagos/registries.json"

// Config says how to reach registries. Its file form:
//
//	{
//	  "mirrors":  {"docker.io": ["mirror.example:5000"]},
//	  "insecure": ["registry.lan:5000"]
//	}
//
// A mirror serves the same repositories as the registry it stands for;
// pulls try the mirrors in order and fall back to the origin. Insecure
// registries may be reached over plain HTTP or HTTPS with any
// certificate; localhost and 127.0.0.1 always may.
type Config struct {
	Mirrors  map[string][]string `json:"mirrors,omitempty"`
	Insecure []string            `json:"insecure,omitempty"`
}

// Load reads a Config from path; a missing file is an empty Config.
func Load(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("registries config %s: %w", path, err)
	}
	return c, nil
}

// IsInsecure reports whether host may be reached without verified TLS.
func (c Config) IsInsecure(host string) bool {
	h := host
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "127.0.0.1" || h == "[::1]" {
		return true
	}
	return slices.Contains(c.Insecure, host)
}

// Endpoint is one host to ask for a repository.
type Endpoint struct {
	Host     string // host[:port]
	Insecure bool
	Mirror   bool
}

// Endpoints lists where to look for repositories of domain (as
// reference.Reference.Domain spells it): mirrors, then the origin.
func (c Config) Endpoints(domain, originHost string) []Endpoint {
	var eps []Endpoint
	for _, m := range c.Mirrors[domain] {
		m = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(m, "https://"), "http://"), "/")
		eps = append(eps, Endpoint{Host: m, Insecure: c.IsInsecure(m), Mirror: true})
	}
	return append(eps, Endpoint{Host: originHost, Insecure: c.IsInsecure(originHost)})
}
