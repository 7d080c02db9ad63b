#!/usr/bin/env bash
# Soak: the backup SIGKILL tests (one-shot and continuous) with many more kills
# than the suite's 20.
#   scripts/soak-backup.sh [KILLS]   (default 50; KB_CRASH_SEED=N picks other kill points)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/build.sh release >/dev/null
bash scripts/kafka-clusters.sh start >/dev/null
eval "$(bash scripts/kafka-clusters.sh env)"
if ! bash scripts/s3-server.sh status >/dev/null 2>&1; then bash scripts/s3-server.sh start >/dev/null; fi
eval "$(bash scripts/s3-server.sh env)"
KB_CRASH_KILLS="${1:-50}" python3 -m pytest tests/integration/test_checkpoints.py -q -s -p no:cacheprovider \
  -k "killed_at_random_points"
