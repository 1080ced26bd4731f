// Package config reads pelagos.json, the defaults an administrator (or,
// rootless, a user) sets for every pelagos command: where data and
// runtime state live, the cgroup parent, default ulimits, log and security
// options, registry mirrors and insecure registries.
//
// It only reads and checks the file's shape; the CLI applies it under its
// flags and environment, which win. It must stay free of the engine and
// the runtime: every command reads it.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SystemPath is root's configuration file.
const SystemPath = "/etc/pelagos/pelagos.json"

// File is pelagos.json. Keys are docker's daemon.json names where docker
// has one.
type File struct {
	// Root and RunRoot are --root and --runroot.
	Root    string `json:"root,omitempty"`
	RunRoot string `json:"runroot,omitempty"`
	// CgroupParent is the default --cgroup-parent.
	CgroupParent string `json:"cgroup-parent,omitempty"`
	// DefaultUlimits are --ulimit values ("nofile=1024:2048") every
	// container gets unless it sets that limit itself. Docker's
	// daemon.json form, {"nofile": {"Name": "nofile", "Soft": 1024,
	// "Hard": 2048}}, is read too.
	DefaultUlimits Ulimits `json:"default-ulimits,omitempty"`
	// LogOpts are json-file log options (max-size, max-file) every
	// container gets unless it sets that option itself.
	LogOpts map[string]string `json:"log-opts,omitempty"`
	// SeccompProfile is a docker-format profile used instead of docker's
	// default one; "unconfined" turns the default off.
	SeccompProfile string `json:"seccomp-profile,omitempty"`
	// NoNewPrivileges: every container runs with no_new_privs.
	NoNewPrivileges bool `json:"no-new-privileges,omitempty"`
	// DefaultCgroupnsMode is the --cgroupns of a container that sets
	// none: "private" or "host". Unset, docker's: private on a cgroup v2
	// host, host on a v1 or hybrid one.
	DefaultCgroupnsMode string `json:"default-cgroupns-mode,omitempty"`
	// RegistryMirrors are docker.io's mirrors (docker's key); Mirrors
	// are any registry's; InsecureRegistries may use plain HTTP or any
	// certificate.
	RegistryMirrors    []string            `json:"registry-mirrors,omitempty"`
	Mirrors            map[string][]string `json:"mirrors,omitempty"`
	InsecureRegistries []string            `json:"insecure-registries,omitempty"`
	// DefaultAddressPools are where networks created without a subnet
	// get theirs: each base cut into subnets of size bits (IPv4).
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`

	// Path is the file it was read from ("" when none).
	Path string `json:"-"`
}

// Ulimits are --ulimit values.
type Ulimits []string

// UnmarshalJSON reads an array of --ulimit values or docker's object of
// {"Name", "Soft", "Hard"} objects keyed by name.
func (u *Ulimits) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return json.Unmarshal(b, (*[]string)(u))
	}
	type ulimit struct {
		Name       string
		Soft, Hard int64
	}
	var m map[string]ulimit
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return keyError(fmt.Sprintf("key \"default-ulimits\": want an array of NAME=SOFT[:HARD] or docker's {\"NAME\": {\"Name\", \"Soft\", \"Hard\"}}: %v", err))
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v := m[k]
		if v.Name != "" && v.Name != k {
			return keyError(fmt.Sprintf("key \"default-ulimits\": entry %q has Name %q", k, v.Name))
		}
		*u = append(*u, fmt.Sprintf("%s=%d:%d", k, v.Soft, v.Hard))
	}
	return nil
}

// keyError is an error of a key's value that already names the key.
type keyError string

func (e keyError) Error() string { return string(e) }

// AddressPool is one default-address-pools entry, as docker's.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// DefaultPath is the file pelagos reads: $PELAGOS_CONFIG if set, else
// /etc/pelagos/pelagos.json for root and
// $XDG_CONFIG_HOME/pelagos/pelagos.json (~/.config/...) for other users.
func DefaultPath() string {
	if p := os.Getenv("PELAGOS_CONFIG"); p != "" {
		return p
	}
	if os.Geteuid() == 0 {
		return SystemPath
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "pelagos", "pelagos.json")
}

// maxSize bounds the file: it is configuration, not data.
const maxSize = 1 << 20

// Load reads path; a missing file (or path "") is an empty File. A
// malformed file, an unknown key or a value of the wrong shape is an
// error naming the file and the key.
func Load(path string) (*File, error) {
	f := &File{}
	if path == "" {
		return f, nil
	}
	r, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxSize)
	}
	if err := decode(b, f); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// decode parses b strictly, turning encoding/json's errors into ones
// that name the key or the line.
func decode(b []byte, f *File) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	err := d.Decode(f)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var kerr keyError
	switch {
	case errors.As(err, &kerr):
		return kerr
	case err == nil:
		if d.More() {
			return errors.New("trailing data after the JSON object")
		}
		return nil
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at line %d: %v", line(b, syn.Offset), syn)
	case errors.As(err, &typ):
		return fmt.Errorf("key %q: want a JSON %s, not %s", typ.Field, kind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown key %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of file")
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

func kind(k string) string {
	switch k {
	case "slice":
		return "array"
	case "map", "struct":
		return "object"
	}
	return k
}

func line(b []byte, off int64) int {
	return bytes.Count(b[:min(int(off), len(b))], []byte("\n")) + 1
}

// check checks what the shape alone does not.
func (f *File) check() error {
	for _, p := range []struct{ key, val string }{{"root", f.Root}, {"runroot", f.RunRoot}, {"seccomp-profile", f.SeccompProfile}} {
		if p.val != "" && p.val != "unconfined" && !filepath.IsAbs(p.val) {
			return fmt.Errorf("key %q: %q is not an absolute path", p.key, p.val)
		}
	}
	for _, p := range f.DefaultAddressPools {
		b, err := netip.ParsePrefix(p.Base)
		if err != nil || !b.Addr().Is4() || b.Masked() != b {
			return fmt.Errorf("key \"default-address-pools\": base %q is not an IPv4 network in CIDR form", p.Base)
		}
		if p.Size < b.Bits() || p.Size > 30 {
			return fmt.Errorf("key \"default-address-pools\": size %d of %s must be between %d and 30", p.Size, p.Base, b.Bits())
		}
	}
	if m := f.DefaultCgroupnsMode; m != "" && m != "private" && m != "host" {
		return fmt.Errorf("key \"default-cgroupns-mode\": %q is not private or host", m)
	}
	for k := range f.LogOpts {
		if k != "max-size" && k != "max-file" {
			return fmt.Errorf("key \"log-opts\": unknown log opt %q for the json-file log driver (max-size, max-file)", k)
		}
	}
	return nil
}

// SecurityOpts are the --security-opt values the file adds to a
// container that did not set them itself.
func (f *File) SecurityOpts(given []string) []string {
	has := func(prefix string) bool {
		for _, o := range given {
			if strings.HasPrefix(strings.ReplaceAll(o, ":", "="), prefix) {
				return true
			}
		}
		return false
	}
	var out []string
	if f.NoNewPrivileges && !has("no-new-privileges") {
		out = append(out, "no-new-privileges")
	}
	if f.SeccompProfile != "" && !has("seccomp=") {
		out = append(out, "seccomp="+f.SeccompProfile)
	}
	return out
}
