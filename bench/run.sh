#!/usr/bin/env bash
# Backup/restore throughput against the local brokers, beside the raw client.
#
# Fills a topic on the source cluster (default ~1 GB: 1,000,000 records of 1 KiB over 8
# partitions, written by Kafka's own producer-perf-test), then in one run times:
#   1. a raw librdkafka drain of it (kcat, read_committed, to /dev/null)
#   2. kafka-backup backup (filesystem storage, zstd-1)
#   3. kafka-backup restore into the target cluster
# and prints MB/s (of record payload) and the ratios to the raw drain.
# Not a test: it asserts nothing and reports figures.
#
#   BENCH_RECORDS, BENCH_RECORD_SIZE, BENCH_PARTITIONS, BENCH_DIR, BENCH_CODEC, BENCH_LEVEL
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RECORDS="${BENCH_RECORDS:-1000000}"
SIZE="${BENCH_RECORD_SIZE:-1024}"
PARTS="${BENCH_PARTITIONS:-8}"
DIR="${BENCH_DIR:-/tmp/kafka-backup-bench}"
CODEC="${BENCH_CODEC:-zstd}"
LEVEL="${BENCH_LEVEL:-1}"
TOPIC="bench-${SIZE}b-${PARTS}p"

bash scripts/build.sh release >/dev/null
bash scripts/kafka-clusters.sh start >/dev/null
eval "$(bash scripts/kafka-clusters.sh env)"
BIN="$ROOT/build/kafka-backup"
rm -rf "$DIR" && mkdir -p "$DIR"

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print(f'{float(sys.argv[1]) / 1e6 / float(sys.argv[2]):.1f}')" "$1" "$2"; }
payload=$((RECORDS * SIZE))

existing=$(kafka-peer end-offsets --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$TOPIC" 2>/dev/null |
  python3 -c 'import json, sys; print(sum(json.loads(l)["latest"] for l in sys.stdin))' || echo 0)
if [[ "$existing" != "$RECORDS" ]]; then
  echo "[bench] filling $TOPIC: $RECORDS records of $SIZE B over $PARTS partitions"
  kafka-peer delete-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$TOPIC" >/dev/null 2>&1 || true
  kafka-peer create-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$TOPIC" --partitions "$PARTS" >/dev/null
  kafka-run-class org.apache.kafka.tools.ProducerPerformance --topic "$TOPIC" --num-records "$RECORDS" \
    --record-size "$SIZE" --throughput -1 \
    --producer-props bootstrap.servers="$KB_SOURCE_BOOTSTRAP" acks=1 linger.ms=20 batch.size=1000000 \
    compression.type=lz4 >/dev/null
fi

echo "[bench] raw drain (kcat)"
t0=$(now)
kcat -C -b "$KB_SOURCE_BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -X isolation.level=read_committed >/dev/null
t1=$(now)
raw=$(python3 -c "print($t1 - $t0)")

cat >"$DIR/backup.yaml" <<YAML
mode: backup
backup_id: bench
source:
  bootstrap_servers: [$KB_SOURCE_BOOTSTRAP]
  topics: {include: [$TOPIC]}
storage: {path: $DIR/store}
backup: {compression: $CODEC, compression_level: $LEVEL}
YAML
echo "[bench] kafka-backup backup ($CODEC-$LEVEL)"
t0=$(now)
/usr/bin/time -f "%M %U %S" -o "$DIR/backup.time" "$BIN" backup --config "$DIR/backup.yaml" >/dev/null 2>&1
t1=$(now)
bk=$(python3 -c "print($t1 - $t0)")
stored=$(du -sb "$DIR/store" | cut -f1)

kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$TOPIC" >/dev/null 2>&1 || true
sleep 2
cat >"$DIR/restore.yaml" <<YAML
mode: restore
backup_id: bench
target:
  bootstrap_servers: [$KB_TARGET_BOOTSTRAP]
storage: {path: $DIR/store}
YAML
echo "[bench] kafka-backup restore"
t0=$(now)
/usr/bin/time -f "%M %U %S" -o "$DIR/restore.time" "$BIN" restore --config "$DIR/restore.yaml" >/dev/null 2>&1
t1=$(now)
rs=$(python3 -c "print($t1 - $t0)")

read -r bk_rss bk_u bk_s <"$DIR/backup.time"
read -r rs_rss rs_u rs_s <"$DIR/restore.time"
cat <<REPORT

kafka-backup bench: $RECORDS records x $SIZE B = $((payload / 1000000)) MB payload, $PARTS partitions, $(nproc) cores
  raw kcat drain       $(printf '%6.1f' "$raw") s  $(mbps $payload "$raw") MB/s
  backup ($CODEC-$LEVEL)     $(printf '%6.1f' "$bk") s  $(mbps $payload "$bk") MB/s  ratio to raw drain $(python3 -c "print(f'{$raw / $bk:.2f}')")  peak RSS $((bk_rss / 1024)) MiB  CPU ${bk_u}u+${bk_s}s  stored $((stored / 1000000)) MB
  restore              $(printf '%6.1f' "$rs") s  $(mbps $payload "$rs") MB/s  ratio to raw drain $(python3 -c "print(f'{$raw / $rs:.2f}')")  peak RSS $((rs_rss / 1024)) MiB  CPU ${rs_u}u+${rs_s}s
REPORT
