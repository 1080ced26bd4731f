module github.com/pelagos-go/pelagos/bench/cgroups

go 1.26.8

require (
	github.com/opencontainers/runc v1.1.5
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/pelagos-go/pelagos v0.0.0
)

require (
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/cyphar/filepath-securejoin v0.2.3 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	github.com/moby/sys/mountinfo v0.5.0 // indirect
	github.com/sirupsen/logrus v1.9.4 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/pelagos-go/pelagos => ../..
