package container

import (
	"encoding/binary"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/internal/seccomp"
)

// seccompFile keeps the container's seccomp program as create compiled
// it (flags as a little-endian uint32, then seccomp.Program.Encode), so
// that an exec loads it instead of compiling the profile again: Docker's
// profile costs a few milliseconds to compile, on every exec and health
// check.
const seccompFile = "seccomp.bpf"

// saveSeccomp writes the compiled program beside the config copy.
func (cr *creation) saveSeccomp() error {
	if cr.seccomp == nil {
		return nil
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(cr.seccomp.Flags))
	return writeAtomic(filepath.Join(cr.c.dir, seccompFile), append(b, cr.seccomp.Encode()...))
}

// seccompProgram returns the container's program: the one create saved,
// or (a container created before it was saved) cfg compiled.
func (c *Container) seccompProgram(cfg *specs.LinuxSeccomp) (*seccomp.Program, error) {
	if b, err := os.ReadFile(filepath.Join(c.dir, seccompFile)); err == nil && len(b) > 4 {
		if p, err := seccomp.Decode(b[4:], uint(binary.LittleEndian.Uint32(b))); err == nil {
			return p, nil
		}
	}
	return seccomp.Compile(cfg)
}
