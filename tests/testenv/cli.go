package testenv

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// RunCLI runs bin with args and env, stdin from stdin (nil: none), and
// returns its stdout, stderr and exit code. A program that cannot be run
// at all fails the test.
func RunCLI(t testing.TB, bin string, env []string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}

// MustCLI is RunCLI for a command that must exit 0: it returns stdout and
// fails the test, quoting both outputs, otherwise.
func MustCLI(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	out, errs, code := RunCLI(t, bin, env, nil, args...)
	if code != 0 {
		t.Fatalf("pelagos %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}
