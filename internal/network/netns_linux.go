package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsPath is where container id's network namespace file lives.
func (m *Manager) netnsPath(id string) string { return filepath.Join(m.netns, id) }

// createNetNS makes a network namespace that outlives every process in
// it (bound on path, as `ip netns add` does), brings its loopback up,
// and returns it open with a netlink handle inside it.
//
// The namespace is created on a goroutine locked to its OS thread that
// never unlocks: the thread, having switched namespace, dies with the
// goroutine instead of returning to the scheduler's pool.
func createNetNS(path string) (*os.File, *netlink.Handle, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o711); err != nil {
		return nil, nil, err
	}
	type result struct {
		ns  *os.File
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, h, err := newNetNSOnThread(path)
		ch <- result{ns, h, err}
	}()
	r := <-ch
	if r.err != nil {
		removeNetNS(path)
	}
	return r.ns, r.h, r.err
}

// newNetNSOnThread runs on a locked thread that is then discarded.
func newNetNSOnThread(path string) (*os.File, *netlink.Handle, error) {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return nil, nil, os.NewSyscallError("unshare(CLONE_NEWNET)", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return nil, nil, err
	}
	f.Close()
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
	if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
		return nil, nil, fmt.Errorf("bind %s on %s: %w", self, path, err)
	}
	ns, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	// A netlink socket belongs to the namespace it was made in: this
	// handle keeps configuring the container's side from any thread.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	if err := setLoopbackUp(h); err != nil {
		ns.Close()
		h.Close()
		return nil, nil, err
	}
	return ns, h, nil
}

func setLoopbackUp(h *netlink.Handle) error {
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return h.LinkSetUp(lo)
}

// openNetNS opens an existing namespace file with a netlink handle in it.
func openNetNS(path string) (*os.File, *netlink.Handle, error) {
	ns, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
		ns.Close()
		return nil, nil, fmt.Errorf("%s is not a network namespace", path)
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(int(ns.Fd())), unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	return ns, h, nil
}

// removeNetNS unmounts and removes a namespace file; the namespace goes
// when nothing else holds it. A missing file is not an error.
func removeNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return &os.PathError{Op: "unmount", Path: path, Err: err}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
