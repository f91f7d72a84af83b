#!/usr/bin/env bash
# gofmt, go vet, and the package layering rules of docs/architecture.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
  echo "lint: gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
go vet -tags 'sqlite_omit_load_extension osusergo netgo' ./...
scripts/check-layers.sh
