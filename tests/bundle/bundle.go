// Package bundle builds OCI bundles for tests and benchmarks: a root
// filesystem made from Debian's busybox-static with our probe program in
// it, and a config.json in the shape `runc spec` writes. It writes only
// under the directories it is given and starts nothing.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ProbePath is where Rootfs puts the probe inside the container.
const ProbePath = "/bin/probe"

// Bundle is an OCI bundle directory and the config it is written with.
type Bundle struct {
	Dir  string
	Spec *specs.Spec
}

// Options says how New builds a bundle.
type Options struct {
	// Rootfs, when set, is an existing root filesystem (made by Rootfs)
	// that config.json points at by absolute path instead of building a
	// new one in the bundle: many containers can share one read-only
	// root this way.
	Rootfs string
	// Probe is the host path of the static probe binary to install at
	// ProbePath; empty leaves it out. Ignored when Rootfs is set.
	Probe string
}

// New makes dir a bundle: it builds the root filesystem (unless
// opts.Rootfs names one) and writes DefaultSpec as config.json. Change
// b.Spec and call Write to alter it.
func New(dir string, opts Options) (*Bundle, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, Spec: DefaultSpec()}
	if opts.Rootfs != "" {
		abs, err := filepath.Abs(opts.Rootfs)
		if err != nil {
			return nil, err
		}
		b.Spec.Root.Path = abs
	} else if err := Rootfs(filepath.Join(dir, "rootfs"), RootfsOptions{Probe: opts.Probe}); err != nil {
		return nil, err
	}
	return b, b.Write()
}

// Write writes b.Spec to the bundle's config.json atomically.
func (b *Bundle) Write() error {
	return WriteSpec(b.Dir, b.Spec)
}

// Apply changes b.Spec with each modifier in turn and writes it.
func (b *Bundle) Apply(mods ...Modifier) error {
	for _, m := range mods {
		m(b.Spec)
	}
	return b.Write()
}

// Rootfs returns the bundle's root filesystem directory on the host.
func (b *Bundle) Rootfs() string {
	if filepath.IsAbs(b.Spec.Root.Path) {
		return b.Spec.Root.Path
	}
	return filepath.Join(b.Dir, b.Spec.Root.Path)
}

// WriteSpec writes s as dir/config.json: to a temporary file first, then
// renamed, so a reader never sees half a config. The file is 0644 and
// belongs to the bundle directory's owner, as `runc spec` run by that
// owner would leave it (a rootless runtime must read it).
func WriteSpec(dir string, s *specs.Spec) error {
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".config-*.json")
	if err != nil {
		return err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Chmod(0o644)
	}
	if st, serr := os.Stat(dir); err == nil && serr == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
			err = f.Chown(int(sys.Uid), int(sys.Gid))
		}
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, "config.json"))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write config.json: %w", err)
	}
	return nil
}

// ReadSpec reads dir/config.json.
func ReadSpec(dir string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return &s, nil
}
