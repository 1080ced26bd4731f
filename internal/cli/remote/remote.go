// Package remote is the CLI's registry client: pull, push and login over
// internal/image/registry. Only pelagos-registry links it (cli.Registry
// says why); pelagos hands it every command that needs a registry.
package remote

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/cli"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/pull"
	"github.com/pelagos-go/pelagos/internal/image/push"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/registryconfig"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Registry implements cli.Registry.
type Registry struct{}

var _ cli.Registry = Registry{}

// Pull implements cli.Registry.
func (Registry) Pull(ctx context.Context, cfg registryconfig.Config, st *store.Store, ref reference.Reference, platform v1.Platform, sink progress.Sink) error {
	_, err := pull.Pull(ctx, st, registry.New(cfg), ref, pull.Options{Platform: platform, Progress: sink})
	return err
}

// Push implements cli.Registry.
func (Registry) Push(ctx context.Context, cfg registryconfig.Config, st *store.Store, img store.Image, ref reference.Reference, sink progress.Sink) (v1.Hash, error) {
	return push.Push(ctx, st, registry.New(cfg), img, ref, sink)
}

// Verify implements cli.Registry.
func (Registry) Verify(ctx context.Context, cfg registryconfig.Config, host, user, password string) error {
	return registry.New(cfg).Verify(ctx, host, user, password)
}

// SaveCredentials implements cli.Registry.
func (Registry) SaveCredentials(host, user, password string) error {
	return registry.SaveCredentials(host, user, password)
}

// EraseCredentials implements cli.Registry.
func (Registry) EraseCredentials(host string) (bool, error) {
	return registry.EraseCredentials(host)
}
