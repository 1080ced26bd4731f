package monitor

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestArgsRoundTrip(t *testing.T) {
	for _, o := range []Options{
		{LogPath: "/l", MaxFiles: 1, Step: []string{"/bin/pelagos", "__monitor-step", "id"}},
		{LogPath: "/l", MaxSize: 1 << 20, MaxFiles: 3, TTY: true, Stdin: true, RestartAfter: 1500 * time.Millisecond, AttachPath: "/c/attach.sock", Step: []string{"p", "--", "x"}},
	} {
		got, err := parseArgs(o.Args())
		if err != nil {
			t.Fatalf("parseArgs(%q): %v", o.Args(), err)
		}
		if diff := cmp.Diff(o, got); diff != "" {
			t.Errorf("parseArgs(Args()) (-want +got):\n%s", diff)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		nil, {"--log"}, {"--log", "/l"}, {"--log", "/l", "--"}, {"--log", "/l", "--log-max-size", "x", "--", "s"}, {"--bogus", "--", "s"},
	} {
		if _, err := parseArgs(args); err == nil {
			t.Errorf("parseArgs(%q) succeeded", args)
		}
	}
}
