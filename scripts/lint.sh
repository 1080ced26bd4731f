#!/usr/bin/env bash
# Lint: gofmt, go vet, staticcheck. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOBIN="${GOBIN:-$(go env GOPATH)/bin}"

unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
"$GOBIN/staticcheck" ./...
# The tests that run inside tests/vm's VM are behind a build tag.
go vet -tags vmguest ./tests/vm/...
"$GOBIN/staticcheck" -tags vmguest ./tests/vm/...
echo "lint: clean"
