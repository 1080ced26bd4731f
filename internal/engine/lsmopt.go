package engine

import (
	"bytes"
	"os"
	"strings"
)

// Docker's --security-opt apparmor=PROFILE and label=OPTION name a Linux
// security module's policy. Docker accepts both on every host and applies
// them only where the module is enabled: on a host without AppArmor the
// profile is ignored, and SELinux labels without SELinux are ignored
// (go-selinux's InitLabels returns nothing when SELinux is off). pelagos
// does the same; it has no SELinux support at all, so label= is checked
// and recorded only.

// labelKeys are the label= options docker (go-selinux) knows; all but
// disable and nested take a value after a colon.
var labelKeys = map[string]bool{"disable": false, "nested": false, "user": true, "role": true, "type": true, "level": true, "filetype": true}

// lsmOpt reports whether o is an apparmor= or label= option, and checks it.
func lsmOpt(o string) (bool, error) {
	key, val, ok := cutOpt(o)
	switch {
	case !ok || (key != "apparmor" && key != "label"):
		return false, nil
	case val == "":
		return true, invalid("invalid --security-opt: %q", o)
	case key == "apparmor":
		return true, nil
	}
	k, arg, hasArg := strings.Cut(val, ":")
	if wantArg, known := labelKeys[k]; !known || wantArg != hasArg || (hasArg && arg == "") {
		return true, invalid("invalid --security-opt: %q", o)
	}
	return true, nil
}

// cutOpt splits a security option at its first '=' (or ':', docker's old
// separator).
func cutOpt(o string) (key, val string, ok bool) {
	if k, v, found := strings.Cut(o, "="); found {
		return k, v, true
	}
	return strings.Cut(o, ":")
}

// apparmorProfile is the AppArmor profile the container's process gets:
// the one --security-opt names, where the host has AppArmor and the
// container is not privileged; none otherwise (pelagos has no default
// profile of its own).
func apparmorProfile(hc *HostConfig) string {
	var profile string
	for _, o := range hc.SecurityOpt {
		if k, v, ok := cutOpt(o); ok && k == "apparmor" {
			profile = v
		}
	}
	if profile == "" || profile == "unconfined" || hc.Privileged || !apparmorEnabled() {
		return ""
	}
	return profile
}

func apparmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}
