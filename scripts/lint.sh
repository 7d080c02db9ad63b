#!/usr/bin/env bash
# Style checks: clang-format on every C++ file; clang-tidy (.clang-tidy) on the
# library sources when KB_TIDY=1 (~35 min on one core), or only on the files
# given as arguments:
#   KB_TIDY=1 bash scripts/lint.sh $(git diff --name-only origin/main -- 'src/*.cc')
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cc' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "[lint] clang-format: ${#files[@]} files clean"
# Each component includes only what its README's "May depend on:" line allows.
python3 scripts/check-deps.py
# No function in src/ over 80 lines, but those listed when the rule came (which may only shrink).
python3 scripts/check-function-size.py
if [[ "${KB_TIDY:-0}" == 1 ]]; then
  [[ -f build/compile_commands.json ]] || { echo "[lint] build first (scripts/build.sh)" >&2; exit 1; }
  if [[ $# -gt 0 ]]; then srcs=("$@"); else mapfile -t srcs < <(git ls-files 'src/*.cc'); fi
  clang-tidy -p build --quiet "${srcs[@]}"
  echo "[lint] clang-tidy: ${#srcs[@]} files clean"
fi
