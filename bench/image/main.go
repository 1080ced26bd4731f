// Command image benchmarks image pulls on this machine, in one run
// against one local registry (Debian's docker-registry on 127.0.0.1):
// pelagos pull vs podman pull vs skopeo copy to an OCI layout (no
// unpack), for a generated 6-layer image of about 200 MB and for
// busybox, each into an empty store; and the machine's limit: parallel
// decompress+untar of the same layer blobs from local files with all
// cores busy. It prints seconds, MB/s and ratios (medians of interleaved
// runs).
//
//	go run ./bench/image [-runs 3]
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pelagos-go/pelagos/internal/image/compress"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

const (
	layers     = 6
	layerBytes = 34 << 20 // ~200 MB unpacked over 6 layers
)

func main() {
	runs := flag.Int("runs", 3, "interleaved runs per tool")
	flag.Parse()
	log.SetFlags(0)
	work, err := os.MkdirTemp("/tmp", "pib") // short: podman refuses a runroot over 50 characters
	check(err)
	defer os.RemoveAll(work)

	bin := filepath.Join(work, "pelagos")
	run("go", "build", "-o", bin, "./cmd/pelagos")
	host, stop := startRegistry(work)
	defer stop()

	big, bigBlobs := generated(work)
	push(host+"/bench/big:1", big)
	bb := busybox()
	push(host+"/bench/busybox:1", bb)

	for _, img := range []struct {
		name string
		ref  string
		v    v1.Image
	}{{"6-layer", host + "/bench/big:1", big}, {"busybox", host + "/bench/busybox:1", bb}} {
		comp, unc := sizes(img.v)
		fmt.Printf("\n== %s image: %d layers, %.1f MB compressed, %.1f MB unpacked ==\n", img.name, len(mustLayers(img.v)), mb(comp), mb(unc))
		times := map[string][]time.Duration{}
		for r := 0; r < *runs; r++ {
			times["pelagos pull"] = append(times["pelagos pull"], timed(func(d string) []string {
				return []string{"env", "PELAGOS_ROOT=" + d, bin, "pull", "-q", img.ref}
			}, work))
			times["podman pull"] = append(times["podman pull"], timed(func(d string) []string {
				return []string{"podman", "--root", d + "/root", "--runroot", d + "/run", "--storage-driver", "overlay",
					"--cgroup-manager", "cgroupfs", "--events-backend", "none", "pull", "-q", "--tls-verify=false", img.ref}
			}, work))
			times["skopeo copy (no unpack)"] = append(times["skopeo copy (no unpack)"], timed(func(d string) []string {
				return []string{"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + img.ref, "oci:" + d + "/layout:x"}
			}, work))
		}
		med := map[string]time.Duration{}
		for _, k := range []string{"pelagos pull", "podman pull", "skopeo copy (no unpack)"} {
			med[k] = median(times[k])
			fmt.Printf("%-26s %7.3f s  %7.1f MB/s unpacked  (runs: %v)\n", k, med[k].Seconds(), mb(unc)/med[k].Seconds(), round(times[k]))
		}
		fmt.Printf("podman / pelagos:          %.2fx\n", med["podman pull"].Seconds()/med["pelagos pull"].Seconds())
		fmt.Printf("skopeo / pelagos:          %.2fx\n", med["skopeo copy (no unpack)"].Seconds()/med["pelagos pull"].Seconds())
		if img.name == "6-layer" {
			limit := limitRuns(work, bigBlobs, *runs)
			fmt.Printf("limit: parallel decompress+untar of the same blobs from local files: %.3f s, %.1f MB/s unpacked\n", limit.Seconds(), mb(unc)/limit.Seconds())
			fmt.Printf("pelagos pull / limit:      %.2f of the machine's limit (acceptance: >= 0.7)\n", limit.Seconds()/med["pelagos pull"].Seconds())
			fmt.Printf("pelagos vs podman:         %.2fx faster (acceptance: >= 3x)\n", med["podman pull"].Seconds()/med["pelagos pull"].Seconds())
		}
	}
}

// generated builds the 6-layer image from real files of this machine
// (binaries and libraries compress like real images do) and writes each
// compressed layer blob to a file for the limit measurement.
func generated(work string) (v1.Image, []string) {
	files := collect("/usr", layers*layerBytes)
	img := empty.Image
	var blobs []string
	per := len(files) / layers
	for i := 0; i < layers; i++ {
		part := files[i*per : (i+1)*per]
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range part {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d%s", i, f), Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
			tw.Write(b)
		}
		tw.Close()
		raw := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }, tarball.WithCompressedCaching)
		check(err)
		rc, err := l.Compressed()
		check(err)
		p := filepath.Join(work, fmt.Sprintf("blob%d", i))
		f, err := os.Create(p)
		check(err)
		_, err = io.Copy(f, rc)
		check(err)
		f.Close()
		blobs = append(blobs, p)
		img, err = mutate.AppendLayers(img, l)
		check(err)
	}
	return img, blobs
}

