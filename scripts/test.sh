#!/usr/bin/env bash
# The test command of the README: sets up the machine, builds, starts the two
# local Kafka clusters and the secure one (TLS/SASL listeners, for
# test_security.py) unless already running, runs the unit tests (ctest) and the
# operator's tests (scripts/operator-test.sh: Go, envtest) and the integration
# tests (pytest, against the real brokers), then stops the clusters it started.
#
#   KB_ASAN=1      also build with ASan+UBSan and run the unit tests under it (CI does)
#   KB_FUZZ_SECONDS  run every fuzz target this long (scripts/fuzz.sh); when unset
#                  and CI is set (CI=true), 20 s each (scripts/fuzz.sh --ci)
#   KB_PYTEST_ARGS extra pytest arguments (e.g. "-k fidelity"), for both runs
#   KB_PYTEST_WORKERS  integration test files run side by side (default 2)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[test] %s\n' "$*"; }

# Each stage's wall time, printed at the end (also when a stage fails).
SECONDS=0
STAGE="" STAGE_START=0 TIMINGS=()
stage() {
  if [[ -n "$STAGE" ]]; then TIMINGS+=("$(printf '%-34s %6ds' "$STAGE" $((SECONDS - STAGE_START)))"); fi
  STAGE="$1" STAGE_START=$SECONDS
}
timings() {
  stage ""
  say "stage timings:"
  printf '[test]   %s\n' "${TIMINGS[@]}"
  say "$(printf '%-34s %6ds' total "$SECONDS")"
}
trap timings EXIT

stage "set-up (scripts/setup.sh)"
bash scripts/setup.sh
stage "lint"
bash scripts/lint.sh
stage "release build"
bash scripts/build.sh release

stage "servers start"

started=0
if ! bash scripts/kafka-clusters.sh status >/dev/null 2>&1; then
  bash scripts/kafka-clusters.sh start --fresh
  started=1
fi
secure_started=0
if ! bash scripts/kafka-clusters.sh status secure >/dev/null 2>&1; then
  bash scripts/kafka-clusters.sh start --fresh secure
  secure_started=1
fi
s3_started=0
if ! bash scripts/s3-server.sh status >/dev/null 2>&1; then
  bash scripts/s3-server.sh start --fresh
  s3_started=1
fi
azure_started=0
if ! bash scripts/azurite.sh status >/dev/null 2>&1; then
  bash scripts/azurite.sh start --fresh
  azure_started=1
fi
gcs_started=0
if ! bash scripts/gcs-server.sh status >/dev/null 2>&1; then
  bash scripts/gcs-server.sh start --fresh
  gcs_started=1
fi
moto_started=0
if ! bash scripts/moto-server.sh status >/dev/null 2>&1; then
  bash scripts/moto-server.sh start
  moto_started=1
fi
cleanup() {
  if [[ $moto_started == 1 ]]; then bash scripts/moto-server.sh stop || true; fi
  if [[ $started == 1 ]]; then bash scripts/kafka-clusters.sh stop || true; fi
  if [[ $secure_started == 1 ]]; then bash scripts/kafka-clusters.sh stop secure || true; fi
  if [[ $gcs_started == 1 ]]; then bash scripts/gcs-server.sh stop || true; fi
  if [[ $azure_started == 1 ]]; then bash scripts/azurite.sh stop || true; fi
  if [[ $s3_started == 1 ]]; then bash scripts/s3-server.sh stop || true; fi
}
trap 'cleanup; timings' EXIT

stage "unit tests"
say "unit tests"
ctest --test-dir build --output-on-failure -j "$(nproc)"

if [[ "${KB_ASAN:-0}" == 1 ]]; then
  say "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  stage "ASan+UBSan build"
  bash scripts/build.sh asan
  stage "unit tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan --output-on-failure -j "$(nproc)"
fi

stage "fuzz targets"
if [[ -n "${KB_FUZZ_SECONDS:-}" ]]; then
  say "fuzz targets, ${KB_FUZZ_SECONDS}s each"
  bash scripts/fuzz.sh "$KB_FUZZ_SECONDS"
elif [[ -n "${CI:-}" && "${CI:-}" != false && "${CI:-}" != 0 ]]; then
  say "fuzz targets, a short run (CI)"
  bash scripts/fuzz.sh --ci
fi

say "integration tests against the local Kafka clusters"
eval "$(bash scripts/kafka-clusters.sh env)"
eval "$(bash scripts/kafka-clusters.sh env secure)"
eval "$(bash scripts/s3-server.sh env)"
eval "$(bash scripts/azurite.sh env)"
eval "$(bash scripts/gcs-server.sh env)"
eval "$(bash scripts/moto-server.sh env)"
say "the Kubernetes operator (operator/): envtest, its Jobs run against the local servers"
stage "operator tests (Go, envtest)"
bash scripts/operator-test.sh

stage "integration tests (pytest)"

# Test files side by side (pytest-xdist; each file whole on one worker, so its
# module fixtures stay shared), then the files marked serial (they stop a broker
# every other test uses) alone. Every test names its topics and groups with a
# fresh uuid, so files do not see each other's data.
# A KB_PYTEST_ARGS selection may leave one of the two runs nothing to run
# (pytest's exit 5): that is not a failure.
pytest_run() { python3 -m pytest tests/integration -q "$@" || { rc=$?; ((rc == 5)) || return "$rc"; }; }
# shellcheck disable=SC2086
pytest_run -p xdist -n "${KB_PYTEST_WORKERS:-2}" --dist loadfile -m "not serial" --durations=25 ${KB_PYTEST_ARGS:-}
stage "integration tests, serial (pytest)"
# shellcheck disable=SC2086
pytest_run -m serial --durations=5 ${KB_PYTEST_ARGS:-}
