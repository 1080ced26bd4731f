package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Healthcheck is a container's health check, in the shape and JSON names
// of Docker's Config.Healthcheck. Zero durations and retries mean
// Docker's defaults (see the constants below).
type Healthcheck struct {
	// Test: [] inherits the image's, ["NONE"] disables, ["CMD", args...]
	// runs args, ["CMD-SHELL", command] runs command with /bin/sh -c.
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Health states, as Docker names them.
const (
	HealthNone      = "none"
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is the state of a container's health check (docker inspect's
// State.Health).
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one probe's result.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Docker's defaults and limits for health checks.
const (
	healthInterval      = 30 * time.Second
	healthTimeout       = 30 * time.Second
	healthStartInterval = 5 * time.Second
	healthRetries       = 3
	// healthLogEntries results are kept, oldest first.
	healthLogEntries = 5
	// healthOutputMax bytes of a probe's output are kept.
	healthOutputMax = 4096
	// minHealthDuration is the shortest duration Docker accepts.
	minHealthDuration = time.Millisecond
)

// Active reports whether h runs a probe (it has a test that is not NONE).
func (h *Healthcheck) Active() bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// validateHealthcheck refuses what Docker's daemon refuses.
func validateHealthcheck(h *Healthcheck) error {
	if h == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < minHealthDuration {
			return errorf(ErrInvalid, "%s in Healthcheck cannot be less than %s", d.name, minHealthDuration)
		}
	}
	if h.Retries < 0 {
		return errorf(ErrInvalid, "Retries in Healthcheck cannot be negative")
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return errorf(ErrInvalid, "unknown type in Healthcheck Test: %q (want NONE, CMD or CMD-SHELL)", h.Test[0])
		}
		if h.Test[0] != "NONE" && len(h.Test) < 2 {
			return errorf(ErrInvalid, "Healthcheck %s needs a command", h.Test[0])
		}
	}
	return nil
}

// mergeHealthcheck fills what the user's health check leaves unset from
// the image's, as Docker merges them.
func mergeHealthcheck(user *Healthcheck, image *v1.HealthConfig) *Healthcheck {
	if image == nil {
		return user
	}
	if user == nil {
		return &Healthcheck{
			Test: image.Test, Interval: image.Interval, Timeout: image.Timeout,
			StartPeriod: image.StartPeriod, Retries: image.Retries,
		}
	}
	h := *user
	if len(h.Test) == 0 {
		h.Test = image.Test
	}
	if h.Interval == 0 {
		h.Interval = image.Interval
	}
	if h.Timeout == 0 {
		h.Timeout = image.Timeout
	}
	if h.StartPeriod == 0 {
		h.StartPeriod = image.StartPeriod
	}
	if h.Retries == 0 {
		h.Retries = image.Retries
	}
	return &h
}

// healthOnStart is the health state of a run that begins: starting, the
// streak reset, the log kept (nil when c has no health check).
func healthOnStart(c *Container) *Health {
	if !c.Config.Healthcheck.Active() {
		return nil
	}
	h := &Health{Status: HealthStarting}
	if c.State.Health != nil {
		h.Log = c.State.Health.Log
	}
	return h
}

// healthOnExit is the health state once the process exited: unhealthy,
// as Docker sets it when its probes stop.
func healthOnExit(h *Health) *Health {
	if h == nil {
		return nil
	}
	out := *h
	out.Status = HealthUnhealthy
	return &out
}

// HealthDelay is how long after now the next probe of c runs (Docker's
// rule: the start interval while the container is starting within its
// start period, the interval otherwise). ok is false when c runs no
// probes.
func HealthDelay(c *Container) (d time.Duration, ok bool) {
	hc := c.Config.Healthcheck
	if !hc.Active() || !c.State.Running {
		return 0, false
	}
	interval := orDefault(hc.Interval, healthInterval)
	if time.Since(c.State.StartedAt) >= hc.StartPeriod {
		return interval, true
	}
	if c.State.Health == nil || c.State.Health.Status == HealthStarting {
		return orDefault(hc.StartInterval, healthStartInterval), true
	}
	return interval, true
}

