package runtime_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// A create killed with SIGKILL at any moment leaves nothing that the next
// delete --force does not remove: no state directory, cgroup, mount or
// process. The moments are spread over the whole create by waiting a
// little longer each round (not a timing assertion: every round must end
// clean, wherever the kill landed).
func TestKilledCreateCleansUp(t *testing.T) {
	r := newRuntime(t)
	for i := 0; i < 24; i++ {
		cgPath, cgDir := uniqueCgroup(t, "killed"+itoa(i))
		b := newBundle(t, bundle.Args("sleep", "30"), bundle.CgroupsPath(cgPath))
		id := "killed" + itoa(i)
		before := len(initProcesses())
		cmd := exec.Command(r.bin, "--root", r.root, "create", "--bundle", b.Dir, id)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i) * 2 * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_, errs, err := r.run("delete", "--force", id)
		if err != nil {
			t.Errorf("round %d: delete --force after a killed create: %v: %s", i, err, errs)
		}
		// An init whose create died sees its socket close and exits.
		deadline := time.Now().Add(10 * time.Second)
		for len(initProcesses()) > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := len(initProcesses()); n > before {
			t.Errorf("round %d: %d init processes left", i, n-before)
		}
		if _, err := os.Stat(filepath.Join(r.root, id)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("round %d: state directory left", i)
		}
		if _, err := os.Stat(cgDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("round %d: cgroup %s left", i, cgDir)
		}
		if m := mountsUnder(t, b.Rootfs()); len(m) > 0 {
			t.Errorf("round %d: mounts left: %v", i, m)
		}
	}
}
