package engine

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tarNames lists the entry names of a tar stream.
func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCp copies both ways, running and stopped, with docker's path rules.
func TestCp(t *testing.T) {
	c := newCLI(t)
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "f.txt"), "hello\n")
	writeFile(t, filepath.Join(host, "d", "a"), "A\n")
	writeFile(t, filepath.Join(host, "d", "sub", "b"), "B\n")
	if err := os.Symlink(filepath.Join(host, "d", "a"), filepath.Join(host, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(host, "f.txt"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	c.ok("run", "-d", "--name", "live", "busybox:test", "sleep", "1000")
	c.ok("create", "--name", "cold", "busybox:test", "sh", "-c", "cat /tmp/f.txt /tmp/new/a /tmp/new/sub/b")
	for _, ctr := range []string{"live", "cold"} {
		t.Run(ctr, func(t *testing.T) {
			c.ok("cp", filepath.Join(host, "f.txt"), ctr+":/tmp/")      // file into a directory
			c.ok("cp", filepath.Join(host, "d"), ctr+":/tmp/new")       // directory to a new name
			c.ok("cp", filepath.Join(host, "d")+"/.", ctr+":/home/app") // contents into a directory
			c.ok("cp", "-a", filepath.Join(host, "f.txt"), ctr+":/tmp/kept")
			c.ok("cp", "-L", filepath.Join(host, "link"), ctr+":/tmp/")   // a host symlink, followed on the host
			c.ok("cp", filepath.Join(host, "link"), ctr+":/tmp/nofollow") // the link itself
			out := t.TempDir()
			c.ok("cp", ctr+":/tmp/new", filepath.Join(out, "copy"))
			c.ok("cp", ctr+":/home/app/sub/b", out)
			c.ok("cp", ctr+":/tmp/f.txt", filepath.Join(out, "renamed"))
			c.ok("cp", ctr+":/etc/.", filepath.Join(out, "copy")) // contents into an existing directory
			for p, want := range map[string]string{
				"copy/a": "A\n", "copy/sub/b": "B\n", "b": "B\n", "renamed": "hello\n", "copy/passwd": "",
			} {
				got := readFile(t, filepath.Join(out, p))
				if want != "" && got != want {
					t.Errorf("%s: %q, want %q", p, got, want)
				}
			}
			// Owners: without -a the copier's (root) on the host and root
			// in the container; with -a the source's.
			var st syscall.Stat_t
			if err := syscall.Stat(filepath.Join(out, "renamed"), &st); err != nil || st.Uid != 0 {
				t.Errorf("host copy owner %d (%v), want 0", st.Uid, err)
			}
			tarOut, _, code := c.run(nil, "cp", ctr+":/tmp", "-")
			if code != 0 {
				t.Fatalf("cp to stdout: exit %d", code)
			}
			names := tarNames(t, []byte(tarOut))
			for _, want := range []string{"tmp/", "tmp/f.txt", "tmp/kept", "tmp/new/sub/b", "tmp/link", "tmp/nofollow"} {
				if !contains(names, want) {
					t.Errorf("cp %s:/tmp -: no %s in %v", ctr, want, names)
				}
			}
			for name, want := range map[string]string{"tmp/link": "", "tmp/nofollow": filepath.Join(host, "d", "a")} {
				if got := tarLink(t, []byte(tarOut), name); got != want {
					t.Errorf("%s in the container: link %q, want %q", name, got, want)
				}
			}
			owners := readOwners(t, []byte(tarOut))
			if owners["tmp/kept"] != "1234:5678" || owners["tmp/f.txt"] != "0:0" {
				t.Errorf("owners in the container: %v, want tmp/kept 1234:5678 (-a) and tmp/f.txt 0:0", owners)
			}
			// A tar on stdin extracts into a directory.
			in := tarOf(t, map[string]string{"fromtar/x": "X\n"})
			if _, errs, code := c.run(in, "cp", "-", ctr+":/tmp"); code != 0 {
				t.Fatalf("cp - : exit %d: %s", code, errs)
			}
			c.ok("cp", ctr+":/tmp/fromtar/x", filepath.Join(out, "x"))
			if got := readFile(t, filepath.Join(out, "x")); got != "X\n" {
				t.Errorf("from a stdin tar: %q", got)
			}
			// Onto a symlink to a file: the target is written, the link stays.
			c.run(tarOf(t, map[string]string{"flink": "->f.txt"}), "cp", "-", ctr+":/tmp")
			writeFile(t, filepath.Join(host, "g.txt"), "new content\n")
			c.ok("cp", filepath.Join(host, "g.txt"), ctr+":/tmp/flink")
			c.ok("cp", ctr+":/tmp/f.txt", filepath.Join(out, "after"))
			linkTar, _, _ := c.run(nil, "cp", ctr+":/tmp/flink", "-")
			if got := readFile(t, filepath.Join(out, "after")); got != "new content\n" || tarLink(t, []byte(linkTar), "flink") != "f.txt" {
				t.Errorf("cp onto a link: target holds %q, link %q", got, tarLink(t, []byte(linkTar), "flink"))
			}
			c.ok("cp", filepath.Join(host, "f.txt"), ctr+":/tmp/f.txt")
			// Docker's errors.
			for _, bad := range []struct{ src, dst, msg string }{
				{ctr + ":/nope", out, "Could not find the file /nope in container " + ctr},
				{ctr + ":/tmp", filepath.Join(out, "renamed"), "cannot copy a directory to a file"},
				{filepath.Join(host, "f.txt"), ctr + ":/nodir/", "must exist"},
				{ctr + ":/tmp/f.txt/", out, "not a directory"},
			} {
				if errs := c.fails(1, "cp", bad.src, bad.dst); !strings.Contains(errs, bad.msg) {
					t.Errorf("cp %s %s: %q, want %q", bad.src, bad.dst, errs, bad.msg)
				}
			}
		})
	}
	if errs := c.fails(125, "cp", "live:/a", "cold:/b"); !strings.Contains(errs, "copying between containers is not supported") {
		t.Errorf("container to container: %q", errs)
	}
	if errs := c.fails(125, "cp", "/a", "/b"); !strings.Contains(errs, "must specify at least one container source") {
		t.Errorf("host to host: %q", errs)
	}
	// The stopped container sees what was copied in, and no mount is left.
	if out := c.ok("start", "-a", "cold"); out != "hello\nA\nB\n" {
		t.Errorf("cold container read %q", out)
	}
	c.ok("rm", "-f", "live", "cold")
	c.assertClean()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readOwners(t *testing.T, b []byte) map[string]string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		out[h.Name] = strconv.Itoa(h.Uid) + ":" + strconv.Itoa(h.Gid)
	}
}

// tarLink is the symlink target of entry name ("" when not a symlink).
func tarLink(t *testing.T, b []byte, name string) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the archive", name)
		}
		if h.Name == name {
			return h.Linkname
		}
	}
}

