package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel tests re-execute the test binary as a child that loads a filter
// on one locked thread and then makes raw syscalls with chosen arguments,
// printing one JSON line per call. Whatever the filter does to the child
// (an errno, a killed thread, a killed process, SIGSYS) is seen from the
// parent, the way it would be seen from a container.

const childJobEnv = "PELAGOS_SECCOMP_TEST_JOB"

// The main goroutine keeps the main thread (locking it during init is the
// documented way), so a child's filtered goroutine runs on another thread:
// a killed thread group leader would linger as a zombie.
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if job := os.Getenv(childJobEnv); job != "" {
		os.Exit(childMain(job))
	}
	os.Exit(m.Run())
}

// call is one syscall the child makes after loading the filter.
type call struct {
	Nr    uint64
	Args  [6]uint64
	Int80 bool // through the 32-bit entry (int $0x80), amd64 only
}

// job is what the child is told to do.
type job struct {
	Profile *specs.LinuxSeccomp
	Calls   []call
	// Exec runs a program on the filtered thread after the calls.
	Exec []string
	// NoNNP skips no_new_privs; DropSysAdmin also drops CAP_SYS_ADMIN from
	// the effective set, so the kernel must refuse the filter.
	NoNNP, DropSysAdmin bool
	// NoFilter makes the calls without loading anything: the control run
	// that shows what the kernel itself answers.
	NoFilter bool
	// ListenerPath receives the notification listener via SendListener.
	ListenerPath, ListenerMetadata string
	// CheckThreads reports the seccomp mode of every thread after loading.
	CheckThreads bool
}

// report is one line the child prints.
type report struct {
	Call       int    `json:",omitempty"`
	Ret        uint64 `json:",omitempty"`
	Errno      int    `json:",omitempty"`
	LoadErr    string `json:",omitempty"`
	Loaded     bool   `json:",omitempty"`
	Done       bool   `json:",omitempty"`
	ThreadGone bool   `json:",omitempty"`
	// Modes maps thread ids to their Seccomp: line in /proc.
	Modes map[int]string `json:",omitempty"`
}

func emit(r report) {
	b, _ := json.Marshal(r)
	os.Stdout.Write(append(b, '\n'))
}

func childMain(raw string) int {
	var j job
	if err := json.Unmarshal([]byte(raw), &j); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad job:", err)
		return 3
	}
	// No core files from the SIGSYS deaths the tests provoke.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	tids := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread carries the filter and must die with
		// this goroutine rather than run other goroutines.
		runtime.LockOSThread()
		tids <- unix.Gettid()
		childRun(&j)
	}()
	tid := <-tids
	for {
		select {
		case <-done:
			emit(report{Done: true})
			return 0
		case <-time.After(10 * time.Millisecond):
			// SCMP_ACT_KILL_THREAD ends the thread but not the process.
			if threadGone(tid) {
				emit(report{ThreadGone: true})
				return 0
			}
		}
	}
}

// threadGone reports whether thread tid of this process has exited.
func threadGone(tid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return os.IsNotExist(err)
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

func childRun(j *job) {
	if j.DropSysAdmin {
		if err := dropEffectiveCap(unix.CAP_SYS_ADMIN); err != nil {
			emit(report{LoadErr: "drop cap: " + err.Error()})
			return
		}
	}
	if !j.NoNNP {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			emit(report{LoadErr: "no_new_privs: " + err.Error()})
			return
		}
	}
	fd := -1
	if !j.NoFilter {
		prog, err := Compile(j.Profile)
		if err != nil {
			emit(report{LoadErr: err.Error()})
			return
		}
		if fd, err = prog.Load(); err != nil {
			emit(report{LoadErr: err.Error()})
			return
		}
	}
	emit(report{Loaded: true})
	if fd >= 0 && j.ListenerPath != "" {
		st := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: j.ListenerMetadata,
			State: specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateCreating, Pid: os.Getpid(), Bundle: "/nonexistent"}}
		if err := SendListener(context.Background(), j.ListenerPath, fd, st); err != nil {
			emit(report{LoadErr: err.Error()})
			return
		}
		unix.Close(fd)
	}
	if j.CheckThreads {
		emit(report{Modes: threadModes()})
	}
	for i, c := range j.Calls {
		var r uintptr
		var errno syscall.Errno
		if c.Int80 {
			r, errno = int80(c.Nr, c.Args)
		} else {
			// Syscall, not RawSyscall: it hands the scheduler's P back
			// first, so a thread the filter kills does not take a P
			// with it and stall the rest of the runtime.
			var e unix.Errno
			r, _, e = unix.Syscall6(uintptr(c.Nr), uintptr(c.Args[0]), uintptr(c.Args[1]), uintptr(c.Args[2]),
				uintptr(c.Args[3]), uintptr(c.Args[4]), uintptr(c.Args[5]))
			errno = e
		}
		emit(report{Call: i, Ret: uint64(r), Errno: int(errno)})
	}
	if len(j.Exec) > 0 {
		err := unix.Exec(j.Exec[0], j.Exec, os.Environ())
		emit(report{LoadErr: "exec: " + err.Error()})
	}
}

func threadModes() map[int]string {
	modes := map[int]string{}
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
				var tid int
				fmt.Sscan(e.Name(), &tid)
				modes[tid] = strings.TrimSpace(v)
			}
		}
	}
	return modes
}

func dropEffectiveCap(c int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Effective &^= 1 << (c % 32)
	return unix.Capset(&hdr, &data[0])
}

// outcome is what the parent saw of one child.
type outcome struct {
	stdout     string
	reports    []report
	calls      map[int]report
	loaded     bool
	loadErr    string
	done       bool
	threadGone bool
	signal     syscall.Signal // the signal that killed the child, if any
	exitCode   int
	stderr     string
	modes      map[int]string
}

func runChild(t *testing.T, j job) outcome {
	t.Helper()
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childJobEnv+"="+string(raw))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	o := outcome{calls: map[int]report{}, stderr: stderr.String(), stdout: stdout.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			o.signal = ws.Signal()
		}
		o.exitCode = ws.ExitStatus()
	} else if err != nil {
		t.Fatalf("child: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" || !strings.HasPrefix(line, "{") {
			continue
		}
		var r report
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("child output %q: %v", line, err)
		}
		o.reports = append(o.reports, r)
		switch {
		case r.LoadErr != "":
			o.loadErr = r.LoadErr
		case r.Loaded:
			o.loaded = true
		case r.Done:
			o.done = true
		case r.ThreadGone:
			o.threadGone = true
		case r.Modes != nil:
			o.modes = r.Modes
		default:
			o.calls[r.Call] = r
		}
	}
	return o
}

// mustLoad fails the test unless the child loaded its filter.
func (o outcome) mustLoad(t *testing.T) {
	t.Helper()
	if !o.loaded {
		t.Fatalf("filter not loaded: %q (exit %d, signal %v, stderr %q)", o.loadErr, o.exitCode, o.signal, o.stderr)
	}
}

// nonJSON returns the child's output lines that are not reports: what a
// program it executed printed.
func nonJSON(o outcome) []string {
	var lines []string
	for _, l := range strings.Split(o.stdout, "\n") {
		if l = strings.TrimSpace(l); !strings.HasPrefix(l, "{") && l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
