// Package systemd talks to systemd over D-Bus for the systemd cgroup
// driver: it turns a container's resources and org.systemd.property.*
// annotations into unit properties and starts, stops and updates the
// container's transient scope. Only cmd/pelagos-systemd links it, so that
// the D-Bus client (and package net with it) stays out of pelagos-runc and
// the container init; internal/cgroups runs that helper (SystemdRequest).
package systemd
