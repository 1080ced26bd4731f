// Package atomicfile replaces small files so that a reader sees the old
// content or the new, never a torn file, and a crash leaves one or the
// other: the records of the engine and the network store.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with b, mode 0644: a temporary file in the same
// directory, fsync, rename. On failure the temporary file is removed and
// path is untouched.
func Write(path string, b []byte) error { return write(path, b, true) }

// Replace is Write without the fsync: readers and a writer killed at any
// point still see the old content or the new, but a host crash may lose
// the change. It is for state the next boot recomputes anyway (a running
// container's status, files generated at every start): on this project's
// VMs an fsync costs 1 to 10 ms, several times the rest of the write.
func Replace(path string, b []byte) error { return write(path, b, false) }

func write(path string, b []byte, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
