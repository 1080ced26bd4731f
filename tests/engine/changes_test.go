package engine

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

const changeScript = "echo x > /tmp/new; rm /etc/notexec; echo y >> /etc/passwd; mkdir /made; touch /made/f"

func TestDiff(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--name", "ch", "busybox:test", "sh", "-c", changeScript)
	want := "C /etc\nD /etc/notexec\nC /etc/passwd\nA /made\nA /made/f\nC /tmp\nA /tmp/new\n"
	if got := c.ok("diff", "ch"); got != want {
		t.Errorf("diff of a stopped container:\n%s", cmp.Diff(want, got))
	}
	c.ok("run", "-d", "--name", "live", "busybox:test", "sh", "-c", changeScript+"; exec sleep 1000")
	waitFor(t, "the changes", func() bool { out, _, _ := c.run(nil, "diff", "live"); return out == want })
	c.ok("create", "--name", "fresh", "busybox:test", "true")
	if got := c.ok("diff", "fresh"); got != "" {
		t.Errorf("diff of a container never started: %q", got)
	}
	// The mount points of /etc/hosts and the rest are the engine's, not
	// the container's (docker keeps them in an init layer): a container
	// that wrote nothing has no changes, with or without an /etc in its
	// image; a file it writes next to them is one.
	importNoEtc(t, c)
	for _, img := range []string{"busybox:test", "noetc:test"} {
		c.ok("run", "--name", "quiet", img, "true")
		if got := c.ok("diff", "quiet"); got != "" {
			t.Errorf("diff of a %s container that wrote nothing: %q", img, got)
		}
		c.ok("rm", "quiet")
	}
	c.ok("run", "--name", "wrote", "noetc:test", "touch", "/etc/mine")
	if got, want := c.ok("diff", "wrote"), "A /etc\nA /etc/mine\n"; got != want {
		t.Errorf("diff of a noetc:test container that wrote /etc/mine:\n%s", cmp.Diff(want, got))
	}
	c.ok("rm", "wrote")
	c.ok("rmi", "noetc:test")
	if errs := c.fails(1, "diff", "nosuch"); !strings.Contains(errs, "No such container: nosuch") {
		t.Errorf("diff nosuch: %q", errs)
	}
	c.ok("rm", "-f", "ch", "live", "fresh")
	c.assertClean()
}

func TestExport(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--name", "ch", "busybox:test", "sh", "-c", changeScript)
	c.ok("run", "-d", "--name", "live", "busybox:test", "sh", "-c", changeScript+"; exec sleep 1000")
	waitFor(t, "the changes", func() bool { out, _, _ := c.run(nil, "diff", "live"); return strings.Contains(out, "A /made/f") })
	out := filepath.Join(t.TempDir(), "ch.tar")
	for _, ctr := range []string{"ch", "live"} {
		c.ok("export", "-o", out, ctr)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		stdout := c.ok("export", ctr)
		for name, tarb := range map[string][]byte{"-o": b, "stdout": []byte(stdout)} {
			names := tarNames(t, tarb)
			for _, want := range []string{"bin/busybox", "tmp/new", "made/f", "etc/passwd"} {
				if !contains(names, want) {
					t.Errorf("export %s (%s): no %s", ctr, name, want)
				}
			}
			if contains(names, "etc/notexec") {
				t.Errorf("export %s (%s): a deleted file is in it", ctr, name)
			}
		}
	}
	c.fails(1, "export", "-o", filepath.Join(t.TempDir(), "x.tar"), "nosuch")
	c.ok("rm", "-f", "ch", "live")
	c.assertClean()
}

