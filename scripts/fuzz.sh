#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/README.md) with clang into
# build-fuzz/ and runs each one for a while.
#
# Usage: scripts/fuzz.sh [--ci] [SECONDS] [TARGET...]
#   SECONDS  fuzzing time per target (default 300)
#   --ci     20 s per target: the short run scripts/test.sh does in CI
#   TARGET   segment, manifest, config or progress (default: all four)
#
# Each target first replays the inputs kept in testdata/fuzz-regressions/<target>/
# (inputs that once crashed it), then fuzzes from its corpus: build-fuzz/corpus/<target>/
# (what earlier runs found; kept between runs), seeded from testdata/, examples/,
# tests/fuzz/corpus/<target>/ and the segments and documents fuzz_make_seeds writes with
# the library's own writers. A crashing input lands in build-fuzz/crashes/<target>/; the
# other targets still run, and the script exits 1. Full fuzzer output: build-fuzz/logs/.
#
# Environment: CC / CXX (default clang-14 / clang++-14).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[fuzz] %s\n' "$*"; }
usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "${BASH_SOURCE[0]}" | sed '$d'; }

seconds=300
targets=()
for arg in "$@"; do
  case "$arg" in
    --ci) seconds=20 ;;
    -h | --help) usage; exit 0 ;;
    segment | manifest | config | progress) targets+=("$arg") ;;
    *[!0-9]* | '') usage >&2; say "unknown argument '$arg'" >&2; exit 2 ;;
    *) seconds="$arg" ;;
  esac
done
((${#targets[@]})) || targets=(segment manifest config progress)

BUILD="$ROOT/build-fuzz"
export CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}"
command -v "$CXX" >/dev/null || { say "$CXX not found: run scripts/setup.sh" >&2; exit 1; }
SECONDS=0
source "$ROOT/scripts/lib/ccache.sh"
ccache_setup "$ROOT"  # exports CCACHE_* here, for ninja's compiles too
if [[ ! -f "$BUILD/build.ninja" ]]; then
  # -O1 with assertions on: what libFuzzer's documentation suggests.
  cmake -S "$ROOT" -B "$BUILD" -G Ninja "${CCACHE_CMAKE_ARGS[@]}" -DKB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" \
    >/dev/null
fi
ninja -C "$BUILD" -j "$(nproc)" fuzz_make_seeds "${targets[@]/#/fuzz_}"
say "built in ${SECONDS}s"

"$BUILD/tests/fuzz/fuzz_make_seeds" "$BUILD/seeds"
mkdir -p "$BUILD/logs"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
declare -A seeds=(
  [segment]="testdata/format $BUILD/seeds/segment"
  [manifest]="testdata/format $BUILD/seeds/manifest"
  [config]="testdata/config examples"
)
failed=()
for t in "${targets[@]}"; do
  bin="$BUILD/tests/fuzz/fuzz_$t"
  log="$BUILD/logs/$t.log"
  regressions="testdata/fuzz-regressions/$t"
  crashes="$BUILD/crashes/$t"
  mkdir -p "$BUILD/corpus/$t" "$crashes"
  : >"$log"
  mapfile -t kept < <(find "$regressions" -type f 2>/dev/null | sort)
  if ((${#kept[@]})) && ! "$bin" "${kept[@]}" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    say "$t: an input of $regressions crashes again (log: $log)" >&2
    failed+=("$t")
    continue
  fi
  dirs=("$BUILD/corpus/$t")
  for d in ${seeds[$t]:-} "tests/fuzz/corpus/$t" "$regressions"; do [[ -d "$d" ]] && dirs+=("$d"); done
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/")
  [[ -f "tests/fuzz/$t.dict" ]] && opts+=(-dict="tests/fuzz/$t.dict")
  say "$t: ${#kept[@]} kept inputs replayed; fuzzing for ${seconds}s"
  if "$bin" "${opts[@]}" "${dirs[@]}" >>"$log" 2>&1; then
    say "$t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs," \
      "corpus $(find "$BUILD/corpus/$t" -type f | wc -l) inputs, no crash"
  else
    tail -n 40 "$log" >&2
    say "$t: CRASH, input in $crashes/ (log: $log)." >&2
    say "  Reproduce: $bin <input>. Fix the parser, then keep the input: cp <input> $regressions/" >&2
    failed+=("$t")
  fi
done
say "done in ${SECONDS}s"
if ((${#failed[@]})); then
  say "failed: ${failed[*]}" >&2
  exit 1
fi
