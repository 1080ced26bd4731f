// Package monitor is the per-container monitor of a detached container:
// one small process that outlives the command that started the container.
// It holds the container's stdio, writes its output to the json-file log,
// is the parent (a child subreaper) of the container's init so that it
// learns the exit status, and runs the engine's steps — start, exited,
// restart — as short-lived child processes of the full pelagos binary.
//
// All decisions (the restart policy and its backoff, --rm, recording the
// exit and the OOM kill, tearing the run down) are made by those steps,
// in the engine; the monitor only waits, copies and sleeps. That is what
// keeps it small: it must not import the engine, the runtime core, an
// encoding package that reflects, or anything that starts goroutines at
// init. Its memory is the price of every running container (measured in
// docs/ENGINE.md).
//
// A step is `STEP... MODE [ARG]` with these descriptors:
//
//	0, 1, 2  /dev/null (a step's own diagnostics go to FdStatus)
//	3        FdReport, a SOCK_SEQPACKET socket: the step writes "pid N"
//	         when a container process runs, "restart MS" when the monitor
//	         must restart after MS ms, "health MS" when the monitor must
//	         run a health step after MS ms, and "hold" with descriptors
//	         (SCM_RIGHTS) that the monitor keeps open until the process
//	         exits (the sockets reserving its published ports)
//	4        FdStatus: the first step's result for the command that
//	         started the monitor ("ok" or "error CODE MESSAGE")
//	5, 6, 7  the container's stdin, stdout and stderr
//	8        with a terminal, the console socket that receives the pty
//	         master (5-7 are then /dev/null)
//
// While the process runs, a health step (`STEP... health`, stdio and
// FdStatus /dev/null) runs one probe of the container's health check,
// records its result and reports "health MS" for the next one: the
// engine decides every interval, the monitor only sleeps on a timer. One
// health step runs at a time.
package monitor

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/engine/jsonlog"
)

// Descriptors of a step (see the package comment).
const (
	FdReport = 3 + iota
	FdStatus
	FdStdin
	FdStdout
	FdStderr
	FdConsole
)

// fdStatusIn is the monitor's own descriptor for the starting command's
// status pipe, handed to the first step as FdStatus.
const fdStatusIn = 3

// Step modes.
const (
	ModeStart   = "start"
	ModeExited  = "exited"
	ModeRestart = "restart"
	ModeHealth  = "health"
)

// drainTimeout bounds the wait for the last output after the init exited
// (a process outside the container's pid namespace may hold the pipes).
const drainTimeout = 2 * time.Second

// Options are the monitor's arguments.
type Options struct {
	LogPath  string
	MaxSize  int64
	MaxFiles int
	TTY      bool
	Stdin    bool
	// AttachPath, when set, is where the attach socket is made (see
	// attach_linux.go).
	AttachPath string
	// RestartAfter, when positive, makes the first step a restart after
	// that long (a foreground run hands its restart policy over).
	RestartAfter time.Duration
	Step         []string
}

// Args renders o as the monitor's command line.
func (o Options) Args() []string {
	a := []string{"--log", o.LogPath, "--log-max-size", strconv.FormatInt(o.MaxSize, 10), "--log-max-file", strconv.Itoa(o.MaxFiles)}
	if o.TTY {
		a = append(a, "--tty")
	}
	if o.Stdin {
		a = append(a, "--stdin")
	}
	if o.RestartAfter > 0 {
		a = append(a, "--restart-after", strconv.FormatInt(o.RestartAfter.Milliseconds(), 10))
	}
	if o.AttachPath != "" {
		a = append(a, "--attach", o.AttachPath)
	}
	return append(append(a, "--"), o.Step...)
}

