package image

import (
	"archive/tar"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// A pull killed with SIGKILL in the middle of a layer leaves no image,
// no layer and no blob visible; the next pull completes the image and
// sweeps what the dead one left in ingest/.
func TestPullKilledMidLayer(t *testing.T) {
	big := imagetest.Tar(t, imagetest.Entry{Name: "big", Type: tar.TypeReg, Body: []byte(strings.Repeat("pelagos ", 1<<20))})
	img := imagetest.Image(t, "linux/amd64",
		imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip), imagetest.Layer(t, big, compression.None))
	ls, _ := img.Layers()
	stall, _ := ls[1].Digest()
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	host := imagetest.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first := false
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, stall.Hex) {
				once.Do(func() { first = true })
			}
			if !first {
				h.ServeHTTP(w, r)
				return
			}
			// Half the layer, then nothing until the test ends.
			size, _ := ls[1].Size()
			rc, _ := ls[1].Compressed()
			defer rc.Close()
			buf := make([]byte, size/2)
			io.ReadFull(rc, buf)
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.WriteHeader(http.StatusOK)
			w.Write(buf)
			w.(http.Flusher).Flush()
			close(started)
			<-release
		})
	})
	defer close(release)
	imagetest.Push(t, host+"/kill/img:1", img)

	c := newCLI(t)
	cmd := exec.Command(pelagosBin, "pull", "-q", host+"/kill/img:1")
	cmd.Env = c.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the pull never reached the stalled layer")
	}
	time.Sleep(100 * time.Millisecond) // let it write some of the layer
	cmd.Process.Kill()
	cmd.Wait()

	if q := strings.TrimSpace(c.ok("images", "-q")); q != "" {
		t.Errorf("images after a killed pull: %q", q)
	}
	layers, _ := os.ReadDir(filepath.Join(c.root, "image", "layers"))
	for _, l := range layers {
		// The other layer may have committed whole; the stalled one must not.
		if b, err := os.ReadFile(filepath.Join(c.root, "image", "layers", l.Name(), "layer.json")); err != nil || strings.Contains(string(b), stall.Hex) {
			t.Errorf("layer %s visible after a killed pull (layer.json %q, %v)", l.Name(), b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(c.root, "image", "blobs", "sha256", stall.Hex)); err == nil {
		t.Errorf("blob of the stalled layer visible after a killed pull")
	}
	if ents, _ := os.ReadDir(filepath.Join(c.root, "image", "ingest")); len(ents) == 0 {
		t.Errorf("no ingest/ leftovers: the kill did not happen mid-layer")
	}

	c.ok("pull", "-q", host+"/kill/img:1")
	if q := strings.TrimSpace(c.ok("images", "-q")); q == "" {
		t.Errorf("next pull did not record the image")
	}
	if ents, _ := os.ReadDir(filepath.Join(c.root, "image", "ingest")); len(ents) != 0 {
		t.Errorf("ingest/ still holds %d leftovers after the next pull", len(ents))
	}
}
