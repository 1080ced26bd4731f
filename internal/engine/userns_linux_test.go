package engine

import "testing"

func TestContainerAndHostIDs(t *testing.T) {
	c := &Container{Userns: &Userns{HostUID: 100000, HostGID: 200000, Size: 1000}}
	cases := []struct {
		uid, gid         int
		inUID, inGID     int
		backUID, backGID int
	}{
		{100000, 200000, 0, 0, 100000, 200000},
		{100999, 200999, 999, 999, 100999, 200999},
		{101000, 201000, 101000, 201000, 101000, 201000}, // past the range: left alone
		{0, 0, 0, 0, 100000, 200000},                     // host root, shown as is; inside root, its host IDs
	}
	for _, tc := range cases {
		if u, g := c.ContainerIDs()(tc.uid, tc.gid); u != tc.inUID || g != tc.inGID {
			t.Errorf("ContainerIDs(%d, %d) = %d, %d; want %d, %d", tc.uid, tc.gid, u, g, tc.inUID, tc.inGID)
		}
		if u, g := c.HostIDs()(tc.inUID, tc.inGID); u != tc.backUID || g != tc.backGID {
			t.Errorf("HostIDs(%d, %d) = %d, %d; want %d, %d", tc.inUID, tc.inGID, u, g, tc.backUID, tc.backGID)
		}
	}
	if (&Container{}).ContainerIDs() != nil || (&Container{}).HostIDs() != nil {
		t.Errorf("a container without a user namespace has ID maps")
	}
}
