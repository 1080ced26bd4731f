#!/usr/bin/env bash
# Builds pelagos's binaries into bin/ (or $BINDIR): static, stripped, with
# the version from git. pelagos-runc links a few lines of C (see
# internal/nsenter), so it needs gcc and the static C library (libc6-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${BINDIR:-bin}"
mkdir -p "$out"
version="$(git describe --always --dirty 2>/dev/null || echo dev)"
export CGO_ENABLED=1
go build -trimpath -tags 'netgo osusergo' \
	-ldflags "-s -w -X main.version=${version} -extldflags=-static" \
	-o "$out/" ./cmd/...
