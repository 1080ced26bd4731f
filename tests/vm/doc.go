// Package vm runs pelagos's cgroup tests on a pure cgroup v2 host: a
// virtual machine booted under QEMU (software emulation) with Debian's
// kernel, whose initramfs holds static busybox, the statically built test
// binaries of internal/cgroups and its subpackages, and an /init that
// mounts cgroup2 at /sys/fs/cgroup with every controller.
//
// The development and CI machines are hybrid cgroup v1 hosts, so this is
// where the v2 driver (memory, cpu, io, pids, cpuset, hugetlb, and devices
// through eBPF) is tested for real. Each test inside the VM is reported as
// a subtest of TestCgroupV2InVM, so `go test` counts and names them.
//
// This package must not be imported: it only has tests.
package vm
