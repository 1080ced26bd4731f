#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what the tests need, lint,
# then every test as root against the real kernel, with a summary at the end.
#
#   sudo ./scripts/test.sh            # everything
#   sudo ./scripts/test.sh ./internal/...   # a subset (still lints)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "the tests need root (namespaces, mounts, cgroups): run as root" >&2
	exit 1
fi
export PATH="$PATH:/usr/local/go/bin"
export PATH="$PATH:$(go env GOPATH)/bin"

scripts/install-test-deps.sh
scripts/lint.sh

pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)
# -p 1: the integration tests share the kernel (mounts, cgroups, netns) and
# this machine has 2 cores; packages run one at a time, tests inside them
# run in parallel where they say so.
go test -count=1 -p 1 -timeout 40m -json "${pkgs[@]}" | go run ./scripts/testsummary
