package seccomp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"kill"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 9, Op: specs.OpEqualTo}}},
		},
	}
	p, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Decode(p.Encode(), p.Flags)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Filter, q.Filter); diff != "" {
		t.Errorf("filter changed in transit (-sent +received):\n%s", diff)
	}
	if q.Flags != p.Flags {
		t.Errorf("flags %#x, want %#x", q.Flags, p.Flags)
	}
	if diff := cmp.Diff(p.rets, q.rets); diff != "" {
		t.Errorf("return values (-compiled +decoded):\n%s", diff)
	}
}

func TestDecodeRefusesBadLengths(t *testing.T) {
	for _, n := range []int{0, 7, 9, (maxInsns + 1) * instructionSize} {
		if _, err := Decode(make([]byte, n), 0); err == nil {
			t.Errorf("Decode of %d bytes succeeded", n)
		}
	}
}
