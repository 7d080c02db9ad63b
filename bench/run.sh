#!/usr/bin/env bash
# Backup/restore throughput against the local brokers, beside the raw client, in one run.
#
# Fills a topic on the source cluster (default ~1 GB: 1,000,000 records of 1 KiB over 8
# partitions, written by Kafka's own producer-perf-test), then times:
#   1. a raw librdkafka drain of it (kcat, read_committed, to /dev/null)
#   2. kafka-backup backup for each codec of BENCH_CODECS (filesystem storage)
#   3. kafka-backup validate --deep of the first codec's backup
#   4. a raw librdkafka produce of the same values (kcat -P, with the restore's producer
#      settings: idempotence, acks=all, lz4, linger.ms=20, batch.size=1000000). Its records
#      have no key, so its sticky partitioner fills a few large batches at a time: with 100
#      or 1,000 partitions it writes only some of them, where the restore writes every
#      record back to its partition (bench/RESULTS.md: keyed, kcat took twice the restore's time)
#   5. kafka-backup restore of the first codec's backup into the target cluster
# and prints MB/s (of record payload), records/s, peak RSS, CPU seconds per GB and the ratios
# the issue sets targets for. Not a test: it asserts nothing and reports figures.
# BENCH_WRITE=1 appends the report, with date, machine and commands, to bench/RESULTS.md.
#
#   BENCH_RECORDS, BENCH_RECORD_SIZE, BENCH_PARTITIONS, BENCH_DIR, BENCH_CODECS ("zstd:1 zstd:3 lz4:0")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RECORDS="${BENCH_RECORDS:-1000000}"
SIZE="${BENCH_RECORD_SIZE:-1024}"
PARTS="${BENCH_PARTITIONS:-8}"
DIR="${BENCH_DIR:-/tmp/kafka-backup-bench}"
CODECS="${BENCH_CODECS:-zstd:1 zstd:3 lz4:0}"
TOPIC="bench-${SIZE}b-${PARTS}p"

bash scripts/build.sh release >/dev/null
bash scripts/kafka-clusters.sh start >/dev/null
eval "$(bash scripts/kafka-clusters.sh env)"
BIN="$ROOT/build/kafka-backup"
rm -rf "$DIR" && mkdir -p "$DIR"

now() { date +%s.%N; }
calc() { python3 -c "print(f'{$1:.${2:-1}f}')"; }
payload=$((RECORDS * SIZE))
report="$DIR/report.txt"
: >"$report"
line() { printf '%s\n' "$*" | tee -a "$report"; }

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

# timed NAME COMMAND...: runs it under /usr/bin/time; sets SECS, RSS_MIB, CPU (user+sys seconds).
timed() {
  local name="$1" t0 t1
  shift
  t0=$(now)
  /usr/bin/time -f "%M %U %S" -o "$DIR/$name.time" "$@" >"$DIR/$name.out" 2>"$DIR/$name.err" ||
    { cat "$DIR/$name.err" >&2; echo "[bench] $name failed" >&2; exit 1; }
  t1=$(now)
  SECS=$(calc "$t1 - $t0" 2)
  read -r rss u s <"$DIR/$name.time"
  RSS_MIB=$((rss / 1024))
  CPU=$(calc "$u + $s" 2)
}
figures() { # NAME: MB/s, records/s, RSS, CPU s per GB of payload
  printf '%-22s %6.1f s %7.1f MB/s %9.0f rec/s  peak RSS %4d MiB  CPU %5.1f s/GB' "$1" "$SECS" \
    "$(calc "$payload / 1e6 / $SECS")" "$(calc "$RECORDS / $SECS" 0)" "$RSS_MIB" "$(calc "$CPU / ($payload / 1e9)")"
}

echo "[bench] raw drain (kcat)"
timed drain bash -c 'exec kcat -C -b "$1" -t "$2" -o beginning -e -q -X isolation.level=read_committed >/dev/null' _ \
  "$KB_SOURCE_BOOTSTRAP" "$TOPIC"
raw_drain=$SECS
line ""
line "kafka-backup bench: $RECORDS records x $SIZE B = $((payload / 1000000)) MB payload, $PARTS partitions, $(nproc) cores"
line "$(figures "raw drain (kcat)")"

first=""
for spec in $CODECS; do
  codec="${spec%%:*}" level="${spec##*:}"
  store="$DIR/store-$codec-$level"
  [[ -n "$first" ]] || first="$store"
  cat >"$DIR/backup-$codec-$level.yaml" <<YAML
mode: backup
backup_id: bench
source:
  bootstrap_servers: [$KB_SOURCE_BOOTSTRAP]
  topics: {include: [$TOPIC]}
storage: {path: $store}
backup: {compression: $codec, compression_level: ${level/#0/1}}
YAML
  echo "[bench] kafka-backup backup ($codec-$level)"
  timed "backup-$codec-$level" "$BIN" backup --config "$DIR/backup-$codec-$level.yaml"
  stored=$(du -sb "$store" | cut -f1)
  line "$(figures "backup ($codec-$level)")  x$(calc "$raw_drain / $SECS" 2) of raw drain  stored $((stored / 1000000)) MB"
done

echo "[bench] validate --deep"
timed validate "$BIN" validate --path "$first" --backup-id bench --deep
line "$(figures "validate --deep")  ($(calc "$payload / 1e9 / $CPU" 2) GB/s per CPU second)"

echo "[bench] raw produce (kcat -P)"
kcat -C -b "$KB_SOURCE_BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -f '%s\n' >"$DIR/values.txt"
raw_topic="bench-raw-produce"
kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$raw_topic" >/dev/null 2>&1 || true
kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$TOPIC" >/dev/null 2>&1 || true
sleep 3
kafka-peer create-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$raw_topic" --partitions "$PARTS" >/dev/null
# (kcat -P takes a file argument as one message: the values come on stdin, one per line)
timed produce bash -c 'exec kcat -P -b "$1" -t "$2" -X enable.idempotence=true -X acks=all -X linger.ms=20 \
  -X batch.size=1000000 -X compression.codec=lz4 -X queue.buffering.max.kbytes=65536 <"$3"' _ \
  "$KB_TARGET_BOOTSTRAP" "$raw_topic" "$DIR/values.txt"
raw_produce=$SECS
rm -f "$DIR/values.txt"
line "$(figures "raw produce (kcat -P)")"

cat >"$DIR/restore.yaml" <<YAML
mode: restore
backup_id: bench
target:
  bootstrap_servers: [$KB_TARGET_BOOTSTRAP]
storage: {path: $first}
YAML
echo "[bench] kafka-backup restore"
timed restore "$BIN" restore --config "$DIR/restore.yaml"
line "$(figures "restore")  x$(calc "$raw_produce / $SECS" 2) of raw produce"
kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$raw_topic" >/dev/null 2>&1 || true
kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$TOPIC" >/dev/null 2>&1 || true

if [[ "${BENCH_WRITE:-0}" == 1 ]]; then
  {
    echo
    echo "## $(date -u +%Y-%m-%d) — commit $(git rev-parse --short HEAD), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo
    echo "Command: \`BENCH_RECORDS=$RECORDS BENCH_RECORD_SIZE=$SIZE BENCH_PARTITIONS=$PARTS BENCH_CODECS=\"$CODECS\" bash bench/run.sh\`"
    echo
    echo '```'
    sed '/^$/d' "$report"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "[bench] appended to bench/RESULTS.md"
fi
