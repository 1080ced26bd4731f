// Package initproc is the container init: the child side of the runtime.
// pelagos-runc re-executes (a sealed copy of) itself as "init" inside the
// new namespaces; Main sets up the container's root filesystem, devices,
// console, kernel parameters and process attributes, waits for start, and
// executes the container process. The same code, in exec mode, turns a
// process that joined a running container's namespaces into a new process
// of that container.
//
// The protocol with the parent is in protocol.go. This package must stay
// light: it runs on every container start, so it builds no large tables at
// init time and starts no goroutines of its own.
package initproc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/seccomp"
)

// EnvInitPipe names the environment variable holding the sync socket fd
// (the same name the C constructor in internal/nsenter reads).
const EnvInitPipe = "_PELAGOS_INITPIPE"

// initState is what the steps share.
type initState struct {
	conn *Conn
	b    *Bootstrap
	proc *specs.Process

	// procfs is an O_PATH handle on a procfs we trust (opened before the
	// container's filesystem is in place); writes to /proc files go
	// through it, never through the container's /proc (CVE-2025-52881).
	procfs *os.File
	// devNull is the host's /dev/null, the source for masking files.
	devNull *os.File
	// root is a handle on the container's root directory.
	root *os.File
	// startConn is the connection from `start` (create mode).
	startConn *os.File
	// seccomp is the compiled filter, loaded just before exec.
	seccomp *seccomp.Program
	// prepared are detached mounts the runtime made, by mounts index.
	prepared map[int]*os.File
	// execPath is the resolved container executable.
	execPath string
	userNS   bool
	// hostBind is set once the rootfs bind exists in the runtime's own
	// mount namespace (a container without one): a failure detaches it.
	hostBind bool
	// cwdPending is set when process.cwd could not be entered as root and
	// must be entered after the switch to the container's user.
	cwdPending bool
}

type step struct {
	name string
	fn   func(*initState) error
}

// UserNSHolderArg is the argument that makes our binary a user namespace
// holder: it blocks until its stdin closes (see container's idmapped
// mounts).
const UserNSHolderArg = "userns-holder"

