// Package rootless drives the built pelagos binary as an unprivileged
// user (pelagos-rootless, whose /etc/subuid and /etc/subgid ranges
// scripts/install-test-deps.sh makes): the rootless engine's user
// namespace, its XDG state directories, image layers keeping their
// owners, detached containers, and pasta networking with published ports
// reached from the host's loopback. The harness is root (to make the
// user's directories and to look at what is left); every pelagos command
// runs as the user.
//
// The tests run in a network namespace of their own (testenv.MainInNetNS)
// with a veth that has an address and a default route, which pasta needs
// to copy into containers; traffic goes only to loopback and to addresses
// in that namespace.
package rootless

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
	"github.com/pelagos-go/pelagos/tests/testenv"
)

// prefix names this package's temporary directories.
const prefix = "pelagos-rootlesstest-"

// rootlessUser is the unprivileged user scripts/install-test-deps.sh
// creates.
const rootlessUser = "pelagos-rootless"

// Addresses of the test's network namespace: the uplink pasta copies
// (uplinkAddr, gateway uplinkGateway) and a "remote" server address on
// loopback that containers reach through pasta.
const (
	uplinkAddr    = "10.99.0.2/24"
	uplinkGateway = "10.99.0.1"
	remoteAddr    = "10.99.1.1"
)

func TestMain(m *testing.M) {
	if err := testenv.CleanStale(prefix); err != nil {
		fmt.Fprintln(os.Stderr, "clean up after an earlier run:", err)
	}
	testenv.MainInNetNS(m)
}

// cli runs the built pelagos as the rootless user, with a HOME and an
// XDG_RUNTIME_DIR of its own.
type cli struct {
	t        testing.TB
	bin      string
	dir      string // everything of this test: bin/, home/, run/
	home     string
	run      string
	uid, gid int
	env      []string
}

func newCLI(t testing.TB) *cli {
	t.Helper()
	testenv.RequireRoot(t)
	u, err := user.Lookup(rootlessUser)
	if err != nil {
		t.Skipf("no user %s (scripts/install-test-deps.sh creates it): %v", rootlessUser, err)
	}
	for _, tool := range []string{"newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (package uidmap, scripts/install-test-deps.sh): %v", tool, err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	bin := testenv.Build(t, "./cmd/pelagos", testenv.BuildOptions{Release: true})
	mon := testenv.Build(t, "./cmd/pelagos-monitor", testenv.BuildOptions{Release: true})
	dir, err := testenv.TempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, dir: dir, home: filepath.Join(dir, "home"), run: filepath.Join(dir, "run"), uid: uid, gid: gid}
	t.Cleanup(c.destroy)
	// The user must reach its binaries and own its directories.
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
	c.bin = filepath.Join(dir, "bin", "pelagos")
	must(t, copyFile(bin, c.bin))
	must(t, copyFile(mon, filepath.Join(dir, "bin", "pelagos-monitor")))
	// pelagos hands the commands that need a registry to this one.
	must(t, copyFile(filepath.Join(filepath.Dir(bin), "pelagos-registry"), filepath.Join(dir, "bin", "pelagos-registry")))
	for _, d := range []string{c.home, c.run} {
		must(t, os.Mkdir(d, 0o700))
		must(t, os.Chown(d, uid, gid))
	}
	c.env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + c.home, "XDG_RUNTIME_DIR=" + c.run,
		"PELAGOS_REGISTRIES_CONFIG=" + filepath.Join(dir, "none.json"),
	}
	c.importBusybox("busybox:test")
	return c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// runIn runs pelagos as the user in directory wd.
func (c *cli) runIn(wd string, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env, cmd.Dir = c.env, wd
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.gid)}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("run pelagos %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (c *cli) runCmd(args ...string) (string, string, int) {
	c.t.Helper()
	return c.runIn(c.home, args...)
}

