package cgroups

import "testing"

func TestSystemdPath(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		wantErr  bool
	}{
		{"system.slice:docker:abc", "/system.slice/docker-abc.scope", false},
		{":pelagos:c1", "/system.slice/pelagos-c1.scope", false},
		{"machine-pod1.slice:crio:c1", "/machine.slice/machine-pod1.slice/crio-c1.scope", false},
		{"user.slice::c1", "/user.slice/c1.scope", false},
		{"system.slice:x:sub.slice", "/system.slice/sub.slice", false},
		{"-.slice:p:n", "/p-n.scope", false},
		{"system:docker:abc", "", true},
		{"a--b.slice:p:n", "", true},
		{"system.slice:p:", "", true},
		{"system.slice:p:../x", "", true},
	} {
		got, err := SystemdPath(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("SystemdPath(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
