package initproc

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func planSpec(mounts ...specs.Mount) *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/true"}, Cwd: "/"},
		Root:    &specs.Root{Path: "rootfs"},
		Mounts:  mounts,
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}}},
	}
}

// The planner finds what the Go init would find on the host side, and
// reports it as the step the Go init would have named.
func TestCompilePlanErrors(t *testing.T) {
	cases := []struct {
		name  string
		mount specs.Mount
		want  string
	}{
		{"bind over a /proc file", specs.Mount{Destination: "/proc/sys/kernel/core_pattern", Type: "bind", Source: "/etc/hostname", Options: []string{"bind"}},
			"mounts[0] /etc/hostname on /proc/sys/kernel/core_pattern: mounting over /proc/sys/kernel/core_pattern is not allowed"},
		{"missing bind source", specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent/pelagos-plan-test", Options: []string{"rbind"}},
			"mounts[0] /nonexistent/pelagos-plan-test on /x: stat /nonexistent/pelagos-plan-test: no such file or directory"},
		{"bind without a source", specs.Mount{Destination: "/x", Type: "bind"},
			"bind mount without a source"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &Bootstrap{Mode: ModeCreate, Spec: planSpec(c.mount), Rootfs: "/r", Bundle: "/b"}
			_, err := CompilePlan(b)
			var se *StepError
			if !errors.As(err, &se) || se.Step != "mounts" || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CompilePlan: %v, want a mounts step error containing %q", err, c.want)
			}
		})
	}
}

func TestCompilePlanDeviceType(t *testing.T) {
	sp := planSpec()
	sp.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
	_, err := CompilePlan(&Bootstrap{Mode: ModeCreate, Spec: sp, Rootfs: "/r"})
	if err == nil || !strings.Contains(err.Error(), `device /dev/x: unknown type "q"`) {
		t.Fatalf("CompilePlan: %v, want the unknown device type named", err)
	}
}

func TestCompilePlanConsoleNeedsSocket(t *testing.T) {
	sp := planSpec()
	sp.Process.Terminal = true
	_, err := CompilePlan(&Bootstrap{Mode: ModeCreate, Spec: sp, Rootfs: "/r"})
	if err == nil || !strings.Contains(err.Error(), "no console socket") {
		t.Fatalf("CompilePlan: %v, want the missing console socket named", err)
	}
}

// PlanUnsupported keeps the Go init for what the C init does not do.
func TestPlanUnsupported(t *testing.T) {
	if uid := currentEUID(); uid != 0 {
		t.Skip("the C init is for a root runtime; CI runs this as root")
	}
	cases := []struct {
		name string
		mod  func(*specs.Spec)
		want string
	}{
		{"plain", func(*specs.Spec) {}, ""},
		{"user namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "user namespace"},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = nil }, "no mount namespace"},
		{"createContainer hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}}
		}, "createContainer or startContainer hooks"},
		{"tmpcopyup", func(s *specs.Spec) {
			s.Mounts = []specs.Mount{{Destination: "/t", Type: "tmpfs", Options: []string{"tmpcopyup"}}}
		}, "mount options"},
		{"scheduler and time namespace", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther}
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		}, ""},
		{"apparmor", func(s *specs.Spec) { s.Process.ApparmorProfile = "x" }, "security labels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := planSpec()
			c.mod(sp)
			if got := PlanUnsupported(sp, sp.Process, ModeCreate, false, false); got != c.want {
				t.Errorf("PlanUnsupported = %q, want %q", got, c.want)
			}
		})
	}
	t.Setenv(EnvInit, "go")
	sp := planSpec()
	if got := PlanUnsupported(sp, sp.Process, ModeCreate, false, false); got != "PELAGOS_INIT=go" {
		t.Errorf("with PELAGOS_INIT=go: %q", got)
	}
}

func currentEUID() int { return os.Geteuid() }
