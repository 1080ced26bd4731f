package cli

import (
	"errors"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pelagos-go/pelagos/internal/config"
	"github.com/pelagos-go/pelagos/internal/image/progress"
	"github.com/pelagos-go/pelagos/internal/image/store"
)

// globals are the root command's flags and the process's streams, shared
// by every command.
type globals struct {
	root             string
	runRoot          string
	registriesConfig string
	cfg              *config.File // pelagos.json, read by loadConfig
	args             []string     // the command line, for a hand-off to pelagos-registry
	in               io.Reader
	out, err         io.Writer
}

// store opens the image store under the data root.
func (g *globals) store() (*store.Store, error) {
	return store.Open(filepath.Join(g.root, "image"))
}

// progressSink picks the progress form: nothing with quiet, bars on a
// terminal, one line per change otherwise.
func (g *globals) progressSink(quiet bool) progress.Sink {
	if quiet {
		return progress.Discard{}
	}
	if isTerminal(g.out) {
		return &progress.TTY{W: g.out}
	}
	return &progress.Lines{W: g.out}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// exitCode maps an error to the process exit status: the status a
// command chose (statusError: 125 for pelagos's own errors in run,
// create and exec, the container's own status ...), else 1, as docker's
// CLI uses for every other failed command.
func exitCode(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.code
	}
	return 1
}

// statusError is an error with the exit status it must give; a silent one
// prints nothing (a container's own exit status).
type statusError struct {
	code   int
	err    error
	silent bool
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus gives err the exit status code (nil stays nil).
func withStatus(code int, err error) error {
	if err == nil {
		return nil
	}
	return &statusError{code: code, err: err}
}
