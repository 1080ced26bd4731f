package cgroups

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The helpers below reach interface files with raw open/read/write/close.
// An *os.File would also put each descriptor into Go's network poller
// (two fcntl and two epoll_ctl calls, as kernfs files can be polled) for a
// file used once; setting up one container touches about thirty of them,
// so the poller alone more than doubled the system calls.

// openFile opens dir/file with flags (close-on-exec added), retrying on
// EINTR as package os does.
func openFile(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			if err != nil {
				return -1, &os.PathError{Op: "open", Path: path, Err: err}
			}
			return fd, nil
		}
	}
}

// writeAll writes each value to fd in a write(2) of its own: the kernel
// parses every write to an interface file separately (devices.allow takes
// one rule per write).
func writeAll(fd int, values ...string) (string, error) {
	for _, v := range values {
		for {
			n, err := unix.Write(fd, []byte(v))
			if err == unix.EINTR {
				continue
			}
			if err == nil && n != len(v) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return v, err
			}
			break
		}
	}
	return "", nil
}

// writeFile sets one cgroup interface file to each value in turn, keeping
// the file open between them.
func writeFile(dir, file string, values ...string) error {
	p := filepath.Join(dir, file)
	fd, err := openFile(p, unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		return fmt.Errorf("set %s: %w", file, err)
	}
	v, err := writeAll(fd, values...)
	unix.Close(fd) // nothing is buffered: write(2) already reported
	if err != nil {
		return fmt.Errorf("set %s to %q: %w", p, v, err)
	}
	return nil
}

// readBufSize covers every single-value interface file in one read.
const readBufSize = 4096

// readFile returns the contents of dir/file, trimmed of surrounding space.
func readFile(dir, file string) (string, error) {
	s, err := readString(filepath.Join(dir, file))
	return strings.TrimSpace(s), err
}

// readString reads a whole (kernfs or procfs) file. It reads until
// read(2) returns 0: a seq_file may return less than asked before its end.
func readString(path string) (string, error) {
	fd, err := openFile(path, unix.O_RDONLY)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var stack [readBufSize]byte
	buf := stack[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

// readUint reads a file holding one number; "max" reads as MaxUint64.
func readUint(dir, file string) (uint64, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return 0, err
	}
	return parseUint(s)
}

func parseUint(s string) (uint64, error) {
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// v1 reports "unlimited" limits as -1 on some files.
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return math.MaxUint64, nil
		}
	}
	return v, err
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// readKeyValues parses "key value" lines, as in memory.stat and cpu.stat.
func readKeyValues(dir, file string) (map[string]uint64, error) {
	s, err := readFile(dir, file)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := parseUint(strings.TrimSpace(v)); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// limitString formats an OCI limit for an interface file: -1 is the
// unlimited value, spelled "max" on v2 and "-1" on v1.
func limitString(v int64, mode Mode) string {
	if v == -1 && mode == Unified {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
