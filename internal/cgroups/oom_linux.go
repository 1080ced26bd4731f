package cgroups

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// OOMNotifier reports the kernel's OOM events in a cgroup. C receives a
// value each time the cgroup hits its memory limit and the OOM handler runs
// (events that arrive while a value is still unread are merged into it);
// C is closed when the notifier stops, by Stop or because the cgroup went
// away.
type OOMNotifier struct {
	C <-chan struct{}

	file *os.File // the eventfd (v1) or inotify fd (v2) the goroutine reads
	done chan struct{}
	once sync.Once
}

// Stop ends the notification and waits for its goroutine to finish. It is
// safe to call more than once.
func (n *OOMNotifier) Stop() {
	n.once.Do(func() { n.file.Close() })
	<-n.done
}

// NotifyOOM starts watching the cgroup for OOM events: memory.oom_control
// with an eventfd on v1, inotify on memory.events on v2. The caller owns the
// notifier and must Stop it.
func (m *Manager) NotifyOOM() (*OOMNotifier, error) {
	dir, ok := m.Path("memory")
	if m.mode == Unified {
		dir, ok = m.Path("")
	}
	if !ok {
		return nil, fmt.Errorf("no memory controller for OOM events: %w", ErrNotSupported)
	}
	if m.mode == Unified {
		return notifyV2(dir)
	}
	return notifyV1(dir)
}

func newNotifier(f *os.File) (*OOMNotifier, chan<- struct{}) {
	c := make(chan struct{}, 1)
	return &OOMNotifier{C: c, file: f, done: make(chan struct{})}, c
}

// send delivers one event without blocking: if the last one is still
// unread, this one is merged into it.
func send(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// notifyV1 registers an eventfd for memory.oom_control through
// cgroup.event_control (Documentation/admin-guide/cgroup-v1/memory.rst §10).
func notifyV1(dir string) (*OOMNotifier, error) {
	oomControl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		oomControl.Close()
		return nil, os.NewSyscallError("eventfd", err)
	}
	// A non-blocking fd goes to the runtime poller, so Close wakes Read.
	ev := os.NewFile(uintptr(efd), "oom-eventfd")
	reg := fmt.Sprintf("%d %d", efd, oomControl.Fd())
	if err := writeFile(dir, "cgroup.event_control", reg); err != nil {
		ev.Close()
		oomControl.Close()
		return nil, err
	}
	n, c := newNotifier(ev)
	go func() {
		defer close(n.done)
		defer close(c)
		defer oomControl.Close()
		buf := make([]byte, 8)
		for {
			if _, err := ev.Read(buf); err != nil {
				return
			}
			// The eventfd also fires when the cgroup is removed.
			if !exists(dir, "memory.oom_control") {
				return
			}
			send(c)
		}
	}()
	return n, nil
}

// notifyV2 watches memory.events and reports each rise of its oom or
// oom_kill counters.
func notifyV2(dir string) (*OOMNotifier, error) {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	if _, err := unix.InotifyAddWatch(ifd, filepath.Join(dir, "memory.events"), unix.IN_MODIFY); err != nil {
		unix.Close(ifd)
		return nil, fmt.Errorf("watch %s: %w", filepath.Join(dir, "memory.events"), err)
	}
	f := os.NewFile(uintptr(ifd), "oom-inotify")
	last, err := readKeyValues(dir, "memory.events")
	if err != nil {
		f.Close()
		return nil, err
	}
	n, c := newNotifier(f)
	go func() {
		defer close(n.done)
		defer close(c)
		buf := make([]byte, 4096)
		for {
			k, err := f.Read(buf)
			if err != nil {
				return
			}
			if ignored(buf[:k]) {
				return // the file, and so the cgroup, is gone
			}
			now, err := readKeyValues(dir, "memory.events")
			if err != nil {
				return
			}
			if now["oom"] > last["oom"] || now["oom_kill"] > last["oom_kill"] {
				send(c)
			}
			last = now
		}
	}()
	return n, nil
}

// ignored reports whether the inotify events include IN_IGNORED (the watch
// was removed because the file went away).
func ignored(b []byte) bool {
	// struct inotify_event { s32 wd; u32 mask; u32 cookie; u32 len; char name[]; }
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := binary.NativeEndian.Uint32(b[12:])
		if mask&unix.IN_IGNORED != 0 {
			return true
		}
		if int(nameLen) > len(b)-unix.SizeofInotifyEvent {
			return false
		}
		b = b[unix.SizeofInotifyEvent+int(nameLen):]
	}
	return false
}
