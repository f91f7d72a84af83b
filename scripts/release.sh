#!/usr/bin/env bash
# Static release binaries of kserver and kctl for linux/amd64, linux/arm64
# and linux/arm (v7), into dist/. cgo (SQLite) is cross-compiled with the
# distro's cross compilers; see scripts/setup.sh release.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
ldflags=${1:?ldflags}
tags=${2:?tags}

build() { # GOARCH GOARM CC
  local arch=$1 arm=$2 cc=$3 suffix=$1
  [ -n "$arm" ] && suffix="armv$arm"
  mkdir -p "dist/linux-$suffix"
  echo "release: linux/$suffix"
  CGO_ENABLED=1 GOOS=linux GOARCH=$arch GOARM=$arm CC=$cc \
    go build -trimpath -tags "$tags" \
      -ldflags "$ldflags -linkmode external -extldflags -static" \
      -o "dist/linux-$suffix/" ./cmd/kserver ./cmd/kctl
  for b in kserver kctl; do
    file "dist/linux-$suffix/$b" 2>/dev/null | grep -q 'statically linked' || {
      command -v file >/dev/null && { echo "release: dist/linux-$suffix/$b is not static" >&2; exit 1; }
    }
    # The size budget (docs/footprint.md): each binary at most 40 MB.
    local size; size=$(stat -c %s "dist/linux-$suffix/$b")
    if ((size > 40000000)); then
      echo "release: dist/linux-$suffix/$b is $size bytes, over the 40 MB budget" >&2; exit 1
    fi
  done
}

build amd64 "" gcc
build arm64 "" aarch64-linux-gnu-gcc
build arm 7 arm-linux-gnueabihf-gcc
ls -l dist/*/
