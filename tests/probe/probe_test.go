package probe

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCapNames(t *testing.T) {
	tests := []struct {
		mask uint64
		want []string
	}{
		{0, []string{}},
		{1<<5 | 1<<10 | 1<<29, []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}},
		{1<<40 | 1<<41, []string{"CAP_CHECKPOINT_RESTORE", "CAP_41"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(CapNames(tt.mask), tt.want); diff != "" {
			t.Errorf("CapNames(%#x) (-got +want):\n%s", tt.mask, diff)
		}
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tprobe\nUmask:\t0027\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\n" +
		"CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t0000000000000020\n" +
		"CapBnd:\t0000000000000400\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n"
	var r Report
	if err := parseStatus(status, &r); err != nil {
		t.Fatal(err)
	}
	if r.UIDs != [4]int{1000, 1001, 1002, 1003} || r.GIDs != [4]int{5, 6, 7, 8} {
		t.Errorf("ids = %v %v", r.UIDs, r.GIDs)
	}
	if r.Umask != "0027" || !r.NoNewPrivs || r.Seccomp != 2 || r.SeccompCount != 1 {
		t.Errorf("umask %q nnp %v seccomp %d/%d", r.Umask, r.NoNewPrivs, r.Seccomp, r.SeccompCount)
	}
	want := Caps{
		Inheritable: []string{},
		Permitted: []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
			"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW",
			"CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"},
		Effective: []string{"CAP_KILL"},
		Bounding:  []string{"CAP_NET_BIND_SERVICE"},
		Ambient:   []string{},
	}
	if diff := cmp.Diff(r.Caps, want); diff != "" {
		t.Errorf("caps (-got +want):\n%s", diff)
	}
	if err := parseStatus("Uid:\t0\n", &r); err == nil {
		t.Error("parseStatus of a truncated status succeeded")
	}
}

func TestParseMountinfo(t *testing.T) {
	text := "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"40 36 0:5 / /proc rw,nosuid shared:3 - proc proc rw\n" +
		"41 36 0:6 / /sys ro - sysfs sysfs rw\n"
	got, err := ParseMountinfo(text)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{ID: 36, Parent: 35, Dev: "98:0", Root: "/mnt1", Point: "/mnt/with space", Options: []string{"rw", "noatime"},
			Optional: []string{"master:1"}, FSType: "ext3", Source: "/dev/root", SuperOpts: []string{"rw", "errors=continue"}, Propagated: "slave"},
		{ID: 40, Parent: 36, Dev: "0:5", Root: "/", Point: "/proc", Options: []string{"rw", "nosuid"},
			Optional: []string{"shared:3"}, FSType: "proc", Source: "proc", SuperOpts: []string{"rw"}, Propagated: "shared"},
		{ID: 41, Parent: 36, Dev: "0:6", Root: "/", Point: "/sys", Options: []string{"ro"},
			Optional: []string{}, FSType: "sysfs", Source: "sysfs", SuperOpts: []string{"rw"}, Propagated: "private"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ParseMountinfo (-got +want):\n%s", diff)
	}
	r := Report{Mounts: got}
	if m, ok := r.Mount("/sys"); !ok || !m.HasOption("ro") {
		t.Errorf("Mount(/sys) = %+v, %v; want a ro mount", m, ok)
	}
	if _, err := ParseMountinfo("1 2 3\n"); err == nil {
		t.Error("ParseMountinfo of a short line succeeded")
	}
}

func TestCollectSelf(t *testing.T) {
	r := Collect()
	if len(r.Errors) != 0 {
		t.Errorf("Collect errors: %v", r.Errors)
	}
	if r.PID == 0 || r.Cwd == "" || len(r.Mounts) == 0 || len(r.Namespaces) == 0 || len(r.Cgroups) == 0 {
		t.Errorf("Collect left fields empty: %+v", r)
	}
	if _, ok := r.Rlimits["RLIMIT_NOFILE"]; !ok {
		t.Error("no RLIMIT_NOFILE in report")
	}
}
