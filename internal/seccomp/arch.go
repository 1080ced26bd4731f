package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/gensyscalls -o zsyscalls.go

// archID indexes the columns of sysTable.
type archID int

const (
	archX8664 archID = iota
	archX86
	archX32
	archAARCH64
	archARM
	numArches
)

// Audit architecture values the kernel reports in seccomp_data.arch
// (include/uapi/linux/audit.h). x32 reports AUDIT_ARCH_X86_64 and is told
// apart by bit 30 of the syscall number.
const (
	auditArchX8664   = 0xc000003e
	auditArchI386    = 0x40000003
	auditArchAARCH64 = 0xc00000b7
	auditArchARM     = 0x40000028

	// x32SyscallBit is __X32_SYSCALL_BIT.
	x32SyscallBit = 0x40000000
)

// archInfo describes one architecture pelagos can filter.
type archInfo struct {
	spec  specs.Arch
	audit uint32
	// is64 selects 64-bit argument comparisons; on 32-bit ABIs only the low
	// word of each argument is compared, as libseccomp does: the kernel
	// reads only 32 bits there, so the high word is not meaningful.
	is64 bool
	// sysBase is ORed into every syscall number (x32's bit).
	sysBase uint32
}

var arches = [numArches]archInfo{
	archX8664:   {spec: specs.ArchX86_64, audit: auditArchX8664, is64: true},
	archX86:     {spec: specs.ArchX86, audit: auditArchI386},
	archX32:     {spec: specs.ArchX32, audit: auditArchX8664, sysBase: x32SyscallBit},
	archAARCH64: {spec: specs.ArchAARCH64, audit: auditArchAARCH64, is64: true},
	archARM:     {spec: specs.ArchARM, audit: auditArchARM},
}

func (a archID) String() string { return string(arches[a].spec) }

// compatArches lists, for each native architecture, the ABIs a process on
// it can use: the native one first.
var compatArches = [numArches][]archID{
	archX8664:   {archX8664, archX86, archX32},
	archX86:     {archX86},
	archX32:     {archX32},
	archAARCH64: {archAARCH64, archARM},
	archARM:     {archARM},
}

// ociArches is every architecture name the runtime spec (v1.3) allows.
var ociArches = []specs.Arch{
	specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM,
	specs.ArchAARCH64, specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
	specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32, specs.ArchPPC,
	specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X,
	specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64,
	specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
}

// nativeArch maps the running GOARCH to its seccomp architecture.
func nativeArch() (archID, error) {
	switch runtime.GOARCH {
	case "amd64":
		return archX8664, nil
	case "386":
		return archX86, nil
	case "arm64":
		return archAARCH64, nil
	case "arm":
		return archARM, nil
	}
	return 0, fmt.Errorf("seccomp: GOARCH %s is not supported", runtime.GOARCH)
}

// sysEntry is one row of the generated sysTable.
type sysEntry struct {
	name string
	nr   [numArches]int32
}

// lookupSyscall returns the row for name, or false when no architecture
// pelagos knows has a syscall of that name.
func lookupSyscall(name string) (*sysEntry, bool) {
	i, ok := slices.BinarySearchFunc(sysTable[:], name, func(e sysEntry, n string) int {
		return strings.Compare(e.name, n)
	})
	if !ok {
		return nil, false
	}
	return &sysTable[i], true
}

// SyscallNumber returns the number of the named syscall on arch (x32 numbers
// include the x32 bit), and false when arch lacks it or is not one pelagos
// has tables for.
func SyscallNumber(arch specs.Arch, name string) (uint32, bool) {
	e, ok := lookupSyscall(name)
	if !ok {
		return 0, false
	}
	for id, a := range arches {
		if a.spec == arch && e.nr[id] >= 0 {
			return uint32(e.nr[id]) | a.sysBase, true
		}
	}
	return 0, false
}
