package cli

import (
	"os/exec"
	"strings"
	"testing"
)

// pelagos must not link the registry client (see Registry): an import of
// pull, push or registry from a local command's package would bring back
// its start-up cost to every command, silently.
func TestPelagosLinksNoRegistryClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/pelagos-go/pelagos/cmd/pelagos").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{
		"net/http",
		"crypto/tls",
		"github.com/opencontainers/go-digest",
		"github.com/google/go-containerregistry/pkg/name",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/pelagos-go/pelagos/internal/image/pull",
		"github.com/pelagos-go/pelagos/internal/image/push",
		"github.com/pelagos-go/pelagos/internal/image/registry",
		"github.com/pelagos-go/pelagos/internal/cli/remote",
	} {
		for _, d := range deps {
			if d == banned {
				t.Errorf("pelagos links %s; only pelagos-registry may", banned)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/pelagos-go/pelagos/internal/engine") {
		t.Errorf("go list output does not look like pelagos's dependencies:\n%.300s", out)
	}
}

// Only pelagos backs its heap with a huge page (internal/hugeheap): the
// monitor and pelagos-runc are measured for their memory against conmon
// and runc, and a huge page is 2 MiB of it.
func TestOnlyPelagosImportsHugeheap(t *testing.T) {
	const hh = "github.com/pelagos-go/pelagos/internal/hugeheap"
	for cmd, want := range map[string]bool{"pelagos": true, "pelagos-monitor": false, "pelagos-runc": false} {
		out, err := exec.Command("go", "list", "-deps", "github.com/pelagos-go/pelagos/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		if got := strings.Contains(" "+strings.Join(strings.Fields(string(out)), " ")+" ", " "+hh+" "); got != want {
			t.Errorf("%s imports %s: %v, want %v", cmd, hh, got, want)
		}
	}
}
