package container

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const sealedName = "pelagos-init"

// sealedExe returns a sealed in-memory copy of an init binary (our own by
// default), to be
// executed as the container init. A container process that gets hold of
// the init's /proc/<pid>/exe can only reach this copy, which cannot be
// written (CVE-2019-5736: with the binary itself, it could overwrite the
// host's runtime).
//
// The returned file sits at a high descriptor number so that exec.Cmd's
// shuffling of ExtraFiles into slots 3, 4, ... never lands on it: the child
// executes it through /proc/self/fd/N.
func sealedExe(path string) (*os.File, error) {
	if path == "" {
		path = "/proc/self/exe"
	}
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(sealedName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:"+sealedName)
	if err := copyAll(mem, src, st.Size()); err != nil {
		mem.Close()
		return nil, fmt.Errorf("copy our binary to a memfd: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, os.NewSyscallError("fcntl(F_ADD_SEALS)", err)
	}
	high, err := unix.FcntlInt(mem.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	mem.Close()
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(high), "memfd:"+sealedName), nil
}

// copyAll copies size bytes with sendfile (in the kernel, no user-space
// buffer), falling back to io.Copy.
func copyAll(dst, src *os.File, size int64) error {
	var off int64
	for off < size {
		n, err := unix.Sendfile(int(dst.Fd()), int(src.Fd()), &off, int(size-off))
		if err != nil || n == 0 {
			if off == 0 {
				_, err = io.Copy(dst, src)
				return err
			}
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
