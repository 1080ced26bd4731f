package cli

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNaturalLess(t *testing.T) {
	got := []string{"v10", "v2", "a", "v1", "v02x", "v2a", "b1", "0"}
	sort.SliceStable(got, func(i, j int) bool { return naturalLess(got[i], got[j]) })
	want := []string{"0", "a", "b1", "v1", "v2", "v2a", "v02x", "v10"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("natural order (-want +got):\n%s", diff)
	}
	if naturalLess("x", "x") || naturalLess("a10", "a9") {
		t.Errorf("naturalLess: x < x or a10 < a9")
	}
}
