package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/inroot"
)

// defaultDevices every container gets (runtime-spec "Default Devices").
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// devSymlinks are the links every /dev has.
var devSymlinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// setupDevices creates the default devices and linux.devices, unless the
// config bind-mounts a /dev of its own.
func setupDevices(s *initState) error {
	if s.hostDev() {
		return nil
	}
	for _, d := range defaultDevices {
		if err := s.makeDevice(d, true); err != nil {
			return err
		}
	}
	for _, d := range s.b.Spec.Linux.Devices {
		if err := s.makeDevice(d, false); err != nil {
			return err
		}
	}
	dev, err := inroot.MkdirAll(s.root, "/dev", 0o755)
	if err != nil {
		return err
	}
	defer dev.Close()
	links := devSymlinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	if s.hasPtsMount() {
		links = append(links, [2]string{"pts/ptmx", "ptmx"})
	}
	for _, l := range links {
		if err := unix.Symlinkat(l[0], int(dev.Fd()), l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// hostDev reports whether the config bind-mounts /dev itself.
func (s *initState) hostDev() bool {
	for _, m := range s.b.Spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" && (m.Type == "bind" || containsBind(m.Options)) {
			return true
		}
	}
	return false
}

func (s *initState) hasPtsMount() bool {
	for _, m := range s.b.Spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev/pts" {
			return true
		}
	}
	return false
}

func containsBind(opts []string) bool {
	for _, o := range opts {
		if o == "bind" || o == "rbind" {
			return true
		}
	}
	return false
}

// makeDevice creates one device node inside the rootfs. Inside a user
// namespace mknod is not permitted, so the host's node is bind-mounted onto
// an empty file instead.
func (s *initState) makeDevice(d specs.LinuxDevice, isDefault bool) error {
	parent, err := inroot.MkdirAll(s.root, filepath.Dir(d.Path), 0o755)
	if err != nil {
		return err
	}
	defer parent.Close()
	name := filepath.Base(d.Path)
	mode, err := deviceMode(d)
	if err != nil {
		return err
	}
	if s.userNS {
		return s.bindDevice(d)
	}
	// Replace whatever the image had at this path (usually nothing): a
	// device node must be exactly what the config says.
	_ = unix.Unlinkat(int(parent.Fd()), name, 0)
	rdev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	if err := unix.Mknodat(int(parent.Fd()), name, mode, rdev); err != nil {
		if isDefault && errors.Is(err, unix.EPERM) {
			return s.bindDevice(d)
		}
		return fmt.Errorf("mknod %s: %w", d.Path, err)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(int(parent.Fd()), name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", d.Path, err)
	}
	return nil
}

// deviceMode is the file type and permissions of a device node.
func deviceMode(d specs.LinuxDevice) (uint32, error) {
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(*d.FileMode) & 0o7777
	}
	switch d.Type {
	case "c", "u":
		return unix.S_IFCHR | perm, nil
	case "b":
		return unix.S_IFBLK | perm, nil
	case "p":
		return unix.S_IFIFO | perm, nil
	}
	return 0, fmt.Errorf("device %s: unknown type %q", d.Path, d.Type)
}

func (s *initState) bindDevice(d specs.LinuxDevice) error {
	target, err := inroot.MkFile(s.root, d.Path, 0o644)
	if err != nil {
		return err
	}
	defer target.Close()
	mnt, err := cloneTree(unix.AT_FDCWD, d.Path, false)
	if err != nil {
		return fmt.Errorf("device %s: no mknod in a user namespace and no host node to bind: %w", d.Path, err)
	}
	defer mnt.Close()
	return attach(mnt, target)
}
