package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/bundle"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// bench holds the shared rootfs, the runtimes with their bundles, and
// the metrics being collected.
type bench struct {
	cfg      config
	work     string
	rootfs   string
	cgParent string // absolute cgroup path all containers live under
	rts      []*runtime
	report   *Report
	seq      int
}

// runtime is one runtime under measurement with its private state root
// and one bundle per slot (a slot is a container that may run at the same
// time as containers of other slots).
type runtime struct {
	runtimeSpec
	idx     int
	root    string
	bundles map[string]*bundle.Bundle
}

const (
	slotSeq  = "seq"
	slotExec = "exec"
)

func slotPar(i int) string { return fmt.Sprintf("par%d", i) }

func newBench(ctx context.Context, cfg config, work string) (*bench, error) {
	b := &bench{cfg: cfg, work: work, rootfs: filepath.Join(work, "rootfs"),
		cgParent: fmt.Sprintf("/pelagos-bench-%d-cg", os.Getpid())}
	b.report = newReport(cfg)
	if err := bundle.Rootfs(b.rootfs, bundle.RootfsOptions{}); err != nil {
		return nil, err
	}
	for i, spec := range cfg.runtimes {
		r := &runtime{runtimeSpec: spec, idx: i, root: filepath.Join(work, fmt.Sprintf("state%d", i)),
			bundles: map[string]*bundle.Bundle{}}
		if err := b.makeBundles(r); err != nil {
			return nil, err
		}
		b.rts = append(b.rts, r)
	}
	return b, nil
}

// makeBundles writes one bundle per slot, all sharing the read-only
// rootfs; each has its own cgroupsPath so concurrent containers never
// share a cgroup.
func (b *bench) makeBundles(r *runtime) error {
	slots := []string{slotSeq, slotExec}
	for i := 0; i < b.cfg.parallel; i++ {
		slots = append(slots, slotPar(i))
	}
	for _, slot := range slots {
		bd, err := bundle.New(filepath.Join(b.work, fmt.Sprintf("bundle%d-%s", r.idx, slot)), bundle.Options{Rootfs: b.rootfs})
		if err != nil {
			return err
		}
		args := []string{"/bin/true"}
		if slot == slotExec {
			args = []string{"/bin/sleep", "1000000"}
		}
		if err := bd.Apply(bundle.Args(args...), bundle.CgroupsPath(fmt.Sprintf("%s/r%d-%s", b.cgParent, r.idx, slot))); err != nil {
			return err
		}
		r.bundles[slot] = bd
	}
	return os.MkdirAll(r.root, 0o700)
}

// close removes every container and cgroup the bench left.
func (b *bench) close() {
	for _, r := range b.rts {
		ents, _ := os.ReadDir(r.root)
		for _, e := range ents {
			b.cli(context.Background(), r, "delete", "--force", e.Name())
		}
	}
	reapStray()
	if err := testenv.RemoveRootCgroups(b.cgParent); err != nil {
		fmt.Fprintln(os.Stderr, "bench: clean up cgroups:", err)
	}
}

// sample is one timed runtime CLI call.
type sample struct {
	d      time.Duration
	maxRSS int64 // KiB, wait4's ru_maxrss: the process and its reaped children
}

// cli runs the runtime with args (after --root) with stdin and stdout on
// /dev/null and stderr in a file. Not a pipe: a container's init inherits
// the runtime's stdio, and exec.Cmd would wait for a pipe's last writer.
func (b *bench) cli(ctx context.Context, r *runtime, args ...string) (sample, error) {
	errFile, err := os.CreateTemp(b.work, "stderr-")
	if err != nil {
		return sample{}, err
	}
	defer os.Remove(errFile.Name())
	defer errFile.Close()
	cmd := exec.CommandContext(ctx, r.path, append([]string{"--root", r.root}, args...)...)
	cmd.Stderr = errFile
	start := time.Now()
	err = cmd.Run()
	s := sample{d: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.maxRSS = ru.Maxrss
		}
	}
	if err != nil {
		msg, _ := os.ReadFile(errFile.Name())
		return s, fmt.Errorf("%s %s: %w: %s", r.name, args[0], err, strings.TrimSpace(string(msg)))
	}
	return s, nil
}

func (b *bench) newID(r *runtime) string {
	b.seq++
	return fmt.Sprintf("bench-r%d-%d", r.idx, b.seq)
}

// measure takes every metric, interleaving the runtimes sample by sample
// and alternating which one goes first.
func (b *bench) measure(ctx context.Context) *Report {
	phases := []struct {
		name string
		fn   func(context.Context, *runtime) error
		n    int
	}{
		{"run", b.sampleRun, b.cfg.samples},
		{"lifecycle", b.sampleLifecycle, b.cfg.samples},
		{"exec", nil, 0}, // below: needs a running container per runtime
		{"sequential batch", b.sampleSeqBatch, b.cfg.rounds},
		{"parallel batch", b.sampleParBatch, b.cfg.rounds},
	}
	for _, ph := range phases {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "bench: %s\n", ph.name)
		if ph.name == "exec" {
			b.measureExec(ctx)
			continue
		}
		b.interleave(ctx, ph.n, ph.fn)
	}
	for _, r := range b.rts {
		if fi, err := os.Stat(r.path); err == nil {
			b.report.add(r.idx, metricSize, float64(fi.Size())/1e6)
		}
	}
	return b.report
}

// interleave calls fn n times per runtime, alternating the order, and
// stops calling it for a runtime after its first error.
func (b *bench) interleave(ctx context.Context, n int, fn func(context.Context, *runtime) error) {
	failed := make([]bool, len(b.rts))
	for i := 0; i < n && ctx.Err() == nil; i++ {
		for k := range b.rts {
			r := b.rts[k]
			if i%2 == 1 {
				r = b.rts[len(b.rts)-1-k]
			}
			if failed[r.idx] {
				continue
			}
			if err := fn(ctx, r); err != nil {
				failed[r.idx] = true
				b.report.fail(r.idx, err)
				fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			}
		}
	}
}

