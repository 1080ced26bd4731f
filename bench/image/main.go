// Command image benchmarks image pulls on this machine, in one run
// against one local registry (Debian's docker-registry on 127.0.0.1):
// pelagos pull vs podman pull vs skopeo copy to an OCI layout (no
// unpack), for a generated 6-layer image of about 200 MB and for
// busybox, each into an empty store; and the machine's limit: parallel
// decompress+untar of the same layer blobs from local files with all
// cores busy, through the same extractor pelagos uses (and gzip | tar,
// whichever is faster). Every tool, the limit included, runs once per
// round, rounds interleaved, so that other load on the machine falls on
// all of them alike. It prints seconds, MB/s, ratios (medians) and how
// much CPU other processes took while it ran.
//
//	go run ./bench/image [-runs 5] [-fs tmpfs|disk]
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
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pelagos-go/pelagos/internal/image/ingest"
	"github.com/pelagos-go/pelagos/internal/image/unpack"
)

const (
	layers     = 6
	layerBytes = 34 << 20 // ~200 MB unpacked over 6 layers
)

func main() {
	runs := flag.Int("runs", 5, "interleaved runs per tool")
	fs := flag.String("fs", "tmpfs", "where the tools write: tmpfs, or disk (/tmp)")
	extractInto := flag.String("extract-into", "", "internal: extract the blobs named as arguments into this directory and exit")
	flag.Parse()
	log.SetFlags(0)
	if *extractInto != "" {
		parallel(flag.Args(), *extractInto, extract)
		return
	}
	self, err := os.Executable()
	check(err)
	work, err := os.MkdirTemp("/tmp", "pib") // short: podman refuses a runroot over 50 characters
	check(err)
	defer os.RemoveAll(work)
	if *fs == "tmpfs" {
		// Every tool writes to the same tmpfs. On the disk of these VMs
		// (ext4 without a journal) each new inode is checked against the
		// recently deleted ones, so a benchmark that deletes a tree before
		// the next run makes file creation slow for all tools alike (ext4's
		// recently_deleted() took a third of the extract's CPU in perf) and
		// measures the filesystem's history instead of the tools.
		check(syscall.Mount("tmpfs", work, "tmpfs", 0, "mode=0700"))
		defer syscall.Unmount(work, syscall.MNT_DETACH)
	}
	fmt.Printf("work directory: %s on %s\n", work, *fs)

	bin := filepath.Join(work, "pelagos")
	run("go", "build", "-o", bin, "./cmd/pelagos")
	run("go", "build", "-o", filepath.Join(work, "pelagos-registry"), "./cmd/pelagos-registry") // pelagos hands it pulls and pushes
	host, reg, stop := startRegistry(work)
	defer stop()

	big, bigBlobs := generated(work)
	push(host+"/bench/big:1", big)
	bb := busybox()
	push(host+"/bench/busybox:1", bb)

	load := startLoad(reg)
	for _, img := range []struct {
		name  string
		ref   string
		v     v1.Image
		blobs []string
	}{{"6-layer", host + "/bench/big:1", big, bigBlobs}, {"busybox", host + "/bench/busybox:1", bb, nil}} {
		comp, unc := sizes(img.v)
		fmt.Printf("\n(layers, MB unpacked: %s)", layerSizes(img.v))
		fmt.Printf("\n== %s image: %d layers, %.1f MB compressed, %.1f MB unpacked ==\n", img.name, len(mustLayers(img.v)), mb(comp), mb(unc))
		fmt.Println("(median wall time and unpacked MB/s; CPU: the tool's processes plus the registry's)")
		tools := []tool{
			{"pelagos pull", func(d string) time.Duration {
				return load.timed("env", "PELAGOS_ROOT="+d, bin, "pull", "-q", img.ref)
			}},
			{"podman pull", func(d string) time.Duration {
				defer exec.Command("umount", "-R", d+"/root/overlay").Run() // podman may leave its storage mount
				return load.timed("podman", "--root", d+"/root", "--runroot", d+"/run", "--storage-driver", "overlay",
					"--cgroup-manager", "cgroupfs", "--events-backend", "none", "pull", "-q", "--tls-verify=false", img.ref)
			}},
			{"skopeo copy (no unpack)", func(d string) time.Duration {
				return load.timed("skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+img.ref, "oci:"+d+"/layout:x")
			}},
		}
		if img.blobs != nil {
			tools = append(tools,
				// In a process of its own, as every other tool runs: not
				// in this one, whose heap holds the generated image.
				tool{limitInProc, func(d string) time.Duration {
					return load.timed(append([]string{self, "-extract-into", d}, img.blobs...)...)
				}},
				tool{limitTools, func(d string) time.Duration {
					return parallel(img.blobs, d, func(blob, dir string) {
						load.timed("sh", "-c", fmt.Sprintf("gzip -dc %s | tar -x -C %s", blob, dir))
					})
				}})
		}
		times := map[string][]time.Duration{}
		cpu := map[string][]time.Duration{}
		for r := 0; r < *runs; r++ {
			for i := range tools {
				t := tools[(i+r)%len(tools)] // rotate: no tool always runs after the same one
				c0 := load.own()
				times[t.name] = append(times[t.name], inFreshDir(work, t.run))
				cpu[t.name] = append(cpu[t.name], time.Duration((load.own()-c0)*float64(time.Second)))
			}
		}
		med := map[string]time.Duration{}
		for _, t := range tools {
			med[t.name] = median(times[t.name])
			fmt.Printf("%-26s %7.3f s %7.1f MB/s  CPU %5.2f s  (runs: %v)\n", t.name, med[t.name].Seconds(), mb(unc)/med[t.name].Seconds(), median(cpu[t.name]).Seconds(), round(times[t.name]))
		}
		fmt.Printf("podman / pelagos:          %.2fx\n", med["podman pull"].Seconds()/med["pelagos pull"].Seconds())
		fmt.Printf("skopeo / pelagos:          %.2fx\n", med["skopeo copy (no unpack)"].Seconds()/med["pelagos pull"].Seconds())
		if img.blobs != nil {
			limit := min(med[limitInProc], med[limitTools])
			fmt.Printf("limit (faster of the two): %7.3f s %7.1f MB/s\n", limit.Seconds(), mb(unc)/limit.Seconds())
			fmt.Printf("pelagos pull / limit:      %.2f of the machine's limit (acceptance: >= 0.7)\n", limit.Seconds()/med["pelagos pull"].Seconds())
			fmt.Printf("pelagos vs podman:         %.2fx faster (acceptance: >= 3x)\n", med["podman pull"].Seconds()/med["pelagos pull"].Seconds())
		}
	}
	load.report()
}

const (
	limitInProc = "limit: pelagos extract"
	limitTools  = "limit: gzip -dc | tar -x"
)

type tool struct {
	name string
	run  func(dir string) time.Duration
}

// extract is the in-process limit for one layer: the stages a pull runs
// (read, decompress, untar, each on its own goroutine), without the
// network, the blob file and the digests.
func extract(blob, dir string) {
	f, err := os.Open(blob)
	check(err)
	defer f.Close()
	_, err = ingest.Extract(f, dir, unpack.Options{})
	check(err)
}

// generated builds the 6-layer image from real files of this machine
// (binaries and libraries compress like real images do) and writes each
// compressed layer blob to a file for the limit measurement.
func generated(work string) (v1.Image, []string) {
	files := collect("/usr", layers*layerBytes)
	img := empty.Image
	var blobs []string
	for i, part := range split(files, layers) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range part {
			b, err := os.ReadFile(f.path)
			if err != nil {
				continue
			}
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("layer%d%s", i, f.path), Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
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

type file struct {
	path string
	size int64
}

func collect(root string, total int64) []file {
	var out []file
	var n int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || n >= total {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			// A file over a quarter of a layer (/usr holds some of 100 MB)
			// would make one layer huge and leave others empty.
			if fi, err := d.Info(); err == nil && fi.Size() > 0 && fi.Size() <= layerBytes/4 {
				out = append(out, file{p, fi.Size()})
				n += fi.Size()
			}
		}
		return nil
	})
	return out
}

// split cuts files, in walk order, into n parts of about equal bytes
// (layerBytes each), as the benchmark's image is meant to be: six layers
// of ~34 MB, not one huge layer and five small ones.
func split(files []file, n int) [][]file {
	var total int64
	for _, f := range files {
		total += f.size
	}
	parts := make([][]file, n)
	var acc int64
	i := 0
	for _, f := range files {
		if acc >= total*int64(i+1)/int64(n) && i < n-1 {
			i++
		}
		parts[i] = append(parts[i], f)
		acc += f.size
	}
	return parts
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

// parallel runs fn for every blob at once, each into its own new
// directory under base, and returns the wall time.
func parallel(blobs []string, base string, fn func(blob, dir string)) time.Duration {
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

// inFreshDir runs fn in a new directory under work, removed after it.
func inFreshDir(work string, fn func(dir string) time.Duration) time.Duration {
	d, err := os.MkdirTemp(work, "run-")
	check(err)
	defer os.RemoveAll(d)
	return fn(d)
}

func startRegistry(work string) (string, int, func()) {
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
	return addr, cmd.Process.Pid, func() { cmd.Process.Kill(); cmd.Wait() }
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

func layerSizes(img v1.Image) string {
	var out []string
	for _, l := range mustLayers(img) {
		rc, err := l.Uncompressed()
		check(err)
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		out = append(out, fmt.Sprintf("%.1f", mb(n)))
	}
	return strings.Join(out, " ")
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
