#!/usr/bin/env bash
# Style checks: clang-format on every C++ file; clang-tidy (.clang-tidy) on the
# library sources when KB_TIDY=1 (slow on two cores).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cc' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "[lint] clang-format: ${#files[@]} files clean"
if [[ "${KB_TIDY:-0}" == 1 ]]; then
  [[ -f build/compile_commands.json ]] || { echo "[lint] build first (scripts/build.sh)" >&2; exit 1; }
  mapfile -t srcs < <(git ls-files 'src/*.cc')
  clang-tidy -p build --quiet "${srcs[@]}"
  echo "[lint] clang-tidy: ${#srcs[@]} files clean"
fi
