//go:build linux && !amd64

package seccomp

import "syscall"

const haveInt80 = false

func int80(nr uint64, args [6]uint64) (uintptr, syscall.Errno) { return 0, syscall.ENOSYS }