// tarOf builds a tar of files (name → body) and, for bodies starting
// with "->", symlinks.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		body := files[n]
		h := &tar.Header{Name: n, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(body))}
		if target, ok := strings.CutPrefix(body, "->"); ok {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, target, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// TestCpSymlinkAttacks: symlinks inside a container (absolute, or
// climbing with ..) and in a tar on stdin resolve inside the container's
// root; cp never reads or writes the host file they name.
func TestCpSymlinkAttacks(t *testing.T) {
	c := newCLI(t)
	hostDir := t.TempDir() // exists on the host, not in the container
	secret := filepath.Join(hostDir, "secret")
	writeFile(t, secret, "host secret\n")
	links := "ln -s " + hostDir + " /abs && ln -s ../../../../../../../.." + hostDir + " /tmp/rel && ln -s " + secret + " /f && mkdir /d && ln -s " + hostDir + " /d/l"
	c.ok("run", "--name", "cold", "busybox:test", "sh", "-c", links)
	c.ok("run", "-d", "--name", "live", "busybox:test", "sh", "-c", links+" && exec sleep 1000")
	hostFile := filepath.Join(t.TempDir(), "payload")
	writeFile(t, hostFile, "payload\n")
	for _, ctr := range []string{"cold", "live"} {
		t.Run(ctr, func(t *testing.T) {
			out := t.TempDir()
			for _, src := range []string{"/abs/secret", "/tmp/rel/secret", "/d/l/secret"} {
				c.fails(1, "cp", ctr+":"+src, filepath.Join(out, "stolen"))
			}
			c.fails(1, "cp", "-L", ctr+":/f", filepath.Join(out, "stolen"))
			if _, err := os.Stat(filepath.Join(out, "stolen")); err == nil {
				t.Fatalf("%s: a host file was read through a container symlink", ctr)
			}
			// Without -L the link itself is copied, not its target.
			c.ok("cp", ctr+":/f", filepath.Join(out, "link"))
			if target, err := os.Readlink(filepath.Join(out, "link")); err != nil || target != secret {
				t.Errorf("cp of a symlink: %q, %v; want the link to %s", target, err, secret)
			}
			// A directory holding a link to the host copies the link only.
			tarOut, _, _ := c.run(nil, "cp", ctr+":/d", "-")
			if got, want := tarNames(t, []byte(tarOut)), []string{"d/", "d/l"}; !cmp.Equal(got, want) {
				t.Errorf("cp %s:/d -: %v, want %v", ctr, got, want)
			}
			// Writes through the links land inside the container or fail.
			c.run(nil, "cp", hostFile, ctr+":/abs/evil1")
			c.run(nil, "cp", hostFile, ctr+":/tmp/rel/evil2")
			c.run(nil, "cp", hostFile, ctr+":/d/l/")
			c.run(nil, "cp", hostFile, ctr+":/f") // /f -> the host's secret
			// Each attack in a tar of its own: a refused entry ends the
			// extraction.
			for _, in := range []map[string]string{
				{"l": "->" + hostDir, "l/evil3": "x"},
				{"m": "->../../../../../../.." + hostDir, "m/evil4": "x"},
				{"../../../../../../.." + hostDir + "/evil5": "x"},
			} {
				for _, dst := range []string{"/tmp", "/d/l", "/"} {
					c.run(tarOf(t, in), "cp", "-", ctr+":"+dst)
				}
			}
			ents, _ := os.ReadDir(hostDir)
			if len(ents) != 1 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("%s: the host directory behind the container's links changed: %v", ctr, names)
			}
			if got := readFile(t, secret); got != "host secret\n" {
				t.Errorf("host secret now %q", got)
			}
		})
	}
	c.ok("rm", "-f", "live", "cold")
	c.assertClean()
}