func parseArgs(args []string) (Options, error) {
	var o Options
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", errors.New(a + " needs a value")
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch a {
		case "--log":
			o.LogPath, err = next()
		case "--log-max-size":
			if v, err = next(); err == nil {
				o.MaxSize, err = strconv.ParseInt(v, 10, 64)
			}
		case "--log-max-file":
			if v, err = next(); err == nil {
				o.MaxFiles, err = strconv.Atoi(v)
			}
		case "--tty":
			o.TTY = true
		case "--stdin":
			o.Stdin = true
		case "--restart-after":
			var ms int64
			if v, err = next(); err == nil {
				ms, err = strconv.ParseInt(v, 10, 64)
				o.RestartAfter = time.Duration(ms) * time.Millisecond
			}
		case "--attach":
			o.AttachPath, err = next()
		case "--":
			o.Step = args[i+1:]
			i = len(args)
		default:
			return o, errors.New("unknown argument " + a)
		}
		if err != nil {
			return o, err
		}
	}
	if o.LogPath == "" || len(o.Step) == 0 {
		return o, errors.New("usage: pelagos-monitor --log PATH [--log-max-size N] [--log-max-file N] [--tty] [--stdin] [--restart-after MS] [--attach PATH] -- STEP")
	}
	return o, nil
}

// Main runs the monitor; it returns the process exit status.
func Main(args []string) int {
	status := os.NewFile(fdStatusIn, "status")
	o, err := parseArgs(args)
	if err != nil {
		report(status, "error 125 pelagos-monitor: "+err.Error())
		return 2
	}
	// The container's init is our grandchild (a step creates it and
	// exits): as a subreaper we inherit it and can wait for it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		report(status, "error 125 pelagos-monitor: "+err.Error())
		return 1
	}
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGPIPE, syscall.SIGQUIT, syscall.SIGTSTP)
	log, err := jsonlog.Open(o.LogPath, o.MaxSize, o.MaxFiles)
	if err != nil {
		report(status, "error 125 pelagos-monitor: "+err.Error())
		return 1
	}
	defer log.Close()
	m := &monitor{o: o, log: log}
	if o.AttachPath != "" {
		// Without the socket the container runs all the same, not
		// attachable.
		if m.hub, err = listenAttach(o.AttachPath); err == nil {
			defer m.hub.close(o.AttachPath)
		}
	}
	return m.loop(status)
}

func report(f *os.File, msg string) {
	if f != nil {
		_, _ = f.WriteString(msg + "\n")
	}
}

type monitor struct {
	o   Options
	log *jsonlog.Writer
	// stdinW keeps the container's stdin open (-i without an attached
	// client): the process sees no EOF while the monitor lives.
	stdinW *os.File
	// held are descriptors a step asked us to keep while the process
	// runs.
	held []int
	// hub is the attach socket; nil without one.
	hub *attachHub
}

// reportPair makes the report socket: SEQPACKET keeps each message
// whole and carries descriptors.
func reportPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "report"), os.NewFile(uintptr(fds[1]), "report-child"), nil
}

// readReport reads a step's messages until it exits.
func (m *monitor) readReport(r *os.File, rep *stepReport) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4*maxHeld))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(r.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err != nil || (n == 0 && oobn == 0) {
			return
		}
		if oobn > 0 {
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for i := range msgs {
					if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
						m.held = append(m.held, fds...)
					}
				}
			}
		}
		k, v, _ := strings.Cut(strings.TrimSpace(string(buf[:n])), " ")
		switch n, err := strconv.Atoi(v); {
		case err != nil:
		case k == "pid":
			rep.pid = n
		case k == "restart":
			rep.restart = n
		case k == "health":
			rep.health = n
		}
	}
}

// release closes the held descriptors.
func (m *monitor) release() {
	for _, fd := range m.held {
		unix.Close(fd)
	}
	m.held = nil
}

// maxHeld bounds the descriptors one "hold" message carries.
const maxHeld = 250

// SendHeld hands files to the monitor on the report socket (a step's
// FdReport); the monitor keeps them open until the process exits.
func SendHeld(report *os.File, files []*os.File) error {
	for len(files) > 0 {
		n := min(len(files), maxHeld)
		fds := make([]int, n)
		for i, f := range files[:n] {
			fds[i] = int(f.Fd())
		}
		if err := unix.Sendmsg(int(report.Fd()), []byte("hold"), unix.UnixRights(fds...), nil, 0); err != nil {
			return err
		}
		files = files[n:]
	}
	return nil
}

