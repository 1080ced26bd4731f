// Package seccomp compiles OCI seccomp profiles (runtime-spec
// linux.seccomp) to classic BPF and loads them, in pure Go: no cgo and no
// libseccomp, so the container init stays a static binary.
//
// [Compile] validates a profile and produces a [Program]; [Program.Load]
// installs it on the calling thread (or every thread, with
// SECCOMP_FILTER_FLAG_TSYNC) and returns the user-notification listener when
// the profile uses SCMP_ACT_NOTIFY; [SendListener] hands that listener to the
// profile's listenerPath as the spec describes. Docker's default profile
// for a given capability set is in package dockerprofile, so that binaries
// which only apply profiles do not carry its data.
//
// Semantics follow runc (which uses libseccomp) wherever the spec is silent,
// with two deliberate differences, documented in docs/SECCOMP.md: when
// several rules match one call the strictest action wins (the order the
// kernel itself uses between stacked filters), so a rule is never dropped
// because another rule for the same syscall has a different action; and
// several conditions on the same argument are ANDed like any others.
//
// The package must stay cheap to link: the container init runs every
// package's init on each start, so nothing here builds tables at init time
// (the syscall tables are static data).
package seccomp
