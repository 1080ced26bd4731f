package pull

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/registry"
)

// maxResumes bounds how often one blob download is resumed after the
// connection dropped.
const maxResumes = 5

// blobReader reads one blob from the registry and, when the connection
// drops, reopens it from the byte it stopped at (with a Range request;
// a registry without range support sends the blob again from the start
// and the bytes already read are skipped). Callers see one seamless
// stream; the digest check after it catches any registry that sends
// different bytes the second time.
type blobReader struct {
	ctx     context.Context
	sources []source // where the blob can come from, in order of preference
	desc    v1.Descriptor
	sink    progress.Sink
	id      string
	rc      io.ReadCloser
	off     int64
	resumes int
	lastEv  time.Time
	done    bool // the last byte arrived and was reported
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		if b.rc == nil {
			if err := b.open(); err != nil {
				return 0, err
			}
		}
		n, err := b.rc.Read(p)
		b.off += int64(n)
		b.report()
		if err == nil || (err == io.EOF && b.off >= b.desc.Size) {
			return n, err
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.rc.Close()
		b.rc = nil
		if !registry.Temporary(err) || b.resumes >= maxResumes || b.ctx.Err() != nil {
			return n, fmt.Errorf("download interrupted at byte %d of %d: %w", b.off, b.desc.Size, err)
		}
		b.resumes++
		b.sink.Send(progress.Event{ID: b.id, Status: progress.Retrying, Current: b.off, Total: b.desc.Size})
		if n > 0 {
			return n, nil
		}
	}
}

// source opens the blob from offset on: the registry, or a URL of a
// non-distributable layer.
type source struct {
	name string // for errors: "registry" or the URL
	open func(ctx context.Context, offset int64) (io.ReadCloser, int64, error)
}

// sources lists where a layer can come from. Non-distributable layers
// (Docker's foreign layers, OCI's nondistributable types) are meant to
// come from their URLs, so those go first, the registry last (some
// registries hold them anyway); any other layer comes from the registry,
// and its URLs, if it lists any, are the fallback.
func sources(c *registry.Client, sess *registry.Session, desc v1.Descriptor) []source {
	reg := source{name: "registry", open: func(ctx context.Context, off int64) (io.ReadCloser, int64, error) {
		return sess.Blob(ctx, desc.Digest, off, desc.Size)
	}}
	var urls []source
	for _, u := range desc.URLs {
		urls = append(urls, source{name: u, open: func(ctx context.Context, off int64) (io.ReadCloser, int64, error) {
			return c.URLBlob(ctx, u, off, desc.Size)
		}})
	}
	if nondistributable(desc.MediaType) {
		return append(urls, reg)
	}
	return append([]source{reg}, urls...)
}

func nondistributable(mt types.MediaType) bool {
	return mt == types.DockerForeignLayer || strings.Contains(string(mt), ".nondistributable.")
}

// open starts (or resumes) the download at b.off from the first source
// that has the blob, retrying each a few times while it fails
// temporarily.
func (b *blobReader) open() error {
	var errs []error
	var msgs []string
	for len(b.sources) > 0 {
		err := b.openFrom(b.sources[0])
		if err == nil {
			return nil
		}
		if b.ctx.Err() != nil || len(b.sources) == 1 && len(errs) == 0 {
			return err
		}
		errs = append(errs, err)
		msgs = append(msgs, b.sources[0].name+": "+err.Error())
		b.sources = b.sources[1:]
	}
	// One line for the user; every cause for errors.Is.
	return &sourcesError{msg: "no source has it: " + strings.Join(msgs, "; "), errs: errs}
}

type sourcesError struct {
	msg  string
	errs []error
}

func (e *sourcesError) Error() string   { return e.msg }
func (e *sourcesError) Unwrap() []error { return e.errs }

func (b *blobReader) openFrom(src source) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var rc io.ReadCloser
		var start int64
		rc, start, err = src.open(b.ctx, b.off)
		if err == nil {
			if start < b.off {
				// No range support: skip what we already have.
				if _, err = io.CopyN(io.Discard, rc, b.off-start); err != nil {
					rc.Close()
					continue
				}
			}
			b.rc = rc
			return nil
		}
		if !registry.Temporary(err) {
			return err
		}
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
		}
	}
	return err
}

// report sends download progress at most ten times a second, and
// Docker's "Verifying Checksum" and "Download complete" once the last
// byte arrived (the digest is checked as the bytes stream, so both come
// at once).
func (b *blobReader) report() {
	if b.done {
		return
	}
	if now := time.Now(); now.Sub(b.lastEv) >= progressEvery || b.off >= b.desc.Size {
		b.lastEv = now
		b.sink.Send(progress.Event{ID: b.id, Status: progress.Downloading, Current: b.off, Total: b.desc.Size})
	}
	if b.off >= b.desc.Size {
		b.done = true
		b.sink.Send(progress.Event{ID: b.id, Status: progress.Verifying})
		b.sink.Send(progress.Event{ID: b.id, Status: progress.DownloadComplete})
	}
}

// progressEvery is the least time between two progress events of one
// download: a terminal redraws no faster, and a JSON stream stays small.
const progressEvery = 100 * time.Millisecond

func (b *blobReader) close() {
	if b.rc != nil {
		b.rc.Close()
	}
}
