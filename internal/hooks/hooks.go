// Package hooks runs OCI lifecycle hooks: each hook is executed with the
// container's state JSON on its stdin, its own argv and environment, and
// its timeout. The caller decides what a failure means for the lifecycle
// (the runtime-spec makes poststart and poststop failures warnings and the
// others fatal).
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Error reports which hook failed and how.
type Error struct {
	Kind   string // "prestart", "createRuntime", ...
	Path   string
	Err    error
	Output string // what the hook wrote to stderr and stdout, trimmed
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s hook %s: %v", e.Kind, e.Path, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs hooks in order and stops at the first failure.
func Run(ctx context.Context, kind string, list []specs.Hook, state *specs.State) error {
	if len(list) == 0 {
		return nil
	}
	input, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for _, h := range list {
		if err := runOne(ctx, h, input); err != nil {
			err.Kind = kind
			return err
		}
	}
	return nil
}

// RunAll runs every hook even when some fail, and returns the failures
// joined (for poststart and poststop, whose failures are warnings).
func RunAll(ctx context.Context, kind string, list []specs.Hook, state *specs.State) error {
	input, err := json.Marshal(state)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range list {
		if err := runOne(ctx, h, input); err != nil {
			err.Kind = kind
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func runOne(ctx context.Context, h specs.Hook, input []byte) *Error {
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The hook may leave children holding the output pipe; don't wait for
	// them beyond the hook's own exit.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	return &Error{Path: h.Path, Err: err, Output: strings.TrimSpace(out.String())}
}
