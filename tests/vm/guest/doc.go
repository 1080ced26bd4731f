// Package guest holds the tests that run inside the cgroup VMs of tests/vm,
// never on the development machine: they drive the real pelagos-runc
// binary through its CLI on a pure cgroup v2 host (and, for the OCI
// validation suite's cgroup programs, on a v1 layout the development
// machines cannot offer).
//
// The test files carry the build tag vmguest, so `go test ./...` on the
// host compiles none of them; tests/vm builds them with -tags vmguest,
// statically, puts the binary in the VM's initramfs and replays every test
// it ran as a subtest of its own. scripts/lint.sh vets them with the tag.
//
// Inside the VM the tests find what they drive through the environment:
// PELAGOS_TEST_RUNTIME (pelagos-runc), PELAGOS_VM_PROBE (the static probe)
// and PELAGOS_VM_OCISUITE (the validation suite's directory).
package guest
