package engine

import (
	"archive/tar"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/pelagos-go/pelagos/internal/engine"
	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// platformImage is busybox (which runs here whatever the config says)
// labelled for platform, with /platform naming it.
func platformImage(t *testing.T, platform string) v1.Image {
	base := imagetest.Layer(t, imagetest.BusyboxTar(t), compression.GZip)
	marker := imagetest.Layer(t, imagetest.Tar(t, imagetest.Entry{Name: "platform", Type: tar.TypeReg, Body: []byte(platform)}), compression.GZip)
	return imagetest.Image(t, platform, base, marker)
}

// TestPlatform: --platform picks the image of that platform (pulling it
// when the local one is another's), --pull never refuses a mismatch with
// docker's words, and an image of another platform than the host's runs
// with docker's warning when no platform was asked for.
func TestPlatform(t *testing.T) {
	c := newCLI(t)
	host := imagetest.Registry(t, nil)
	img := host + "/lib/multi:1"
	imagetest.Push(t, img, imagetest.Index(t, map[string]v1.Image{
		"linux/amd64": platformImage(t, "linux/amd64"), "linux/arm64": platformImage(t, "linux/arm64"),
	}))
	single := host + "/lib/single:1"
	imagetest.Push(t, single, platformImage(t, "linux/arm64"))
	hostPlatform := engine.HostPlatform().String()
	warning := "WARNING: The requested image's platform (linux/arm64) does not match the detected host platform (" + hostPlatform + ") and no specific platform was requested\n"

	// The local image is arm64's: without --platform it runs, with the
	// warning (busybox in it is the host's, so it runs here).
	c.ok("pull", "-q", "--platform", "linux/arm64", img)
	for _, verb := range [][]string{{"run", "--rm"}, {"create"}} {
		out, errs, code := c.run(nil, append(verb, img, "cat", "/platform")...)
		if code != 0 || errs != warning {
			t.Errorf("%s of a linux/arm64 image: exit %d, stderr %q, want the warning %q", verb[0], code, errs, warning)
		}
		if verb[0] == "run" && out != "linux/arm64" {
			t.Errorf("run: %q", out)
		}
	}
	// --platform of the local image's: used as is, no pull, no warning.
	out, errs, code := c.run(nil, "run", "--rm", "--platform", "linux/arm64", img, "cat", "/platform")
	if code != 0 || errs != "" || out != "linux/arm64" {
		t.Errorf("run --platform linux/arm64: exit %d, out %q, stderr %q", code, out, errs)
	}
	// Another platform with --pull never: docker's error, exit 125.
	errs = c.fails(125, "run", "--rm", "--pull", "never", "--platform", "linux/amd64", img, "true")
	if want := "image with reference " + img + " was found but does not match the specified platform: wanted linux/amd64, actual: linux/arm64"; !strings.Contains(errs, want) || strings.Count(errs, "\n") != 1 {
		t.Errorf("--pull never --platform linux/amd64: stderr %q, want one line with %q", errs, want)
	}
	// With --pull missing it is pulled for that platform, and from then on
	// the local image is amd64's: no warning without --platform.
	out, errs, code = c.run(nil, "run", "--rm", "--platform", "linux/amd64", img, "cat", "/platform")
	if code != 0 || out != "linux/amd64" || !strings.HasPrefix(errs, "Unable to find image '"+img+"' locally\n") {
		t.Errorf("run --platform linux/amd64 (pull): exit %d, out %q, stderr %q", code, out, errs)
	}
	if out, errs, _ := c.run(nil, "run", "--rm", img, "cat", "/platform"); out != "linux/amd64" || errs != "" {
		t.Errorf("run after the amd64 pull: out %q, stderr %q", out, errs)
	}
	// Mismatches that cannot be resolved: the index has no s390x, the
	// single-platform image is arm64's whatever is asked.
	for _, tc := range []struct{ args []string }{
		{[]string{"--platform", "linux/s390x", img}},
		{[]string{"--platform", "linux/amd64", single}},
		{[]string{"--platform", "linux/amd64", "--pull", "always", single}},
	} {
		for _, verb := range []string{"run", "create"} {
			errs := c.fails(125, append(append([]string{verb}, tc.args...), "true")...)
			last := errs[strings.LastIndex(strings.TrimSuffix(errs, "\n"), "\n")+1:]
			if !strings.Contains(last, "platform") {
				t.Errorf("%s %v: stderr %q, want an error naming the platform", verb, tc.args, errs)
			}
		}
	}
	// Bad values.
	for _, p := range []string{"linux", "linux/", "windows/amd64", "linux/z80", "linux/amd64/v3/x"} {
		errs := c.fails(125, "run", "--rm", "--platform", p, "busybox:test", "true")
		if !strings.Contains(errs, "invalid platform") || strings.Count(errs, "\n") != 1 {
			t.Errorf("--platform %q: stderr %q, want one line saying invalid platform", p, errs)
		}
	}
	if ps := strings.Fields(c.ok("ps", "-aq")); len(ps) != 1 {
		t.Errorf("containers: %v, want the one made by create", ps)
	}
	c.ok("container", "prune", "-f")
	c.assertClean()
}
