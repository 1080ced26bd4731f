package devicefilter

import (
	"encoding/binary"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The kernel hands a BPF_PROG_TYPE_CGROUP_DEVICE program a
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// where access_type is (access << 16) | type (include/uapi/linux/bpf.h).
const (
	ctxAccessType = 0
	ctxMajor      = 4
	ctxMinor      = 8

	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR

	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
)

// Opcodes, from include/uapi/linux/bpf.h and bpf_common.h.
const (
	opLdxW   = 0x61 // BPF_LDX | BPF_MEM | BPF_W
	opMovK   = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
	opMovX   = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X
	opAndK   = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	opAndX   = 0x5f // BPF_ALU64 | BPF_AND | BPF_X
	opOrK    = 0x47 // BPF_ALU64 | BPF_OR | BPF_K
	opRshK   = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	opJneK   = 0x55 // BPF_JMP | BPF_JNE | BPF_K
	opJneX   = 0x5d // BPF_JMP | BPF_JNE | BPF_X
	opExit   = 0x95 // BPF_JMP | BPF_EXIT
	insnSize = 8
)

// Registers: r1 holds the context on entry, r0 the verdict on exit. The
// program keeps the request in r2-r5 and the access granted so far in r6.
const (
	r0 = iota
	r1
	rType
	rAccess
	rMajor
	rMinor
	rGranted
	rTmp
)

// Insn is one eBPF instruction (struct bpf_insn).
type Insn struct {
	Code     uint8
	Dst, Src uint8
	Off      int16
	Imm      int32
}

// Program returns the instructions that enforce rules, in order, on top
// of a default that denies every device.
func Program(rules []specs.LinuxDeviceCgroup) ([]Insn, error) {
	p := []Insn{
		{Code: opLdxW, Dst: rType, Src: r1, Off: ctxAccessType},
		{Code: opAndK, Dst: rType, Imm: 0xffff},
		{Code: opLdxW, Dst: rAccess, Src: r1, Off: ctxAccessType},
		{Code: opRshK, Dst: rAccess, Imm: 16},
		{Code: opLdxW, Dst: rMajor, Src: r1, Off: ctxMajor},
		{Code: opLdxW, Dst: rMinor, Src: r1, Off: ctxMinor},
		{Code: opMovK, Dst: rGranted, Imm: 0},
	}
	for i, r := range rules {
		block, err := ruleBlock(r)
		if err != nil {
			return nil, fmt.Errorf("device rule %d: %w", i, err)
		}
		p = append(p, block...)
	}
	// Allowed only when every requested access bit was granted.
	return append(p,
		Insn{Code: opMovK, Dst: r0, Imm: 0},
		Insn{Code: opMovX, Dst: rTmp, Src: rAccess},
		Insn{Code: opAndX, Dst: rTmp, Src: rGranted},
		Insn{Code: opJneX, Dst: rTmp, Src: rAccess, Off: 1},
		Insn{Code: opMovK, Dst: r0, Imm: 1},
		Insn{Code: opExit},
	), nil
}

// ruleBlock compiles one rule: a test per field the rule restricts, each
// jumping past the block on a mismatch, then the change to r6.
func ruleBlock(r specs.LinuxDeviceCgroup) ([]Insn, error) {
	acc, err := accessBits(r.Access)
	if err != nil {
		return nil, err
	}
	var tests []Insn
	switch r.Type {
	case "", "a":
	case "b":
		tests = append(tests, Insn{Code: opJneK, Dst: rType, Imm: devBlock})
	case "c":
		tests = append(tests, Insn{Code: opJneK, Dst: rType, Imm: devChar})
	default:
		return nil, fmt.Errorf("device type %q: want a, b or c", r.Type)
	}
	for _, f := range []struct {
		reg uint8
		v   *int64
	}{{rMajor, r.Major}, {rMinor, r.Minor}} {
		if f.v == nil || *f.v == -1 {
			continue // wildcard
		}
		if *f.v < 0 || *f.v > 1<<31-1 {
			return nil, fmt.Errorf("device number %d out of range", *f.v)
		}
		tests = append(tests, Insn{Code: opJneK, Dst: f.reg, Imm: int32(*f.v)})
	}
	action := Insn{Code: opOrK, Dst: rGranted, Imm: acc}
	if !r.Allow {
		action = Insn{Code: opAndK, Dst: rGranted, Imm: ^acc}
	}
	// Each test jumps to just past the action.
	for i := range tests {
		tests[i].Off = int16(len(tests) - i)
	}
	return append(tests, action), nil
}

// accessBits turns "rwm" (any subset, empty meaning all) into the
// BPF_DEVCG_ACC_* mask.
func accessBits(s string) (int32, error) {
	if s == "" {
		s = "rwm"
	}
	var bits int32
	for _, c := range s {
		switch c {
		case 'r':
			bits |= accRead
		case 'w':
			bits |= accWrite
		case 'm':
			bits |= accMknod
		default:
			return 0, fmt.Errorf("device access %q: want letters from rwm", s)
		}
	}
	return bits, nil
}

// Encode lays the instructions out as the kernel reads them.
func Encode(p []Insn) []byte {
	b := make([]byte, len(p)*insnSize)
	for i, in := range p {
		o := b[i*insnSize:]
		o[0] = in.Code
		o[1] = in.Dst&0xf | in.Src<<4
		binary.LittleEndian.PutUint16(o[2:], uint16(in.Off))
		binary.LittleEndian.PutUint32(o[4:], uint32(in.Imm))
	}
	return b
}

// String prints the program in a readable assembly, for error messages and
// debugging a verifier rejection.
func String(p []Insn) string {
	var b strings.Builder
	for i, in := range p {
		fmt.Fprintf(&b, "%3d: code=%#02x dst=r%d src=r%d off=%d imm=%d\n", i, in.Code, in.Dst, in.Src, in.Off, in.Imm)
	}
	return b.String()
}
