package seccomp

import (
	"encoding/binary"
	"fmt"
)

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	ip   uint64
	args [6]uint64
}

func (d *seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	binary.LittleEndian.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		binary.LittleEndian.PutUint64(b[16+8*i:], a)
	}
	return b
}

// runFilter interprets prog over d as the kernel would (for the opcodes the
// compiler emits), and also returns how many instructions ran.
func runFilter(prog []Instruction, d seccompData) (ret uint32, steps int, err error) {
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
