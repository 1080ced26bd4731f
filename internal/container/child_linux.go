package container

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/initproc"
	"github.com/pelagos-go/pelagos/internal/nsenter"
)

// nsFlags maps namespace types to clone flags.
var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// procNames are the /proc/<pid>/ns entries.
var procNames = map[specs.LinuxNamespaceType]string{
	specs.UserNamespace: "user", specs.MountNamespace: "mnt", specs.PIDNamespace: "pid",
	specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts",
	specs.CgroupNamespace: "cgroup", specs.TimeNamespace: "time",
}

// cJoined are the namespaces only the C constructor can join (see
// internal/nsenter), in the order it must join them: the user namespace
// first, so that it owns the right to join the others.
var cJoined = []specs.LinuxNamespaceType{specs.UserNamespace, specs.MountNamespace, specs.TimeNamespace}

// child is a process of our sealed binary being started as init or exec.
type child struct {
	exe   *os.File
	stdio [3]*os.File
	// files become the child's descriptors 3, 4, ...; the first
	// preserve of them are the caller's, passed to the container process.
	files []*os.File
	env   []string
	attr  syscall.SysProcAttr
	// joins are namespaces the parent joins on the cloning thread.
	joins []*os.File
	// cJoins are namespace files for the C constructor, in order.
	cJoins []*os.File
	// newFlags are the namespaces the C constructor creates.
	newFlags uintptr
	// allInC sends every join to the C constructor (user first): an
	// unprivileged runtime joining a user namespace may join the
	// namespaces it owns only from inside it.
	allInC bool
	// cPid: the C constructor joins a pid namespace and forks into it, so
	// the process that carries on is a child it reports (initproc.MsgPid).
	cPid bool
}

func newChild(exe *os.File, stdin, stdout, stderr *os.File, preserve int) *child {
	c := &child{exe: exe, stdio: [3]*os.File{stdin, stdout, stderr}}
	for i := range c.stdio {
		if c.stdio[i] == nil {
			c.stdio[i] = []*os.File{os.Stdin, os.Stdout, os.Stderr}[i]
		}
	}
	for i := 0; i < preserve; i++ {
		c.files = append(c.files, os.NewFile(uintptr(3+i), "preserved"))
	}
	return c
}

// slot passes f to the child and returns its descriptor number there.
func (c *child) slot(f *os.File) int {
	c.files = append(c.files, f)
	return 2 + len(c.files)
}

// openNamespace opens a namespace file and checks it is of type t, so a
// config naming the wrong file fails instead of joining something else.
func openNamespace(path string, t specs.LinuxNamespaceType) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s namespace: %w", t, err)
	}
	got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s namespace %s: not a namespace file: %w", t, path, err)
	}
	if uintptr(got) != nsFlags[t] {
		f.Close()
		return nil, fmt.Errorf("%s namespace %s: the file is a namespace of another type", t, path)
	}
	return f, nil
}

// addJoin arranges for the child to join the namespace in f.
func (c *child) addJoin(t specs.LinuxNamespaceType, f *os.File) {
	if c.allInC || isCJoined(t) {
		c.cJoins = append(c.cJoins, f)
		c.cPid = c.cPid || t == specs.PIDNamespace
		return
	}
	c.joins = append(c.joins, f)
}

// joinsInC reports whether the child must join every namespace from the C
// constructor: the runtime is unprivileged and joins a user namespace.
func joinsInC(userNSJoined bool) bool {
	return userNSJoined && os.Geteuid() != 0
}

// start starts the child: joins the parent-side namespaces on a locked
// thread that is never unlocked (it dies with its goroutine instead of
// returning to the pool in foreign namespaces), then clones there.
func (c *child) start(syncFd int) (*exec.Cmd, error) {
	var list []string
	// The C constructor needs the fds in the order they were added; they
	// go after every other slot.
	for _, f := range c.cJoins {
		list = append(list, strconv.Itoa(c.slot(f)))
	}
	env := append([]string{
		initproc.EnvInitPipe + "=" + strconv.Itoa(syncFd),
		nsenter.EnvJoin + "=" + strings.Join(list, ","),
		// The init is short-lived and does one thing at a time: one P and
		// no collector keep the Go runtime from starting threads and
		// touching memory it will not need.
		"GOMAXPROCS=1", "GOGC=off",
	}, c.env...)
	cmd := &exec.Cmd{
		Path:        fmt.Sprintf("/proc/self/fd/%d", c.exe.Fd()),
		Args:        []string{"pelagos-runc", "init"},
		Env:         env,
		Stdin:       c.stdio[0],
		Stdout:      c.stdio[1],
		Stderr:      c.stdio[2],
		ExtraFiles:  c.files,
		SysProcAttr: &c.attr,
	}
	if len(c.joins) == 0 {
		return cmd, cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		for _, f := range c.joins {
			if err := unix.Setns(int(f.Fd()), 0); err != nil {
				errc <- fmt.Errorf("join namespace %s: %w", f.Name(), err)
				return
			}
		}
		errc <- cmd.Start()
	}()
	return cmd, <-errc
}

// killProcess kills a child that did not make it and reaps it.
func killProcess(p *os.Process) {
	if p == nil {
		return
	}
	_ = p.Kill()
	_, _ = p.Wait()
}

// socketpair returns a connected pair: ours and the child's.
func socketpair() (parent, childEnd *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// setupNamespaces arranges the container's namespaces: joins for those
// given by path, and the flags of those to create, which clone creates or,
// with a user namespace, the C constructor after execve (see
// internal/nsenter). The cgroup and time namespaces are created later by
// the init itself (see Bootstrap).
func (c *child) setupNamespaces(s *specs.Spec) ([]*os.File, error) {
	var opened []*os.File
	for _, ns := range s.Linux.Namespaces {
		if ns.Path == "" {
			switch ns.Type {
			case specs.CgroupNamespace, specs.TimeNamespace:
			default:
				c.newFlags |= nsFlags[ns.Type]
			}
			continue
		}
		f, err := openNamespace(ns.Path, ns.Type)
		if err != nil {
			closeAll(opened)
			return nil, err
		}
		opened = append(opened, f)
	}
	// C-side joins in cJoined order (user first), then the rest.
	withPath := nsWithPath(s)
	for _, ns := range withPath {
		c.allInC = c.allInC || joinsInC(ns.Type == specs.UserNamespace)
	}
	for _, t := range cJoined {
		for i, ns := range withPath {
			if ns.Type == t {
				c.addJoin(t, opened[i])
			}
		}
	}
	for i, ns := range withPath {
		if !isCJoined(ns.Type) {
			c.addJoin(ns.Type, opened[i])
		}
	}
	if os.Geteuid() == 0 && !hasNS(s, specs.UserNamespace) && len(c.cJoins) == 0 {
		// Without a user namespace nothing needs the init executed
		// before its namespaces exist: clone creates them, and the init
		// starts as pid 1 of its pid namespace, without the fork (and
		// the exit and the message) that entering it after execve takes.
		c.attr.Cloneflags |= c.newFlags
		c.newFlags = 0
	}
	if c.newFlags != 0 {
		c.env = append(c.env, nsenter.EnvUnshare+"="+strconv.FormatUint(uint64(c.newFlags), 10))
	}
	return opened, nil
}

func nsWithPath(s *specs.Spec) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Path != "" {
			out = append(out, ns)
		}
	}
	return out
}

func isCJoined(t specs.LinuxNamespaceType) bool {
	for _, ct := range cJoined {
		if ct == t {
			return true
		}
	}
	return false
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
