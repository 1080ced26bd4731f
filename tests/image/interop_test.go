package image

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pelagos-go/pelagos/internal/image/snapshot"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

func pushWith(t *testing.T, ref string, img v1.Image, user, pass string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass})); err != nil {
		t.Fatal(err)
	}
}

func ociImage(t *testing.T) v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(twoLayer(t), types.OCIManifestSchema1), types.OCIConfigJSON)
}

func TestSkopeoPushedPelagosPulls(t *testing.T) {
	need(t, "skopeo")
	host := realRegistry(t)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, emptyIndex())
	if err != nil {
		t.Fatal(err)
	}
	img := ociImage(t)
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	sh(t, "skopeo", "copy", "--dest-tls-verify=false", "oci:"+dir+":v1", "docker://"+host+"/sk/img:v1")
	c := newCLI(t)
	c.ok("pull", host+"/sk/img:v1")
	id, _ := img.ConfigName()
	if got := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Id}}", host+"/sk/img:v1")); got != id.String() {
		t.Errorf("pulled ID %s, want %s", got, id)
	}
}

func TestPelagosPushedSkopeoReads(t *testing.T) {
	need(t, "skopeo")
	host := realRegistry(t)
	// skopeo rightly refuses zstd layers in a Docker schema 2 manifest.
	img := layered(t, compression.GZip)
	imagetest_push(t, host+"/src/img:1", img)
	c := newCLI(t)
	c.ok("pull", host+"/src/img:1")
	c.ok("tag", host+"/src/img:1", host+"/dst/img:2")
	out := c.ok("push", host+"/dst/img:2")
	// The image came from src/img of the same registry: docker-registry
	// keeps blobs per repository, and mounts each one across.
	if !strings.Contains(out, "2: digest: sha256:") || strings.Count(out, "Mounted from src/img") != 3 {
		t.Errorf("push output (want 3 layers mounted from src/img):\n%s", out)
	}
	// Pushed again: every layer is already there.
	if out := c.ok("push", host+"/dst/img:2"); strings.Count(out, "Layer already exists") != 3 {
		t.Errorf("second push output:\n%s", out)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	sh(t, "skopeo", "copy", "--src-tls-verify=false", "docker://"+host+"/dst/img:2", "oci:"+dst+":x")
	wantDigest, _ := img.Digest()
	got := sh(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", "docker://"+host+"/dst/img:2")
	if strings.TrimSpace(got) != wantDigest.String() {
		t.Errorf("pushed manifest digest %s, want the original %s (push must not rewrite it)", got, wantDigest)
	}
}

func TestPodmanArchives(t *testing.T) {
	need(t, "podman")
	host := realRegistry(t)
	img := twoLayer(t)
	imagetest_push(t, host+"/pm/img:1", img)
	c := newCLI(t)
	c.ok("pull", host+"/pm/img:1")
	dir := t.TempDir()
	podman := func(args ...string) string {
		base := []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}
		return sh(t, "podman", append(base, args...)...)
	}
	archive := filepath.Join(dir, "pelagos.tar")
	c.ok("save", "-o", archive, host+"/pm/img:1")
	podman("load", "-i", archive)
	id, _ := img.ConfigName()
	if got := podman("image", "inspect", "--format", "{{.Id}}", host+"/pm/img:1"); strings.TrimSpace(got) != id.Hex {
		t.Errorf("podman loaded ID %q, want %s", got, id.Hex)
	}
	podman("tag", host+"/pm/img:1", "localhost/frompodman:2")
	back := filepath.Join(dir, "podman.tar")
	podman("save", "-o", back, "localhost/frompodman:2")
	out := c.ok("load", "-i", back)
	if !strings.Contains(out, "Loaded image: localhost/frompodman:2") {
		t.Errorf("pelagos load of podman save = %q", out)
	}
	if got := strings.TrimSpace(c.ok("image", "inspect", "-f", "{{.Id}}", "localhost/frompodman:2")); got != id.String() {
		t.Errorf("pelagos loaded ID %s, want %s", got, id)
	}
}

// TestUmociAgrees checks that umoci reads pelagos's OCI layout and that
// the root filesystem umoci unpacks equals pelagos's overlay snapshot of
// the same multi-layer image with whiteouts.
func TestUmociAgrees(t *testing.T) {
	need(t, "umoci", "tar")
	host := realRegistry(t)
	// umoci 0.4 reads gzip and plain layers only, not zstd.
	imagetest_push(t, host+"/um/img:1", layered(t, compression.GZip))
	c := newCLI(t)
	c.ok("pull", host+"/um/img:1")
	dir := t.TempDir()
	archive := filepath.Join(dir, "oci.tar")
	c.ok("save", "--format", "oci-archive", "-o", archive, host+"/um/img:1")
	layoutDir := filepath.Join(dir, "layout")
	os.Mkdir(layoutDir, 0o755)
	sh(t, "tar", "-xf", archive, "-C", layoutDir)
	bundle := filepath.Join(dir, "bundle")
	sh(t, "umoci", "unpack", "--image", layoutDir+":1", bundle)

	st, err := store.Open(filepath.Join(c.root, "image"))
	if err != nil {
		t.Fatal(err)
	}
	imgRec, err := st.Lookup(host + "/um/img:1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := snapshot.View(ctx, st, imgRec.ID, "pelagos-image-umoci")
	if err != nil {
		t.Fatal(err)
	}
	defer snapshot.Remove(ctx, st, s.ID)
	target, err := os.MkdirTemp("", "pelagos-image-umoci-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(target)
	if err := snapshot.Mount(s, target); err != nil {
		t.Fatal(err)
	}
	defer snapshot.Unmount(target)
	want, got := describeTree(t, filepath.Join(bundle, "rootfs")), describeTree(t, target)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pelagos rootfs differs from umoci's (-umoci +pelagos):\n%s", diff)
	}
	if len(got) < 10 {
		t.Errorf("rootfs has only %d entries", len(got))
	}
}

func describeTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		s := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			s += " " + v1Digest(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			s += " -> " + l
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

var _ = exec.Command
