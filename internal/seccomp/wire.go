package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// instructionSize is the size of one instruction in Encode's format, that
// of struct sock_filter: code (2 bytes), jt, jf (1 each), k (4).
const instructionSize = 8

// Encode returns the program's filter in struct sock_filter's layout
// (little endian), for a process that loads what another compiled:
// compiling Docker's default profile once per container is enough.
func (p *Program) Encode() []byte {
	b := make([]byte, 0, len(p.Filter)*instructionSize)
	for _, in := range p.Filter {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// Decode rebuilds a loadable Program from Encode's bytes and the flags of
// the compiled program. The diagnostics Compile fills in (unknown and
// foreign syscalls, ignored architectures) are not carried.
func Decode(b []byte, flags uint) (*Program, error) {
	if len(b) == 0 || len(b)%instructionSize != 0 || len(b)/instructionSize > maxInsns {
		return nil, fmt.Errorf("seccomp: encoded filter of %d bytes is not 1 to %d instructions", len(b), maxInsns)
	}
	p := &Program{Flags: flags, Filter: make([]Instruction, 0, len(b)/instructionSize)}
	for i := 0; i < len(b); i += instructionSize {
		in := Instruction{
			Code: binary.LittleEndian.Uint16(b[i:]),
			Jt:   b[i+2], Jf: b[i+3],
			K: binary.LittleEndian.Uint32(b[i+4:]),
		}
		if in.Code == bpfRetK && !slices.Contains(p.rets, in.K) {
			p.rets = append(p.rets, in.K)
		}
		p.Filter = append(p.Filter, in)
	}
	slices.Sort(p.rets)
	return p, nil
}
