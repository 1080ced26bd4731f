package image

import (
	"archive/tar"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// twoLayer is busybox plus a layer that deletes a file and makes a
// directory opaque.
func twoLayer(t *testing.T) v1.Image { return layered(t, compression.ZStd) }

// layered is twoLayer with the top layer compressed by topComp.
func layered(t *testing.T, topComp compression.Compression) v1.Image {
	base := imagetest.Tar(t, imagetest.Entry{Name: "data/", Type: tar.TypeDir},
		imagetest.Entry{Name: "data/old", Type: tar.TypeReg, Body: []byte("old")},
		imagetest.Entry{Name: "etc/motd", Type: tar.TypeReg, Body: []byte("hi")})
	top := imagetest.Tar(t, imagetest.Entry{Name: "etc/.wh.motd", Type: tar.TypeReg},
		imagetest.Entry{Name: "data/", Type: tar.TypeDir},
		imagetest.Entry{Name: "data/.wh..wh..opq", Type: tar.TypeReg},
		imagetest.Entry{Name: "data/new", Type: tar.TypeReg, Body: []byte("new")})
	return imagetest.Image(t, "linux/amd64",
		imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip),
		imagetest.Layer(t, base, compression.GZip),
		imagetest.Layer(t, top, topComp))
}

func TestPullListInspectTagRmi(t *testing.T) {
	host := realRegistry(t)
	img := twoLayer(t)
	imagetest.Push(t, host+"/lib/bb:1", img)
	c := newCLI(t)

	out := c.ok("pull", host+"/lib/bb:1")
	for _, want := range []string{"1: Pulling from lib/bb", ": Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + host + "/lib/bb:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("pull output lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); lines[len(lines)-1] != host+"/lib/bb:1" {
		t.Errorf("pull's last line = %q, want the full reference", lines[len(lines)-1])
	}
	out = c.ok("pull", host+"/lib/bb:1")
	if !strings.Contains(out, "Already exists") || !strings.Contains(out, "Status: Image is up to date for") {
		t.Errorf("second pull output:\n%s", out)
	}

	id, _ := img.ConfigName()
	out = c.ok("images")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); !cmp.Equal(got, []string{"REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"}) {
		t.Errorf("images header = %q", lines[0])
	}
	if f := strings.Fields(lines[1]); len(lines) != 2 || f[0] != host+"/lib/bb" || f[1] != "1" || f[2] != id.Hex[:12] {
		t.Errorf("images rows:\n%s", out)
	}
	if got := strings.TrimSpace(c.ok("images", "-q")); got != id.Hex[:12] {
		t.Errorf("images -q = %q, want %s", got, id.Hex[:12])
	}
	if got := strings.TrimSpace(c.ok("images", "--format", "{{.Repository}}:{{.Tag}}")); got != host+"/lib/bb:1" {
		t.Errorf("images --format = %q", got)
	}
	if out := c.ok("images", "--digests"); !regexp.MustCompile(`sha256:[0-9a-f]{64}`).MatchString(out) {
		t.Errorf("images --digests shows no digest:\n%s", out)
	}

	var ins []map[string]any
	if err := json.Unmarshal([]byte(c.ok("image", "inspect", host+"/lib/bb:1")), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("inspect JSON: %v", err)
	}
	if ins[0]["Id"] != id.String() || len(ins[0]["RootFS"].(map[string]any)["Layers"].([]any)) != 3 {
		t.Errorf("inspect = %v", ins[0])
	}
	if got := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", id.Hex[:12])); got != "linux/amd64" {
		t.Errorf("inspect -f = %q", got)
	}
	if out := c.ok("history", host+"/lib/bb:1"); strings.Count(out, "imagetest layer") != 3 {
		t.Errorf("history:\n%s", out)
	}

	c.ok("tag", host+"/lib/bb:1", "mine")
	if out := c.ok("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "mine:latest") {
		t.Errorf("images after tag:\n%s", out)
	}
	if out := c.ok("rmi", "mine"); strings.TrimSpace(out) != "Untagged: mine:latest" {
		t.Errorf("rmi mine = %q", out)
	}
	out = c.ok("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}")
	if want := "Images|1|0\nContainers|0|0\nLocal Volumes|0|0\nBuild Cache|0|0\n"; out != want {
		t.Errorf("system df = %q, want %q", out, want)
	}
	out = c.ok("rmi", host+"/lib/bb:1")
	if !strings.Contains(out, "Untagged: "+host+"/lib/bb:1") || !strings.Contains(out, "Deleted: "+id.String()) {
		t.Errorf("rmi output:\n%s", out)
	}
	if out := strings.TrimSpace(c.ok("images", "-q")); out != "" {
		t.Errorf("images after rmi = %q", out)
	}
	for _, d := range []string{"layers", "blobs/sha256"} {
		if ents, _ := os.ReadDir(filepath.Join(c.root, "image", d)); len(ents) != 0 {
			t.Errorf("%s holds %d entries after rmi", d, len(ents))
		}
	}
}

