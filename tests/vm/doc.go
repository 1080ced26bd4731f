// Package vm runs pelagos's cgroup tests on hosts the development machines
// are not: virtual machines booted under QEMU (software emulation) with
// Debian's kernel, whose initramfs holds static busybox, the test binaries
// and what they drive, and an /init that mounts the cgroup filesystems,
// runs the binaries and powers off.
//
//   - TestCgroupV2InVM: a pure cgroup v2 host with every controller. The
//     test binaries of internal/cgroups and its subpackages run there on
//     the v2 driver, and the guest tests (./guest) drive the real
//     pelagos-runc through its CLI: limits, OOM events, pause, update,
//     device filtering, kill --all, delete, cgroup paths and the
//     container's own /sys/fs/cgroup; and the engine's guest tests drive
//     the pelagos CLI (run, stats, update on v2; docs/ENGINE.md).
//   - TestCgroupV1InVM: a cgroup v1 layout with the hierarchies the
//     development machines lack (hugetlb, net_cls, net_prio), where the OCI
//     validation suite's linux_cgroups_* programs run against pelagos-runc.
//
// Each test inside a VM is reported as a subtest, so `go test` counts and
// names them. docs/CGROUPS.md describes both VMs.
//
// This package must not be imported: it only has tests.
package vm
