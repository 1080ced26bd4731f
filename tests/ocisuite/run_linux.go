package ocisuite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

// Result is the outcome of one validation program against one runtime.
type Result struct {
	Program  string
	TAP      TAP
	ExitCode int // -1 when killed
	TimedOut bool
	Duration time.Duration
	Stdout   string
	Stderr   string
	// Cleanup records what the runner had to clean up after the program
	// (containers it left, cgroups, mounts): a runtime that leaks shows here.
	Cleanup []string
}

// Passed reports whether the program fully passed: no `not ok`, as many
// points as it planned, exit 0 in time, and, when it reported no test
// point at all, no error diagnostic. Several programs (poststop,
// prestart_fail, process_rlimits_fail ...) report only failures, as a
// YAML "error:" with zero points: for them silence is success.
func (r Result) Passed() bool {
	return r.TAP.NotOk == 0 && !r.TimedOut && r.ExitCode == 0 &&
		(r.TAP.Planned < 0 || r.TAP.Planned == r.TAP.Points()) &&
		!(r.TAP.YAMLError && r.TAP.Points() == 0)
}

// NotOk is the number of failures the program reported: its `not ok`
// lines, or one when it did not fully pass without any `not ok` line (a
// YAML "error:" with no test point, a crash, a timeout, or a non-zero exit
// after passing points).
func (r Result) NotOk() int {
	if r.TAP.NotOk == 0 && !r.Passed() {
		return 1
	}
	return r.TAP.NotOk
}

// Summary is a short word for a results table.
func (r Result) Summary() string {
	switch {
	case r.Passed():
		return "pass"
	case r.TimedOut:
		return fmt.Sprintf("TIMEOUT(%d not ok)", r.NotOk())
	case r.TAP.Points() == 0 && (r.TAP.YAMLError || r.ExitCode != 0):
		return "ERROR"
	case r.TAP.NotOk == 0:
		return fmt.Sprintf("FAIL(exit %d)", r.ExitCode)
	}
	return fmt.Sprintf("%d not ok", r.TAP.NotOk)
}

// Totals sums results: programs fully passing and `not ok` count.
func Totals(rs []Result) (passed, notOk int) {
	for _, r := range rs {
		if r.Passed() {
			passed++
		}
		notOk += r.NotOk()
	}
	return passed, notOk
}

// Runner runs validation programs against one runtime binary.
type Runner struct {
	suite   *Suite
	runtime string
	timeout time.Duration
	work    string // scratch: wrapper, state root, per-program TMPDIRs
	root    string // the runtime's --root
	wrapper string // script that adds --root; the programs' $RUNTIME
	cgroup  *testenv.Cgroup
	// preexisting holds the absolute cgroup dirs the suite uses that
	// existed before we started: they are not ours to remove.
	preexisting map[string]bool
}

// RunnerOptions configures NewRunner.
type RunnerOptions struct {
	Runtime string        // path of the runtime binary
	Timeout time.Duration // per program; default 60s
}

// scratchPrefix names a runner's scratch directory and cgroup; both carry
// our pid, so a later run can remove them if we are killed.
const scratchPrefix = "pelagos-ocisuite-"

var (
	runnerSeq atomic.Int32
	staleOnce sync.Once
)

