#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages kserver uses, for one purpose:
#   run      what `kserver server` needs on a node
#   test     run + what the test suites need
#   release  test + the cross compilers for the ARM release builds
# Idempotent and quiet when everything is present. Needs root only when
# something is missing.
set -euo pipefail
purpose=${1:-run}

# iptables: the CNI portmap plugin programs hostPorts with it (iptables-nft).
run_pkgs=(gcc libc6-dev git ca-certificates iproute2 nftables iptables runc crun conmon
          containernetworking-plugins busybox-static)
test_pkgs=(procps psmisc curl)
release_pkgs=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross)

case "$purpose" in
run) want=("${run_pkgs[@]}") ;;
test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
release) want=("${run_pkgs[@]}" "${release_pkgs[@]}") ;;
*) echo "usage: $0 run|test|release" >&2; exit 2 ;;
esac

if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
      echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
      exit 1
    fi
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not a Debian/Ubuntu system; install by hand: ${want[*]}" >&2
fi

export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "setup: Go is not installed; install Go 1.21 or newer (it fetches the toolchain go.mod asks for) and retry" >&2
  exit 1
fi
