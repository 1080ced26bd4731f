package cgroups

import "testing"

func TestRelativeBase(t *testing.T) {
	tests := []struct {
		mode Mode
		own  string
		want string
	}{
		{Legacy, "/user.slice/session-1.scope", "/user.slice/session-1.scope"},
		{Legacy, "/", "/"},
		// v2: the caller's cgroup holds the caller and cannot hand
		// controllers down; its parent can.
		{Unified, "/user.slice/session-1.scope", "/user.slice"},
		{Unified, "/runner", "/"},
		{Unified, "/", "/"},
		{Unified, "", ""},
	}
	for _, tt := range tests {
		if got := relativeBase(tt.mode, tt.own); got != tt.want {
			t.Errorf("relativeBase(%v, %q) = %q, want %q", tt.mode, tt.own, got, tt.want)
		}
	}
}
