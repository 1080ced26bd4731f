package cgroups

import "fmt"

// The OCI resources were written for cgroup v1; these convert them to the
// v2 interface files the same way runc and crun do, so that a container
// gets the same share whichever runtime starts it.

// CPUWeight converts v1 cpu.shares [2, 262144] linearly to v2 cpu.weight
// [1, 10000]: 2 maps to 1 and 262144 to 10000 (the default 1024 becomes 39).
// 0 means "not set".
func CPUWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < minShares {
		shares = minShares
	}
	if shares > maxShares {
		shares = maxShares
	}
	return 1 + (shares-2)*9999/262142
}

// IOWeight converts a v1 blkio weight [10, 1000] linearly to the v2
// io.weight range [1, 10000]. 0 means "not set".
func IOWeight(blkio uint16) uint64 {
	if blkio == 0 {
		return 0
	}
	if blkio < minBlkWeight {
		blkio = minBlkWeight
	}
	return 1 + (uint64(blkio)-10)*9999/990
}

// SwapV2 converts the OCI swap limit, which counts memory plus swap as v1's
// memory.memsw.limit_in_bytes does, to v2's memory.swap.max, which counts
// swap alone. -1 is "max"; 0 is "not set".
func SwapV2(swap, memory int64) (int64, error) {
	switch {
	case memory == -1 && swap == 0:
		// Unlimited memory and no word on swap: unlimited swap too, as v1
		// behaves when memory.limit_in_bytes is -1.
		return -1, nil
	case swap == -1 || swap == 0:
		return swap, nil
	case memory == -1:
		return swap, nil
	case memory == 0:
		return 0, fmt.Errorf("memory.swap %d needs memory.limit to be set", swap)
	case swap < memory:
		return 0, fmt.Errorf("memory.swap %d is below memory.limit %d", swap, memory)
	}
	return swap - memory, nil
}
