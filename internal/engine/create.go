package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/snapshot"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// CreateOptions are the inputs of Create: the user's config and host
// config (flags already parsed), with image defaults still to apply.
type CreateOptions struct {
	Name       string
	Config     Config // Config.Image names the image
	HostConfig HostConfig
	// EntrypointSet: --entrypoint was given (even empty), so the image's
	// entrypoint and cmd do not apply.
	EntrypointSet bool
	// Network: more networks and the primary endpoint's settings.
	Network NetworkOptions
	// Platform is --platform: the image must be for it. Nil: any, with a
	// warning when it is not the host's.
	Platform *v1.Platform
}

// Create makes a container object from an image: nothing runs until Start.
// The image must be in the store.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*Container, error) {
	if o.Name != "" {
		if err := ValidName(o.Name); err != nil {
			return nil, err
		}
		o.Name = strings.TrimPrefix(o.Name, "/")
	}
	if e.Rootless {
		if err := rootlessHostConfig(&o.HostConfig, o.Network); err != nil {
			return nil, err
		}
	}
	if o.HostConfig.CgroupnsMode == "" {
		o.HostConfig.CgroupnsMode = defaultCgroupnsMode()
	}
	if err := validateHostConfig(&o.HostConfig); err != nil {
		return nil, err
	}
	if err := validateHostOptions(&o.Config, &o.HostConfig); err != nil {
		return nil, err
	}
	st, err := e.Images()
	if err != nil {
		return nil, err
	}
	img, err := st.Lookup(o.Config.Image)
	if err != nil {
		return nil, err
	}
	cf, err := imageRunConfig(st, img)
	if err != nil {
		return nil, err
	}
	if err := e.checkPlatform(o.Config.Image, cf, o.Platform); err != nil {
		return nil, err
	}
	c := &Container{ID: newID(), Created: time.Now().UTC(), Image: img.ID.String(), Config: o.Config, HostConfig: o.HostConfig}
	if err := applyImage(c, cf, o.EntrypointSet); err != nil {
		return nil, err
	}
	if err := e.attachNetworks(ctx, c, o.Network); err != nil {
		return nil, err
	}
	if size, auto, _ := parseUsernsAuto(c.HostConfig.UsernsMode); auto {
		ul, err := e.allocUserns(ctx, c, size)
		if err != nil {
			return nil, err
		}
		defer ul.unlock()
	}
	vl, err := e.mountPoints(ctx, c)
	if err != nil {
		return nil, err
	}
	defer vl.unlock()
	c.State = State{Status: StatusCreated}
	if err := e.commit(ctx, c, st, img.ID, o.Name); err != nil {
		e.dropAnonymous(c.MountPoints)
		return nil, err
	}
	e.event(c, "create", nil)
	return c, nil
}

// imageConfig reads img's whole config.
func imageConfig(st *store.Store, img store.Image) (*v1.ConfigFile, error) {
	return readImageConfig(st, img, func(b []byte, cf *v1.ConfigFile) error { return json.Unmarshal(b, cf) })
}

// imageRunConfig reads the part of img's config a create uses (see
// unmarshalRunConfig).
func imageRunConfig(st *store.Store, img store.Image) (*v1.ConfigFile, error) {
	return readImageConfig(st, img, unmarshalRunConfig)
}

func readImageConfig(st *store.Store, img store.Image, unmarshal func([]byte, *v1.ConfigFile) error) (*v1.ConfigFile, error) {
	b, err := st.ReadBlob(img.ID)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	var cf v1.ConfigFile
	if err := unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ID, err)
	}
	return &cf, nil
}

// applyImage fills what the user left unset from the image's config, as
// Docker merges them: an --entrypoint drops the image's cmd, a command
// replaces the image's cmd, environment variables override by name.
func applyImage(c *Container, cf *v1.ConfigFile, entrypointSet bool) error {
	ic := cf.Config
	cfg := &c.Config
	if !entrypointSet {
		cfg.Entrypoint = ic.Entrypoint
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ic.Cmd
		}
	}
	cfg.Env = mergeEnv(ic.Env, cfg.Env)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ic.WorkingDir
	}
	if cfg.User == "" {
		cfg.User = ic.User
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ic.StopSignal
	}
	cfg.Healthcheck = mergeHealthcheck(cfg.Healthcheck, ic.Healthcheck)
	if err := validateHealthcheck(cfg.Healthcheck); err != nil {
		return err
	}
	if len(ic.ExposedPorts) > 0 {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := range ic.ExposedPorts {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	if len(ic.Volumes) > 0 {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for v := range ic.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	for k, v := range ic.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	args := append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	if len(args) == 0 {
		return errorf(ErrInvalid, "No command specified")
	}
	c.Path, c.Args = args[0], args[1:]
	return nil
}

// mergeEnv overrides base's variables by name with over's, keeping
// base's order and appending new ones.
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { ek, _, _ := strings.Cut(e, "="); return ek == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// commit writes the new container: its directory is built under a
// temporary name and renamed into place, and the name reserved, under the
// names lock, so a killed create leaves either nothing visible or a whole
// container, and two creates of one name never both succeed.
func (e *Engine) commit(ctx context.Context, c *Container, st *store.Store, image v1.Hash, name string) error {
	// The creator's pid in the name tells sweep whether it is still at
	// work.
	tmp := filepath.Join(e.containersDir(), fmt.Sprintf("%s%d-%s", tmpPrefix, os.Getpid(), c.ID))
	if err := os.Mkdir(tmp, 0o711); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c.dir = tmp
	// The hold comes first: rmi must not remove the image between here
	// and the first start. A killed create leaves a hold whose
	// container does not exist; prune removes it. (The record is
	// written once, below: until the rename nobody reads it, and sweep
	// removes a dead creator's directory whatever it holds.)
	if _, err := prepareSnapshot(ctx, st, image, c); err != nil {
		return err
	}
	dieAt(StepCreateHeld)
	l, err := e.lockNames(ctx)
	if err != nil {
		snapshot.Remove(ctx, st, c.ID)
		return err
	}
	defer l.unlock()
	if err := e.claimName(c, name); err != nil {
		snapshot.Remove(ctx, st, c.ID)
		return err
	}
	if err := c.saveConfig(); err != nil {
		e.releaseName(c.Name, c.ID)
		snapshot.Remove(ctx, st, c.ID)
		return err
	}
	dir := filepath.Join(e.containersDir(), c.ID)
	if err := os.Rename(tmp, dir); err != nil {
		e.releaseName(c.Name, c.ID)
		snapshot.Remove(ctx, st, c.ID)
		return err
	}
	c.dir = dir
	return nil
}

// prepareSnapshot makes (or finds) c's snapshot of image: a volatile one
// for a container that dies with its run (--rm).
func prepareSnapshot(ctx context.Context, st *store.Store, image v1.Hash, c *Container) (snapshot.Spec, error) {
	if c.HostConfig.AutoRemove {
		return snapshot.PrepareVolatile(ctx, st, image, c.ID)
	}
	return snapshot.Prepare(ctx, st, image, c.ID)
}

// claimName reserves the given name, or a generated one.
func (e *Engine) claimName(c *Container, name string) error {
	if name != "" {
		c.Name = name
		return e.reserveName(name, c.ID)
	}
	for i := 0; ; i++ {
		c.Name = randomName(i)
		err := e.reserveName(c.Name, c.ID)
		if !errors.Is(err, ErrNameInUse) || i > 20 {
			return err
		}
	}
}
