package dockercmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/tests/testenv"
)

// dockerVersion names the directory scripts/install-test-deps.sh unpacks
// Debian's docker.io and containerd into, under the test cache.
const dockerVersion = "docker-20.10"

// dockerd is a private Docker daemon: containerd and dockerd from
// Debian's packages, run from the test cache, with every path of their
// own under dir. Both run in a mount namespace of their own whose /run is
// a fresh tmpfs: containerd's shim sockets (fixed under
// /run/containerd), the containers' rootfs and network namespace mounts
// never appear on the host and vanish with the namespace. The test
// binary already runs in a network namespace of its own (MainInNetNS),
// and the daemon gets no bridge, no iptables and no forwarding: nothing
// it does touches the machine's network or sysctls.
type dockerd struct {
	dir    string // scratch: data root, sockets, logs, the CLI's config
	bin    string // the unpacked packages' root
	cgroup string // --cgroup-parent: the containers' cgroups
	cmd    *exec.Cmd
	mntNS  uint64 // the daemon's mount namespace, to find every process in it
	exited chan struct{}
}

// dockerRoot is where scripts/install-test-deps.sh unpacked the packages.
func dockerRoot() (string, error) {
	cache, err := testenv.CacheDir()
	if err != nil {
		return "", err
	}
	root := filepath.Join(cache, dockerVersion, "root")
	if _, err := os.Stat(filepath.Join(root, "usr/sbin/dockerd")); err != nil {
		return "", fmt.Errorf("dockerd not unpacked (scripts/install-test-deps.sh does it): %w", err)
	}
	return root, nil
}

// startDockerd starts the daemon and waits until it answers.
func startDockerd(ctx context.Context, dir, cgroup string) (*dockerd, error) {
	root, err := dockerRoot()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, fmt.Errorf("runc, containerd's runtime, not installed (scripts/install-test-deps.sh installs it): %w", err)
	}
	d := &dockerd{dir: dir, bin: root, cgroup: cgroup, exited: make(chan struct{})}
	if err := d.writeConfigs(); err != nil {
		return nil, err
	}
	if err := d.launch(); err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// containerdConfig keeps containerd inside dir: its own root, state and
// sockets, no CRI plugin, and no snapshotter that would load kernel
// modules (aufs) or probe devices.
const containerdConfig = `version = 2
root = "{{dir}}/containerd/root"
state = "{{dir}}/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{{dir}}/containerd.sock"
[ttrpc]
  address = "{{dir}}/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{{dir}}/containerd/opt"
`

func (d *dockerd) writeConfigs() error {
	toml := strings.ReplaceAll(containerdConfig, "{{dir}}", d.dir)
	if err := os.WriteFile(filepath.Join(d.dir, "containerd.toml"), []byte(toml), 0o644); err != nil {
		return err
	}
	// dockerd 20.10 keeps its trust key in /etc/docker unless told
	// otherwise, and only its config file can tell it.
	daemon := fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(d.dir, "key.json"))
	if err := os.WriteFile(filepath.Join(d.dir, "daemon.json"), []byte(daemon), 0o644); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(d.dir, "cli"), 0o700)
}

// launchScript runs in the new mount namespace: it makes every mount
// private (nothing propagates back to the host), gives the namespace a
// /run of its own, starts containerd and, once its socket is there,
// becomes dockerd.
const launchScript = `set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 dockercmp-run /run
containerd --config "$D/containerd.toml" >"$D/containerd.log" 2>&1 </dev/null &
echo $! >"$D/containerd.pid"
i=0
while [ ! -S "$D/containerd.sock" ]; do
	i=$((i+1)); [ $i -lt 300 ] || { echo "containerd did not start: see $D/containerd.log" >&2; exit 1; }
	sleep 0.1
done
exec dockerd --config-file "$D/daemon.json" --containerd "$D/containerd.sock" \
	--data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" \
	--bridge=none --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
	--storage-driver=overlay2 --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent="$CG"
`

func (d *dockerd) launch() error {
	logf, err := os.Create(filepath.Join(d.dir, "dockerd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("/bin/sh", "-c", launchScript)
	cmd.Env = append(os.Environ(), "D="+d.dir, "CG="+d.cgroup,
		"PATH="+filepath.Join(d.bin, "usr/bin")+":"+filepath.Join(d.bin, "usr/sbin")+":/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dockerd: %w", err)
	}
	d.cmd = cmd
	go func() { cmd.Wait(); close(d.exited) }()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid), &st); err != nil {
		return fmt.Errorf("dockerd's mount namespace: %w", err)
	}
	// Guard nsPids and stop, which kill every process in that namespace:
	// it must not be ours.
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil || self.Ino == st.Ino {
		cmd.Process.Kill()
		return fmt.Errorf("dockerd did not get a mount namespace of its own (%v)", err)
	}
	d.mntNS = st.Ino
	return nil
}

