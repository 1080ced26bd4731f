package engine

import "testing"

func TestLSMOpt(t *testing.T) {
	for _, tc := range []struct {
		opt        string
		isLSM, bad bool
	}{
		{"apparmor=unconfined", true, false},
		{"apparmor:my-profile", true, false},
		{"apparmor=", true, true},
		{"label=disable", true, false},
		{"label:nested", true, false},
		{"label=type:svirt_apache_t", true, false},
		{"label=level:s0:c100,c200", true, false},
		{"label=type:", true, true},
		{"label=disable:x", true, true},
		{"label=bogus", true, true},
		{"label=", true, true},
		{"seccomp=unconfined", false, false},
		{"no-new-privileges", false, false},
		{"appamor=x", false, false},
	} {
		isLSM, err := lsmOpt(tc.opt)
		if isLSM != tc.isLSM || (err != nil) != tc.bad {
			t.Errorf("lsmOpt(%q) = %v, %v; want %v, error %v", tc.opt, isLSM, err, tc.isLSM, tc.bad)
		}
	}
}

// Without AppArmor on the host (as here and in CI, where tests of real
// profiles skip), a profile is recorded but not applied, as docker does.
func TestApparmorProfile(t *testing.T) {
	for _, tc := range []struct {
		hc   HostConfig
		want string
	}{
		{HostConfig{}, ""},
		{HostConfig{SecurityOpt: []string{"apparmor=unconfined"}}, ""},
		{HostConfig{SecurityOpt: []string{"apparmor=p"}, Privileged: true}, ""},
		{HostConfig{SecurityOpt: []string{"apparmor=p"}}, map[bool]string{true: "p", false: ""}[apparmorEnabled()]},
	} {
		if got := apparmorProfile(&tc.hc); got != tc.want {
			t.Errorf("apparmorProfile(%v) = %q, want %q", tc.hc.SecurityOpt, got, tc.want)
		}
	}
}
