package seccomp

import "syscall"

// rawInt80 makes a syscall through the 32-bit entry point (int $0x80), as an
// i386 program would: the kernel then reports AUDIT_ARCH_I386 and i386
// syscall numbers to the filter. Written in assembly (int80_amd64_test.s)
// because Go has no other way to reach that entry.
func rawInt80(nr, a1, a2, a3, a4, a5 uint64) uint64

const haveInt80 = true

func int80(nr uint64, args [6]uint64) (uintptr, syscall.Errno) {
	r := int32(rawInt80(nr, args[0], args[1], args[2], args[3], args[4]))
	if r < 0 && r > -4096 {
		return uintptr(r), syscall.Errno(-r)
	}
	return uintptr(uint32(r)), 0
}
