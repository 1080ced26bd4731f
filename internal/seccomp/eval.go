package seccomp

import (
	"encoding/binary"
	"fmt"
)

// Data is the input of a seccomp filter: struct seccomp_data.
type Data struct {
	Nr   uint32
	Arch uint32 // AUDIT_ARCH_*
	IP   uint64
	Args [6]uint64
}

// seccompData is the internal name the tests use.
type seccompData = Data

func (d *Data) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.Nr)
	binary.LittleEndian.PutUint32(b[4:], d.Arch)
	binary.LittleEndian.PutUint64(b[8:], d.IP)
	for i, a := range d.Args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// Evaluate runs a filter over d in user space, as the kernel would on a
// little-endian machine, and returns the filter's verdict and how many
// instructions ran. It knows the opcodes seccomp filters use (loads of
// seccomp_data words, AND with a constant, jumps, constant returns), so
// it also reads libseccomp's output. For tests and for explaining what a
// profile does to a given call.
func Evaluate(prog []Instruction, d Data) (ret uint32, steps int, err error) {
	mem := d.bytes()
	var acc uint32
	pc := 0
	for steps = 1; ; steps++ {
		if pc >= len(prog) {
			return 0, steps, fmt.Errorf("pc %d ran off the end", pc)
		}
		in := prog[pc]
		pc++
		jump := func(cond bool) {
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
		switch in.Code {
		case bpfLdWAbs:
			if in.K%4 != 0 || in.K+4 > 64 {
				return 0, steps, fmt.Errorf("bad load offset %d", in.K)
			}
			acc = binary.LittleEndian.Uint32(mem[in.K:])
		case bpfAndK:
			acc &= in.K
		case bpfJa:
			pc += int(in.K)
		case bpfJeqK:
			jump(acc == in.K)
		case bpfJgtK:
			jump(acc > in.K)
		case bpfJgeK:
			jump(acc >= in.K)
		case bpfJsetK:
			jump(acc&in.K != 0)
		case bpfRetK:
			return in.K, steps, nil
		default:
			return 0, steps, fmt.Errorf("unknown opcode %#x at %d", in.Code, pc-1)
		}
	}
}
