package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/container"
	"github.com/pelagos-go/pelagos/internal/image/ingest"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// CommitOptions are commit's inputs.
type CommitOptions struct {
	Tag     string // fully qualified; "" for an untagged image
	Author  string
	Message string
	// Changes override the container's config (-c): the fields set, Env
	// by variable, Labels by key.
	Changes v1.Config
	// Pause freezes a running container while its changes are read.
	Pause bool
}

// Commit makes a new image of container ref: its image's layers plus
// one layer of what the container changed (its overlay's upper
// directory), and the container's config with the changes applied.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (v1.Hash, error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if o.Pause && c.State.Running {
		if rc, err := e.Runtime(c); err == nil && rc.Status() != container.StatePaused {
			if err := rc.Pause(); err != nil {
				return v1.Hash{}, err
			}
			defer rc.Resume()
		}
	}
	st, err := e.Images()
	if err != nil {
		return v1.Hash{}, err
	}
	use, err := st.Use(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	defer use.Unlock()
	base, err := st.Lookup(c.Image)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("the container's image: %w", err)
	}
	res, err := e.ingestUpper(st, c, base)
	if err != nil {
		return v1.Hash{}, err
	}
	id, err := e.putCommitted(ctx, st, c, base, res, o)
	if err == nil {
		e.event(c, "commit", map[string]string{"comment": o.Message, "imageID": id.String(), "imageRef": o.Tag})
	}
	return id, err
}

// ingestUpper stores c's changes as a layer above base's.
func (e *Engine) ingestUpper(st *store.Store, c *Container, base store.Image) (ingest.Result, error) {
	var parent v1.Hash
	if n := len(base.Layers); n > 0 {
		parent = base.Layers[n-1]
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := e.writeUpperLayer(c, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	res, err := ingest.Layer(st, pr, ingest.Want{Parent: parent, MediaType: string(types.OCIUncompressedLayer)}, unpack.Options{})
	pr.CloseWithError(io.ErrClosedPipe)
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return res, fmt.Errorf("the container's changes: %w", err)
	}
	return res, nil
}

// putCommitted writes the new image's config and manifest and records
// it.
func (e *Engine) putCommitted(ctx context.Context, st *store.Store, c *Container, base store.Image, res ingest.Result, o CommitOptions) (v1.Hash, error) {
	cf, err := imageConfig(st, base)
	if err != nil {
		return v1.Hash{}, err
	}
	raw, err := st.ReadBlob(base.Manifest)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("the container's image: manifest: %w", err)
	}
	var man v1.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return v1.Hash{}, fmt.Errorf("the container's image: manifest: %w", err)
	}
	now := time.Now().UTC()
	cf.Created, cf.Author = v1.Time{Time: now}, o.Author
	cf.Config = commitConfig(c, o.Changes)
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, res.Layer.DiffID)
	cf.History = append(cf.History, v1.History{
		Created: v1.Time{Time: now}, Author: o.Author, Comment: o.Message,
		CreatedBy: strings.TrimSpace(c.Path + " " + strings.Join(c.Args, " ")),
	})
	cfgRaw, err := json.Marshal(cf)
	if err != nil {
		return v1.Hash{}, err
	}
	cd, _, _ := v1.SHA256(bytes.NewReader(cfgRaw))
	fi, err := os.Stat(st.BlobPath(res.Blob))
	if err != nil {
		return v1.Hash{}, err
	}
	man.SchemaVersion, man.MediaType = 2, types.OCIManifestSchema1
	man.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cd, Size: int64(len(cfgRaw))}
	man.Layers = append(man.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: res.Blob, Size: fi.Size()})
	manRaw, err := json.Marshal(man)
	if err != nil {
		return v1.Hash{}, err
	}
	md, _, _ := v1.SHA256(bytes.NewReader(manRaw))
	for d, b := range map[v1.Hash][]byte{md: manRaw, cd: cfgRaw} {
		if err := st.WriteBlob(d, b); err != nil {
			return v1.Hash{}, err
		}
	}
	img := store.Image{ID: cd, Manifest: md, MediaType: string(types.OCIManifestSchema1),
		Layers: append(append([]v1.Hash{}, base.Layers...), res.Layer.ChainID),
		Blobs:  []v1.Hash{md, cd}, Size: base.Size + res.Layer.Size, Created: now, Added: now}
	for _, l := range man.Layers {
		img.Blobs = append(img.Blobs, l.Digest)
	}
	if o.Tag != "" {
		img.RepoTags = []string{o.Tag}
	}
	if _, err := st.PutImage(ctx, img); err != nil {
		return v1.Hash{}, err
	}
	return cd, nil
}

// commitConfig is the container's config as an image config, with the
// changes applied.
func commitConfig(c *Container, ch v1.Config) v1.Config {
	cc := c.Config
	out := v1.Config{
		Hostname: cc.Hostname, Domainname: cc.Domainname, User: cc.User, Tty: cc.Tty,
		OpenStdin: cc.OpenStdin, StdinOnce: cc.StdinOnce, Env: cc.Env, Cmd: cc.Cmd,
		WorkingDir: cc.WorkingDir, Entrypoint: cc.Entrypoint, Labels: cc.Labels,
		StopSignal: cc.StopSignal, ExposedPorts: cc.ExposedPorts, Volumes: cc.Volumes,
	}
	// Maps are copied: the changes must not reach the container's record.
	out.Labels = maps.Clone(cc.Labels)
	out.ExposedPorts = maps.Clone(cc.ExposedPorts)
	out.Volumes = maps.Clone(cc.Volumes)
	if ch.Cmd != nil {
		out.Cmd = ch.Cmd
	}
	if ch.Entrypoint != nil {
		out.Entrypoint = ch.Entrypoint
	}
	if ch.WorkingDir != "" {
		out.WorkingDir = ch.WorkingDir
	}
	if ch.User != "" {
		out.User = ch.User
	}
	for _, kv := range ch.Env {
		out.Env = setEnv(out.Env, kv)
	}
	for k, v := range ch.Labels {
		if out.Labels == nil {
			out.Labels = map[string]string{}
		}
		out.Labels[k] = v
	}
	if ch.StopSignal != "" {
		out.StopSignal = ch.StopSignal
	}
	for v := range ch.Volumes {
		if out.Volumes == nil {
			out.Volumes = map[string]struct{}{}
		}
		out.Volumes[v] = struct{}{}
	}
	for p := range ch.ExposedPorts {
		if out.ExposedPorts == nil {
			out.ExposedPorts = map[string]struct{}{}
		}
		out.ExposedPorts[p] = struct{}{}
	}
	return out
}

// setEnv sets KEY=VALUE in env, replacing an earlier KEY.
func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	out := append([]string{}, env...)
	for i, e := range out {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			out[i] = kv
			return out
		}
	}
	return append(out, kv)
}
