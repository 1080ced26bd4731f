package mountopt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   []string
		want Options
	}{
		{nil, Options{}},
		{[]string{"nosuid", "noexec", "nodev", "ro"}, Options{Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY}},
		{[]string{"ro", "rw"}, Options{}},
		{[]string{"rbind", "rprivate"}, Options{Flags: unix.MS_BIND | unix.MS_REC, Propagation: []uintptr{unix.MS_PRIVATE | unix.MS_REC}}},
		{[]string{"nosuid", "strictatime", "mode=755", "size=65536k"}, Options{Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"}},
		{[]string{"bind", "rro", "rnosuid"}, Options{Flags: unix.MS_BIND, AttrSet: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID}},
		{[]string{"rro", "rrw"}, Options{AttrClr: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"rnoatime"}, Options{AttrSet: unix.MOUNT_ATTR_NOATIME, AttrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"tmpcopyup", "idmap"}, Options{TmpCopyUp: true, IDMap: true}},
		{[]string{"ridmap"}, Options{IDMap: true, RecursiveIDMap: true}},
		{[]string{"newinstance", "ptmxmode=0666", "gid=5"}, Options{Data: "newinstance,ptmxmode=0666,gid=5"}},
	}
	for _, tt := range tests {
		got := Parse(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}
