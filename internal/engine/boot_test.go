package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBootable(t *testing.T) {
	cases := []struct {
		policy  string
		manual  bool
		running bool
		want    bool
	}{
		{"always", false, false, true},
		{"always", true, false, true}, // docker: always comes back at daemon start
		{"unless-stopped", false, false, true},
		{"unless-stopped", true, false, false},
		{"on-failure", false, false, false},
		{"no", false, false, false},
		{"always", false, true, false},
	}
	for _, tc := range cases {
		c := &Container{HostConfig: HostConfig{RestartPolicy: RestartPolicy{Name: tc.policy}}, ManualStop: tc.manual}
		c.State.Running = tc.running
		if got := bootable(c); got != tc.want {
			t.Errorf("bootable(%s, manual stop %v, running %v) = %v, want %v", tc.policy, tc.manual, tc.running, got, tc.want)
		}
	}
}

func TestBootOrder(t *testing.T) {
	mk := func(name, net, pid, ipc string) *Container {
		c := &Container{ID: name + "0000000000000000", Name: name}
		c.HostConfig.NetworkMode, c.HostConfig.PidMode, c.HostConfig.IpcMode = net, pid, ipc
		return c
	}
	cs := []*Container{
		mk("c", "container:b", "", ""),
		mk("b", "bridge", "container:a", ""),
		mk("d", "none", "", "container:"+"a0000000000000000"[:13]),
		mk("a", "bridge", "", ""),
		mk("x", "container:y", "", ""), // donor outside the list
		mk("p", "container:q", "", ""), // a cycle
		mk("q", "container:p", "", ""),
	}
	var got []string
	for _, c := range bootOrder(cs) {
		got = append(got, c.Name)
	}
	// Passes over the list in its order: each pass starts what is ready.
	want := []string{"a", "x", "b", "d", "c", "p", "q"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bootOrder (-want +got):\n%s", diff)
	}
}
