package devicefilter

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// bpf_attr layouts for the commands used here (include/uapi/linux/bpf.h).
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

type attachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

type queryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

type getFdAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// loadAttempts bounds progLoad's retries.
const loadAttempts = 100

// progLoad is BPF_PROG_LOAD, retried while the verifier gives up with
// EAGAIN: it does when a signal is pending for the thread (since Linux
// 4.20), and Go's runtime signals its threads (SIGURG for preemption,
// SIGCHLD, profiling), so a slow verification can be interrupted. Seen
// under QEMU's software emulation, where verifying takes milliseconds.
func progLoad(attr *progLoadAttr) (int, error) {
	for i := 1; ; i++ {
		fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
		if !errors.Is(err, unix.EAGAIN) || i == loadAttempts {
			return fd, err
		}
	}
}

// Load hands the program for rules to the kernel's verifier and returns its
// file descriptor (close-on-exec, as every bpf fd is).
func Load(rules []specs.LinuxDeviceCgroup) (int, error) {
	p, err := Program(rules)
	if err != nil {
		return -1, err
	}
	code := Encode(p)
	license := []byte("Apache\x00")
	attr := progLoadAttr{
		progType:           unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:            uint32(len(p)),
		insns:              uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
		expectedAttachType: unix.BPF_CGROUP_DEVICE,
	}
	copy(attr.progName[:], "pelagos_devices")
	fd, err := progLoad(&attr)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) {
		// Load again with the verifier's log, to say why. The buffer is
		// made only here: 64 KiB of fresh memory costs page faults.
		logBuf := make([]byte, 64<<10)
		attr.logLevel, attr.logSize = 1, uint32(len(logBuf))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		_, err = progLoad(&attr)
		runtime.KeepAlive(logBuf)
		return -1, fmt.Errorf("load device program: %w: %s", err, cString(logBuf))
	}
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	if err != nil {
		return -1, fmt.Errorf("load device program: %w", os.NewSyscallError("bpf", err))
	}
	return fd, nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Apply replaces the device programs attached to the cgroup directory dir
// with one that enforces rules. The new program is attached before the old
// ones are detached: in between both run and a device must pass both, so
// there is no moment with fewer restrictions than either rule set.
func Apply(dir string, rules []specs.LinuxDeviceCgroup) error {
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(cg)
	old, err := Attached(cg)
	if err != nil {
		return err
	}
	prog, err := Load(rules)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	attr := attachAttr{
		targetFd:    uint32(cg),
		attachBpfFd: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("attach device program to %s: %w", dir, os.NewSyscallError("bpf", err))
	}
	for _, id := range old {
		if err := detach(cg, id); err != nil {
			return fmt.Errorf("detach old device program from %s: %w", dir, err)
		}
	}
	return nil
}

// Attached lists the IDs of the device programs attached to the cgroup
// open at fd.
func Attached(cgroupFd int) ([]uint32, error) {
	ids := make([]uint32, 64)
	attr := queryAttr{
		targetFd:   uint32(cgroupFd),
		attachType: unix.BPF_CGROUP_DEVICE,
		progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
		progCnt:    uint32(len(ids)),
	}
	_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if err != nil {
		return nil, fmt.Errorf("query device programs: %w", os.NewSyscallError("bpf", err))
	}
	return ids[:attr.progCnt], nil
}

func detach(cg int, id uint32) error {
	get := getFdAttr{id: id}
	prog, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&get), unsafe.Sizeof(get))
	if errors.Is(err, unix.ENOENT) {
		return nil // gone already
	}
	if err != nil {
		return os.NewSyscallError("bpf", err)
	}
	defer unix.Close(prog)
	attr := attachAttr{targetFd: uint32(cg), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE}
	if _, err := bpf(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil && !errors.Is(err, unix.ENOENT) {
		return os.NewSyscallError("bpf", err)
	}
	return nil
}
