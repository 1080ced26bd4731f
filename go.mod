module github.com/pelagos-go/pelagos

go 1.26.8

require (
	github.com/google/go-cmp v0.7.0
	github.com/moby/profiles/seccomp v0.3.0
	github.com/opencontainers/runtime-spec v1.3.0
)

require golang.org/x/sys v0.50.0
