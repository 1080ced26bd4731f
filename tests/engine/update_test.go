package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cgroupValue reads a container's cgroup interface file from whichever
// hierarchy has it (v1 here, unified in a VM).
func (c *cli) cgroupValue(id, file string) string {
	c.t.Helper()
	for _, d := range c.cgroupDirs() {
		if b, err := os.ReadFile(filepath.Join(d, id, file)); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	c.t.Fatalf("no cgroup file %s for %s", file, id)
	return ""
}

func TestUpdateRunning(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.ok("run", "-d", "--name", "up", "-m", "64m", "busybox:test", "sleep", "1000"))
	if got := c.ok("update", "-m", "128m", "--memory-swap", "256m", "--memory-reservation", "32m",
		"--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0", "--pids-limit", "20", "--restart", "always", "up"); got != "up\n" {
		t.Errorf("update printed %q, want the name", got)
	}
	for file, want := range map[string]string{
		"memory.limit_in_bytes": "134217728", "memory.soft_limit_in_bytes": "33554432",
		"cpu.cfs_quota_us": "50000", "cpu.cfs_period_us": "100000", "cpu.shares": "512",
		"cpuset.cpus": "0", "pids.max": "20",
	} {
		if got := c.cgroupValue(id, file); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}
	got := c.field("up", "{{json .HostConfig.Memory}} {{json .HostConfig.MemorySwap}} {{json .HostConfig.MemoryReservation}} {{json .HostConfig.NanoCpus}} {{json .HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{json .HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}")
	if want := "134217728 268435456 33554432 500000000 512 0 20 always"; got != want {
		t.Errorf("HostConfig after update: %q, want %q", got, want)
	}
	// Limits removed: unlimited again; an explicit CFS quota instead of
	// --cpus.
	c.ok("update", "--pids-limit", "-1", "--cpus", "0", "up")
	c.ok("update", "--cpu-quota", "30000", "--cpu-period", "200000", "up")
	for file, want := range map[string]string{"pids.max": "max", "cpu.cfs_quota_us": "30000", "cpu.cfs_period_us": "200000"} {
		if got := c.cgroupValue(id, file); got != want {
			t.Errorf("%s = %s, want %s", file, got, want)
		}
	}
	// Docker's refusals; nothing changes.
	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-m", "4m"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"-m", "512m"}, "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"},
		{[]string{"-m", "64m", "--memory-swap", "32m"}, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{[]string{"--memory-reservation", "200m"}, "Minimum memory limit can not be less than memory reservation limit"},
		{[]string{"--cpus", "0.5"}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{[]string{"--cpu-period", "10"}, "CPU cfs period can not be less than 1ms"},
		{[]string{"--cpus", "1000"}, "Range of CPUs is from 0.01 to"},
		{[]string{"--cpuset-cpus", "999"}, "are not available - requested 999"},
		{[]string{"--cpuset-cpus", "a-b"}, `Invalid value a-b for cpuset cpus`},
		{[]string{"--restart", "sometimes"}, "invalid restart policy"},
		{nil, "you must provide one or more flags when using this command"},
	} {
		_, errs, code := c.run(nil, append(append([]string{"update"}, bad.args...), "up")...)
		if code == 0 || !strings.Contains(errs, bad.msg) {
			t.Errorf("update %v: exit %d %q, want an error with %q", bad.args, code, errs, bad.msg)
		}
	}
	c.fails(125, "update", "--cpu-shares", "many", "up")
	c.fails(1, "update", "-m", "64m", "nosuch")
	if got := c.cgroupValue(id, "memory.limit_in_bytes"); got != "134217728" {
		t.Errorf("a refused update changed the memory limit to %s", got)
	}
	c.ok("rm", "-f", "up")
	c.assertClean()
}

func TestUpdateStopped(t *testing.T) {
	c := newCLI(t)
	id := strings.TrimSpace(c.ok("create", "--name", "later", "busybox:test", "sleep", "1000"))
	c.ok("update", "-m", "100m", "--pids-limit", "7", "--cpu-shares", "256", "later")
	c.ok("start", "later")
	for file, want := range map[string]string{"memory.limit_in_bytes": "104857600", "pids.max": "7", "cpu.shares": "256"} {
		if got := c.cgroupValue(id, file); got != want {
			t.Errorf("%s after start = %s, want %s", file, got, want)
		}
	}
	// run takes the same knobs, with the same refusals.
	rid := strings.TrimSpace(c.ok("run", "-d", "--cpu-shares", "300", "--cpuset-cpus", "0", "--cpu-period", "50000", "--cpu-quota", "25000",
		"-m", "64m", "--memory-reservation", "20m", "busybox:test", "sleep", "1000"))
	for file, want := range map[string]string{"cpu.shares": "300", "cpuset.cpus": "0", "cpu.cfs_period_us": "50000", "cpu.cfs_quota_us": "25000", "memory.soft_limit_in_bytes": "20971520"} {
		if got := c.cgroupValue(rid, file); got != want {
			t.Errorf("run: %s = %s, want %s", file, got, want)
		}
	}
	if errs := c.fails(125, "run", "--cpuset-cpus", "999", "busybox:test", "true"); !strings.Contains(errs, "are not available - requested 999") {
		t.Errorf("run --cpuset-cpus 999: %q", errs)
	}
	c.ok("rm", "-f", rid)
	c.ok("run", "-d", "--rm", "--name", "gone", "busybox:test", "sleep", "1000")
	if errs := c.fails(1, "update", "--restart", "always", "gone"); !strings.Contains(errs, "Restart policy cannot be updated because AutoRemove is enabled for the container") {
		t.Errorf("update --restart of an --rm container: %q", errs)
	}
	c.ok("rm", "-f", "later", "gone")
	c.assertClean()
}