// HealthCheck runs one probe of running container ref, records its
// result, and returns the delay until the next probe (ok false: no more
// probes, the container stopped or has no health check). The probe is
// killed when it runs past the timeout.
func (e *Engine) HealthCheck(ctx context.Context, ref string) (next time.Duration, ok bool, err error) {
	c, err := e.Get(ctx, ref)
	if err != nil {
		return 0, false, err
	}
	hc := c.Config.Healthcheck
	if !hc.Active() || !c.State.Running {
		return 0, false, nil
	}
	started := c.State.StartedAt
	res := e.probe(ctx, c.ID, hc)
	return e.recordHealth(ctx, c.ID, started, res)
}

// probe runs the health check's command in the container and collects
// its result; a probe that cannot start or times out has exit code -1.
func (e *Engine) probe(ctx context.Context, id string, hc *Healthcheck) (res HealthResult) {
	res = HealthResult{Start: time.Now().UTC(), ExitCode: -1}
	defer func() { res.End = time.Now().UTC() }()
	args := hc.Test[1:]
	if hc.Test[0] == "CMD-SHELL" {
		args = []string{"/bin/sh", "-c", hc.Test[1]}
	}
	timeout := orDefault(hc.Timeout, healthTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	null, err := os.Open(os.DevNull)
	if err != nil {
		res.Output = err.Error()
		return res
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		res.Output = err.Error()
		return res
	}
	defer r.Close()
	out := make(chan []byte, 1)
	go func() { out <- readLimited(r, healthOutputMax) }()
	proc, err := e.Exec(ctx, id, ExecOptions{Cmd: args, Stdio: Stdio{Stdin: null, Stdout: w, Stderr: w}})
	w.Close()
	if err != nil {
		r.Close()
		<-out
		res.Output = err.Error()
		return res
	}
	code := make(chan int, 1)
	go func() { c, _ := proc.Wait(); code <- c }()
	select {
	case res.ExitCode = <-code:
	case <-ctx.Done():
		// The probe's process only: its container goes on running.
		_ = unix.Kill(proc.Pid(), unix.SIGKILL)
		<-code
		res.Output = fmt.Sprintf("Health check exceeded timeout (%s)", timeout)
		// Processes the probe started may still hold the pipe.
		_ = r.SetReadDeadline(time.Now())
		<-out
		return res
	}
	// A child the probe left behind may keep the pipe open: wait for the
	// rest of the output a little, not for that child.
	_ = r.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	res.Output = string(<-out)
	return res
}

// readLimited reads r to its end, keeping the first max bytes.
func readLimited(r io.Reader, max int) []byte {
	var buf bytes.Buffer
	_, _ = io.Copy(&limitedBuffer{b: &buf, max: max}, r)
	return buf.Bytes()
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// recordHealth applies a probe's result to the record of the run that
// started at started (a result for an earlier run is dropped), as
// Docker's handleProbeResult does.
func (e *Engine) recordHealth(ctx context.Context, id string, started time.Time, res HealthResult) (time.Duration, bool, error) {
	l, err := e.lockContainer(ctx, id)
	if err != nil {
		return 0, false, err
	}
	defer l.unlock()
	c, err := loadRecord(filepath.Join(e.containersDir(), id))
	if err != nil {
		return 0, false, err
	}
	if !c.State.Running || !c.State.StartedAt.Equal(started) || !c.Config.Healthcheck.Active() {
		return 0, false, nil
	}
	h := c.State.Health
	if h == nil {
		h = &Health{Status: HealthStarting}
		c.State.Health = h
	}
	was := h.Status
	applyResult(h, c.Config.Healthcheck, started, res)
	if err := c.save(); err != nil {
		return 0, false, err
	}
	if h.Status != was {
		e.event(c, "health_status: "+h.Status, nil)
	}
	d, ok := HealthDelay(c)
	return d, ok, nil
}

// applyResult updates h with res: a success makes it healthy; a failure
// counts towards the retries, except while it is starting within the
// start period.
func applyResult(h *Health, hc *Healthcheck, started time.Time, res HealthResult) {
	h.Log = append(h.Log, res)
	if n := len(h.Log); n > healthLogEntries {
		h.Log = append([]HealthResult(nil), h.Log[n-healthLogEntries:]...)
	}
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = HealthHealthy
		return
	}
	if h.Status == HealthStarting && res.Start.Sub(started) < hc.StartPeriod {
		return
	}
	h.FailingStreak++
	retries := hc.Retries
	if retries == 0 {
		retries = healthRetries
	}
	if h.FailingStreak >= retries {
		h.Status = HealthUnhealthy
	}
}
