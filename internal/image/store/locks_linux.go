package store

import (
	"context"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Lock is a held flock on one of the store's lock files. flock locks
// belong to the open file, so two goroutines of one process exclude each
// other just as two processes do, and the kernel drops the lock when a
// killed holder's file is closed.
type Lock struct{ f *os.File }

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.f.Close()
	}
}

func (s *Store) lock(ctx context.Context, name string, how int) (*Lock, error) {
	f, err := os.OpenFile(s.path("locks", name+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	delay := time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// LockLayer serialises work on one chain ID: whoever holds it unpacks the
// layer, and the next holder finds it done.
func (s *Store) LockLayer(ctx context.Context, chainHex string) (*Lock, error) {
	return s.lock(ctx, "layer-"+chainHex, unix.LOCK_EX)
}

// LockBlob serialises the download of one blob.
func (s *Store) LockBlob(ctx context.Context, hex string) (*Lock, error) {
	return s.lock(ctx, "blob-"+hex, unix.LOCK_EX)
}

// Use is held (shared) by every command that adds content to the store,
// from its first write until its image record is saved; garbage
// collection holds it exclusively, so it never removes content a running
// pull has written but not yet recorded.
func (s *Store) Use(ctx context.Context) (*Lock, error) {
	return s.lock(ctx, "use", unix.LOCK_SH)
}

func (s *Store) exclusive(ctx context.Context) (*Lock, error) {
	return s.lock(ctx, "use", unix.LOCK_EX)
}

// lockIndex serialises read-modify-write of images.json and holds.
func (s *Store) lockIndex(ctx context.Context) (*Lock, error) {
	return s.lock(ctx, "index", unix.LOCK_EX)
}
