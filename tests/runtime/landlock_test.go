package runtime_test

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/pelagos-go/pelagos/tests/bundle"
)

// The landlock annotation confines the container process: with the whole
// tree read-only and /tmp writable, root in the container can write /tmp
// but not /etc, though the root filesystem itself is writable.
func TestLandlockAnnotation(t *testing.T) {
	r := newRuntime(t)
	script := `touch /tmp/ok && echo tmp-ok; touch /etc/blocked 2>/dev/null && echo etc-written; true`
	b := newBundle(t, bundle.WritableRoot(), bundle.Args("sh", "-c", script), func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.github.pelagos-go.landlock": "ro=/;rw=/tmp,/dev"}
	})
	out := r.mustRun("run", "--bundle", b.Dir, "landlock1")
	if !strings.Contains(out, "tmp-ok") {
		t.Errorf("writing /tmp under the ruleset failed: %q", out)
	}
	if strings.Contains(out, "etc-written") {
		t.Errorf("the ruleset let the process write /etc: %q", out)
	}
	// Control: without the annotation the same process writes /etc.
	b2 := newBundle(t, bundle.WritableRoot(), bundle.Args("sh", "-c", script))
	if out := r.mustRun("run", "--bundle", b2.Dir, "landlock2"); !strings.Contains(out, "etc-written") {
		t.Errorf("without a ruleset /etc was not writable either (the test proves nothing): %q", out)
	}
	// A malformed annotation is refused before anything is created.
	b3 := newBundle(t, bundle.Args("true"), func(s *specs.Spec) {
		s.Annotations = map[string]string{"io.github.pelagos-go.landlock": "rx=/tmp"}
	})
	if _, errs, err := r.run("run", "--bundle", b3.Dir, "landlock3"); err == nil || !strings.Contains(errs, "ro or rw") {
		t.Errorf("malformed landlock annotation: err %v, stderr %q", err, errs)
	}
}
