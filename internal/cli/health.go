package cli

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/pflag"

	"github.com/pelagos-go/pelagos/internal/engine"
)

// healthFlags are run's and create's health check flags.
type healthFlags struct {
	cmd                                           string
	interval, timeout, startPeriod, startInterval time.Duration
	retries                                       int
	none                                          bool
}

func (h *healthFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&h.cmd, "health-cmd", "", "command to run to check health")
	fl.DurationVar(&h.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.startPeriod, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fl.DurationVar(&h.startInterval, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 0s)")
	fl.IntVar(&h.retries, "health-retries", 0, "consecutive failures needed to report unhealthy")
	fl.BoolVar(&h.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
}

// apply sets c.Healthcheck as docker's CLI does: --no-healthcheck gives
// ["NONE"]; any --health-* gives a check whose unset parts the image's
// fills in.
func (h *healthFlags) apply(fl *pflag.FlagSet, c *engine.Config) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", h.interval}, {"timeout", h.timeout}, {"start-period", h.startPeriod}, {"start-interval", h.startInterval}} {
		if d.v < 0 {
			return errors.New("--health-" + d.name + " cannot be negative")
		}
	}
	if h.retries < 0 {
		return errors.New("--health-retries cannot be negative")
	}
	set := false
	for _, n := range []string{"health-cmd", "health-interval", "health-timeout", "health-start-period", "health-start-interval", "health-retries"} {
		set = set || fl.Changed(n)
	}
	if h.none {
		if set {
			return errors.New("--no-healthcheck conflicts with --health-* options")
		}
		c.Healthcheck = &engine.Healthcheck{Test: []string{"NONE"}}
		return nil
	}
	if !set {
		return nil
	}
	c.Healthcheck = &engine.Healthcheck{
		Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod,
		StartInterval: h.startInterval, Retries: h.retries,
	}
	if h.cmd != "" {
		c.Healthcheck.Test = []string{"CMD-SHELL", h.cmd}
	}
	return nil
}

// healthLoop runs c's health checks in this process, for a foreground
// run (its own monitor), until the returned stop is called; stop waits
// for a probe in progress.
func healthLoop(ctx context.Context, e *engine.Engine, c *engine.Container) (stop func()) {
	d, ok := engine.HealthDelay(c)
	if !ok {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			next, ok, _ := e.HealthCheck(ctx, c.ID)
			if !ok {
				return
			}
			t.Reset(next)
		}
	}()
	return func() { close(done); <-finished }
}
