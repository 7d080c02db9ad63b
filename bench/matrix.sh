#!/usr/bin/env bash
# The bench over record sizes and partition counts: bench/run.sh once per cell of
# BENCH_SIZES x BENCH_PARTITION_COUNTS, each with about BENCH_MATRIX_MB of payload and the
# codecs of BENCH_CODECS (default zstd:1; "zstd:1 zstd:3 lz4:0" backs each cell up three
# times), then a table of the ratios the performance issue sets targets for (the first codec's
# backup vs raw drain, restore vs raw produce) and the peak RSS, and every cell's full report
# (MB/s, records/s, peak RSS, CPU s per GB of each step). Not a test: it asserts nothing.
# BENCH_WRITE=1 appends the table and the reports to bench/RESULTS.md.
#
#   BENCH_SIZES ("100 1024 65536"), BENCH_PARTITION_COUNTS ("1 8 100 1000"), BENCH_MATRIX_MB (256)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SIZES="${BENCH_SIZES:-100 1024 65536}"
COUNTS="${BENCH_PARTITION_COUNTS:-1 8 100 1000}"
MB="${BENCH_MATRIX_MB:-256}"
export BENCH_CODECS="${BENCH_CODECS:-zstd:1}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# field LINE_PREFIX REGEX FILE: the first capture of REGEX on the line starting with LINE_PREFIX.
field() { grep -m1 "^$1" "$3" | sed -nE "s|.*$2.*|\\1|p"; }

table="$out/table.txt"
{
  echo "payload ${MB} MB per cell, codec ${BENCH_CODECS}, $(nproc) cores"
  printf '%-8s %-6s %10s %10s %10s %8s %10s %10s %9s %9s\n' "record" "parts" "drain MB/s" "backup" "x drain" \
    "RSS MiB" "produce" "restore" "x prod" "RSS MiB"
} >"$table"
for size in $SIZES; do
  for parts in $COUNTS; do
    records=$(((MB * 1000000 + size - 1) / size))
    echo "[matrix] $size B x $parts partitions: $records records"
    log="$out/$size-$parts.log"
    BENCH_RECORDS=$records BENCH_RECORD_SIZE=$size BENCH_PARTITIONS=$parts BENCH_WRITE=0 \
      bash bench/run.sh >"$log" 2>&1 || { tail -20 "$log" >&2; echo "[matrix] cell $size x $parts failed" >&2; exit 1; }
    mbs=' ([0-9.]+) MB/s'
    rss='peak RSS +([0-9]+) MiB'
    printf '%-8s %-6s %10s %10s %10s %8s %10s %10s %9s %9s\n' "$size" "$parts" \
      "$(field 'raw drain' "$mbs" "$log")" "$(field 'backup' "$mbs" "$log")" \
      "$(field 'backup' 'x([0-9.]+) of raw drain' "$log")" "$(field 'backup' "$rss" "$log")" \
      "$(field 'raw produce' "$mbs" "$log")" "$(field 'restore' "$mbs" "$log")" \
      "$(field 'restore' 'x([0-9.]+) of raw produce' "$log")" "$(field 'restore' "$rss" "$log")" | tee -a "$table"
    { echo; echo "$size B x $parts partitions:"; grep -v '^\[bench\]\|^created topic\|^$' "$log"; } >>"$out/reports.txt"
    # The cell's topic is not needed again: free the broker's disk.
    eval "$(bash scripts/kafka-clusters.sh env)"
    PATH="$ROOT/.cache/kafka/bin:$PATH" kafka-peer delete-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" \
      --topic "bench-${size}b-${parts}p" >/dev/null 2>&1 || true
  done
done
echo
cat "$table"
if [[ "${BENCH_WRITE:-0}" == 1 ]]; then
  {
    echo
    echo "## $(date -u +%Y-%m-%d) — matrix, commit $(git rev-parse --short HEAD)"
    echo
    echo "Command: \`BENCH_SIZES=\"$SIZES\" BENCH_PARTITION_COUNTS=\"$COUNTS\" BENCH_MATRIX_MB=$MB BENCH_CODECS=\"$BENCH_CODECS\" bash bench/matrix.sh\`"
    echo
    echo '```'
    cat "$table"
    echo '```'
    echo
    echo "Each cell's report:"
    echo
    echo '```'
    sed '1{/^$/d}' "$out/reports.txt"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "[matrix] appended to bench/RESULTS.md"
fi
