package container

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// HoldUserNamespace returns a handle on a new user namespace with the
// given mappings, for idmapped mounts made outside a container's create
// (the engine's idmapped overlay layers for --userns auto). The binary
// must call initproc.Dispatch first in main (it is its own holder).
func HoldUserNamespace(uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	return holdUserNamespace(uids, gids)
}
