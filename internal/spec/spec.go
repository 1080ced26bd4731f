// Package spec loads an OCI bundle's config.json and checks it before
// anything is created, so that a bad config fails with a message naming the
// offending field and leaves nothing behind.
//
// It validates only what the runtime-spec requires and what pelagos cannot
// do; it never rewrites the config (there is one config model: the OCI
// spec's own types).
package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrInvalid marks a config or container ID that is not acceptable.
var ErrInvalid = errors.New("invalid")

// MaxIDLength bounds container IDs: an ID names a directory, so it must fit
// in one path component.
const MaxIDLength = 255

// validIDChars matches ^[a-zA-Z0-9][a-zA-Z0-9_+.-]*$.
func validIDChars(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_+.-", rune(c))) {
			return false
		}
	}
	return true
}

// ValidateID checks a container ID: non-empty, at most MaxIDLength bytes,
// letters, digits and "_+.-" only, not starting with a dot or dash. That
// keeps it usable as a file name and excludes "..", "a/b" and the like.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("container id is empty: %w", ErrInvalid)
	case len(id) > MaxIDLength:
		return fmt.Errorf("container id is %d bytes long, more than %d: %w", len(id), MaxIDLength, ErrInvalid)
	case !validIDChars(id):
		return fmt.Errorf("container id %q: use only letters, digits and _+.- and start with a letter or digit: %w", id, ErrInvalid)
	}
	return nil
}

// Load reads bundle/config.json and validates it. The returned error says
// which field is wrong.
func Load(bundle string) (*specs.Spec, error) {
	s, _, err := LoadRaw(bundle)
	return s, err
}

// LoadRaw is Load that also returns the file's bytes, so a caller that
// passes the config on does not have to encode it again.
func LoadRaw(bundle string) (*specs.Spec, []byte, error) {
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read bundle config: %w", err)
	}
	s, err := Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: malformed JSON: %v: %w", path, err, ErrInvalid)
	}
	if err := Validate(s); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, b, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrInvalid)...)
}
