package container

import "errors"

var (
	// ErrNotExist is returned for an unknown container ID.
	ErrNotExist = errors.New("container does not exist")
	// ErrExist is returned by Create for an ID that is taken.
	ErrExist = errors.New("container already exists")
	// ErrInvalidState is returned when an operation is not allowed in the
	// container's current status (start of a running container, delete
	// of a running one without force, ...).
	ErrInvalidState = errors.New("operation not allowed in the container's state")
)