// ok runs pelagos and fails the test unless it exits 0; it returns stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.runCmd(args...)
	if code != 0 {
		c.t.Fatalf("pelagos %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// fails runs pelagos, wants exit code want and returns stderr.
func (c *cli) fails(want int, args ...string) string {
	c.t.Helper()
	out, errs, code := c.runCmd(args...)
	if code != want {
		c.t.Fatalf("pelagos %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errs)
	}
	return errs
}

// dataDir and runDir are where the rootless engine must keep its state.
func (c *cli) dataDir() string { return filepath.Join(c.home, ".local", "share", "pelagos") }
func (c *cli) runDir() string  { return filepath.Join(c.run, "pelagos") }

// pausePid is the user's pause process, 0 when there is none.
func (c *cli) pausePid() int {
	b, err := os.ReadFile(filepath.Join(c.runDir(), "pause.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
	return pid
}

// destroy removes every container, then the pause process (its mount
// namespace, holding the overlays, goes with it) and the directories.
func (c *cli) destroy() {
	if c.bin != "" {
		if out, _, code := c.runCmd("ps", "-aq", "--no-trunc"); code == 0 {
			for _, id := range strings.Fields(out) {
				c.runCmd("rm", "-f", id)
			}
		}
	}
	if pid := c.pausePid(); pid > 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	testenv.UnmountUnder(c.dir)
	os.RemoveAll(c.dir)
}

// importBusybox imports a busybox-static root filesystem as image tag,
// with a directory owned by an unprivileged id (/home/app: 1000:50) to
// check that layers keep their owners.
func (c *cli) importBusybox(tag string) {
	c.t.Helper()
	bb, err := os.ReadFile(imagetest.BusyboxPath)
	if err != nil {
		c.t.Skipf("busybox-static not installed (scripts/install-test-deps.sh installs it): %v", err)
	}
	list, err := exec.Command(imagetest.BusyboxPath, "--list").Output()
	if err != nil {
		c.t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = time.Unix(1700000000, 0), tar.FormatPAX
		h.Size = int64(len(body))
		must(c.t, tw.WriteHeader(h))
		_, err := tw.Write(body)
		must(c.t, err)
	}
	add(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, a := range strings.Fields(string(list)) {
		if a != "busybox" {
			add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:50:app:/home/app:/bin/sh\n"))
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\nstaff:x:50:\n"))
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "home/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "home/app/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 50}, nil)
	// An opaque-directory marker: inside a user namespace it must become
	// user.overlay.opaque, trusted.* being out of reach.
	add(&tar.Header{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "var/empty/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "var/empty/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o644}, nil)
	must(c.t, tw.Close())
	tarball := filepath.Join(c.dir, "busybox.tar")
	must(c.t, os.WriteFile(tarball, b.Bytes(), 0o644))
	c.ok("import", "-c", `CMD ["/bin/sh"]`, tarball, tag)
}

var (
	uplinkOnce sync.Once
	uplinkErr  error
)

// uplink gives the test's network namespace what pasta copies into a
// container: an interface with an address and a default route (a veth
// whose peer stays in this namespace: nothing leaves it), and the
// "remote" server address on loopback.
func uplink(t testing.TB) {
	t.Helper()
	if !testenv.InNetNS() {
		t.Skip("pasta tests need the test's own network namespace (run as root)")
	}
	uplinkOnce.Do(func() {
		for _, args := range [][]string{
			{"link", "add", "plr0", "type", "veth", "peer", "name", "plr1"},
			{"addr", "add", uplinkAddr, "dev", "plr0"},
			{"link", "set", "plr0", "up"},
			{"link", "set", "plr1", "up"},
			{"route", "add", "default", "via", uplinkGateway, "dev", "plr0"},
			{"addr", "add", remoteAddr + "/32", "dev", "lo"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				uplinkErr = fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if uplinkErr != nil {
		t.Fatal(uplinkErr)
	}
	_, errPasta := exec.LookPath("pasta")
	_, errSlirp := exec.LookPath("slirp4netns")
	if errPasta != nil && errSlirp != nil {
		t.Skipf("neither pasta nor slirp4netns is installed (packages passt, slirp4netns: scripts/install-test-deps.sh): %v", errPasta)
	}
}

// readAll dials addr and returns what the server sends before closing.
func readAll(addr string) (string, error) {
	conn, err := dialTCP(addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}
