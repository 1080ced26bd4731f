// Package hugeheap backs the start of the Go heap with one transparent
// huge page, for a short-lived command that would otherwise fault its
// heap in one 4 KiB page at a time.
//
// Importing it is enough: its init runs right after the syscall
// package's, before almost every other package initialises, and asks the
// kernel (madvise MADV_COLLAPSE, Linux 6.1) to put the aligned 2 MiB
// region that holds a fresh heap object on a huge page, copying the few
// pages already in use, and marks the rest of that object's 4 MiB heap
// chunk MADV_HUGEPAGE so that its first touch takes a huge page too.
//
// Why: on virtual machines the first touch of an anonymous page is dear.
// On the Firecracker guest pelagos is developed on it costs ~14 µs, and a
// `pelagos run --rm` touched ~330 fresh heap pages, ~4.6 ms of a ~40 ms
// run; a collapse costs ~0.5 ms. The process's resident size grows by up
// to 4 MiB (the region, and the rest of the chunk once the heap reaches
// it), which is why only the pelagos command imports it, not the monitor
// nor pelagos-runc, whose memory the benchmarks hold against conmon and
// runc.
//
// Nothing depends on it working: an old kernel, transparent huge pages
// set to "never", or no huge page free leave the heap as it was.
// PELAGOS_HUGEHEAP=0 in the environment turns it off; a container's init
// or exec child (the pelagos binary is one when no pelagos-runc lies
// beside it) leaves the heap alone.
package hugeheap

import (
	"syscall"
	"unsafe"
)

const (
	madvHugepage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE
	hugePage     = 2 << 20
	// heapChunk is the unit in which the Go runtime maps heap memory
	// (pallocChunkBytes): the chunk around a heap pointer is mapped
	// read-write as a whole.
	heapChunk = 4 << 20
)

var (
	// anchor is the heap object whose address names the region.
	anchor *[16]byte
	// Region is the start of the 2 MiB region collapsed (0 if off), and
	// Err the kernel's answer to the collapse.
	Region uintptr
	Err    error
)

func init() {
	if v, _ := syscall.Getenv("PELAGOS_HUGEHEAP"); v == "0" {
		return
	}
	// The pelagos binary is also the init of its containers when no
	// pelagos-runc lies beside it: an init with the Go runtime runs in
	// the container's memory cgroup, where 2 MiB more may be more than
	// its limit allows (initproc.EnvInitPipe marks it; this package
	// imports nothing of pelagos's, to initialise this early).
	if _, child := syscall.Getenv("_PELAGOS_INITPIPE"); child {
		return
	}
	anchor = new([16]byte)
	p := uintptr(unsafe.Pointer(anchor))
	Region = p &^ (hugePage - 1)
	end := (p + heapChunk) &^ (heapChunk - 1)
	// Both ranges lie in the heap chunk the runtime has mapped for p.
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, Region, end-Region, madvHugepage)
	Err = collapse(Region)
}

func collapse(start uintptr) error {
	var errno syscall.Errno
	for try := 0; try < 2; try++ {
		_, _, errno = syscall.Syscall(syscall.SYS_MADVISE, start, hugePage, madvCollapse)
		if errno != syscall.EAGAIN {
			break
		}
	}
	if errno != 0 {
		return errno
	}
	return nil
}
