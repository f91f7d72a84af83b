#!/usr/bin/env bash
# Builds kserver's offline demo images for this machine's architecture —
# busybox from the distribution's static busybox (busybox-static) and the
# kubia demo app (cmd/kubia) in every variant the study notes use — and
# writes them as one docker-save archive into the folder kserver imports at
# start. No network is needed. See docs/image.md.
#   scripts/images.sh [DIR]    DIR defaults to /var/lib/kserver/agent/images
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

out=${1:-/var/lib/kserver/agent/images}
busybox=${BUSYBOX:-/bin/busybox}
if [ ! -x "$busybox" ]; then
  echo "images: $busybox is missing; install busybox-static (scripts/setup.sh run does)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$(go env GOARCH)" = arm ]; then export GOARM=7; fi
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/kubia" ./cmd/kubia

# A fixed timestamp keeps the image IDs the same from one build to the next,
# so kserver does not import an unchanged set twice.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct -- cmd/kubia internal/image/demo 2>/dev/null || true)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
go run ./internal/image/demo/mkimages -busybox "$busybox" -kubia "$tmp/kubia" -out "$out"
