// Package platform chooses among the platforms of an image: which one
// this host runs, whether an image's platform runs here, which manifest of
// an index to take. It is pure (no registry, no network), so the commands
// that only read local images need not link the registry client.
package platform

import (
	"bytes"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is the platform images run on here.
func Host() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	switch runtime.GOARCH {
	case "arm64":
		p.Variant = "v8"
	case "arm":
		p.Variant = "v7"
	}
	return p
}

// Matches reports whether an image of platform p runs on want: same OS
// and architecture, and the same variant unless want names none.
func Matches(p, want v1.Platform) bool {
	return p.Satisfies(want) || (want.Variant == "" && p.OS == want.OS && p.Architecture == want.Architecture)
}

// Pick chooses the manifest for platform want from an index, skipping
// attestation manifests. A nested index without a platform is returned
// for the caller to look inside.
func Pick(body []byte, want v1.Platform) (v1.Hash, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parse index: %w", err)
	}
	var seen []string
	for _, d := range idx.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if d.Platform == nil {
			if d.MediaType.IsIndex() {
				return d.Digest, nil // a nested index without platform: look inside
			}
			continue
		}
		seen = append(seen, d.Platform.String())
		if Matches(*d.Platform, want) {
			return d.Digest, nil
		}
	}
	return v1.Hash{}, fmt.Errorf("no image for platform %s in the index (it has %v)", want, seen)
}
