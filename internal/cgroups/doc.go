// Package cgroups creates, joins and removes the control group of one
// container, on cgroup v1 (one hierarchy per controller, including hybrid
// hosts that also mount an empty cgroup2 tree) and on cgroup v2.
//
// A Manager only ever removes directories it created itself, and it refuses
// to adopt a pre-existing cgroup that already holds processes or is frozen,
// as runc does: another container's cgroup must never be shared by accident.
//
// This package must not depend on the runtime core: the container init and
// the CLI import it, so it stays small and starts no goroutines.
package cgroups