// sampleRun times `run` of /bin/true end to end.
func (b *bench) sampleRun(ctx context.Context, r *runtime) error {
	s, err := b.cli(ctx, r, "run", "--bundle", r.bundles[slotSeq].Dir, b.newID(r))
	if err != nil {
		return err
	}
	b.report.add(r.idx, metricRun, ms(s.d))
	b.report.add(r.idx, metricRSSRun, mb(s.maxRSS))
	return nil
}

// sampleLifecycle times create, start and delete of one container,
// waiting for it to exit between start and delete.
func (b *bench) sampleLifecycle(ctx context.Context, r *runtime) error {
	id := b.newID(r)
	pidFile := filepath.Join(b.work, id+".pid")
	defer os.Remove(pidFile)
	create, err := b.cli(ctx, r, "create", "--bundle", r.bundles[slotSeq].Dir, "--pid-file", pidFile, id)
	if err != nil {
		return err
	}
	pid, err := readPid(pidFile)
	if err != nil {
		b.cli(ctx, r, "delete", "--force", id)
		return fmt.Errorf("%s create: %w", r.name, err)
	}
	start, err := b.cli(ctx, r, "start", id)
	if err != nil {
		b.cli(ctx, r, "delete", "--force", id)
		return err
	}
	initRSS, err := waitPid(pid)
	if err != nil {
		b.cli(ctx, r, "delete", "--force", id)
		return fmt.Errorf("%s init: %w", r.name, err)
	}
	del, err := b.cli(ctx, r, "delete", id)
	if err != nil {
		return err
	}
	reapStray()
	b.report.add(r.idx, metricCreate, ms(create.d))
	b.report.add(r.idx, metricStart, ms(start.d))
	b.report.add(r.idx, metricDelete, ms(del.d))
	b.report.add(r.idx, metricLifecycle, ms(create.d+start.d+del.d))
	b.report.add(r.idx, metricRSSCreate, mb(create.maxRSS))
	b.report.add(r.idx, metricRSSInit, mb(initRSS))
	return nil
}

// measureExec starts one long-running container per runtime, times exec
// of /bin/true into it, then removes it.
func (b *bench) measureExec(ctx context.Context) {
	ids := map[int]string{}
	var live []*runtime
	for _, r := range b.rts {
		id := b.newID(r)
		if _, err := b.cli(ctx, r, "run", "--detach", "--bundle", r.bundles[slotExec].Dir, id); err != nil {
			b.report.fail(r.idx, err)
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			b.cli(ctx, r, "delete", "--force", id)
			continue
		}
		ids[r.idx] = id
		live = append(live, r)
	}
	b.interleave(ctx, b.cfg.samples, func(ctx context.Context, r *runtime) error {
		id, ok := ids[r.idx]
		if !ok {
			return nil
		}
		s, err := b.cli(ctx, r, "exec", id, "/bin/true")
		if err != nil {
			return err
		}
		b.report.add(r.idx, metricExec, ms(s.d))
		b.report.add(r.idx, metricRSSExec, mb(s.maxRSS))
		return nil
	})
	for _, r := range live {
		b.cli(ctx, r, "delete", "--force", ids[r.idx])
	}
	reapStray()
}

// sampleSeqBatch runs batch containers one after another.
func (b *bench) sampleSeqBatch(ctx context.Context, r *runtime) error {
	start := time.Now()
	for i := 0; i < b.cfg.batch; i++ {
		if _, err := b.cli(ctx, r, "run", "--bundle", r.bundles[slotSeq].Dir, b.newID(r)); err != nil {
			return err
		}
	}
	b.report.add(r.idx, metricSeqBatch, time.Since(start).Seconds())
	return nil
}

// sampleParBatch runs batch containers, parallel at a time.
func (b *bench) sampleParBatch(ctx context.Context, r *runtime) error {
	ids := make(chan string, b.cfg.batch)
	for i := 0; i < b.cfg.batch; i++ {
		ids <- b.newID(r)
	}
	close(ids)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	for w := 0; w < b.cfg.parallel; w++ {
		wg.Add(1)
		go func(slot string) {
			defer wg.Done()
			for id := range ids {
				if _, err := b.cli(ctx, r, "run", "--bundle", r.bundles[slot].Dir, id); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}(slotPar(w))
	}
	wg.Wait()
	elapsed := time.Since(start)
	reapStray()
	if len(errs) > 0 {
		return errs[0]
	}
	b.report.add(r.idx, metricParBatch, elapsed.Seconds())
	return nil
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file holds %q", data)
	}
	return pid, nil
}

// waitPid reaps the container init pid (ours as subreaper) and returns
// its peak RSS in KiB. It gives up, killing it, after a minute: a
// container of /bin/true that has not exited by then is broken.
func waitPid(pid int) (int64, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, &ru)
		if err != nil {
			return 0, os.NewSyscallError("wait4", err)
		}
		if got == pid {
			if !ws.Exited() || ws.ExitStatus() != 0 {
				return 0, fmt.Errorf("init exited with status %v", ws)
			}
			return ru.Maxrss, nil
		}
		if time.Now().After(deadline) {
			unix.Kill(pid, unix.SIGKILL)
			return 0, errors.New("init did not exit")
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// reapStray reaps exited processes reparented to us (the runtimes'
// intermediate processes). Only call it while no exec.Cmd is running.
func reapStray() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func mb(kib int64) float64       { return float64(kib) / 1024 }
