// Package remote is the CLI's registry client: pull, push and login over
// internal/image/registry. Only pelagos-registry links it (cli.Registry
// says why); pelagos hands it every command that needs a registry.
package remote

import (
	"context"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/cli"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/pull"
	"github.com/pelagos-go/pelagos/internal/image/push"
	"github.com/pelagos-go/pelagos/internal/image/reference"
	"github.com/pelagos-go/pelagos/internal/image/registry"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// Registry implements cli.Registry.
type Registry struct{}

var _ cli.Registry = Registry{}

// Pull implements cli.Registry.
func (Registry) Pull(ctx context.Context, s cli.RegistrySettings, st *store.Store, ref reference.Reference, platform v1.Platform, sink progress.Sink) error {
	c, err := client(s)
	if err != nil {
		return err
	}
	_, err = pull.Pull(ctx, st, c, ref, pull.Options{Platform: platform, Progress: sink})
	return err
}

// Push implements cli.Registry.
func (Registry) Push(ctx context.Context, s cli.RegistrySettings, st *store.Store, img store.Image, ref reference.Reference, sink progress.Sink) (v1.Hash, error) {
	c, err := client(s)
	if err != nil {
		return v1.Hash{}, err
	}
	return push.Push(ctx, st, c, img, ref, sink)
}

// Verify implements cli.Registry.
func (Registry) Verify(ctx context.Context, s cli.RegistrySettings, host, user, password string) error {
	c, err := client(s)
	if err != nil {
		return err
	}
	return c.Verify(ctx, host, user, password)
}

// SaveCredentials implements cli.Registry.
func (Registry) SaveCredentials(host, user, password string) error {
	return registry.SaveCredentials(host, user, password)
}

// EraseCredentials implements cli.Registry.
func (Registry) EraseCredentials(host string) (bool, error) {
	return registry.EraseCredentials(host)
}

// client builds a registry client from s.
func client(s cli.RegistrySettings) (*registry.Client, error) {
	cfg, err := config(s)
	if err != nil {
		return nil, err
	}
	return registry.New(cfg), nil
}

// config is --registries-config (or PELAGOS_REGISTRIES_CONFIG) alone when
// given; otherwise /etc/pelagos/registries.json with pelagos.json's
// mirrors and insecure registries added.
func config(s cli.RegistrySettings) (registry.Config, error) {
	if s.ConfigPath != "" {
		return registry.LoadConfig(s.ConfigPath)
	}
	rc, err := registry.LoadConfig(registry.DefaultConfigPath)
	if err != nil {
		return rc, err
	}
	f := s.File
	if f == nil {
		return rc, nil
	}
	if len(f.RegistryMirrors) > 0 || len(f.Mirrors) > 0 {
		m := map[string][]string{}
		for k, v := range rc.Mirrors {
			m[k] = slices.Clone(v)
		}
		m["docker.io"] = append(m["docker.io"], f.RegistryMirrors...)
		for k, v := range f.Mirrors {
			m[k] = append(m[k], v...)
		}
		rc.Mirrors = m
	}
	rc.Insecure = append(slices.Clone(rc.Insecure), f.InsecureRegistries...)
	return rc, nil
}
