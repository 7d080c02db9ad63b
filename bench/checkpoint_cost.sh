#!/usr/bin/env bash
# Checkpoint cost against the number of segments already stored (issue 7: it must depend on new
# data only). A continuous backup (filesystem storage, checkpoint every second, small segments)
# follows a topic that Kafka's producer-perf-test fills at a steady rate, so the backup holds about
# 10 segments after its first checkpoints and over 1,000 at the end; the backup's debug log gives
# each checkpoint's kind (delta or base), new segments, bytes written and time. Prints the
# checkpoints taken near 10 and near 1,000 stored segments, and the base entries (written every
# 64th checkpoint: they list everything). Not a test: it reports figures.
#
#   BENCH_SECONDS (default 60), BENCH_RATE records/s (default 2000), BENCH_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_TO_RUN="${BENCH_SECONDS:-60}"
RATE="${BENCH_RATE:-2000}"
DIR="${BENCH_DIR:-/tmp/kafka-backup-bench-ckpt}"
TOPIC="bench-ckpt-$$"

bash scripts/build.sh release >/dev/null
bash scripts/kafka-clusters.sh start >/dev/null
eval "$(bash scripts/kafka-clusters.sh env)"
rm -rf "$DIR" && mkdir -p "$DIR"
kafka-peer create-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$TOPIC" --partitions 8 >/dev/null
cat >"$DIR/backup.yaml" <<YAML
mode: backup
backup_id: ckpt
source:
  bootstrap_servers: ["$KB_SOURCE_BOOTSTRAP"]
  topics: {include: ["$TOPIC"]}
storage: {backend: filesystem, path: "$DIR/store"}
backup: {continuous: true, checkpoint_interval_secs: 1, segment_max_records: 50}
YAML
"$ROOT/build/kafka-backup" --no-progress --log-level debug backup --config "$DIR/backup.yaml" \
  >"$DIR/backup.out" 2>"$DIR/backup.log" &
backup=$!
kafka-run-class org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" \
  --num-records $((RATE * SECONDS_TO_RUN)) --record-size 1024 --throughput "$RATE" \
  --producer-props bootstrap.servers="$KB_SOURCE_BOOTSTRAP" acks=1 linger.ms=5 >/dev/null
sleep 3
kill -TERM "$backup"
wait "$backup"
kafka-peer delete-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$TOPIC" >/dev/null 2>&1 || true

python3 - "$DIR/backup.log" "$RATE" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1]):
    m = re.search(r"checkpoint (\d+) of \S+: (base|(\d+) new segments), (\d+) segments stored in all "
                  r"\((\d+) bytes, ([\d.]+) ms\)", line)
    if m:
        rows.append((int(m[1]), "base" if m[2] == "base" else "delta", int(m[3] or 0), int(m[4]), int(m[5]),
                     float(m[6])))
print(f"checkpoint cost, continuous backup of 8 partitions at {sys.argv[2]} records/s of 1 KiB, "
      f"50 records per segment, checkpoint every second")
print(f"{'seq':>5} {'kind':>6} {'new segs':>9} {'stored segs':>12} {'bytes':>9} {'ms':>7}")
def show(r):
    print(f"{r[0]:>5} {r[1]:>6} {r[2]:>9} {r[3]:>12} {r[4]:>9} {r[5]:>7.1f}")
deltas = [r for r in rows if r[1] == "delta"]
near = lambda n: min(deltas, key=lambda r: abs(r[3] - n)) if deltas else None
for n in (10, 100, 1000):
    r = near(n)
    if r:
        show(r)
print("base entries:")
for r in rows:
    if r[1] == "base":
        show(r)
if deltas:
    per = [r[4] / r[2] for r in deltas if r[2]]
    print(f"delta entries: {len(deltas)}, bytes per new segment {min(per):.0f}..{max(per):.0f}, "
          f"time {min(r[5] for r in deltas):.1f}..{max(r[5] for r in deltas):.1f} ms")
PY
