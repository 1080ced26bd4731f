package rootless

import (
	"strings"
	"testing"

	"github.com/pelagos-go/pelagos/internal/image/imagetest"
)

// A rootless pull goes through pelagos-registry like a root one: pelagos,
// already in the user's namespaces, replaces itself with the helper,
// which pulls into the user's store; the image then runs.
func TestRootlessPullThroughTheHelper(t *testing.T) {
	c := newCLI(t)
	host := imagetest.Registry(t, nil)
	imagetest.Push(t, host+"/lib/bb:1", imagetest.Busybox(t))
	c.ok("pull", "-q", host+"/lib/bb:1")
	if got := strings.TrimSpace(c.ok("images", "--format", "{{.Repository}}:{{.Tag}}", host+"/lib/bb")); got != host+"/lib/bb:1" {
		t.Errorf("images after the pull: %q", got)
	}
	if got := strings.TrimSpace(c.ok("run", "--rm", "--network", "none", host+"/lib/bb:1", "echo", "pulled")); got != "pulled" {
		t.Errorf("run of the pulled image = %q", got)
	}
}