// Dispatch runs the init, or a user namespace holder, when this process
// was started as one, and returns otherwise. Every binary that creates
// containers calls it first in main: the init is a copy of that binary.
func Dispatch() {
	if len(os.Args) < 2 {
		return
	}
	switch {
	case os.Args[1] == "init" && os.Getenv(EnvInitPipe) != "":
		Main()
	case os.Args[1] == UserNSHolderArg:
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
}

// Main runs the init. It does not return.
func Main() {
	// Credentials, capabilities, no_new_privs and seccomp are per thread:
	// everything happens on this thread, which is the one that execs.
	runtime.LockOSThread()
	s, err := bootstrap()
	if err != nil {
		fatal(nil, "bootstrap", err)
	}
	var steps []step
	if s.b.Mode == ModeExec {
		steps = execSteps
	} else {
		steps = createSteps
	}
	for _, st := range steps {
		if err := st.fn(s); err != nil {
			fatal(s, st.name, err)
		}
	}
	// The last step executes the process; reaching here is a bug.
	fatal(s, "exec", errors.New("container process did not start"))
}

// createSteps are in dependency order (and seccomp is loaded only once no
// step needs anything beyond setgroups, setresuid, capset, prctl and
// execve): the filesystem before anything that
// writes into it, pivot_root after the hooks that need the host's view and
// after the masks (their /dev/null source is a host mount, which can only
// be cloned while the host's tree is still in our namespace),
// kernel settings before the credentials change, and the credentials,
// capabilities and seccomp last, so setup never needs what the container
// itself is denied.
var createSteps = append([]step{
	{"open host handles", openHostHandles},
	{"cgroup namespace", unshareCgroupNS},
	{"time namespace", unshareTimeNS},
	{"prepare root", prepareRoot},
	{"mounts", mountAll},
	{"devices", setupDevices},
	{"cwd", createCwd},
	{"hooks", runtimeHooks},
	{"createContainer hooks", createContainerHooks},
	{"masked and readonly paths", maskPaths},
	{"pivot root", pivotRoot},
	{"console", setupConsole},
	{"readonly root", readonlyRoot},
	{"hostname", setHostname},
	{"sysctl", setSysctls},
	{"oom score", setOOMScore},
	{"session keyring", joinKeyring},
	{"security labels", checkLabels},
	{"process attributes", setProcessAttrs},
	{"find executable", findExecutable},
	{"home", setHome},
	{"compile seccomp", compileSeccomp},
	{"ready", signalReady},
	{"wait for start", waitStart},
	{"startContainer hooks", startContainerHooks},
	{"cwd", enterCwd},
}, processSteps...)

// execSteps turn a process that joined the container's namespaces into a
// container process.
var execSteps = append([]step{
	{"open host handles", openHostHandles},
	{"cwd", enterCwd},
	{"console", setupConsole},
	{"security labels", checkLabels},
	{"process attributes", setProcessAttrs},
	{"find executable", findExecutable},
	{"home", setHome},
	{"compile seccomp", compileSeccomp},
}, processSteps...)

// processSteps end both: from here nothing needs more than setgroups,
// setresuid, capset, prctl and execve once the filter is in (without
// no_new_privs it is loaded before the user switch, which needs it).
var processSteps = []step{
	{"close descriptors", closeDescriptors},
	{"landlock", applyLandlock},
	{"rlimits", setRlimits},
	{"seccomp", loadSeccompPrivileged},
	{"user", setUser},
	{"capabilities", setCaps},
	{"no_new_privs", setNoNewPrivs},
	{"seccomp", loadSeccomp},
	{"exec", execProcess},
}

func bootstrap() (*initState, error) {
	fd, err := strconv.Atoi(os.Getenv(EnvInitPipe))
	if err != nil {
		return nil, fmt.Errorf("%s is not set: pelagos-runc init is started by the runtime only", EnvInitPipe)
	}
	os.Unsetenv(EnvInitPipe)
	os.Unsetenv("_PELAGOS_NSENTER")
	os.Unsetenv("_PELAGOS_UNSHARE")
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "sync")
	conn := NewConn(f)
	s := &initState{conn: conn}
	m, err := conn.Expect(MsgBootstrap, nil)
	if err != nil {
		return s, err
	}
	if m.Bootstrap == nil || len(m.Bootstrap.RawSpec) == 0 {
		return s, errors.New("bootstrap message carries no config")
	}
	s.b = m.Bootstrap
	s.b.Spec = new(specs.Spec)
	if err := json.Unmarshal(s.b.RawSpec, s.b.Spec); err != nil {
		return s, fmt.Errorf("bootstrap config: %w", err)
	}
	s.b.RawSpec = nil
	s.proc = s.b.Process
	if s.proc == nil {
		s.proc = s.b.Spec.Process
	}
	if s.proc == nil {
		return s, errors.New("no process to run")
	}
	s.userNS = hasNamespace(s.b.Spec, specs.UserNamespace)
	if err := s.receiveMounts(); err != nil {
		return s, err
	}
	// Exact modes for everything the setup creates; the process's own
	// umask is applied just before exec.
	unix.Umask(0)
	return s, nil
}

// fatal reports a failed step to whoever waits (the start connection once
// there is one, else the parent) and exits.
func fatal(s *initState, name string, err error) {
	if s != nil && s.hostBind && s.startConn == nil {
		_ = unix.Unmount(s.b.Rootfs, unix.MNT_DETACH)
	}
	msg := Message{Type: MsgError, Step: name, Error: err.Error()}
	sent := false
	if s != nil && s.startConn != nil {
		sent = NewConn(s.startConn).Send(msg) == nil
	}
	if !sent && s != nil && s.conn != nil {
		sent = s.conn.Send(msg) == nil
	}
	if !sent {
		fmt.Fprintf(os.Stderr, "pelagos-runc init: %s: %v\n", name, err)
	}
	os.Exit(1)
}

