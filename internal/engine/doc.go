// Package engine keeps containers as persistent objects and runs them: it
// turns an image and the user's flags into an OCI spec with Docker's
// defaults, mounts the container's root filesystem, drives the runtime core
// (package container) and records what happened.
//
// A container lives in <root>/containers/<id>/: container.json (this
// package's record, written atomically), the generated config.json (the
// OCI bundle, whose rootfs is the overlay mounted on rootfs/ while the
// container runs), the generated hosts, hostname and resolv.conf, and the
// json-file log. Names are files in <root>/containers/names/, created
// under the engine's lock, so two creates of one name never both win.
// Runtime state (package container's) lives under <runroot>/runtime.
//
// Every command may be killed at any point: whatever reads a container
// first reconciles it (Reconcile), so a container whose monitor died is
// seen as exited and cleaned up, never left "running".
//
// The engine does not parse command lines or print; frontends do.
package engine