// TestCpVolumes: a bind-mounted volume's path is the volume's, in a
// running container and in a stopped one (mounted for the copy); a
// read-only one refuses writes.
func TestCpVolumes(t *testing.T) {
	c := newCLI(t)
	vol, ro := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(vol, "pre"), "in the volume\n")
	writeFile(t, filepath.Join(ro, "r"), "read only\n")
	payload := filepath.Join(t.TempDir(), "payload")
	writeFile(t, payload, "payload\n")
	c.ok("create", "--name", "cold", "-v", vol+":/data", "-v", ro+":/ro:ro", "-v", "cpvol:/named", "busybox:test", "true")
	c.ok("run", "-d", "--name", "live", "-v", vol+":/data", "-v", ro+":/ro:ro", "-v", "cpvol:/named", "busybox:test", "sleep", "1000")
	for _, ctr := range []string{"cold", "live"} {
		out := t.TempDir()
		c.ok("cp", ctr+":/data/pre", out)
		c.ok("cp", ctr+":/ro/r", out)
		if got := readFile(t, filepath.Join(out, "pre")) + readFile(t, filepath.Join(out, "r")); got != "in the volume\nread only\n" {
			t.Errorf("%s: copied out of the volumes: %q", ctr, got)
		}
		c.ok("cp", payload, ctr+":/data/from-"+ctr)
		if got := readFile(t, filepath.Join(vol, "from-"+ctr)); got != "payload\n" {
			t.Errorf("%s: copied into the volume: %q", ctr, got)
		}
		c.ok("cp", payload, ctr+":/named/from-"+ctr)
		c.fails(1, "cp", payload, ctr+":/ro/")
		if _, err := os.Stat(filepath.Join(ro, "payload")); err == nil {
			t.Errorf("%s: a read-only volume was written", ctr)
		}
	}
	// The named volume holds both copies.
	if got := c.ok("run", "--rm", "-v", "cpvol:/v", "busybox:test", "cat", "/v/from-cold", "/v/from-live"); got != "payload\npayload\n" {
		t.Errorf("the named volume holds %q", got)
	}
	c.ok("rm", "-f", "cold", "live")
	c.ok("volume", "rm", "cpvol")
	c.assertClean()
}
