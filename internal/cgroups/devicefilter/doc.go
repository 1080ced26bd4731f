// Package devicefilter builds the eBPF program that enforces a container's
// device rules on cgroup v2 (where there is no devices controller) and
// attaches it to the container's cgroup with bpf(2).
//
// The program is assembled here by hand, a dozen instructions per rule, so
// that the runtime needs no eBPF library and no C toolchain. It reproduces
// the cgroup v1 devices controller's meaning of an OCI rule list: nothing is
// allowed by default, and the rules are applied in order, each one adding
// (allow) or removing (deny) access bits for the devices it matches, so a
// later rule overrides an earlier one bit by bit.
//
// This package must not decide which rules a container gets: the caller
// passes the complete list, defaults included.
package devicefilter
