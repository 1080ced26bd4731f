package cli

import (
	"testing"
	"time"
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