// warn passes a non-fatal message to the parent.
func (s *initState) warn(format string, args ...any) {
	_ = s.conn.Send(Message{Type: MsgWarning, Error: fmt.Sprintf(format, args...)})
}

func hasNamespace(sp *specs.Spec, t specs.LinuxNamespaceType) bool {
	if sp.Linux == nil {
		return false
	}
	for _, ns := range sp.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// ownsMounts reports whether the container has a mount namespace of its
// own (new or joined), as opposed to sharing the runtime's.
func (s *initState) ownsMounts() bool {
	return s.b.Mode == ModeCreate && hasNamespace(s.b.Spec, specs.MountNamespace)
}

func openHostHandles(s *initState) error {
	var err error
	if s.procfs, err = os.OpenFile("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return err
	}
	if err := checkFSType(s.procfs, unix.PROC_SUPER_MAGIC); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if s.b.Mode == ModeCreate {
		if s.devNull, err = os.OpenFile("/dev/null", unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		if err := checkDevice(s.devNull, 1, 3); err != nil {
			return fmt.Errorf("/dev/null: %w", err)
		}
	}
	return nil
}

func unshareCgroupNS(s *initState) error {
	if !s.b.UnshareCgroupNS {
		return nil
	}
	return os.NewSyscallError("unshare(CLONE_NEWCGROUP)", unix.Unshare(unix.CLONE_NEWCGROUP))
}

// unshareTimeNS creates the time namespace and writes its offsets. The
// process itself stays outside until execve (or fork) enters it.
func unshareTimeNS(s *initState) error {
	if !s.b.UnshareTimeNS {
		return nil
	}
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return os.NewSyscallError("unshare(CLONE_NEWTIME)", err)
	}
	offsets := s.b.Spec.Linux.TimeOffsets
	if len(offsets) == 0 {
		return nil
	}
	var text string
	for clock, off := range offsets {
		text += fmt.Sprintf("%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	return writeProc(s.procfs, "self/timens_offsets", text)
}

func runtimeHooks(s *initState) error {
	if err := s.conn.Send(Message{Type: MsgHooks}); err != nil {
		return err
	}
	_, err := s.conn.Expect(MsgHooksDone, nil)
	return err
}

func signalReady(s *initState) error {
	return s.conn.Send(Message{Type: MsgReady})
}

// waitStart blocks until `pelagos-runc start` connects to the start
// socket. The listener is closed at once: start happens once.
func waitStart(s *initState) error {
	lfd := s.b.Fds.Start
	var fd int
	var err error
	for {
		fd, _, err = unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(lfd)
	if err != nil {
		return os.NewSyscallError("accept", err)
	}
	s.startConn = os.NewFile(uintptr(fd), "start")
	c := NewConn(s.startConn)
	m, err := c.Recv()
	if err != nil {
		return err
	}
	if m.Type != MsgStart {
		return fmt.Errorf("protocol: got %q on the start socket", m.Type)
	}
	// From here on, failures are reported to start, not to the (gone)
	// create process.
	s.conn.Close()
	s.conn = c
	return nil
}

func checkFSType(f *os.File, magic int64) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != magic {
		return fmt.Errorf("unexpected filesystem type %#x", st.Type)
	}
	return nil
}

func checkDevice(f *os.File, major, minor uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		return fmt.Errorf("not the character device %d:%d", major, minor)
	}
	return nil
}

// receiveMounts takes the detached mounts the runtime prepared.
func (s *initState) receiveMounts() error {
	s.prepared = map[int]*os.File{}
	for i := 0; i < s.b.PreparedMounts; i++ {
		m, fd, err := s.conn.RecvFd()
		if err != nil {
			return err
		}
		if m.Type != MsgMount || fd == nil {
			return fmt.Errorf("protocol: expected a prepared mount, got %q", m.Type)
		}
		s.prepared[m.Index] = fd
	}
	return nil
}
