package devicefilter

import (
	"encoding/binary"
	"math/rand"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func i64(v int64) *int64 { return &v }

// decision is the reference model: the cgroup v1 meaning of a rule list,
// applied bit by bit in order over a default of nothing allowed.
func decision(rules []specs.LinuxDeviceCgroup, typ byte, major, minor int64, access string) bool {
	want, _ := accessBits(access)
	var granted int32
	for _, r := range rules {
		if r.Type != "" && r.Type != "a" && r.Type != string(typ) {
			continue
		}
		if r.Major != nil && *r.Major != -1 && *r.Major != major {
			continue
		}
		if r.Minor != nil && *r.Minor != -1 && *r.Minor != minor {
			continue
		}
		acc, _ := accessBits(r.Access)
		if r.Allow {
			granted |= acc
		} else {
			granted &^= acc
		}
	}
	return want&^granted == 0
}

// run interprets the encoded program on one request: a small eBPF machine
// for exactly the instructions Program emits, decoding the bytes the kernel
// would get so that the encoding is tested too.
func run(t *testing.T, code []byte, typ byte, major, minor uint32, access string) bool {
	t.Helper()
	acc, _ := accessBits(access)
	dev := uint32(devChar)
	if typ == 'b' {
		dev = devBlock
	}
	ctx := make([]byte, 12)
	binary.LittleEndian.PutUint32(ctx[0:], uint32(acc)<<16|dev)
	binary.LittleEndian.PutUint32(ctx[4:], major)
	binary.LittleEndian.PutUint32(ctx[8:], minor)
	var reg [11]uint64
	for pc := 0; pc < len(code)/insnSize; pc++ {
		o := code[pc*insnSize:]
		op, dst, src := o[0], o[1]&0xf, o[1]>>4
		off := int16(binary.LittleEndian.Uint16(o[2:]))
		imm := uint64(int64(int32(binary.LittleEndian.Uint32(o[4:]))))
		switch op {
		case opLdxW:
			if src != r1 {
				t.Fatalf("pc %d: load from r%d, not the context", pc, src)
			}
			reg[dst] = uint64(binary.LittleEndian.Uint32(ctx[off:]))
		case opMovK:
			reg[dst] = imm
		case opMovX:
			reg[dst] = reg[src]
		case opAndK:
			reg[dst] &= imm
		case opAndX:
			reg[dst] &= reg[src]
		case opOrK:
			reg[dst] |= imm
		case opRshK:
			reg[dst] >>= imm
		case opJneK:
			if reg[dst] != imm {
				pc += int(off)
			}
		case opJneX:
			if reg[dst] != reg[src] {
				pc += int(off)
			}
		case opExit:
			return reg[r0] == 1
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, op)
		}
	}
	t.Fatal("program ran off its end")
	return false
}

func TestProgramMatchesV1Semantics(t *testing.T) {
	tests := []struct {
		name   string
		rules  []specs.LinuxDeviceCgroup
		typ    byte
		maj    int64
		min    int64
		access string
		want   bool
	}{
		{"nothing allowed by default", nil, 'c', 1, 3, "r", false},
		{"exact allow", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"}}, 'c', 1, 3, "rw", true},
		{"allow does not cover mknod", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"}}, 'c', 1, 3, "m", false},
		{"type must match", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(8), Minor: i64(0), Access: "rwm"}}, 'b', 8, 0, "r", false},
		{"wildcard minor", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i64(136), Access: "rwm"}}, 'c', 136, 7, "rw", true},
		{"later deny wins", []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "a", Access: "rwm"},
			{Allow: false, Type: "c", Major: i64(1), Minor: i64(5), Access: "r"},
		}, 'c', 1, 5, "r", false},
		{"partial deny keeps the other bits", []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
			{Allow: false, Type: "c", Major: i64(1), Minor: i64(5), Access: "w"},
		}, 'c', 1, 5, "r", true},
		{"partial deny refuses read-write", []specs.LinuxDeviceCgroup{
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
			{Allow: false, Type: "c", Major: i64(1), Minor: i64(5), Access: "w"},
		}, 'c', 1, 5, "rw", false},
		{"deny all then allow one", []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
		}, 'c', 1, 3, "rwm", true},
		{"major -1 is a wildcard", []specs.LinuxDeviceCgroup{{Allow: true, Type: "b", Major: i64(-1), Minor: i64(-1), Access: "r"}}, 'b', 253, 4, "r", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Program(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			if got := run(t, Encode(p), tt.typ, uint32(tt.maj), uint32(tt.min), tt.access); got != tt.want {
				t.Errorf("program(%c %d:%d %s) = %v, want %v\n%s", tt.typ, tt.maj, tt.min, tt.access, got, tt.want, String(p))
			}
			if got := decision(tt.rules, tt.typ, tt.maj, tt.min, tt.access); got != tt.want {
				t.Errorf("model(%c %d:%d %s) = %v, want %v", tt.typ, tt.maj, tt.min, tt.access, got, tt.want)
			}
		})
	}
}

// TestProgramRandomRules compares the program with the model on random rule
// lists and requests drawn from a small space so that rules overlap often.
func TestProgramRandomRules(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	types := []string{"a", "b", "c", ""}
	accesses := []string{"r", "w", "m", "rw", "rm", "wm", "rwm"}
	num := func() *int64 {
		switch rng.Intn(4) {
		case 0:
			return nil
		case 1:
			return i64(-1)
		}
		return i64(int64(rng.Intn(3)))
	}
	for round := 0; round < 2000; round++ {
		rules := make([]specs.LinuxDeviceCgroup, rng.Intn(6))
		for i := range rules {
			rules[i] = specs.LinuxDeviceCgroup{
				Allow: rng.Intn(2) == 0, Type: types[rng.Intn(len(types))],
				Major: num(), Minor: num(), Access: accesses[rng.Intn(len(accesses))],
			}
		}
		p, err := Program(rules)
		if err != nil {
			t.Fatal(err)
		}
		code := Encode(p)
		typ := "bc"[rng.Intn(2)]
		maj, min := int64(rng.Intn(3)), int64(rng.Intn(3))
		access := accesses[rng.Intn(len(accesses))]
		got := run(t, code, typ, uint32(maj), uint32(min), access)
		if want := decision(rules, typ, maj, min, access); got != want {
			t.Fatalf("rules %+v: program(%c %d:%d %s) = %v, want %v", rules, typ, maj, min, access, got, want)
		}
	}
}

func TestProgramRejectsBadRules(t *testing.T) {
	for _, r := range []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "x", Access: "r"},
		{Allow: true, Type: "c", Access: "rx"},
		{Allow: true, Type: "c", Major: i64(-2), Access: "r"},
		{Allow: true, Type: "c", Major: i64(1 << 40), Access: "r"},
	} {
		if _, err := Program([]specs.LinuxDeviceCgroup{r}); err == nil {
			t.Errorf("Program(%+v) succeeded, want an error", r)
		}
	}
}
