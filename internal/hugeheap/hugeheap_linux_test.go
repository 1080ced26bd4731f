package hugeheap

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/pelagos-go/pelagos/internal/initproc"
)

// pageFlags returns the kernel's flags (/proc/kpageflags) of the page
// that backs address a, and whether it is present at all.
func pageFlags(t *testing.T, a uintptr) (uint64, bool) {
	t.Helper()
	entry := make([]byte, 8)
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	defer pm.Close()
	if _, err := pm.ReadAt(entry, int64(a/4096*8)); err != nil {
		t.Fatal(err)
	}
	e := binary.LittleEndian.Uint64(entry)
	if e&(1<<63) == 0 {
		return 0, false
	}
	pfn := e & (1<<55 - 1)
	if pfn == 0 {
		t.Skip("pagemap hides page frame numbers from this user (needs CAP_SYS_ADMIN)")
	}
	kf, err := os.Open("/proc/kpageflags")
	if err != nil {
		t.Skipf("no kpageflags: %v", err)
	}
	defer kf.Close()
	if _, err := kf.ReadAt(entry, int64(pfn*8)); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(entry), true
}

const kpfTHP = 1 << 22

func skipUnlessCollapsed(t *testing.T) {
	switch {
	case errors.Is(Err, syscall.EINVAL):
		t.Skipf("this kernel cannot collapse anonymous memory into a huge page (MADV_COLLAPSE: %v); nothing to check", Err)
	case errors.Is(Err, syscall.EAGAIN), errors.Is(Err, syscall.ENOMEM):
		t.Skipf("no huge page was free at start-up (MADV_COLLAPSE: %v); nothing to check", Err)
	case Err != nil:
		t.Fatalf("collapse of %#x: %v", Region, Err)
	}
}

func TestInitPutsTheHeapOnAHugePage(t *testing.T) {
	skipUnlessCollapsed(t)
	if Region == 0 {
		t.Fatal("no region: the init did nothing")
	}
	a := uintptr(unsafe.Pointer(anchor))
	if a&^(hugePage-1) != Region {
		t.Fatalf("anchor %#x is not in region %#x", a, Region)
	}
	// The anchor's page and one at the other end of the region: a
	// collapse makes the whole region one huge page, present at once.
	for _, addr := range []uintptr{a, Region + hugePage - 4096} {
		flags, present := pageFlags(t, addr)
		if !present {
			t.Fatalf("%#x in the heap's huge region is not present", addr)
		}
		if flags&kpfTHP == 0 {
			t.Errorf("%#x is on a small page (kpageflags %#x); want a transparent huge page", addr, flags)
		}
	}
}

// TestLeftAlone runs this test binary again with PELAGOS_HUGEHEAP=0, and
// as a container's init (initproc.EnvInitPipe set): the init must then
// leave the heap alone.
func TestLeftAlone(t *testing.T) {
	if os.Getenv("HUGEHEAP_REPORT") == "1" {
		os.Stdout.WriteString("region=" + strconv.FormatUint(uint64(Region), 10) + "\n")
		return
	}
	for _, env := range []string{"PELAGOS_HUGEHEAP=0", initproc.EnvInitPipe + "=3"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLeftAlone$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HUGEHEAP_REPORT=1", env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", env, err, out)
		}
		if !strings.Contains(string(out), "region=0\n") {
			t.Errorf("with %s the init still chose a region:\n%s", env, out)
		}
	}
	// And the control: without either, it does choose one.
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeftAlone$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HUGEHEAP_REPORT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(string(out), "region=0\n") {
		t.Errorf("with neither, the init chose no region:\n%s", out)
	}
}
