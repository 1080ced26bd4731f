// Package rootless runs the pelagos engine for an unprivileged user, as
// podman does: every pelagos command of the user runs inside one user
// namespace (the user is its root, the user's /etc/subuid and /etc/subgid
// ranges are ids 1..N) and one mount namespace, both held by a small pause
// process. Inside them the engine can extract image layers with their
// owners, mount overlays and create containers; its mounts persist from one
// command to the next because every command joins the same namespaces.
//
// Enter is called first by the CLI of an unprivileged user: it starts the
// pause process if there is none and re-executes the command inside its
// namespaces (the join happens in internal/nsenter's C constructor, before
// the Go runtime starts threads, as setns(2) into a user namespace needs).
// Active tells the re-executed command that it is the rootless engine, and
// Dirs where its state lives ($XDG_DATA_HOME/pelagos, $XDG_RUNTIME_DIR/pelagos).
//
// This package must not be imported by the container init path: it only
// decides where the CLI runs.
package rootless
