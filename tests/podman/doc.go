// Package podman holds tests in which podman 4.3 drives the runtime under
// test through `podman --runtime`: run, create, start, exec, stop, rm,
// with a busybox image imported into a private storage (no registry
// needed). By default the runtime is pelagos-runc built from this tree;
// PELAGOS_TEST_RUNTIME=/usr/sbin/runc proves the tests against runc.
package podman
