// Command network benchmarks pelagos's container networking, in a network
// namespace of its own (the machine's network is never touched):
//
//   - setup plus teardown per container: the median of `run --rm IMAGE
//     true` on the default bridge network minus the median of the same
//     with --network none, for pelagos and for podman 4.3 with netavark
//     (its bridge network "podman" against --network none), all four
//     interleaved sample by sample;
//   - TCP throughput container to container over a bridge, and from the
//     host to a container through a published port (127.0.0.1:PORT,
//     DNAT), against TCP over the host's own loopback: netprobe send and
//     sink (tests/network/netprobe), the same bytes each time.
//
// Acceptance (issue 7): setup+teardown ≤ 0.25 × podman's; both
// throughputs ≥ 0.8 × loopback. Run as root with busybox-static, podman,
// netavark and runc installed (scripts/install-test-deps.sh):
//
//	go run ./bench/network -n 20
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

func main() {
	n := flag.Int("n", 20, "samples of each run")
	tputN := flag.Int("tput", 5, "samples of each throughput")
	size := flag.Int64("bytes", 1<<30, "bytes per throughput sample")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: run as root")
		os.Exit(1)
	}
	if !testenv.InNetNS() {
		os.Exit(testenv.ReexecInNetNS())
	}
	if err := testenv.LoopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	b := &bench{}
	err := b.setup()
	if err == nil {
		err = b.run(*n, *tputN, *size)
	}
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	work, pelagos, probe string
	podman               []string
	env, podEnv          []string
}

func (b *bench) setup() error {
	var err error
	if b.work, err = os.MkdirTemp("", "pelagos-netbench-"); err != nil {
		return err
	}
	ctx := context.Background()
	bin := filepath.Join(b.work, "bin")
	for _, pkg := range []string{"pelagos", "pelagos-monitor", "pelagos-runc", "pelagos-dns"} {
		if err := testenv.GoBuild(ctx, "./cmd/"+pkg, filepath.Join(bin, pkg), testenv.BuildOptions{Release: true}); err != nil {
			return err
		}
	}
	b.probe = filepath.Join(bin, "netprobe")
	if err := testenv.GoBuild(ctx, "./tests/network/netprobe", b.probe, testenv.BuildOptions{Static: true, Strip: true}); err != nil {
		return err
	}
	b.pelagos = filepath.Join(bin, "pelagos")
	tarball := filepath.Join(b.work, "image.tar")
	if err := writeImage(tarball, b.probe); err != nil {
		return err
	}
	b.env = append(os.Environ(), "PELAGOS_ROOT="+filepath.Join(b.work, "pelagos"),
		"PELAGOS_CGROUP_PARENT=/pelagos-netbench-"+strconv.Itoa(os.Getpid()))
	if _, err := b.cmd(b.env, b.pelagos, "import", "-c", `CMD ["/bin/sh"]`, tarball, "bench:net"); err != nil {
		return err
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return fmt.Errorf("runc: %w (scripts/install-test-deps.sh installs it)", err)
	}
	if _, err := os.Stat("/usr/lib/podman/netavark"); err != nil {
		return fmt.Errorf("netavark: %w (scripts/install-test-deps.sh installs it)", err)
	}
	conf := filepath.Join(b.work, "containers.conf")
	os.WriteFile(conf, []byte("[network]\nnetwork_backend = \"netavark\"\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"), 0o644)
	b.podEnv = append(os.Environ(), "CONTAINERS_CONF="+conf)
	b.podman = []string{"podman", "--root", filepath.Join(b.work, "podman"), "--runroot", fmt.Sprintf("/tmp/pelagos-netbench-pd-%d", os.Getpid()),
		"--network-config-dir", filepath.Join(b.work, "podman-net"), "--runtime", runc}
	_, err = b.cmd(b.podEnv, b.podman[0], append(b.podman[1:], "import", tarball, "localhost/bench:net")...)
	return err
}

func (b *bench) cleanup() {
	if b.work == "" {
		return
	}
	if out, err := b.cmd(b.env, b.pelagos, "ps", "-aq"); err == nil {
		for _, id := range strings.Fields(out) {
			b.cmd(b.env, b.pelagos, "rm", "-f", id)
		}
	}
	b.cmd(b.env, b.pelagos, "system", "prune", "-f")
	if b.podman != nil {
		b.cmd(b.podEnv, b.podman[0], append(b.podman[1:], "rm", "-f", "-t", "0", "-a")...)
		time.Sleep(time.Second) // podman's cleanup processes
		testenv.UnmountUnder(b.podman[4])
		os.RemoveAll(b.podman[4])
	}
	testenv.UnmountUnder(b.work)
	os.RemoveAll(b.work)
	hs, _ := testenv.Hierarchies()
	for _, h := range hs {
		testenv.RemoveCgroupTree(filepath.Join(h.Mount, "pelagos-netbench-"+strconv.Itoa(os.Getpid())))
	}
}