func (m *monitor) loop(status *os.File) int {
	mode := []string{ModeStart}
	if m.o.RestartAfter > 0 {
		time.Sleep(m.o.RestartAfter)
		mode = []string{ModeRestart}
	}
	for {
		rep, io, err := m.step(mode, status)
		if status != nil {
			status.Close()
			status = nil
		}
		if err != nil {
			return 1
		}
		if rep.pid > 0 {
			code := m.waitInit(rep.pid, rep.health)
			m.release()
			io.drain()
			m.hub.exited(code)
			mode = []string{ModeExited, strconv.Itoa(code)}
			continue
		}
		io.drain()
		if rep.restart < 0 {
			return 0
		}
		time.Sleep(time.Duration(rep.restart) * time.Millisecond)
		mode = []string{ModeRestart}
	}
}

// stepReport is what a step wrote on FdReport.
type stepReport struct {
	pid     int
	restart int // ms; -1 for none
	health  int // ms until the next health step; -1 for none
}

// step runs one step to its end and collects its report; for a start it
// sets up the container's stdio and starts copying its output.
func (m *monitor) step(mode []string, status *os.File) (stepReport, *copiers, error) {
	rep := stepReport{restart: -1, health: -1}
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return rep, nil, err
	}
	defer null.Close()
	files := []*os.File{null, null, null, nil, null, null, null, null, null}
	if status != nil {
		files[FdStatus] = status
	}
	reportR, reportW, err := reportPair()
	if err != nil {
		return rep, nil, err
	}
	defer reportR.Close()
	files[FdReport] = reportW
	cs := &copiers{}
	var childEnds []*os.File
	if mode[0] != ModeExited {
		childEnds, err = m.stdio(files, cs)
		if err != nil {
			reportW.Close()
			return rep, nil, err
		}
	}
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = f.Fd()
	}
	argv := append(append([]string(nil), m.o.Step...), mode...)
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: os.Environ(), Files: fds})
	reportW.Close()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		cs.abort()
		return rep, cs, err
	}
	m.readReport(reportR, &rep)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			break
		}
	}
	cs.startConsole(m.log, m.hub, m.o.Stdin)
	return rep, cs, nil
}

// stdio makes the container's stdio for a start and starts copying its
// output; it returns the child's ends, to close once the step runs.
func (m *monitor) stdio(files []*os.File, cs *copiers) ([]*os.File, error) {
	var ends []*os.File
	if m.stdinW != nil {
		m.stdinW.Close()
		m.stdinW = nil
	}
	if m.o.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		files[FdStdin], m.stdinW = r, w
		ends = append(ends, r)
		if !m.o.TTY {
			m.hub.setStdin(w)
		}
	}
	if m.o.TTY {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return ends, err
		}
		theirs := os.NewFile(uintptr(fds[1]), "console-child")
		files[FdConsole] = theirs
		cs.console = os.NewFile(uintptr(fds[0]), "console")
		return append(ends, theirs), nil
	}
	for i, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return ends, err
		}
		files[FdStdout+i] = w
		ends = append(ends, w)
		cs.run(m.log, stream, r, m.hub.tee(byte(StreamStdout+i)))
	}
	return ends, nil
}

// waitInit reaps children until pid exits and returns its status as
// Docker reports it (128+N for signal N). Other children (processes
// orphaned outside a pid namespace, health steps) are reaped on the way.
// With health >= 0 it runs a health step after that many ms, and after
// each the delay the step reports.
func (m *monitor) waitInit(pid, health int) int {
	if health < 0 {
		for {
			if code, done := m.reap(pid, 0, nil); done {
				return code
			}
		}
	}
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	timer := time.NewTimer(time.Duration(health) * time.Millisecond)
	defer timer.Stop()
	h := &healthStep{next: -1}
	defer h.close()
	for {
		if code, done := m.reap(pid, unix.WNOHANG, h); done {
			return code
		}
		if h.next >= 0 {
			timer.Reset(time.Duration(h.next) * time.Millisecond)
			h.next = -1
		}
		select {
		case <-sigchld:
		case <-timer.C:
			m.startHealth(h)
		}
	}
}