func TestCommit(t *testing.T) {
	c := newCLI(t)
	c.ok("run", "--name", "ch", "busybox:test", "sh", "-c", changeScript)
	id := strings.TrimSpace(c.ok("commit", "-m", "my change", "-a", "me", "-c", "ENV FOO=bar", "-c", `CMD ["cat", "/tmp/new"]`,
		"-c", "EXPOSE 8080", "-c", "STOPSIGNAL SIGINT", "ch", "committed:v1"))
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("commit printed %q, want an image ID", id)
	}
	if got := c.ok("run", "--rm", "committed:v1"); got != "x\n" {
		t.Errorf("the committed image's CMD printed %q", got)
	}
	got := c.ok("run", "--rm", "committed:v1", "sh", "-c", "echo $FOO; test -e /etc/notexec || echo gone; ls /made; tail -1 /etc/passwd")
	if want := "bar\ngone\nf\ny\n"; got != want {
		t.Errorf("the committed image:\n%s", cmp.Diff(want, got))
	}
	insp := c.ok("image", "inspect", "committed:v1")
	for _, want := range []string{`"Author": "me"`, "my change", `"8080/tcp"`, `"StopSignal": "SIGINT"`} {
		if !strings.Contains(insp, want) {
			t.Errorf("image inspect has no %s:\n%s", want, insp)
		}
	}
	// A running container is paused while its changes are read, and runs
	// on afterwards.
	c.ok("run", "-d", "--name", "live", "busybox:test", "sh", "-c", "echo live > /tmp/l; exec sleep 1000")
	waitFor(t, "the file", func() bool { out, _, _ := c.run(nil, "diff", "live"); return strings.Contains(out, "A /tmp/l") })
	c.ok("commit", "live", "committed:live")
	if got := c.field("live", "{{.State.Status}}"); got != "running" {
		t.Errorf("after commit the container is %s", got)
	}
	if got := c.ok("run", "--rm", "committed:live", "cat", "/tmp/l"); got != "live\n" {
		t.Errorf("image of a running container: %q", got)
	}
	// An untagged commit, then a commit of its container's container.
	c.ok("run", "--name", "second", "committed:v1", "sh", "-c", "rm -r /made; echo z > /tmp/new")
	id2 := strings.TrimSpace(c.ok("commit", "second"))
	if got := c.ok("run", "--rm", id2, "sh", "-c", "test -e /made || echo nomade; cat /tmp/new"); got != "nomade\nz\n" {
		t.Errorf("second commit: %q", got)
	}
	// The mount points of /etc/hosts and the rest stay out of a commit,
	// and so does an /etc made only to hold them (docker's init layer
	// keeps them): the image of a container that wrote nothing has no
	// /etc if its image had none.
	importNoEtc(t, c)
	c.ok("run", "--name", "quiet", "noetc:test", "true")
	c.ok("commit", "quiet", "committed:quiet")
	if names := topLayerNames(t, c, "committed:quiet"); len(names) != 0 {
		t.Errorf("the layer committed from a container that wrote nothing holds %v, want nothing", names)
	}
	c.ok("rm", "quiet")
	c.fails(1, "commit", "nosuch")
	if errs := c.fails(125, "commit", "-c", "FROB x", "ch"); !strings.Contains(errs, "FROB") {
		t.Errorf("bad --change: %q", errs)
	}
	c.ok("rm", "-f", "ch", "live", "second")
	c.assertClean()
}

// topLayerNames lists the entries of image ref's last layer, read from
// pelagos save's archive.
func topLayerNames(t *testing.T, c *cli, ref string) []string {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "img.tar")
	c.ok("save", "-o", archive, ref)
	files := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	var manifest []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) == 0 {
		t.Fatalf("save of %s: manifest.json %q: %v", ref, files["manifest.json"], err)
	}
	layer := files[manifest[0].Layers[len(manifest[0].Layers)-1]]
	if zr, err := gzip.NewReader(bytes.NewReader(layer)); err == nil {
		if layer, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return tarNames(t, layer)
}

// importNoEtc imports noetc:test, busybox's applets and nothing else: an
// image without /etc.
func importNoEtc(t *testing.T, c *cli) {
	t.Helper()
	tarball := filepath.Join(t.TempDir(), "noetc.tar")
	if err := os.WriteFile(tarball, imagetest.Tar(t, imagetest.BusyboxApplets(t)...), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok("import", tarball, "noetc:test")
}
