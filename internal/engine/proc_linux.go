package engine

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStart returns a process's start time (clock ticks since boot) and
// whether it is alive (not a zombie), from /proc/<pid>/stat.
func procStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold anything: parse
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 {
		return 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return start, err == nil && f[0] != "Z" && f[0] != "X"
}

// alive reports whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	s, ok := procStart(pid)
	return ok && (start == 0 || s == start)
}

// signalProcess sends sig to pid if it is still the process that started
// at start, through a pidfd so that a reused pid is never signalled.
func signalProcess(pid int, start uint64, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if !alive(pid, start) {
		return unix.ESRCH
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}

// waitExit waits until pid (checked against start) has exited, up to
// timeout; a pidfd polls readable once the process is gone.
func waitExit(pid int, start uint64, timeoutMs int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if !alive(pid, start) {
		return true
	}
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		return n > 0 || !alive(pid, start)
	}
}
