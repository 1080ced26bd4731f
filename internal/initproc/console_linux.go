package initproc

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/inroot"
)

// setupConsole creates the container's terminal when process.terminal is
// set: a pty from the container's own devpts, whose slave becomes the
// process's stdio, controlling terminal and /dev/console, and whose master
// goes to the caller over the console socket (SCM_RIGHTS).
func setupConsole(s *initState) error {
	if !s.proc.Terminal {
		return nil
	}
	if s.b.Fds.Console == 0 {
		return errors.New("process.terminal is set but no console socket was given (use --console-socket)")
	}
	sock := os.NewFile(uintptr(s.b.Fds.Console), "console-socket")
	defer sock.Close()
	root, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	master, err := inroot.Open(root, "/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY)
	if err != nil {
		return fmt.Errorf("open the container's /dev/ptmx (is /dev/pts mounted?): %w", err)
	}
	defer master.Close()
	if err := checkDevice(master, 5, 2); err != nil {
		return fmt.Errorf("/dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return os.NewSyscallError("unlockpt", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return os.NewSyscallError("ptsname", err)
	}
	// TIOCGPTPEER opens the slave through the master: no path lookup the
	// container could redirect.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return os.NewSyscallError("TIOCGPTPEER", errno)
	}
	sfd := int(r)
	slave := os.NewFile(uintptr(sfd), fmt.Sprintf("/dev/pts/%d", n))
	_ = unix.SetNonblock(sfd, false)
	if err := unix.Fchmod(sfd, 0o620); err != nil {
		return err
	}
	if cs := s.proc.ConsoleSize; cs != nil {
		ws := &unix.Winsize{Row: uint16(cs.Height), Col: uint16(cs.Width)}
		if err := unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, ws); err != nil {
			return os.NewSyscallError("TIOCSWINSZ", err)
		}
	}
	if s.b.Mode == ModeCreate {
		if err := bindConsole(root, slave); err != nil {
			return err
		}
	}
	if err := sendFd(sock, master, slave.Name()); err != nil {
		return fmt.Errorf("send the pty master to the console socket: %w", err)
	}
	return s.takeTerminal(slave)
}

// bindConsole makes /dev/console the pty slave. The target is resolved
// inside the root and must be a regular file or character device, so a
// symlink planted at /dev/console redirects nothing (CVE-2025-52565).
func bindConsole(root, slave *os.File) error {
	if link, err := inroot.IsSymlink(root, "/dev/console"); err == nil && link {
		return errors.New("/dev/console is a symlink in the rootfs: refusing to follow it")
	}
	target, err := inroot.MkFile(root, "/dev/console", 0o666)
	if err != nil {
		return err
	}
	defer target.Close()
	st, err := inroot.Fstat(target)
	if err != nil {
		return err
	}
	if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFCHR {
		return fmt.Errorf("/dev/console is not a file or character device (mode %#o)", st.Mode)
	}
	mnt, err := cloneTree(int(slave.Fd()), "", false)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return attach(mnt, target)
}

// takeTerminal makes slave the controlling terminal and stdio.
func (s *initState) takeTerminal(slave *os.File) error {
	if _, err := unix.Setsid(); err != nil {
		return os.NewSyscallError("setsid", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return os.NewSyscallError("TIOCSCTTY", err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return slave.Close()
}

func sendFd(sock, f *os.File, name string) error {
	rights := unix.UnixRights(int(f.Fd()))
	return unix.Sendmsg(int(sock.Fd()), []byte(name), rights, nil, 0)
}
