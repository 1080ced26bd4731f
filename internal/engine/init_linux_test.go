package engine

import (
	"bufio"
	"os/exec"
	"syscall"
	"testing"
)

// hasChild, by which awaitReaper knows the reaper has started the
// command, sees a child forked by the process.
func TestHasChild(t *testing.T) {
	sh := exec.Command("sh", "-c", "read x; sleep 100 & echo started; wait")
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the cleanup kills sleep too
	in, err := sh.StdinPipe()
	must(t, err)
	out, err := sh.StdoutPipe()
	must(t, err)
	must(t, sh.Start())
	t.Cleanup(func() { syscall.Kill(-sh.Process.Pid, syscall.SIGKILL); sh.Wait() })
	if hasChild(sh.Process.Pid) {
		t.Fatal("hasChild before the shell forked")
	}
	_, err = in.Write([]byte("go\n"))
	must(t, err)
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("shell said %q, %v", line, err)
	}
	if !hasChild(sh.Process.Pid) {
		t.Error("hasChild after the shell forked sleep: false")
	}
	if hasChild(1 << 30) {
		t.Error("hasChild of a pid that does not exist: true")
	}
}