// waitReady waits until `docker version` reaches the daemon, or the
// daemon exits; either failure carries the tail of the daemon's logs.
func (d *dockerd) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		out, err := d.cli(ctx, "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err == nil {
			return nil
		}
		select {
		case <-d.exited:
			return fmt.Errorf("dockerd exited before it answered:\n%s", d.logTail())
		case <-ctx.Done():
			return fmt.Errorf("dockerd did not answer in 60s (%s):\n%s", bytes.TrimSpace(out), d.logTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cli is the docker client of the same release, talking to this daemon
// only, with a configuration directory of its own.
func (d *dockerd) cli(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "usr/bin/docker"), args...)
	cmd.Env = d.env()
	return cmd
}

func (d *dockerd) env() []string {
	return append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(d.dir, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(d.dir, "cli"), "DOCKER_CLI_HINTS=false")
}

// logTail is the last lines of both daemons' logs, for failure messages.
func (d *dockerd) logTail() string {
	var b strings.Builder
	for _, name := range []string{"dockerd.log", "containerd.log"} {
		data, _ := os.ReadFile(filepath.Join(d.dir, name))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// stop removes the daemon's containers, stops dockerd and containerd, and
// kills whatever is left in their mount namespace (shims outlive
// containerd by design); the namespace, and every mount in it, goes with
// its last process. It then removes the containers' cgroups.
func (d *dockerd) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ids, err := d.cli(ctx, "ps", "-aq").Output(); err == nil && len(bytes.TrimSpace(ids)) > 0 {
		d.cli(ctx, append([]string{"rm", "-f"}, strings.Fields(string(ids))...)...).Run()
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
	}
	if pid, err := readPid(filepath.Join(d.dir, "containerd.pid")); err == nil {
		unix.Kill(pid, unix.SIGTERM)
		waitGone(pid, 10*time.Second)
	}
	for _, pid := range d.nsPids() {
		unix.Kill(pid, unix.SIGKILL)
	}
	for _, pid := range d.nsPids() {
		waitGone(pid, 5*time.Second)
	}
	var errs []error
	if left := d.nsPids(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left in dockerd's mount namespace: %v", left))
	}
	hs, err := testenv.Hierarchies()
	errs = append(errs, err)
	for _, h := range hs {
		dir := filepath.Join(h.Mount, d.cgroup)
		if _, err := os.Stat(dir); err == nil {
			errs = append(errs, testenv.RemoveCgroupTree(dir))
		}
	}
	return errors.Join(errs...)
}

// nsPids lists the processes in the daemon's mount namespace.
func (d *dockerd) nsPids() []int {
	if d.mntNS == 0 {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/proc", e.Name(), "ns/mnt"), &st) == nil && st.Ino == d.mntNS {
			pids = append(pids, pid)
		}
	}
	return pids
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// waitGone waits up to d for pid to exit (or become a zombie).
func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killStale kills what a killed earlier run left running: dockerd dies
// with the test (Pdeathsig), but containerd and its shims keep running in
// their mount namespace, and pelagos's monitors outlive any CLI by
// design. They are found by the scratch directory their command lines
// name (os.TempDir()/prefix<pid>-...), whose creator pid is gone. The
// containers of both go with their cgroups (testenv.CleanStale).
func killStale(prefix string) {
	marker := filepath.Join(os.TempDir(), prefix)
	stale := testenv.Processes(func(args []string) bool {
		switch filepath.Base(args[0]) {
		case "containerd", "containerd-shim-runc-v2", "dockerd", "pelagos-monitor":
		default:
			return false
		}
		_, rest, ok := strings.Cut(strings.Join(args, "\x00"), marker)
		if !ok {
			return false
		}
		owner, _, _ := strings.Cut(rest, "-")
		n, err := strconv.Atoi(owner)
		return err == nil && n > 0 && unix.Kill(n, 0) == unix.ESRCH
	})
	for _, pid := range stale {
		unix.Kill(pid, unix.SIGKILL)
	}
}
