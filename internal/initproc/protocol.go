package initproc

// The protocol between the runtime (parent) and the container init
// (child). Both ends live in this file; nothing else writes to the sync
// socket.
//
// Messages are JSON objects over a SOCK_SEQPACKET socketpair (fd slot
// EnvInitPipe in the child); see Conn for the framing. Every step the child performs has a
// name; a failure is reported as an "error" message carrying the step, and
// the parent turns it into an *StepError. The C constructor in
// internal/nsenter speaks the same "error" message.
//
// create (pelagos-runc create / run):
//
//	parent                                        child (init)
//	  | clone(new namespaces), uid/gid maps          |
//	  | cgroup: place child                          |
//	  |--- bootstrap{config, options} -------------->|
//	  |                                              | mounts, /dev, console
//	  |<-- hooks --------------------------------- --|
//	  | run prestart + createRuntime hooks           |
//	  |--- hooks-done ------------------------------>|
//	  |                                              | createContainer hooks,
//	  |                                              | pivot_root, masks, sysctl,
//	  |                                              | hostname, rlimits, ...
//	  |<-- ready ------------------------------------|
//	  | save state (created), pid file, exit         | accept() on the start socket
//	  :                                              :
//	start (pelagos-runc start):                      |
//	  |--- connect(start socket) ------------------->|
//	  |                                              | startContainer hooks, user,
//	  |                                              | caps, no_new_privs, seccomp
//	  |<-- error{step} ... or EOF at execve ---------|
//	  | EOF: state running, poststart hooks          | (the container process)
//
// Before the bootstrap, the C constructor creates the new namespaces (it
// runs after execve, so that the init's memory belongs to the runtime's
// user namespace and cannot be ptraced from the container's):
//
//	parent                                        child (C, before Go)
//	  | exec, nothing unshared                       |
//	  |<-- userns -----------------------------------| unshare(CLONE_NEWUSER)
//	  | write uid_map, gid_map                       |
//	  |--- userns-done ----------------------------->| become root, unshare the rest
//	  |<-- pid {N} ----------------------------------| fork into the new pid ns, exit
//
// Without a user namespace (and for a root runtime) none of that happens:
// clone creates the namespaces and the executed child is the init, pid 1
// of its pid namespace.
//
// exec (pelagos-runc exec): the parent joins the container's net, ipc, uts,
// pid and cgroup namespaces on a locked thread and clones the child there;
// the C constructor joins user, mount and time namespaces.
//
//	parent                                        child (exec)
//	  | cgroup: place child                          |
//	  |--- bootstrap{process} ---------------------->|
//	  |                                              | cwd, console, user, caps,
//	  |                                              | no_new_privs, seccomp
//	  |<-- error{step} ... or EOF at execve ---------|
//
// Every descriptor the child holds is close-on-exec, so EOF on the socket
// is the proof that execve succeeded.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Message types.
const (
	MsgBootstrap = "bootstrap" // parent → child: what to set up
	MsgHooks     = "hooks"     // child → parent: run prestart/createRuntime hooks now
	MsgHooksDone = "hooks-done"
	MsgReady     = "ready"   // child → parent: container created
	MsgWarning   = "warning" // child → parent: to be logged, not fatal
	MsgError     = "error"   // child → parent: step failed, child exits
	MsgStart     = "start"   // start → child, over the start socket
	// MsgSeccomp (child → runtime) carries the seccomp notify listener fd;
	// the runtime hands it to the profile's listenerPath and answers
	// MsgSeccompDone before the child executes the process.
	MsgSeccomp     = "seccomp-listener"
	MsgSeccompDone = "seccomp-listener-done"
	// Sent by the C constructor (internal/nsenter) while it creates the
	// namespaces: MsgUserNS asks the runtime to write the id maps (it
	// answers MsgUserNSDone); MsgPid gives the pid of the init forked into
	// a new pid namespace.
	MsgUserNS     = "userns"
	MsgUserNSDone = "userns-done"
	MsgPid        = "pid"
	// MsgMount (runtime → child, after the bootstrap) carries a detached
	// mount the runtime prepared for mounts[Index]: an idmapped mount
	// needs privileges in the runtime's user namespace, and a
	// user-namespaced init may not reach a bind source by path.
	MsgMount = "mount"
	// MsgCgroup (runtime → C init) says the init is in its cgroup: the
	// runtime sends the plan as soon as the init runs and makes the
	// cgroup while the init sets up (Bootstrap.CgroupPending).
	MsgCgroup = "cgroup"
)

