package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyResult(t *testing.T) {
	started := time.Unix(1000, 0)
	at := func(d time.Duration, code int) HealthResult {
		return HealthResult{Start: started.Add(d), ExitCode: code}
	}
	tests := []struct {
		name    string
		hc      Healthcheck
		from    Health
		results []HealthResult
		want    string
		streak  int
	}{
		{"success makes healthy", Healthcheck{}, Health{Status: HealthStarting}, []HealthResult{at(0, 0)}, HealthHealthy, 0},
		{"default retries are three", Healthcheck{}, Health{Status: HealthStarting}, []HealthResult{at(0, 1), at(1, 1)}, HealthStarting, 2},
		{"third failure", Healthcheck{}, Health{Status: HealthStarting}, []HealthResult{at(0, 1), at(1, 1), at(2, 2)}, HealthUnhealthy, 3},
		{"start period excuses", Healthcheck{StartPeriod: time.Minute, Retries: 1}, Health{Status: HealthStarting}, []HealthResult{at(0, 1), at(time.Second, 1)}, HealthStarting, 0},
		{"after the start period", Healthcheck{StartPeriod: time.Minute, Retries: 1}, Health{Status: HealthStarting}, []HealthResult{at(2*time.Minute, 1)}, HealthUnhealthy, 1},
		{"healthy is not excused", Healthcheck{StartPeriod: time.Minute, Retries: 1}, Health{Status: HealthHealthy}, []HealthResult{at(0, 1)}, HealthUnhealthy, 1},
		{"timeout counts", Healthcheck{Retries: 1}, Health{Status: HealthHealthy}, []HealthResult{at(0, -1)}, HealthUnhealthy, 1},
		{"success resets the streak", Healthcheck{}, Health{Status: HealthUnhealthy, FailingStreak: 9}, []HealthResult{at(0, 0)}, HealthHealthy, 0},
	}
	for _, tt := range tests {
		h := tt.from
		for _, r := range tt.results {
			applyResult(&h, &tt.hc, started, r)
		}
		if h.Status != tt.want || h.FailingStreak != tt.streak {
			t.Errorf("%s: status %s streak %d, want %s %d", tt.name, h.Status, h.FailingStreak, tt.want, tt.streak)
		}
	}
}

func TestApplyResultKeepsFiveEntries(t *testing.T) {
	h := Health{Status: HealthStarting}
	for i := range 8 {
		applyResult(&h, &Healthcheck{}, time.Time{}, HealthResult{ExitCode: i})
	}
	var got []int
	for _, l := range h.Log {
		got = append(got, l.ExitCode)
	}
	if diff := cmp.Diff([]int{3, 4, 5, 6, 7}, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestHealthDelay(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		hc     *Healthcheck
		health *Health
		since  time.Duration
		want   time.Duration
		ok     bool
	}{
		{"none", nil, nil, 0, 0, false},
		{"disabled", &Healthcheck{Test: []string{"NONE"}}, nil, 0, 0, false},
		{"default interval", &Healthcheck{Test: []string{"CMD", "true"}}, nil, 0, 30 * time.Second, true},
		{"start interval while starting", &Healthcheck{Test: []string{"CMD", "true"}, StartPeriod: time.Hour}, &Health{Status: HealthStarting}, 0, 5 * time.Second, true},
		{"interval once healthy", &Healthcheck{Test: []string{"CMD", "true"}, StartPeriod: time.Hour, Interval: time.Second}, &Health{Status: HealthHealthy}, 0, time.Second, true},
		{"interval after the start period", &Healthcheck{Test: []string{"CMD", "true"}, StartPeriod: time.Minute, StartInterval: time.Millisecond, Interval: time.Second}, &Health{Status: HealthStarting}, time.Hour, time.Second, true},
	}
	for _, tt := range tests {
		c := &Container{Config: Config{Healthcheck: tt.hc}, State: State{Running: true, StartedAt: now.Add(-tt.since), Health: tt.health}}
		got, ok := HealthDelay(c)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: HealthDelay = %v, %v, want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMergeAndValidateHealthcheck(t *testing.T) {
	image := &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 4}
	got := mergeHealthcheck(&Healthcheck{Retries: 7, Timeout: time.Minute}, image)
	want := &Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second, Timeout: time.Minute, Retries: 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	for _, bad := range []*Healthcheck{
		{Test: []string{"CMD", "true"}, Interval: time.Microsecond},
		{Test: []string{"CMD", "true"}, Retries: -1},
		{Test: []string{"SHELL", "true"}},
		{Test: []string{"CMD-SHELL"}},
	} {
		if err := validateHealthcheck(bad); err == nil {
			t.Errorf("validateHealthcheck(%+v) accepted it", bad)
		}
	}
	if err := validateHealthcheck(&Healthcheck{Test: []string{"NONE"}}); err != nil {
		t.Errorf("NONE refused: %v", err)
	}
}
