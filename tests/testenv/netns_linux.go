package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// envInNetNS marks a test binary that MainInNetNS re-executed.
const envInNetNS = "PELAGOS_TEST_IN_NETNS"

// MainInNetNS runs the package's tests as Main does, but in a network
// namespace of their own (with its loopback up): the test binary runs
// itself again with CLONE_NEWNET, and everything it starts (pelagos, its
// monitors, DNS servers) inherits that namespace. Bridges, veths,
// nftables rules and forwarding sysctls that the tests' containers get
// thus never touch the machine's own network, and go with the
// namespace. Call it from TestMain instead of Main.
func MainInNetNS(m *testing.M) {
	if !InNetNS() && os.Geteuid() == 0 {
		os.Exit(ReexecInNetNS())
	}
	if InNetNS() {
		if err := LoopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: loopback:", err)
			os.Exit(1)
		}
	}
	Main(m)
}

// InNetNS reports whether this process is one ReexecInNetNS started.
func InNetNS() bool { return os.Getenv(envInNetNS) != "" }

// ReexecInNetNS runs this program again, with the same arguments, in a
// new network namespace, and returns its exit status.
func ReexecInNetNS() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), envInNetNS+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: run the tests in a network namespace:", err)
		return 1
	}
	return 0
}

// LoopbackUp brings up "lo" in the calling thread's network namespace.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
