package engine

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"100": 100, "64m": 64 << 20, "64MB": 64 << 20, "1g": 1 << 30, "512k": 512 << 10, "1.5k": 1536, "2b": 2} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1m", "1x"} {
		if _, err := ParseBytes(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBytes(%q) error %v, want ErrInvalid", in, err)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"SIGTERM": unix.SIGTERM, "term": unix.SIGTERM, "KILL": unix.SIGKILL, "9": unix.SIGKILL, "SIGRTMIN+1": 35} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "SIGNOPE", "0", "65", "RTMIN+40"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) succeeded", in)
		}
	}
}

func TestParseRestart(t *testing.T) {
	cases := map[string]RestartPolicy{
		"": {Name: "no"}, "no": {Name: "no"}, "always": {Name: "always"}, "unless-stopped": {Name: "unless-stopped"},
		"on-failure": {Name: "on-failure"}, "on-failure:3": {Name: "on-failure", MaximumRetryCount: 3},
	}
	for in, want := range cases {
		got, err := ParseRestart(in)
		if err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %+v, %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"sometimes", "always:3", "on-failure:x", "on-failure:-1", "no:1"} {
		if _, err := ParseRestart(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRestart(%q) error %v, want ErrInvalid", in, err)
		}
	}
}

func TestParseUlimit(t *testing.T) {
	if got, err := ParseUlimit("nofile=100:200"); err != nil || got != (Ulimit{Name: "nofile", Soft: 100, Hard: 200}) {
		t.Errorf("ParseUlimit(nofile=100:200) = %+v, %v", got, err)
	}
	if got, err := ParseUlimit("nproc=5"); err != nil || got != (Ulimit{Name: "nproc", Soft: 5, Hard: 5}) {
		t.Errorf("ParseUlimit(nproc=5) = %+v, %v", got, err)
	}
	for _, in := range []string{"nofile", "=1", "nofile=x", "nofile=2:1"} {
		if _, err := ParseUlimit(in); err == nil {
			t.Errorf("ParseUlimit(%q) succeeded", in)
		}
	}
}

func TestParseVolumeAndMount(t *testing.T) {
	cases := []struct {
		in   string
		vol  bool
		want Mount
	}{
		{"/h:/c", true, Mount{Type: "bind", Source: "/h", Target: "/c", BindOptions: &BindOptions{CreateMountpoint: true}}},
		{"/h/../x:/c/:ro", true, Mount{Type: "bind", Source: "/x", Target: "/c", ReadOnly: true, BindOptions: &BindOptions{CreateMountpoint: true}}},
		{"/h:/c:rw,rshared", true, Mount{Type: "bind", Source: "/h", Target: "/c", BindOptions: &BindOptions{CreateMountpoint: true, Propagation: "rshared"}}},
		{"type=bind,source=/h,target=/c,readonly", false, Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true}},
		{"/h:/c:ro,idmap", true, Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true, BindOptions: &BindOptions{CreateMountpoint: true, IDMap: true}}},
		{"type=bind,source=/h,target=/c,idmap", false, Mount{Type: "bind", Source: "/h", Target: "/c", BindOptions: &BindOptions{IDMap: true}}},
		{"type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", false, Mount{Type: "tmpfs", Target: "/t", TmpfsOptions: &TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o770 | fs.ModeSticky}}},
		{"data:/c", true, Mount{Type: "volume", Source: "data", Target: "/c"}},
		{"my.vol-1:/c/:ro,nocopy", true, Mount{Type: "volume", Source: "my.vol-1", Target: "/c", ReadOnly: true, VolumeOptions: &VolumeOptions{NoCopy: true}}},
		{"/anon/", true, Mount{Type: "volume", Target: "/anon"}},
		{"type=volume,src=v1,dst=/c,readonly,volume-nocopy,volume-label=a=b", false, Mount{Type: "volume", Source: "v1", Target: "/c", ReadOnly: true, VolumeOptions: &VolumeOptions{NoCopy: true, Labels: map[string]string{"a": "b"}}}},
		{"dst=/c,volume-opt=type=tmpfs,volume-opt=device=tmpfs", false, Mount{Type: "volume", Target: "/c", VolumeOptions: &VolumeOptions{DriverConfig: &VolumeDriver{Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}}}}},
	}
	for _, tc := range cases {
		var got Mount
		var err error
		if tc.vol {
			got, err = ParseVolume(tc.in)
		} else {
			got, err = ParseMount(tc.in)
		}
		if err != nil {
			t.Errorf("parse %q: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parse %q (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, in := range []string{"b$d:/c", "x:/c", "-x:/c", "v:/c:rshared", "/h:rel", "/h:/", "/h:/c:bogus", "v:/c:idmap", "/", "rel"} {
		if _, err := ParseVolume(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseVolume(%q) error %v, want ErrInvalid", in, err)
		}
	}
	for _, in := range []string{"type=bind,target=/c", "type=tmpfs,source=/x,target=/c", "type=volume,source=b$d,target=/c", "type=volume,target=/c,bind-propagation=rshared", "type=volume,target=/c,idmap", "type=bind,source=/h,target=/c,idmap=0:1:1", "type=volume,target=/c,volume-nocopy=maybe", "target=rel", "type=bind,source=/h,target=/c,color=red", "type=weird,target=/c"} {
		if _, err := ParseMount(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseMount(%q) error %v, want ErrInvalid", in, err)
		}
	}
	if got := unixMode(0o770 | fs.ModeSticky); got != 0o1770 {
		t.Errorf("unixMode(1770) = %o", got)
	}
}

func TestStartErrorStatus(t *testing.T) {
	for msg, want := range map[string]int{
		`exec: "x": executable file not found in $PATH`: 127,
		"open /x: no such file or directory":            127,
		"exec /etc/passwd: permission denied":           126,
		"exec /etc: is a directory":                     126,
		"unable to find user bob":                       125,
	} {
		if got := StartErrorStatus(errors.New(msg)); got != want {
			t.Errorf("StartErrorStatus(%q) = %d, want %d", msg, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"ab", "/web", "a_b.c-d", "A1"} {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q): %v", n, err)
		}
	}
	for _, n := range []string{"", "a", "-ab", ".ab", "a/b", "a b", "../x", "ab\x00"} {
		if err := ValidName(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalid", n, err)
		}
	}
}

func TestRestartDecisionBackoff(t *testing.T) {
	c := &Container{HostConfig: HostConfig{RestartPolicy: RestartPolicy{Name: "always"}}}
	var delays []int64
	for i := 0; i < 12; i++ {
		n := restartDecision(c, 1, 0)
		delays = append(delays, n.Delay.Milliseconds())
	}
	want := []int64{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	if diff := cmp.Diff(want, delays); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
	if n := restartDecision(c, 1, backoffReset); n.Delay != backoffStart {
		t.Errorf("after a run of 10 s the delay is %v, want %v", n.Delay, backoffStart)
	}
	c.ManualStop = true
	if n := restartDecision(c, 1, 0); n.Restart {
		t.Error("a stopped container restarts")
	}
	f := &Container{HostConfig: HostConfig{RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}}
	got := []bool{restartDecision(f, 0, 0).Restart, restartDecision(f, 1, 0).Restart, restartDecision(f, 1, 0).Restart, restartDecision(f, 1, 0).Restart}
	if diff := cmp.Diff([]bool{false, true, true, false}, got); diff != "" {
		t.Errorf("on-failure:2 (-want +got):\n%s", diff)
	}
}
