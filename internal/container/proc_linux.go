package container

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStat returns a process's state letter and start time from
// /proc/<pid>/stat. It reads into a buffer on the stack: every command
// calls it, and os.ReadFile's allocations (a File, a buffer sized by
// Stat) cost a short-lived process fresh heap pages.
func procStat(pid int) (state byte, start uint64, err error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// The line is at most ~1 KiB: 52 numbers and a 16-byte name.
	var buf [1024]byte
	n, err := unix.Read(fd, buf[:])
	unix.Close(fd)
	if err != nil {
		return 0, 0, &os.PathError{Op: "read", Path: path, Err: err}
	}
	return parseStat(buf[:max(n, 0)], pid)
}

// parseStat parses the state letter and start time out of a
// /proc/<pid>/stat line.
func parseStat(b []byte, pid int) (state byte, start uint64, err error) {
	// The command name is in parentheses and may contain spaces: parse
	// after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	rest := b[i+2:]
	// rest starts at field 3 (state); starttime is field 22.
	for field := 3; ; field++ {
		j := bytes.IndexByte(rest, ' ')
		if field == 22 {
			if j >= 0 {
				rest = rest[:j]
			}
			start, err = strconv.ParseUint(string(rest), 10, 64)
			return b[i+2], start, err
		}
		if j < 0 {
			return 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
		}
		rest = rest[j+1:]
	}
}

// processAlive reports whether pid is still the process that started at
// start, and not a zombie.
func processAlive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, s, err := procStat(pid)
	if err != nil {
		return false
	}
	if start != 0 && s != start {
		return false
	}
	return st != 'Z' && st != 'X'
}

// stillInit reports whether pid is still running our init binary (the
// sealed file whose identity create recorded), i.e. has not executed the
// container process yet. Records written before the identity was kept
// (always a memfd copy then) are told by the memfd's name.
func stillInit(pid int, exe *FileID) bool {
	path := fmt.Sprintf("/proc/%d/exe", pid)
	if exe != nil {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			return true // cannot tell: trust the record
		}
		return st.Dev == exe.Dev && st.Ino == exe.Ino
	}
	link, err := os.Readlink(path)
	if err != nil {
		return true
	}
	return strings.HasPrefix(link, "/memfd:"+sealedName)
}

// pidfd opens a pidfd for pid and checks it is still the process that
// started at start, so signals never reach a process that reused the pid.
func pidfd(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	if _, s, err := procStat(pid); err != nil || (start != 0 && s != start) {
		unix.Close(fd)
		return -1, unix.ESRCH
	}
	return fd, nil
}

func closeFd(fd int) { unix.Close(fd) }
