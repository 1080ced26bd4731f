package network

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// flock is a held exclusive file lock.
type flock struct{ f *os.File }

func (l *flock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing drops the lock
		l.f = nil
	}
}

// lock takes the lock that serialises every change to networks, leases,
// links and rules, waiting for it or for ctx.
func (m *Manager) lock(ctx context.Context) (*flock, error) {
	p := filepath.Join(m.dir, ".lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	delay := 500 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &flock{f: f}, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: p, Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Millisecond)
	}
}
