// Package container is the runtime core, parent side: it turns an OCI
// bundle into a container (create), releases it (start), and manages it
// through its life (state, kill, exec, delete, list, processes). The child
// side, which runs inside the new namespaces, is package initproc; the two
// speak the protocol in initproc/protocol.go.
//
// Every container has a directory <root>/<id> holding state.json (written
// atomically), config.json (the config it was created with) and the start
// socket, renamed "started" once start has released the init. Operations that change a container hold
// an exclusive flock on that directory. A command killed at any point
// leaves a state that the next command (delete --force) can clean up.
//
// Errors callers branch on are ErrNotExist, ErrExist, ErrInvalidState and
// spec.ErrInvalid; frontends map them once.
package container