func TestBadInputIsOneClearLine(t *testing.T) {
	host := realRegistry(t)
	cases := []struct{ ref, want string }{
		{"Bad/Name:x", `invalid reference "Bad/Name:x"`},
		{"alpine:bad tag", `invalid reference`},
		{"nonexistent.invalid/a/b:1", "nonexistent.invalid"},
		{host + "/missing/img:1", "404 Not Found"},
	}
	for _, tc := range cases {
		c := newCLI(t)
		out, errs, code := c.run(nil, "pull", tc.ref)
		if code != 1 || !strings.HasPrefix(errs, "Error: ") || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("pull %q: exit %d, stderr %q (stdout %q); want exit 1 and one line with %q", tc.ref, code, errs, out, tc.want)
		}
		if q := strings.TrimSpace(c.ok("images", "-q")); q != "" {
			t.Errorf("pull %q left images %q", tc.ref, q)
		}
	}
}

func TestLoginVerifiesCredentials(t *testing.T) {
	host := imagetest.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := newCLI(t)
	if _, errs, code := c.run([]byte("wrong\n"), "login", "-u", "alice", "--password-stdin", host); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("login with a wrong password: exit %d, stderr %q; want exit 1 naming 401", code, errs)
	}
	if _, errs, code := c.run(nil, "pull", host+"/a/b:1"); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("pull before login: exit %d, %q", code, errs)
	}
	out, errs, code := c.run([]byte("s3cret\n"), "login", "-u", "alice", "--password-stdin", host)
	if code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: exit %d, %q %q", code, out, errs)
	}
	// The credential is where docker keeps it, so pulls (and docker) find it.
	pushWith(t, host+"/a/b:1", imagetest.Busybox(t), "alice", "s3cret")
	c.ok("pull", host+"/a/b:1")
	if out := c.ok("logout", host); !strings.Contains(out, "Removing login credentials for "+host) {
		t.Errorf("logout = %q", out)
	}
	c.ok("rmi", host+"/a/b:1")
	if _, errs, code := c.run(nil, "pull", host+"/a/b:1"); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("pull after logout: exit %d, %q", code, errs)
	}
}

func TestImportSaveLoadRoundTrip(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfs, imagetest.BusyboxTar(t), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(c.ok("import", "--change", "CMD [\"/bin/sh\"]", rootfs, "imported:v1"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("import printed %q", id)
	}
	for _, format := range []string{"docker-archive", "oci-archive"} {
		archive := filepath.Join(dir, format+".tar")
		c.ok("save", "--format", format, "-o", archive, "imported:v1")
		c.ok("rmi", "imported:v1")
		out := c.ok("load", "-i", archive)
		if strings.TrimSpace(out) != "Loaded image: imported:v1" {
			t.Errorf("%s load = %q", format, out)
		}
		if got := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Id}}", "imported:v1")); got != id {
			t.Errorf("%s: loaded image ID %s, want %s", format, got, id)
		}
	}
}
