package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registryconfig"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Registry is the work that needs a registry client: pull, push, login.
//
// pelagos does not link one. An HTTP client with TLS and the registry
// libraries are a third of the packages in the binary, and their package
// initialisation (regular expressions, tables, cipher suites) ran before
// every command, a run of a local image included. pelagos-registry
// (cmd/pelagos-registry) is the same CLI with the client linked in
// (internal/cli/remote); a command of pelagos that needs a registry hands
// its whole command line to it (needRegistry), as git hands remote
// transports to its git-remote-* helpers.
type Registry interface {
	// Pull fetches ref into st, for platform (zero: this host's).
	Pull(ctx context.Context, cfg registryconfig.Config, st *store.Store, ref reference.Reference, platform v1.Platform, sink progress.Sink) error
	// Push uploads img to ref and returns the pushed manifest's digest.
	Push(ctx context.Context, cfg registryconfig.Config, st *store.Store, img store.Image, ref reference.Reference, sink progress.Sink) (v1.Hash, error)
	// Verify checks credentials against host's registry.
	Verify(ctx context.Context, cfg registryconfig.Config, host, user, password string) error
	// SaveCredentials and EraseCredentials edit the docker config file.
	SaveCredentials(host, user, password string) error
	EraseCredentials(host string) (bool, error)
}

// remote is the registry client UseRegistry gave; nil in pelagos.
var remote Registry

// UseRegistry gives the CLI its registry client (pelagos-registry's main).
func UseRegistry(r Registry) { remote = r }

// EnvRegistryHelper names pelagos-registry when it is not beside pelagos.
const EnvRegistryHelper = "PELAGOS_REGISTRY_HELPER"

// registry returns the registry client with its configuration. In
// pelagos, which has none, it replaces this process with pelagos-registry
// running the same command line, which then does the whole command: so it
// must be called before the command has written anything or changed any
// state; it comes back only with an error (no helper, or no exec).
func (g *globals) registry() (Registry, registryconfig.Config, error) {
	if remote == nil {
		helper, err := registryHelper()
		if err != nil {
			return nil, registryconfig.Config{}, err
		}
		argv := append([]string{helper}, g.args...)
		return nil, registryconfig.Config{}, fmt.Errorf("run %s: %w", helper, syscall.Exec(helper, argv, os.Environ()))
	}
	cfg, err := g.registryConfig()
	return remote, cfg, err
}

// registryHelper finds pelagos-registry: $PELAGOS_REGISTRY_HELPER, or
// beside this binary.
func registryHelper() (string, error) {
	if p := os.Getenv(EnvRegistryHelper); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pelagos-registry")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("this command needs a registry, which pelagos-registry talks to, and it is not installed beside pelagos (scripts/build.sh builds it); or set " + EnvRegistryHelper)
}
