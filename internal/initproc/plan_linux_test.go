package initproc

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/nsenter"
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

// planOps compiles a create with a traced plan.
func planOps(t *testing.T, b *Bootstrap) []nsenter.Op {
	t.Helper()
	p := nsenter.NewTracedPlan()
	if err := compileInto(p, b, b.Spec.Process, createPlan); err != nil {
		t.Fatal(err)
	}
	return p.Ops()
}

// firstOp is the index of the first operation with code whose context
// ends with what, or -1.
func firstOp(ops []nsenter.Op, code int, what string) int {
	for i, op := range ops {
		if op.Code == code && strings.HasSuffix(op.What, what) {
			return i
		}
	}
	return -1
}

// While the runtime is still making the cgroup (CgroupPending), the C
// init sets up every mount the cgroup mount does not depend on first,
// then waits for the runtime's word, then creates its cgroup namespace
// (whose root must be the container's cgroup) and mounts the hierarchy.
// A mount related to the cgroup mount keeps its place after it. The plan
// stops for the hooks only when the config has some.
func TestPlanWaitsForTheCgroupWhereItNeedsIt(t *testing.T) {
	cg := specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro"}}
	mq := specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue"}
	shm := specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm"}
	under := specs.Mount{Destination: "/sys/fs/cgroup/extra", Type: "tmpfs", Source: "tmpfs"}
	boot := func(pending bool, mounts ...specs.Mount) *Bootstrap {
		sp := planSpec(mounts...)
		sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.CgroupNamespace})
		return &Bootstrap{Mode: ModeCreate, Spec: sp, Rootfs: "/r", UnshareCgroupNS: true, CgroupPending: pending,
			Cgroups: []CgroupHierarchy{{Type: "cgroup2", Dir: "/sys/fs/cgroup/pelagos-plan-test"}}}
	}
	const onCg = " on /sys/fs/cgroup"

	t.Run("pending: unrelated mounts first", func(t *testing.T) {
		ops := planOps(t, boot(true, cg, mq, shm))
		await, unshare := firstOp(ops, nsenter.OpAwaitCgroup, ""), firstOp(ops, nsenter.OpUnshare, "")
		mount, mqueue, dshm := firstOp(ops, nsenter.OpFSMount, onCg), firstOp(ops, nsenter.OpFSMount, " on /dev/mqueue"), firstOp(ops, nsenter.OpFSMount, " on /dev/shm")
		if await < 0 || !(mqueue < await && dshm < await && await < unshare && unshare < mount) {
			t.Errorf("operation order: mqueue %d, shm %d, await %d, cgroup namespace %d, cgroup mount %d; want them in that order",
				mqueue, dshm, await, unshare, mount)
		}
		if i := firstOp(ops, nsenter.OpHooks, ""); i >= 0 {
			t.Errorf("the plan stops for hooks (operation %d), but the config has none", i)
		}
	})
	t.Run("pending, no hooks: devices and masks before the wait", func(t *testing.T) {
		b := boot(true, cg, mq)
		b.Spec.Linux.MaskedPaths = []string{"/proc/kcore"}
		ops := planOps(t, b)
		await, mount := firstOp(ops, nsenter.OpAwaitCgroup, ""), firstOp(ops, nsenter.OpFSMount, onCg)
		mknod, mask := firstOp(ops, nsenter.OpMknod, ""), firstOp(ops, nsenter.OpMask, "mask /proc/kcore")
		if await < 0 || !(mknod < await && mask < await && await < mount) || mknod < 0 || mask < 0 {
			t.Errorf("operation order: devices %d, mask %d, await %d, cgroup mount %d; want them in that order", mknod, mask, await, mount)
		}
		if n := countOps(ops, nsenter.OpMask); n != 1 {
			t.Errorf("the plan masks %d times, want once", n)
		}
	})
	t.Run("pending: a mask below the cgroup mount comes after it", func(t *testing.T) {
		b := boot(true, cg, mq)
		b.Spec.Linux.MaskedPaths = []string{"/sys/fs/cgroup/secret"}
		ops := planOps(t, b)
		await, mount := firstOp(ops, nsenter.OpAwaitCgroup, ""), firstOp(ops, nsenter.OpFSMount, onCg)
		mask, mqueue := firstOp(ops, nsenter.OpMask, "/sys/fs/cgroup/secret"), firstOp(ops, nsenter.OpFSMount, " on /dev/mqueue")
		if await < 0 || !(mqueue < await && await < mount && mount < mask) {
			t.Errorf("operation order: mqueue %d, await %d, cgroup mount %d, mask %d; want them in that order", mqueue, await, mount, mask)
		}
	})
	t.Run("pending: a mount below the cgroup mount stays after it", func(t *testing.T) {
		ops := planOps(t, boot(true, cg, under))
		await, mount, below := firstOp(ops, nsenter.OpAwaitCgroup, ""), firstOp(ops, nsenter.OpFSMount, onCg), firstOp(ops, nsenter.OpFSMount, onCg+"/extra")
		if await < 0 || !(await < mount && mount < below) {
			t.Errorf("operation order: await %d, cgroup mount %d, mount below it %d; want them in that order", await, mount, below)
		}
	})
	t.Run("not pending: no wait, config order", func(t *testing.T) {
		ops := planOps(t, boot(false, cg, mq))
		unshare, mount, mqueue := firstOp(ops, nsenter.OpUnshare, ""), firstOp(ops, nsenter.OpFSMount, onCg), firstOp(ops, nsenter.OpFSMount, " on /dev/mqueue")
		if i := firstOp(ops, nsenter.OpAwaitCgroup, ""); i >= 0 {
			t.Errorf("the plan waits for the cgroup (operation %d), but the runtime made it before", i)
		}
		if unshare < 0 || !(unshare < mount && mount < mqueue) {
			t.Errorf("operation order: cgroup namespace %d, cgroup mount %d, mqueue %d; want them in that order", unshare, mount, mqueue)
		}
	})
	t.Run("no cgroup mount: wait before the hooks and ready", func(t *testing.T) {
		b := boot(true, mq)
		b.Spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true"}}}
		ops := planOps(t, b)
		await, hooks, ready := firstOp(ops, nsenter.OpAwaitCgroup, ""), firstOp(ops, nsenter.OpHooks, ""), firstOp(ops, nsenter.OpReady, "")
		if await < 0 || hooks < 0 || !(firstOp(ops, nsenter.OpFSMount, " on /dev/mqueue") < await && await < hooks && hooks < ready) {
			t.Errorf("operation order: await %d, hooks %d, ready %d; want the mounts, then them in that order", await, hooks, ready)
		}
	})
}

func countOps(ops []nsenter.Op, code int) int {
	n := 0
	for _, op := range ops {
		if op.Code == code {
			n++
		}
	}
	return n
}
