package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/pelagos-go/pelagos/internal/seccomp/dockerprofile"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pelagos-go/pelagos/internal/seccomp"
)

// TestMatchesLibseccomp compiles Docker's default profile with pelagos and
// with libseccomp (as runc adds the rules) and runs both filters over every
// syscall number of every ABI, with argument values around the profile's
// conditions: the verdicts must agree, except where runc itself differs
// from bare libseccomp (its ENOSYS stub past the profile's last syscall)
// and for syscalls newer than the installed libseccomp knows.
func TestMatchesLibseccomp(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs gcc and libseccomp-dev (scripts/install-test-deps.sh installs them)")
	}
	dir := t.TempDir()
	helper, err := BuildHelper(dir)
	if err != nil {
		t.Skipf("cannot build the libseccomp helper; install libseccomp-dev: %v", err)
	}
	p, err := dockerprofile.Default(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules")
	if err := WriteRules(rules, p); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(helper, "export", rules)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scmpbench export: %v\n%s", err, stderr.String())
	}
	var lib []seccomp.Instruction
	for b := stdout.Bytes(); len(b) >= 8; b = b[8:] {
		lib = append(lib, seccomp.Instruction{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])})
	}
	// Names the installed libseccomp does not know at all, or not for
	// one ABI (its tables predate the syscall).
	var unknownToLib []string
	unknownForArch := map[string]bool{} // "token name"
	for _, l := range strings.Split(stderr.String(), "\n") {
		if n, ok := strings.CutPrefix(l, "skip "); ok {
			unknownToLib = append(unknownToLib, n)
		}
		if n, ok := strings.CutPrefix(l, "skiparch "); ok {
			unknownForArch[n] = true
		}
	}
	prog, err := seccomp.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	def, _ := seccomp.ActionValue(p.DefaultAction, p.DefaultErrnoRet)
	const enosys = 0x00050000 | 38

	type abi struct {
		arch  specs.Arch
		audit uint32
		base  uint32
		count uint32
		token uint32 // libseccomp's SCMP_ARCH_* value
	}
	abis := []abi{{specs.ArchX86_64, 0xc000003e, 0, 560, 0xc000003e}, {specs.ArchX86, 0x40000003, 0, 480, 0x40000003}, {specs.ArchX32, 0xc000003e, 0x40000000, 560, 0x4000003e}}
	argSets := [][6]uint64{{}, {0x7e020000}, {0xffffffff}, {0x20008}, {1 << 32}}
	for d := range uint64(50) {
		argSets = append(argSets, [6]uint64{d, 1})
	}
	checked, differ := 0, 0
	for _, a := range abis {
		if !slices.Contains(p.Architectures, a.arch) {
			continue
		}
		maxNamed, newer := uint32(0), map[uint32]bool{}
		for _, s := range p.Syscalls {
			for _, n := range s.Names {
				if nr, ok := seccomp.SyscallNumber(a.arch, n); ok {
					maxNamed = max(maxNamed, nr)
					if slices.Contains(unknownToLib, n) || unknownForArch[fmt.Sprint(a.token, " ", n)] {
						newer[nr] = true
					}
				}
			}
		}
		for i := range a.count {
			nr := a.base + i
			for _, args := range argSets {
				d := seccomp.Data{Nr: nr, Arch: a.audit, Args: args}
				got, _, err := seccomp.Evaluate(prog.Filter, d)
				if err != nil {
					t.Fatal(err)
				}
				want, _, err := seccomp.Evaluate(lib, d)
				if err != nil {
					t.Fatalf("libseccomp filter: %v", err)
				}
				checked++
				switch {
				case got == want:
				case got == enosys && want == def && nr > maxNamed:
					// runc's patchbpf stub, which bare libseccomp lacks.
				case newer[nr] && want == def:
					differ++ // a syscall the installed libseccomp does not know
				default:
					t.Errorf("%s nr %#x args %#x: pelagos %#x, libseccomp %#x", a.arch, nr, args[:2], got, want)
				}
			}
		}
	}
	t.Logf("%d verdicts compared; %d differ only because the installed libseccomp does not know %v (or knows them only on some ABIs)", checked, differ, unknownToLib)
	if checked < 1000 {
		t.Fatalf("only %d verdicts compared", checked)
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
