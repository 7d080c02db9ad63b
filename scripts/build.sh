#!/usr/bin/env bash
# Configure and build kafka-backup with CMake + Ninja.
#   scripts/build.sh            release build (RelWithDebInfo) in build/
#   scripts/build.sh asan       AddressSanitizer + UBSan build in build-asan/
# Incremental: a second run only rebuilds what changed; compiles go through
# ccache when installed (scripts/lib/ccache.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/lib/ccache.sh"
variant="${1:-release}"
case "$variant" in
  release) dir="$ROOT/build"; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir="$ROOT/build-asan"; extra=(-DCMAKE_BUILD_TYPE=Debug -DKB_SANITIZE=ON) ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
ccache_setup "$ROOT"
extra+=("${CCACHE_CMAKE_ARGS[@]}")
if [[ ! -f "$dir/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$dir" -G Ninja "${extra[@]}" >/dev/null
fi
# Two cores: one build at a time, both cores for it.
ninja -C "$dir" -j "$(nproc)"