// RootfsIndex is the MsgMount index of a prepared rootfs (idmapped, or
// cloned for a user-namespaced init that cannot reach it by path), which
// takes the place of the rootfs bind; RootfsTargetIndex carries a handle
// on the rootfs directory inside the init's mount namespace, where the
// prepared rootfs is attached.
const (
	RootfsIndex       = -1
	RootfsTargetIndex = -2
)

// Message is one line of the protocol.
type Message struct {
	Type      string     `json:"type"`
	Step      string     `json:"step,omitempty"`
	Error     string     `json:"error,omitempty"`
	Bootstrap *Bootstrap `json:"bootstrap,omitempty"`
	Pid       int        `json:"pid,omitempty"`
	Index     int        `json:"index,omitempty"` // RootfsIndex: the rootfs itself; RootfsTargetIndex: where it goes
}

// Mode says what the child is for.
type Mode string

// Modes.
const (
	ModeCreate Mode = "create"
	ModeExec   Mode = "exec"
)

// Bootstrap is everything the child needs; it is the only input besides the
// inherited file descriptors.
type Bootstrap struct {
	Mode Mode `json:"mode"`
	// ID is the container ID (for the session keyring name and messages).
	ID string `json:"id"`
	// Spec is the container config, decoded by the child from RawSpec:
	// the config crosses as the bytes the runtime read, so the runtime
	// never encodes it again.
	Spec    *specs.Spec     `json:"-"`
	RawSpec json.RawMessage `json:"spec"`
	// Process is the process to execute (exec; for create it is
	// Spec.Process).
	Process *specs.Process `json:"process,omitempty"`
	// Rootfs is the absolute host path of the root filesystem.
	Rootfs string `json:"rootfs,omitempty"`
	// Bundle is the absolute bundle directory (relative bind sources).
	Bundle string `json:"bundle,omitempty"`
	// Pid is the child's pid as the runtime sees it, for hook state.
	Pid int `json:"pid,omitempty"`
	// NoPivot uses MS_MOVE and chroot instead of pivot_root.
	NoPivot bool `json:"noPivot,omitempty"`
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// UnshareCgroupNS asks the child to create its cgroup namespace once
	// the parent has placed it in its cgroup.
	UnshareCgroupNS bool `json:"unshareCgroupNS,omitempty"`
	// UnshareTimeNS asks the child to create its time namespace (offsets
	// can only be written before a process enters it, so clone cannot).
	UnshareTimeNS bool `json:"unshareTimeNS,omitempty"`
	// Cgroups describes the hierarchies to expose at a cgroup mount.
	Cgroups []CgroupHierarchy `json:"cgroups,omitempty"`
	// Fds are the child's descriptor numbers for the inherited files.
	Fds FdSlots `json:"fds"`
	// PreserveFds is the number of descriptors from 3 up that the
	// container process keeps.
	PreserveFds int `json:"preserveFds,omitempty"`
	// PreparedMounts counts the MsgMount messages that follow the
	// bootstrap.
	PreparedMounts int `json:"preparedMounts,omitempty"`
	// Seccomp is the process's seccomp filter as the runtime compiled it
	// (seccomp.Program.Encode) with its flags, so that the init loads it
	// without compiling the profile again. Empty: the init compiles
	// linux.seccomp itself.
	Seccomp      []byte `json:"seccomp,omitempty"`
	SeccompFlags uint   `json:"seccompFlags,omitempty"`
	// CgroupPending says that the runtime is still making the cgroup and
	// placing the child in it: the C init's plan waits for MsgCgroup
	// before the first step that needs the cgroup (a cgroup namespace, a
	// cgroup mount, the hooks, reporting ready). Only plans use it.
	CgroupPending bool `json:"-"`
}

// CgroupHierarchy is one cgroup hierarchy as the container should see it.
type CgroupHierarchy struct {
	// Name is the directory under the cgroup mount ("memory", "cpu",
	// "systemd", "unified"), or "" when the whole mount is this hierarchy
	// (cgroup v2).
	Name string `json:"name"`
	// Type is "cgroup" or "cgroup2".
	Type string `json:"type"`
	// Options are the mount options naming the hierarchy ("memory",
	// "name=systemd"), for a fresh mount inside a cgroup namespace.
	Options string `json:"options,omitempty"`
	// Dir is the container's cgroup directory on the host, bind-mounted
	// when there is no cgroup namespace.
	Dir string `json:"dir"`
}

// FdSlots are descriptor numbers in the child. Zero means absent.
type FdSlots struct {
	Start   int `json:"start,omitempty"`   // listening start socket (create)
	Console int `json:"console,omitempty"` // connected console socket
}

