// Package dockerprofile gives Docker's default seccomp profile
// (github.com/moby/profiles/seccomp) as an OCI linux.seccomp, for the
// engine to use as pelagos's default. It is a package of its own so that
// binaries which only apply profiles (pelagos-runc, the container init) do
// not carry the profile data.
package dockerprofile

import (
	"fmt"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load parses a profile in Docker's format (body, the JSON that
// `docker run --security-opt seccomp=FILE` reads) and resolves it for
// caps as Default resolves the default one.
func Load(body string, caps []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := mobyseccomp.LoadProfile(body, rs)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	return p, nil
}

// Default returns Docker's default seccomp profile for a container whose
// bounding capability set is caps, resolved the way dockerd resolves it:
// rules conditioned on capabilities (CAP_SYS_ADMIN unlocks mount, unshare
// and namespace flags of clone, CAP_SYS_PTRACE unlocks ptrace, ...) are
// kept or dropped for caps, rules for other architectures are dropped,
// rules needing a newer kernel than the running one are dropped, and the
// architecture list is the native one plus its compat ABIs.
func Default(caps []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := mobyseccomp.GetDefaultProfile(rs)
	if err != nil {
		return nil, fmt.Errorf("docker default seccomp profile: %w", err)
	}
	return p, nil
}
