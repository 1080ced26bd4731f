package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"a_b-c.d+e", true},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"", false},
		{"../x", false},
		{"a/b", false},
		{".", false},
		{"..", false},
		{"-flag", false},
		{"a b", false},
		{strings.Repeat("a", 1024), false},
		{strings.Repeat("a", MaxIDLength), true},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateID(%.20q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateID(%.20q) error %v is not ErrInvalid", tt.id, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*specs.Spec)
		want string // substring of the error, "" for valid
	}{
		{"default", func(*specs.Spec) {}, ""},
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion is missing"},
		{"bad version", func(s *specs.Spec) { s.Version = "invalid" }, "not a semantic version"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, "only runtime-spec 1.x"},
		{"old version", func(s *specs.Spec) { s.Version = "1.0.0-rc5" }, ""},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args is empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "not an absolute path"},
		{"bad env", func(s *specs.Spec) { s.Process.Env = []string{"NOEQUALS"} }, "NAME=value"},
		{"unknown rlimit", func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_TEST"}} }, "is unknown"},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "above hard"},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "foo"})
		}, `unknown namespace type "foo"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, "appears twice"},
		{"relative namespace path", func(s *specs.Spec) {
			s.Linux.Namespaces[0].Path = "proc/1/ns/pid"
		}, "is not absolute"},
		{"mappings without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "need a user namespace"},
		{"userns without mappings", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "needs linux.uidMappings"},
		{"bad propagation", func(s *specs.Spec) { s.Linux.RootfsPropagation = "sideways" }, "rootfsPropagation"},
		{"bad device type", func(s *specs.Spec) {
			s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "z"}}
		}, "is not c, b, u or p"},
		{"relative hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "hook"}}}
		}, "hooks.poststop[0].path"},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux section is missing"},
	}
	for _, tt := range tests {
		s := Default(false, 0, 0)
		tt.mod(s)
		err := Validate(s)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate = %v, want an error containing %q", tt.name, err, tt.want)
		case err != nil && !errors.Is(err, ErrInvalid):
			t.Errorf("%s: error %v is not ErrInvalid", tt.name, err)
		}
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*specs.Spec)
		want string
	}{
		{"default", func(*specs.Spec) {}, ""},
		{"net sysctl with netns", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }, ""},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
		}, "needs a network namespace"},
		{"host-wide sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "not confined"},
		{"ipc sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"} }, ""},
		{"sysctl path tricks", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4/../../kernel/core_pattern": "x"} }, "not a sysctl name"},
		{"unknown capability", func(s *specs.Spec) {
			s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_TEST")
		}, "unknown capability"},
		{"hostname without uts", func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}}
		}, "need a uts namespace"},
	}
	for _, tt := range tests {
		s := Default(false, 0, 0)
		tt.mod(s)
		err := CheckHost(s)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: CheckHost = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestLoadMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `{"ociVersion": "1.0.0", "root": {`,
		"trailing":  `{"ociVersion": "1.0.0"} {}`,
		"wrongtype": `{"ociVersion": 1}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "malformed JSON") {
			t.Errorf("Load(%s) = %v, want a malformed JSON error", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing bundle succeeded")
	}
}
