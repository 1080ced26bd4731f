package seccomp

import (
	"fmt"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultProfile returns Docker's default seccomp profile
// (github.com/moby/profiles/seccomp) for a container whose bounding
// capability set is caps, resolved the way dockerd resolves it: rules
// conditioned on capabilities (CAP_SYS_ADMIN unlocks mount, unshare and
// namespace flags of clone, CAP_SYS_PTRACE unlocks ptrace, ...) are kept
// or dropped for caps, rules for other architectures are dropped, rules
// needing a newer kernel than the running one are dropped, and the
// architecture list is the native one plus its compat ABIs.
func DefaultProfile(caps []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	p, err := mobyseccomp.GetDefaultProfile(rs)
	if err != nil {
		return nil, fmt.Errorf("docker default seccomp profile: %w", err)
	}
	return p, nil
}