func (b *bench) cmd(env []string, name string, args ...string) (string, error) {
	c := exec.Command(name, args...)
	c.Env = env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (b *bench) timed(env []string, name string, args ...string) (float64, error) {
	start := time.Now()
	_, err := b.cmd(env, name, args...)
	return float64(time.Since(start).Microseconds()) / 1000, err
}

func (b *bench) run(n, tputN int, size int64) error {
	pod := func(net string) func() (float64, error) {
		return func() (float64, error) {
			return b.timed(b.podEnv, b.podman[0], append(b.podman[1:], "run", "--rm", "--network", net,
				"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "localhost/bench:net", "true")...)
		}
	}
	pel := func(net string) func() (float64, error) {
		return func() (float64, error) {
			return b.timed(b.env, b.pelagos, "run", "--rm", "--network", net, "bench:net", "true")
		}
	}
	cs := []struct {
		name string
		run  func() (float64, error)
	}{{"pelagos bridge", pel("bridge")}, {"pelagos none", pel("none")}, {"podman bridge", pod("podman")}, {"podman none", pod("none")}}
	samples := map[string][]float64{}
	for i := 0; i <= n; i++ {
		for k := range cs {
			c := cs[(i+k)%len(cs)]
			ms, err := c.run()
			if err != nil {
				return err
			}
			if i > 0 { // the first round creates the bridges and warms caches
				samples[c.name] = append(samples[c.name], ms)
			}
		}
	}
	med := map[string]float64{}
	for k, v := range samples {
		med[k] = median(v)
	}
	dp, dpod := med["pelagos bridge"]-med["pelagos none"], med["podman bridge"]-med["podman none"]
	fmt.Printf("run --rm true, medians of %d interleaved samples:\n", n)
	for _, c := range cs {
		fmt.Printf("  %-15s %8.1f ms\n", c.name, med[c.name])
	}
	fmt.Printf("network setup+teardown per container: pelagos %.1f ms, podman (netavark) %.1f ms: ratio %.3f (acceptance ≤ 0.25)\n", dp, dpod, dp/dpod)
	return b.throughput(tputN, size)
}

// throughput measures loopback, container to container, and through a
// published port, interleaved.
func (b *bench) throughput(n int, size int64) error {
	if _, err := b.cmd(b.env, b.pelagos, "network", "create", "tput"); err != nil {
		return err
	}
	if _, err := b.cmd(b.env, b.pelagos, "run", "-d", "--name", "sink", "--network", "tput", "-p", "127.0.0.1:15001:5001", "bench:net", "netprobe", "sink", "5001"); err != nil {
		return err
	}
	ip, err := b.cmd(b.env, b.pelagos, "inspect", "-f", "{{.NetworkSettings.Networks.tput.IPAddress}}", "sink")
	if err != nil {
		return err
	}
	ip = strings.TrimSpace(ip)
	host := exec.Command(b.probe, "sink", "15002")
	if err := host.Start(); err != nil {
		return err
	}
	defer func() { host.Process.Kill(); host.Wait() }()
	sz := strconv.FormatInt(size, 10)
	modes := []struct {
		name string
		run  func() (string, error)
	}{
		{"loopback", func() (string, error) { return b.cmd(nil, b.probe, "send", "127.0.0.1:15002", sz) }},
		{"container to container", func() (string, error) {
			return b.cmd(b.env, b.pelagos, "run", "--rm", "--network", "tput", "bench:net", "netprobe", "send", ip+":5001", sz)
		}},
		{"published port", func() (string, error) { return b.cmd(nil, b.probe, "send", "127.0.0.1:15001", sz) }},
	}
	rates := map[string][]float64{}
	for i := 0; i <= n; i++ {
		for k := range modes {
			m := modes[(i+k)%len(modes)]
			out, err := m.run()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			r, _ := strconv.ParseFloat(strings.TrimSpace(out), 64)
			if i > 0 {
				rates[m.name] = append(rates[m.name], r)
			}
		}
	}
	lo := median(rates["loopback"])
	fmt.Printf("TCP throughput, medians of %d interleaved samples of %d MiB:\n", n, size>>20)
	for _, m := range modes {
		r := median(rates[m.name])
		fmt.Printf("  %-23s %7.2f Gbit/s  %.2f × loopback\n", m.name, r*8/1e9, r/lo)
	}
	fmt.Println("  (acceptance: container to container and published port ≥ 0.8 × loopback)")
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// writeImage writes a busybox-static root filesystem with netprobe.
func writeImage(path, probe string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("busybox-static: %w", err)
	}
	pb, err := os.ReadFile(probe)
	if err != nil {
		return err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body []byte) {
		h.Size = int64(len(body))
		tw.WriteHeader(h)
		tw.Write(body)
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	add(&tar.Header{Name: "bin/netprobe", Typeflag: tar.TypeReg, Mode: 0o755}, pb)
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
