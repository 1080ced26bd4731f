package engine

import (
	"errors"
	"fmt"
)

// Errors frontends branch on.
var (
	// ErrNotFound: no container has that name, ID or ID prefix.
	ErrNotFound = errors.New("no such container")
	// ErrAmbiguous: an ID prefix matches several containers.
	ErrAmbiguous = errors.New("multiple containers match")
	// ErrNameInUse: the name belongs to another container.
	ErrNameInUse = errors.New("container name already in use")
	// ErrInvalid: bad user input (a flag value, a name).
	ErrInvalid = errors.New("invalid argument")
	// ErrState: the operation is not possible in the container's state.
	ErrState = errors.New("container state conflict")
)

// StartError is a container start that failed in the runtime; Docker's CLI
// maps its message to exit status 126 or 127 (StatusCode).
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// kindError is an error of one of the kinds above whose message is all
// the user needs (no ": invalid argument" tail).
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// errorf makes an error of kind with a formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