// reap waits (or with WNOHANG polls) for children until pid exits or, with
// WNOHANG, none is left to reap now. A health step reaped on the way has
// its report read into h.
func (m *monitor) reap(pid, flags int, h *healthStep) (code int, done bool) {
	var ws unix.WaitStatus
	for {
		wpid, err := unix.Wait4(-1, &ws, flags, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255, true // no child left: it was reaped elsewhere
		}
		switch {
		case wpid == 0:
			return 0, false
		case wpid == pid:
			if ws.Signaled() {
				return 128 + int(ws.Signal()), true
			}
			return ws.ExitStatus(), true
		case h != nil && wpid == h.pid:
			h.finished(m)
		}
	}
}

// healthStep is the health step in progress, if any.
type healthStep struct {
	pid    int
	report *os.File
	// next is the delay in ms the last step reported (-1: none yet).
	next int
}

// startHealth forks a health step, unless one still runs.
func (m *monitor) startHealth(h *healthStep) {
	h.next = -1
	if h.pid > 0 {
		return
	}
	// A step that cannot start is tried again later.
	h.next = healthRetryMs
	null, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer null.Close()
	reportR, reportW, err := reportPair()
	if err != nil {
		return
	}
	fds := []uintptr{null.Fd(), null.Fd(), null.Fd(), reportW.Fd(), null.Fd()}
	argv := append(append([]string(nil), m.o.Step...), ModeHealth)
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: os.Environ(), Files: fds})
	reportW.Close()
	if err != nil {
		reportR.Close()
		return
	}
	h.pid, h.report, h.next = pid, reportR, -1
}

// healthRetryMs is the delay before another try at starting a health
// step that could not start.
const healthRetryMs = 1000

// finished reads the report of the health step that exited.
func (h *healthStep) finished(m *monitor) {
	rep := stepReport{restart: -1, health: -1}
	m.readReport(h.report, &rep)
	h.close()
	h.next = rep.health
}

func (h *healthStep) close() {
	if h.report != nil {
		h.report.Close()
	}
	h.pid, h.report = 0, nil
}

// copiers copy one run's output into the log.
type copiers struct {
	console *os.File
	done    []chan struct{}
}

func (cs *copiers) run(log *jsonlog.Writer, stream string, r io.ReadCloser, tee io.Writer) {
	done := make(chan struct{})
	cs.done = append(cs.done, done)
	go func() {
		defer close(done)
		defer r.Close()
		_ = log.Copy(stream, r, tee)
	}()
}

// startConsole receives the pty master, if the container has a terminal,
// and copies from it; with stdin, attached clients type into it.
func (cs *copiers) startConsole(log *jsonlog.Writer, hub *attachHub, stdin bool) {
	if cs.console == nil {
		return
	}
	master, err := recvFd(cs.console)
	cs.console.Close()
	cs.console = nil
	if err == nil {
		if stdin {
			hub.setStdin(master)
		}
		cs.run(log, "stdout", master, hub.tee(StreamStdout))
	}
}

// drain waits for the copies to reach the end of their input.
func (cs *copiers) drain() {
	if cs == nil {
		return
	}
	deadline := time.After(drainTimeout)
	for _, d := range cs.done {
		select {
		case <-d:
		case <-deadline:
			return
		}
	}
}

func (cs *copiers) abort() {
	if cs.console != nil {
		cs.console.Close()
	}
}

// recvFd receives one descriptor sent with SCM_RIGHTS.
func recvFd(sock *os.File) (*os.File, error) {
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, errors.New("no descriptor received")
	}
	return os.NewFile(uintptr(fds[0]), "pty"), nil
}
