#!/usr/bin/env bash
# Builds the Debian package of kafka-backup: the release build of
# scripts/build.sh, then CPack (CMakeLists.txt, "Installation and the .deb").
# The .deb lands in build/ and its path is the last line printed.
#
# Usage: scripts/package.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
for tool in help2man dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool not found (scripts/setup.sh installs it)" >&2; exit 1; }
done
[[ -f $build/build.ninja ]] || bash scripts/build.sh >&2
cmake "$build" -DKB_HELP2MAN="$(command -v help2man)" >/dev/null
cmake --build "$build" --target kafka-backup kb_generated_docs >&2
(cd "$build" && cpack -G DEB >&2)
ls -t "$build"/kafka-backup_*.deb | head -1
