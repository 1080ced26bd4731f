package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pelagos-go/pelagos/internal/image/registryconfig"
)

// "0" is Unix time 0 for --since/--until, as docker's GetTimestamp reads
// it, not a zero duration (which would mean now).
func TestTimeArgZeroIsTheEpoch(t *testing.T) {
	now := time.Date(2026, 11, 29, 7, 0, 0, 0, time.UTC)
	for name, parse := range map[string]func(string, time.Time) (time.Time, error){
		"parseEventTime": parseEventTime, "parseTimeArg": parseTimeArg,
	} {
		for _, tc := range []struct {
			in   string
			want time.Time
		}{
			{"0", time.Unix(0, 0)},
			{"10m", now.Add(-10 * time.Minute)},
			{"1700000000.5", time.Unix(1700000000, 500000000)},
		} {
			got, err := parse(tc.in, now)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("%s(%q) = %v, %v; want %v", name, tc.in, got, err, tc.want)
			}
		}
	}
}

func TestRegistryInfo(t *testing.T) {
	got := registryInfo(registryconfig.Config{
		Mirrors:  map[string][]string{"docker.io": {"mirror.lan:5000"}, "quay.io": {"q.lan"}},
		Insecure: []string{"10.0.0.0/8", "registry.lan:5000"},
	})
	want := registryServiceConfig{
		AllowNondistributableArtifactsCIDRs: []string{}, AllowNondistributableArtifactsHostnames: []string{},
		InsecureRegistryCIDRs: []string{"127.0.0.0/8", "10.0.0.0/8"},
		IndexConfigs: map[string]registryIndexInfo{
			"docker.io":         {Name: "docker.io", Mirrors: []string{"mirror.lan:5000"}, Secure: true, Official: true},
			"registry.lan:5000": {Name: "registry.lan:5000", Mirrors: []string{}},
			"quay.io":           {Name: "quay.io", Mirrors: []string{"q.lan"}, Secure: true},
		},
		Mirrors: []string{"mirror.lan:5000"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registryInfo (-want +got):\n%s", diff)
	}
}