// NewRunner prepares a private state root, a wrapper script and a cgroup
// for running the suite against opts.Runtime. Close releases them.
func NewRunner(s *Suite, opts RunnerOptions) (*Runner, error) {
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	rt, err := filepath.Abs(opts.Runtime)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(rt); err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	staleOnce.Do(func() {
		if err := testenv.CleanStale(scratchPrefix); err != nil {
			fmt.Fprintln(os.Stderr, "ocisuite: clean up after an earlier run:", err)
		}
	})
	work, err := testenv.TempDir(scratchPrefix)
	if err != nil {
		return nil, err
	}
	// Bundles are made under work: containers with a user namespace must
	// be able to reach them as an unprivileged host uid.
	if err := os.Chmod(work, 0o755); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	r := &Runner{suite: s, runtime: rt, timeout: opts.Timeout, work: work,
		root: filepath.Join(work, "root"), wrapper: filepath.Join(work, "runtime")}
	if err := r.setup(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Runner) setup() error {
	if err := os.Mkdir(r.root, 0o700); err != nil {
		return err
	}
	// The programs run $RUNTIME <verb> ...; the wrapper gives every call
	// the private --root so nothing lands in the runtime's default state dir.
	script := fmt.Sprintf("#!/bin/sh\nexec %s --root %s \"$@\"\n", shellQuote(r.runtime), shellQuote(r.root))
	if err := os.WriteFile(r.wrapper, []byte(script), 0o755); err != nil {
		return err
	}
	var err error
	name := fmt.Sprintf("%s%d-%d", scratchPrefix, os.Getpid(), runnerSeq.Add(1))
	if r.cgroup, err = testenv.NewCgroup(name); err != nil {
		return err
	}
	r.preexisting = map[string]bool{}
	for _, d := range absCgroupDirs() {
		if _, err := os.Stat(d); err == nil {
			r.preexisting[d] = true
		}
	}
	return nil
}

// Runtime returns the runtime binary this runner drives.
func (r *Runner) Runtime() string { return r.runtime }

// Close removes the runner's cgroup, state root and scratch directory.
func (r *Runner) Close() error {
	var errs []error
	if r.cgroup != nil {
		errs = append(errs, r.cgroup.Remove())
	}
	_, err := testenv.UnmountUnder(r.work)
	errs = append(errs, err, os.RemoveAll(r.work))
	return errors.Join(errs...)
}

// Run runs one validation program to completion or timeout and cleans up
// after it.
func (r *Runner) Run(ctx context.Context, program string) Result {
	res := Result{Program: program}
	tmp := filepath.Join(r.work, "tmp-"+program)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		res.ExitCode, res.Stderr = -1, err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := r.command(ctx, program, tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	res.TimedOut = ctx.Err() == context.DeadlineExceeded
	res.ExitCode = exitCode(cmd, err)
	res.TAP = ParseTAP(res.Stdout)
	res.Cleanup = r.cleanup(tmp)
	return res
}

// command starts the program through a shell that first moves itself
// into the runner's cgroup: programs with a relative cgroupsPath make the
// runtime create cgroups under the caller's cgroup, which must be ours.
func (r *Runner) command(ctx context.Context, program, tmp string) *exec.Cmd {
	const join = `for f in $PELAGOS_OCISUITE_CGROUP; do echo $$ >"$f" || exit 126; done; exec "$@"`
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", join, "sh", r.suite.Program(program))
	cmd.Dir = r.suite.Dir // the programs read runtimetest and the rootfs tarball from here
	cmd.Env = append(os.Environ(),
		"RUNTIME="+r.wrapper,
		"TMPDIR="+tmp,
		"PELAGOS_OCISUITE_CGROUP="+strings.Join(r.cgroup.ProcsFiles(), " "),
	)
	// Own process group, so a timeout kills the program and anything it
	// started that is still in the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return unix.Kill(-cmd.Process.Pid, unix.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// exitCode is the program's exit status, -1 when it was killed or never
// ran. A container left running with the program's stdout makes Wait
// return ErrWaitDelay after the program itself exited: its status counts.
func exitCode(cmd *exec.Cmd, err error) int {
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return -1
		}
	}
	if cmd.ProcessState == nil {
		return -1
	}
	return cmd.ProcessState.ExitCode() // -1 when killed by a signal
}

// cleanup removes what a program left: containers still in the state
// root, processes in our cgroup, cgroups under it, the suite's absolute
// /cgrouptest cgroup when we created it, mounts under our scratch dir and
// the program's TMPDIR. It returns what it found, for the result.
func (r *Runner) cleanup(tmp string) []string {
	var found []string
	ents, _ := os.ReadDir(r.root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // no container ID starts with a dot: pelagos-runc's cache of seccomp programs
		}
		found = append(found, "container "+e.Name())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		exec.CommandContext(ctx, r.wrapper, "delete", "--force", e.Name()).Run()
		cancel()
		// A runtime that cannot delete must not poison the next program.
		os.RemoveAll(filepath.Join(r.root, e.Name()))
	}
	if empty, _ := r.cgroup.Empty(); !empty {
		found = append(found, "processes in the runner cgroup")
	}
	for _, d := range r.cgroup.Dirs {
		subs, _ := os.ReadDir(d)
		for _, s := range subs {
			if s.IsDir() {
				found = append(found, "cgroup "+filepath.Join(d, s.Name()))
				testenv.RemoveCgroupTree(filepath.Join(d, s.Name()))
			}
		}
		killAll(d)
	}
	for _, d := range absCgroupDirs() {
		if _, err := os.Stat(d); err == nil && !r.preexisting[d] {
			found = append(found, "cgroup "+d)
			testenv.RemoveCgroupTree(d)
		}
	}
	if n, err := testenv.UnmountUnder(tmp); n > 0 || err != nil {
		found = append(found, fmt.Sprintf("%d mounts under TMPDIR (unmount: %v)", n, err))
	}
	os.RemoveAll(tmp)
	return found
}

func killAll(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(data)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// absCgroupPath is the absolute cgroupsPath the suite's cgroup programs
// use (runtime-tools cgroups.AbsCgroupPath).
const absCgroupPath = "/cgrouptest"

func absCgroupDirs() []string {
	hs, err := testenv.Hierarchies()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range hs {
		out = append(out, filepath.Join(h.Mount, absCgroupPath))
	}
	return out
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
