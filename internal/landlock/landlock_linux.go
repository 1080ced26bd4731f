// Package landlock confines a container process's filesystem access with a
// Landlock ruleset, when the config asks for one through an annotation and
// the kernel supports Landlock. It is applied by the init, inside the
// container's root, just before the process starts; what the ruleset does
// not allow, the process cannot do, even as root in the container.
//
// The annotation's value lists paths, each granted read-only (read and
// execute) or read-write (everything Landlock controls) access beneath it:
//
//	io.github.pelagos-go.landlock: ro=/usr,/bin,/lib,/etc;rw=/tmp,/dev
//
// Everything not listed is denied. The executable itself must be beneath
// a listed path.
package landlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Annotation is the config annotation that asks for a ruleset.
const Annotation = "io.github.pelagos-go.landlock"

// ErrUnsupported is returned when the kernel has no Landlock.
var ErrUnsupported = errors.New("landlock is not available in this kernel")

// Ruleset is a parsed annotation.
type Ruleset struct {
	ReadOnly, ReadWrite []string
}

// Parse reads the annotation's value.
func Parse(v string) (*Ruleset, error) {
	r := &Ruleset{}
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, list, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q: want ro=PATHS or rw=PATHS (comma-separated)", Annotation, part)
		}
		var dst *[]string
		switch kind {
		case "ro":
			dst = &r.ReadOnly
		case "rw":
			dst = &r.ReadWrite
		default:
			return nil, fmt.Errorf("%s: %q: access must be ro or rw", Annotation, kind)
		}
		for _, p := range strings.Split(list, ",") {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("%s: path %q is not absolute", Annotation, p)
			}
			*dst = append(*dst, filepath.Clean(p))
		}
	}
	if len(r.ReadOnly)+len(r.ReadWrite) == 0 {
		return nil, fmt.Errorf("%s: no paths: the process could not even execute", Annotation)
	}
	return r, nil
}

// ABI returns the kernel's Landlock ABI version.
func ABI() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		if errno == unix.ENOSYS || errno == unix.EOPNOTSUPP {
			return 0, ErrUnsupported
		}
		return 0, errno
	}
	return int(v), nil
}

// handled is every filesystem access the ABI lets a ruleset control.
func handled(abi int) uint64 {
	a := uint64(unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM)
	if abi >= 2 {
		a |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		a |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		a |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return a
}

const readOnly = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR

// Apply restricts the calling thread (and what it executes) to the
// ruleset. Paths are resolved in the caller's root. It needs
// no_new_privs or CAP_SYS_ADMIN, and must run on the thread that execs.
func (r *Ruleset) Apply() error {
	abi, err := ABI()
	if err != nil {
		return err
	}
	all := handled(abi)
	// Only the first field: older kernels know no more, and the
	// kernel accepts a shorter struct.
	attr := unix.LandlockRulesetAttr{Handled_access_fs: all}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), 8, 0)
	if errno != 0 {
		return os.NewSyscallError("landlock_create_ruleset", errno)
	}
	defer unix.Close(int(fd))
	for _, p := range r.ReadOnly {
		if err := addRule(int(fd), p, readOnly&all); err != nil {
			return err
		}
	}
	for _, p := range r.ReadWrite {
		if err := addRule(int(fd), p, all); err != nil {
			return err
		}
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		return os.NewSyscallError("landlock_restrict_self", errno)
	}
	return nil
}

func addRule(ruleset int, path string, access uint64) error {
	dir, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("landlock rule for %s: %w", path, err)
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		// Directory-only rights cannot be granted on a file.
		access &^= unix.LANDLOCK_ACCESS_FS_READ_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
			unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
			unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
			unix.LANDLOCK_ACCESS_FS_MAKE_SYM | unix.LANDLOCK_ACCESS_FS_REFER
	}
	attr := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(dir)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("landlock rule for %s: %w", path, os.NewSyscallError("landlock_add_rule", errno))
	}
	return nil
}
