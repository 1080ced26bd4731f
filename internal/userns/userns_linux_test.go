package userns

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// envChild makes the test binary print Inside() and exit.
const envChild = "PELAGOS_USERNS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		fmt.Print(Inside())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestInside(t *testing.T) {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	initial := strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
	if got := Inside(); got == initial {
		t.Errorf("Inside() = %v with uid_map %q", got, b)
	}
	// A child in a new user namespace (mapping our own uid) is inside.
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), envChild+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("cannot create a user namespace here: %v", err)
	}
	if string(out) != "true" {
		t.Errorf("Inside() in a new user namespace = %s, want true", out)
	}
}
