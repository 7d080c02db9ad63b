#!/usr/bin/env bash
# Soak: the restore SIGKILL test with many more kills than the suite's 10.
#   scripts/soak-restore.sh [KILLS]   (default 50; KB_SEED=N for a reproducible run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/build.sh release >/dev/null
bash scripts/kafka-clusters.sh start >/dev/null
eval "$(bash scripts/kafka-clusters.sh env)"
KB_RESTORE_KILLS="${1:-50}" python3 -m pytest tests/integration/test_restore_resume.py -q -p no:cacheprovider
