package seccomp

import "fmt"

// Instruction is one classic BPF instruction (struct sock_filter).
type Instruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// Classic BPF opcodes used by seccomp filters (include/uapi/linux/filter.h).
const (
	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfAndK   = 0x54 // BPF_ALU | BPF_AND | BPF_K
	bpfJa     = 0x05 // BPF_JMP | BPF_JA
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgtK   = 0x25 // BPF_JMP | BPF_JGT | BPF_K
	bpfJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfJsetK  = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K

	// maxInsns is BPF_MAXINSNS: the kernel refuses longer programs.
	maxInsns = 4096
)

// label names a position in a program being assembled; jumps refer to
// labels and the assembler turns them into offsets.
type label int

const noLabel label = -1

// asmInsn is an instruction whose jump targets are still labels.
type asmInsn struct {
	code   uint16
	k      uint32
	jt, jf label // conditional jumps; jt alone for ja
}

func (i *asmInsn) isCond() bool { return i.code&0x07 == 0x05 && i.code != bpfJa }

// assembler builds a program front to back. Every jump goes forward, as
// classic BPF requires.
type assembler struct {
	insns  []asmInsn
	labels []int // label -> index of the instruction it marks; -1 unbound
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind marks the next emitted instruction with l.
func (a *assembler) bind(l label) {
	if a.labels[l] != -1 {
		panic(fmt.Sprintf("seccomp: label %d bound twice", l))
	}
	a.labels[l] = len(a.insns)
}

func (a *assembler) emit(code uint16, k uint32) {
	a.insns = append(a.insns, asmInsn{code: code, k: k, jt: noLabel, jf: noLabel})
}

func (a *assembler) jump(code uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, asmInsn{code: code, k: k, jt: jt, jf: jf})
}

// assemble resolves labels. A conditional jump reaches at most 255
// instructions ahead; a farther target gets a trampoline (an unconditional
// jump, which has a 32-bit offset) placed right after the jump. Adding
// trampolines moves code, so this repeats until every offset fits.
func (a *assembler) assemble() ([]Instruction, error) {
	for l, at := range a.labels {
		if at < 0 {
			return nil, fmt.Errorf("seccomp: internal error: label %d unbound", l)
		}
	}
	n := len(a.insns)
	trampT := make([]bool, n)
	trampF := make([]bool, n)
	pos := make([]int, n+1)
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p++
			if trampT[i] {
				p++
			}
			if trampF[i] {
				p++
			}
		}
		pos[n] = p
		grew := false
		for i, in := range a.insns {
			if !in.isCond() {
				continue
			}
			if !trampT[i] && pos[a.labels[in.jt]]-pos[i]-1 > 255 {
				trampT[i], grew = true, true
			}
			if !trampF[i] && pos[a.labels[in.jf]]-pos[i]-1 > 255 {
				trampF[i], grew = true, true
			}
		}
		if !grew {
			break
		}
	}
	out := make([]Instruction, 0, pos[n])
	for i, in := range a.insns {
		if err := a.place(&out, pos, i, in, trampT[i], trampF[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (a *assembler) place(out *[]Instruction, pos []int, i int, in asmInsn, tt, tf bool) error {
	here := len(*out)
	off := func(from int, l label) (int, error) {
		d := pos[a.labels[l]] - from - 1
		if d < 0 {
			return 0, fmt.Errorf("seccomp: internal error: backward jump at %d", i)
		}
		return d, nil
	}
	switch {
	case in.code == bpfJa:
		d, err := off(here, in.jt)
		if err != nil {
			return err
		}
		*out = append(*out, Instruction{Code: bpfJa, K: uint32(d)})
	case in.isCond():
		ins := Instruction{Code: in.code, K: in.k}
		next := here + 1
		var err error
		var dt, df int
		if tt {
			dt, next = next-here-1, next+1
		} else if dt, err = off(here, in.jt); err != nil {
			return err
		}
		if tf {
			df = next - here - 1
		} else if df, err = off(here, in.jf); err != nil {
			return err
		}
		ins.Jt, ins.Jf = uint8(dt), uint8(df)
		*out = append(*out, ins)
		for _, t := range []struct {
			on bool
			to label
		}{{tt, in.jt}, {tf, in.jf}} {
			if t.on {
				d, err := off(len(*out), t.to)
				if err != nil {
					return err
				}
				*out = append(*out, Instruction{Code: bpfJa, K: uint32(d)})
			}
		}
	default:
		*out = append(*out, Instruction{Code: in.code, K: in.k})
	}
	return nil
}
