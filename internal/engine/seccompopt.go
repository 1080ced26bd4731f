package engine

import (
	"encoding/json"
	"errors"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
)

// errNotSeccomp: a security option that is not a seccomp profile.
var errNotSeccomp = errors.New("not a seccomp profile option")

// seccompBody is the profile a "seccomp=PROFILE" security option carries:
// the JSON itself, as docker's CLI sends a file's content (the record
// keeps the profile the container was created with, whatever later
// happens to the file).
func seccompBody(opt string) (string, bool) {
	for _, p := range []string{"seccomp=", "seccomp:"} {
		if body, ok := strings.CutPrefix(opt, p); ok && strings.HasPrefix(strings.TrimSpace(body), "{") {
			return body, true
		}
	}
	return "", false
}

// checkSeccompOpt checks a seccomp=PROFILE option's JSON.
func checkSeccompOpt(opt string) error {
	body, ok := seccompBody(opt)
	if !ok {
		return errNotSeccomp
	}
	if !json.Valid([]byte(body)) {
		return invalid("invalid --security-opt seccomp profile: malformed JSON")
	}
	if _, err := dockerprofile.Load(body, DefaultCaps); err != nil {
		return invalid("invalid --security-opt seccomp profile: %v", err)
	}
	return nil
}

// seccompProfile is the container's profile: its own (seccomp=PROFILE)
// or docker's default, resolved for the bounding set caps.
func seccompProfile(hc *HostConfig, caps []string) (*specs.LinuxSeccomp, error) {
	for _, o := range hc.SecurityOpt {
		if body, ok := seccompBody(o); ok {
			return dockerprofile.Load(body, caps)
		}
	}
	return dockerprofile.Default(caps)
}
