package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// agent is a minimal seccomp agent: it accepts one connection on its
// socket, takes the listener fd and state sent with SCM_RIGHTS, then
// answers notifications: getppid(0xabc) returns 4242, anything else fails
// with EXDEV.
type agent struct {
	ln    *net.UnixListener
	state chan specs.ContainerProcessState
	errs  chan error
	seen  chan seccompData
}

func startAgent(t *testing.T) (*agent, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{ln: ln, state: make(chan specs.ContainerProcessState, 1), errs: make(chan error, 1), seen: make(chan seccompData, 16)}
	go func() { a.errs <- a.serve() }()
	t.Cleanup(func() { ln.Close() })
	return a, path
}

func (a *agent) serve() error {
	c, err := a.ln.AcceptUnix()
	if err != nil {
		return err
	}
	defer c.Close()
	buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4*4))
	var payload []byte
	fd := -1
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if errors.Is(err, io.EOF) {
			break // the runtime closed the connection after the state
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if oobn > 0 {
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil || len(msgs) != 1 {
				return fmt.Errorf("control message: %v (%d)", err, len(msgs))
			}
			fds, err := unix.ParseUnixRights(&msgs[0])
			if err != nil || len(fds) != 1 {
				return fmt.Errorf("rights: %v %v", err, fds)
			}
			fd = fds[0]
		}
		payload = append(payload, buf[:n]...)
	}
	if fd < 0 {
		return fmt.Errorf("no fd received")
	}
	defer unix.Close(fd)
	var st specs.ContainerProcessState
	if err := json.Unmarshal(payload, &st); err != nil {
		return fmt.Errorf("state %q: %w", payload, err)
	}
	a.state <- st
	for {
		var req [80]byte // struct seccomp_notif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			if e == unix.ENOENT {
				return nil // every filtered task is gone
			}
			if e == unix.EINTR {
				continue
			}
			return fmt.Errorf("NOTIF_RECV: %w", e)
		}
		d := seccompData{Nr: binary.LittleEndian.Uint32(req[16:]), Arch: binary.LittleEndian.Uint32(req[20:])}
		for i := range d.Args {
			d.Args[i] = binary.LittleEndian.Uint64(req[32+8*i:])
		}
		a.seen <- d
		var resp [24]byte // struct seccomp_notif_resp
		copy(resp[0:8], req[0:8])
		if d.Args[0] == 0xabc {
			binary.LittleEndian.PutUint64(resp[8:], 4242)
		} else {
			errno := -int32(unix.EXDEV)
			binary.LittleEndian.PutUint32(resp[16:], uint32(errno))
		}
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp))); e != 0 && e != unix.ENOENT {
			return fmt.Errorf("NOTIF_SEND: %w", e)
		}
	}
}

func TestKernelNotify(t *testing.T) {
	for _, flags := range [][]specs.LinuxSeccompFlag{nil, {specs.LinuxSeccompFlagWaitKillableRecv}, {flagTSyncName}} {
		t.Run(fmt.Sprint(flags), func(t *testing.T) {
			a, path := startAgent(t)
			p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: flags, ListenerPath: path, ListenerMetadata: "pelagos-test-meta",
				Syscalls: []specs.LinuxSyscall{{Names: []string{probeCall}, Action: specs.ActNotify}}}
			nr := sysnr(t, probeCall)
			o := runChild(t, job{Profile: p, ListenerPath: path, ListenerMetadata: p.ListenerMetadata,
				Calls: []call{{Nr: nr, Args: [6]uint64{0xabc}}, {Nr: nr, Args: [6]uint64{0xdef, 7}}}})
			o.mustLoad(t)
			if err := <-a.errs; err != nil {
				t.Fatalf("agent: %v", err)
			}
			st := <-a.state
			if st.Pid <= 0 || st.State.ID != "seccomp-test" {
				t.Errorf("state pid %d id %q", st.Pid, st.State.ID)
			}
			st.Pid, st.State = 0, specs.State{}
			want := specs.ContainerProcessState{Version: specs.Version, Fds: []string{specs.SeccompFdName}, Metadata: "pelagos-test-meta"}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("container process state (-want +got):\n%s", diff)
			}
			if got := o.calls[0]; got.Ret != 4242 || got.Errno != 0 {
				t.Errorf("first call = %d, errno %d; want the agent's 4242", got.Ret, got.Errno)
			}
			if got := syscall.Errno(o.calls[1].Errno); got != unix.EXDEV {
				t.Errorf("second call errno %v, want the agent's EXDEV", got)
			}
			close(a.seen)
			var nrs []uint32
			for d := range a.seen {
				nrs = append(nrs, d.Nr)
				if d.Nr == uint32(nr) && d.Args[0] == 0xdef && d.Args[1] != 7 {
					t.Errorf("agent saw args %v", d.Args)
				}
			}
			if diff := cmp.Diff([]uint32{uint32(nr), uint32(nr)}, nrs); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
		})
	}
}
