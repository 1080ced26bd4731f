package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// writeFile sets one cgroup interface file. The value goes out in a single
// write(2): the kernel parses each write on its own.
func writeFile(dir, file, value string) error {
	p := filepath.Join(dir, file)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("set %s: %w", file, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("set %s to %q: %w", p, value, errors.Unwrap(err))
	}
	return nil
}

func readFile(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b)), err
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