func collect(root string, total int64) []string {
	var out []string
	var n int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || n >= total {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil && fi.Size() > 0 {
				out = append(out, p)
				n += fi.Size()
			}
		}
		return nil
	})
	return out
}

func busybox() v1.Image {
	b, err := os.ReadFile("/bin/busybox")
	check(err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg})
	tw.Write(b)
	tw.Close()
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil })
	check(err)
	img, err := mutate.AppendLayers(empty.Image, l)
	check(err)
	return img
}

// limitRuns measures decompress+untar of every blob at once, one
// goroutine per layer, through the same extractor pelagos uses, and with
// gzip | tar per layer; the faster of the two is the machine's limit.
func limitRuns(work string, blobs []string, runs int) time.Duration {
	var inproc, tools []time.Duration
	for r := 0; r < runs; r++ {
		inproc = append(inproc, parallel(blobs, func(blob, dir string) {
			f, err := os.Open(blob)
			check(err)
			defer f.Close()
			zr, _, err := compress.Reader(f)
			check(err)
			_, err = unpack.Unpack(dir, zr, unpack.Options{})
			check(err)
			io.Copy(io.Discard, zr)
		}, work))
		tools = append(tools, parallel(blobs, func(blob, dir string) {
			run("sh", "-c", fmt.Sprintf("gzip -dc %s | tar -x -C %s", blob, dir))
		}, work))
	}
	a, b := median(inproc), median(tools)
	fmt.Printf("limit, in-process (klauspost gzip + pelagos untar): %.3f s; gzip|tar: %.3f s\n", a.Seconds(), b.Seconds())
	return min(a, b)
}

func parallel(blobs []string, fn func(blob, dir string), work string) time.Duration {
	base, err := os.MkdirTemp(work, "limit-")
	check(err)
	defer os.RemoveAll(base)
	start := time.Now()
	var wg sync.WaitGroup
	for i, b := range blobs {
		d := filepath.Join(base, fmt.Sprint(i))
		check(os.Mkdir(d, 0o755))
		wg.Add(1)
		go func() { defer wg.Done(); fn(b, d) }()
	}
	wg.Wait()
	return time.Since(start)
}

// timed runs a command into a fresh directory and returns its wall time.
func timed(argv func(dir string) []string, work string) time.Duration {
	d, err := os.MkdirTemp(work, "run-")
	check(err)
	defer func() {
		exec.Command("umount", "-R", d+"/root/overlay").Run() // podman may leave its storage mount
		os.RemoveAll(d)
	}()
	a := argv(d)
	start := time.Now()
	cmd := exec.Command(a[0], a[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s: %v\n%s", strings.Join(a, " "), err, out.String())
	}
	return time.Since(start)
}

func startRegistry(work string) (string, func()) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	addr := l.Addr().String()
	l.Close()
	cfg := filepath.Join(work, "registry.yml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: %s\n", work, addr)), 0o644))
	cmd := exec.Command("docker-registry", "serve", cfg)
	check(cmd.Start())
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return addr, func() { cmd.Process.Kill(); cmd.Wait() }
}

func push(ref string, img v1.Image) {
	r, err := name.ParseReference(ref, name.Insecure)
	check(err)
	check(remote.Write(r, img))
}

func sizes(img v1.Image) (comp, unc int64) {
	for _, l := range mustLayers(img) {
		s, _ := l.Size()
		comp += s
		rc, err := l.Uncompressed()
		check(err)
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		unc += n
	}
	return comp, unc
}

func mustLayers(img v1.Image) []v1.Layer {
	ls, err := img.Layers()
	check(err)
	return ls
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func round(d []time.Duration) []string {
	var out []string
	for _, x := range d {
		out = append(out, fmt.Sprintf("%.2f", x.Seconds()))
	}
	return out
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func run(name string, args ...string) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
