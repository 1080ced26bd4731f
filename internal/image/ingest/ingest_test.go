package ingest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/internal/image/store"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

// bigTar is a layer of several files larger than the pipes' buffers, of
// incompressible bytes, so that every stage hands over many buffers.
func bigTar(t *testing.T) ([]byte, map[string]string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string]string{}
	var ents []imagetest.Entry
	for i, size := range []int{0, 1, pipeBuffer - 1, pipeBuffer, 3*pipeBuffer + 7, 2 << 20} {
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		name := "d/f" + string(rune('a'+i))
		files[name] = sha(b).Hex
		ents = append(ents, imagetest.Entry{Name: name, Type: tar.TypeReg, Body: b})
	}
	return imagetest.Tar(t, ents...), files
}

func blob(t *testing.T, raw []byte, comp compression.Compression) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch comp {
	case compression.GZip:
		w = gzip.NewWriter(&b)
	case compression.ZStd:
		zw, err := zstd.NewWriter(&b, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		return raw
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sha(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// readTree returns the digests of the named files under dir.
func readTree(t *testing.T, dir string, names map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		got[n] = sha(b).Hex
	}
	return got
}

// chunky hands out its bytes in reads of random small sizes, as a
// network connection does.
type chunky struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rng.IntN(70000))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestLayerStoresBlobAndLayer(t *testing.T) {
	raw, files := bigTar(t)
	for _, comp := range []compression.Compression{compression.GZip, compression.ZStd, compression.None} {
		t.Run(string(comp), func(t *testing.T) {
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			b := blob(t, raw, comp)
			src := &chunky{b: b, rng: rand.New(rand.NewPCG(3, 4))}
			res, err := Layer(st, src, Want{Digest: sha(b), Size: int64(len(b)), DiffID: sha(raw)}, unpack.Options{})
			if err != nil {
				t.Fatalf("Layer: %v", err)
			}
			if res.Layer.DiffID != sha(raw) || res.Layer.DiffSize != int64(len(raw)) {
				t.Errorf("diff ID %s size %d, want %s %d", res.Layer.DiffID, res.Layer.DiffSize, sha(raw), len(raw))
			}
			stored, err := st.ReadBlob(sha(b))
			if err != nil || !bytes.Equal(stored, b) {
				t.Errorf("stored blob differs from the one sent (err %v)", err)
			}
			if diff := cmp.Diff(files, readTree(t, st.LayerDir(res.Layer.ChainID), files)); diff != "" {
				t.Errorf("unpacked files differ (-want +got):\n%s", diff)
			}
		})
	}
}

// A corrupt download that also breaks the gzip stream is reported as the
// digest mismatch it is, which needs the whole blob read after the
// decompressor gave up: early (a broken block header) or late (a bad
// checksum at the end).
func TestCorruptBlobIsADigestMismatch(t *testing.T) {
	raw, _ := bigTar(t)
	b := blob(t, raw, compression.GZip)
	for _, c := range []struct {
		name     string
		from, to int
	}{{"block header", 11, 13}, {"content", len(b) / 3, len(b)/3 + 4096}} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(b)
			for i := c.from; i < c.to; i++ {
				bad[i] ^= 0x5a
			}
			st, err := store.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Layer(st, bytes.NewReader(bad), Want{Digest: sha(b), Size: int64(len(b)), DiffID: sha(raw)}, unpack.Options{})
			if !errors.Is(err, store.ErrDigestMismatch) {
				t.Fatalf("Layer(corrupt blob) = %v, want a digest mismatch", err)
			}
			assertNothingStored(t, st)
		})
	}
}

// An unsafe entry stops the untar stage at once; the error names the
// entry and nothing is stored.
func TestUnsafeEntryStopsAllStages(t *testing.T) {
	raw, _ := bigTar(t)
	evil := append(imagetest.Tar(t, imagetest.Entry{Name: "../escape", Type: tar.TypeReg, Body: []byte("x")})[:512+512], raw...)
	b := blob(t, evil, compression.GZip)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Layer(st, bytes.NewReader(b), Want{Digest: sha(b), Size: int64(len(b))}, unpack.Options{})
	if !errors.Is(err, unpack.ErrUnsafe) {
		t.Fatalf("Layer(layer with ../escape) = %v, want ErrUnsafe", err)
	}
	assertNothingStored(t, st)
}

type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A source that fails mid-blob fails the layer with the source's own
// error, not the decompressor's echo of it.
func TestSourceFailureIsReported(t *testing.T) {
	raw, _ := bigTar(t)
	b := blob(t, raw, compression.GZip)
	cut := errors.New("connection reset by peer")
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := &failing{r: bytes.NewReader(b[:len(b)/2]), err: cut}
	_, err = Layer(st, src, Want{Digest: sha(b), Size: int64(len(b)), DiffID: sha(raw)}, unpack.Options{})
	if !errors.Is(err, cut) || errors.Is(err, store.ErrDigestMismatch) {
		t.Fatalf("Layer(source cut) = %v, want the source's error", err)
	}
	assertNothingStored(t, st)
}

func TestExtract(t *testing.T) {
	raw, files := bigTar(t)
	dir := t.TempDir()
	if _, err := Extract(bytes.NewReader(blob(t, raw, compression.ZStd)), dir, unpack.Options{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(files, readTree(t, dir, files)); diff != "" {
		t.Errorf("extracted files differ (-want +got):\n%s", diff)
	}
}

// The pipe hands the consumer exactly the producer's bytes, in order,
// whatever the read sizes on either side.
func TestPipeKeepsTheStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	want := make([]byte, 3<<20+11)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	h := sha256.New()
	p := newPipe(3, 4096, func(b []byte) { h.Write(b) })
	src := &chunky{b: want, rng: rng}
	done := make(chan error)
	go func() { done <- p.fill(func(b []byte) (int, error) { return readFull(src, b) }, false) }()
	got, err := io.ReadAll(p)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if ferr := <-done; ferr != io.EOF {
		t.Errorf("fill ended with %v, want EOF", ferr)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("pipe changed the stream: %d bytes out, %d in", len(got), len(want))
	}
	if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Error("seen did not see the whole stream")
	}
}

// A consumer that stops early releases the producer; with drain the
// producer still reads its source to the end.
func TestPipeStopDrains(t *testing.T) {
	for _, drain := range []bool{false, true} {
		src := bytes.NewReader(make([]byte, 1<<20))
		p := newPipe(2, 1024, nil)
		done := make(chan error)
		go func() { done <- p.fill(func(b []byte) (int, error) { return readFull(src, b) }, drain) }()
		if _, err := io.ReadFull(p, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		p.closeRead()
		err := <-done
		switch {
		case drain && (err != io.EOF || src.Len() != 0):
			t.Errorf("drain: fill ended with %v and %d bytes unread, want EOF and 0", err, src.Len())
		case !drain && err != errStopped:
			t.Errorf("no drain: fill ended with %v, want errStopped", err)
		}
	}
}

func assertNothingStored(t *testing.T, st *store.Store) {
	t.Helper()
	for _, d := range []string{"blobs/sha256", "layers"} {
		ents, err := os.ReadDir(filepath.Join(st.Root(), d))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("%s holds %d entries after a failed ingest, want none", d, len(ents))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(st.Root(), "ingest"))
	if len(ents) != 0 {
		t.Errorf("ingest/ holds %d leftovers after a failed ingest", len(ents))
	}
}
