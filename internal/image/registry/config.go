// Package registry is pelagos's client for OCI and Docker registries: it
// picks the endpoints for a repository (mirrors first, then the origin),
// authenticates from the Docker credential store, and fetches manifests
// and blobs with bounded sizes, clear errors and resumable blob reads.
// It verifies nothing itself and stores nothing: pull and push do.
package registry

import "github.com/pelagos-go/pelagos/internal/image/registryconfig"

// DefaultConfigPath is where the registries configuration is read from
// when no other path is given.
const DefaultConfigPath = registryconfig.DefaultConfigPath

// Config says how to reach registries: see registryconfig.Config.
type Config = registryconfig.Config

// Endpoint is one host to ask for a repository.
type Endpoint = registryconfig.Endpoint

// LoadConfig reads a Config from path; a missing file is an empty Config.
func LoadConfig(path string) (Config, error) { return registryconfig.Load(path) }