// Conn is one end of a SOCK_SEQPACKET socket carrying protocol messages.
// A message is sent as one or more packets: each starts with a flag byte,
// 'm' when more packets follow and 'e' on the last, so messages of any size
// fit in a socket buffer; a file descriptor rides on the last packet.
type Conn struct {
	f *os.File
	// rbuf receives packets, allocated on the first receive and kept:
	// a run receives several messages, each once a fresh 64 KiB.
	rbuf []byte
}

// maxPacket keeps each packet well inside the default socket buffer.
const maxPacket = 64 << 10

// NewConn wraps a connected SOCK_SEQPACKET socket.
func NewConn(f *os.File) *Conn { return &Conn{f: f} }

// Send writes one message.
func (c *Conn) Send(m Message) error { return c.SendFd(m, nil) }

// SendFd writes one message with a file descriptor attached.
func (c *Conn) SendFd(m Message, fd *os.File) error {
	b, err := m.marshal() // json.Marshal's bytes; see message_json.go
	if err != nil {
		return err
	}
	return c.send(b, fd)
}

// SendRaw writes b as one message of raw packets, framed as Send frames
// JSON: the plan for the C init (see plan_linux.go).
func (c *Conn) SendRaw(b []byte) error { return c.send(b, nil) }

// send frames b into packets, fd riding on the last.
func (c *Conn) send(b []byte, fd *os.File) error {
	for {
		n := min(len(b), maxPacket)
		flag, oob := byte('m'), []byte(nil)
		if n == len(b) {
			flag = 'e'
			if fd != nil {
				oob = unix.UnixRights(int(fd.Fd()))
			}
		}
		pkt := append([]byte{flag}, b[:n]...)
		if err := unix.Sendmsg(int(c.f.Fd()), pkt, oob, nil, 0); err != nil {
			return os.NewSyscallError("sendmsg", err)
		}
		b = b[n:]
		if flag == 'e' {
			return nil
		}
	}
}

// Recv reads one message. io.EOF means the peer closed the socket (for
// the parent after a bootstrap: the child executed the container process).
func (c *Conn) Recv() (Message, error) {
	m, fd, err := c.RecvFd()
	if fd != nil {
		fd.Close()
	}
	return m, err
}

// RecvFd reads one message and the descriptor attached to it, if any.
func (c *Conn) RecvFd() (Message, *os.File, error) {
	var m Message
	var data []byte
	if c.rbuf == nil {
		c.rbuf = make([]byte, maxPacket+1)
	}
	buf := c.rbuf
	oob := make([]byte, unix.CmsgSpace(4))
	reset := false
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(c.f.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECONNRESET && !reset {
			// The peer closed its end with a message of ours unread
			// (an init that failed a step before it read the runtime's
			// "cgroup"): the kernel says so once, ahead of what the
			// peer sent before it went, which the next read returns.
			reset = true
			continue
		}
		if err != nil {
			return m, nil, os.NewSyscallError("recvmsg", err)
		}
		if n == 0 {
			return m, nil, io.EOF
		}
		data = append(data, buf[1:n]...)
		if buf[0] != 'e' {
			continue
		}
		fd, err := parseRights(oob[:oobn])
		if err != nil {
			return m, nil, err
		}
		if err := unmarshalMessage(data, &m); err != nil {
			if fd != nil {
				fd.Close()
			}
			return m, nil, fmt.Errorf("protocol: malformed message: %w", err)
		}
		return m, fd, nil
	}
}

func parseRights(oob []byte) (*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	for _, msg := range msgs {
		fds, err := unix.ParseUnixRights(&msg)
		if err == nil && len(fds) > 0 {
			for _, extra := range fds[1:] {
				unix.Close(extra)
			}
			return os.NewFile(uintptr(fds[0]), "received"), nil
		}
	}
	return nil, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// StepError is a failure the child reported, or one of the parent's own
// steps.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }

func (e *StepError) Unwrap() error { return e.Err }

// Expect reads messages until one of type want arrives, passing warnings
// to warn. An error message becomes a *StepError.
func (c *Conn) Expect(want string, warn func(string)) (Message, error) {
	for {
		m, err := c.Recv()
		if err != nil {
			return m, err
		}
		switch m.Type {
		case want:
			return m, nil
		case MsgWarning:
			if warn != nil {
				warn(m.Error)
			}
		case MsgError:
			return m, &StepError{Step: m.Step, Err: remoteError(m.Error)}
		default:
			return m, fmt.Errorf("protocol: got %q while waiting for %q", m.Type, want)
		}
	}
}

// remoteError is an error text that crossed the socket.
type remoteError string

func (e remoteError) Error() string { return string(e) }
