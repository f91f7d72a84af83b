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
# 32-bit ARM (the armv7 release): syscall struct fields differ in width there.
# Needs the cross compiler `make release` installs; without it, say so.
if command -v arm-linux-gnueabihf-gcc >/dev/null; then
  GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=1 CC=arm-linux-gnueabihf-gcc \
    go vet -tags 'sqlite_omit_load_extension osusergo netgo' ./...
else
  echo "lint: no arm-linux-gnueabihf-gcc, 32-bit ARM vet skipped (make release installs it)" >&2
fi
scripts/check-layers.sh
