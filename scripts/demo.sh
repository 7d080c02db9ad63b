#!/usr/bin/env bash
# The README's first command: set up, build, start two local Kafka clusters,
# create and fill sample topics on "source", back them up into a local
# directory, restore them into "target", and show what happened.
#
#   KB_DEMO_DIR         where the backups go (default /tmp/kafka-backup-demo)
#   KB_KEEP_CLUSTERS=1  leave the clusters running afterwards
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\n=== %s\n' "$*"; }

bash scripts/setup.sh
bash scripts/build.sh release
started=0
if ! bash scripts/kafka-clusters.sh status >/dev/null 2>&1; then
  bash scripts/kafka-clusters.sh start
  started=1
fi
cleanup() { if [[ $started == 1 && "${KB_KEEP_CLUSTERS:-0}" != 1 ]]; then bash scripts/kafka-clusters.sh stop; fi; }
trap cleanup EXIT
eval "$(bash scripts/kafka-clusters.sh env)"
export KB_DEMO_DIR="${KB_DEMO_DIR:-/tmp/kafka-backup-demo}"
BIN="$ROOT/build/kafka-backup"
rm -rf "$KB_DEMO_DIR"
mkdir -p "$KB_DEMO_DIR"

say "Creating and filling sample topics on the source cluster ($KB_SOURCE_BOOTSTRAP)"
for t in demo-orders demo-payments demo-customers; do
  kafka-peer delete-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$t" >/dev/null 2>&1 || true
  kafka-peer delete-topic --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$t" >/dev/null 2>&1 || true
done
kafka-peer create-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic demo-orders --partitions 6
kafka-peer create-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic demo-payments --partitions 3
kafka-peer create-topic --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic demo-customers --partitions 2 \
  --config cleanup.policy=compact
python3 - "$KB_DEMO_DIR" <<'PY'
import base64, json, sys, time
b64 = lambda s: base64.b64encode(s.encode()).decode()
now = int(time.time() * 1000)
def write(name, lines):
    with open(f"{sys.argv[1]}/{name}.jsonl", "w") as f:
        f.writelines(json.dumps(l) + "\n" for l in lines)
write("demo-orders", [{"key": b64(f"order-{i}"), "value": b64(json.dumps({"order": i, "amount": i % 97})),
                       "headers": [["source", b64("demo")]], "timestamp": now - 60000 + i} for i in range(20000)])
write("demo-payments", [{"key": b64(f"order-{i}"), "value": b64(f"paid {i}"), "timestamp": now - 30000 + i}
                        for i in range(5000)])
write("demo-customers", [{"key": b64(f"customer-{i % 100}"), "value": None if i % 50 == 0 else b64(f"v{i}")}
                         for i in range(1000)])
PY
for t in demo-orders demo-payments demo-customers; do
  kafka-peer produce --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$t" < "$KB_DEMO_DIR/$t.jsonl"
done

say "Backing up demo-* into $KB_DEMO_DIR/backups"
"$BIN" backup --config examples/demo-backup.yaml

say "Backups in $KB_DEMO_DIR/backups"
"$BIN" list --path "$KB_DEMO_DIR/backups"

say "What the latest backup holds"
"$BIN" describe --path "$KB_DEMO_DIR/backups" --backup-id latest

say "Deep validation"
"$BIN" validate --path "$KB_DEMO_DIR/backups" --backup-id latest --deep

say "Restoring into the target cluster ($KB_TARGET_BOOTSTRAP)"
"$BIN" restore --config examples/demo-restore.yaml

say "Record counts, source vs target (read by the Java client)"
for t in demo-orders demo-payments demo-customers; do
  s=$(kafka-peer dump --bootstrap "$KB_SOURCE_BOOTSTRAP" --topic "$t" 2>/dev/null | wc -l)
  d=$(kafka-peer dump --bootstrap "$KB_TARGET_BOOTSTRAP" --topic "$t" 2>/dev/null | wc -l)
  printf '  %-16s source %6d  target %6d  %s\n' "$t" "$s" "$d" "$([[ $s == "$d" ]] && echo match || echo MISMATCH)"
  [[ $s == "$d" ]]
done
say "Done. Backups are in $KB_DEMO_DIR/backups"
