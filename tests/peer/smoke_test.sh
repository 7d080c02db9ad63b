#!/usr/bin/env bash
# Smoke test of the real-Kafka harness: the two clusters answer, the console
# tools run, and kafka-peer round-trips records byte-exactly (headers, null
# key/value, empty key/value, timestamp 0, transactions with aborts).
#
# Needs: scripts/setup.sh done and scripts/kafka-clusters.sh start.
# usage: tests/peer/smoke_test.sh      (prints "peer smoke: N passed, N failed")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
eval "$("$ROOT/scripts/kafka-clusters.sh" env)"
SRC="$KB_SOURCE_BOOTSTRAP" DST="$KB_TARGET_BOOTSTRAP"
TMP="$(mktemp -d)"
RUN="smoke$$"
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
check() {   # check NAME COMMAND...
  local name="$1"; shift
  if "$@" >"$TMP/check.log" 2>&1; then
    pass=$((pass + 1)); echo "ok   $name"
  else
    fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/     /' "$TMP/check.log"
  fi
}

# Compares kafka-peer input (JSON lines, with txn control lines) with a dump.
# Expected = records outside aborted transactions (all of them if
# read_uncommitted), in per-partition send order.
cat >"$TMP/compare.py" <<'EOF'
import json, sys
inp, out, isolation = sys.argv[1], sys.argv[2], sys.argv[3]
expected, pending, in_txn = {}, [], False
def add(recs):
    for r in recs:
        expected.setdefault(r["partition"], []).append(r)
for line in open(inp):
    r = json.loads(line)
    t = r.get("txn")
    if t == "begin": in_txn, pending = True, []
    elif t in ("commit", "abort"):
        if t == "commit" or isolation == "read_uncommitted": add(pending)
        in_txn = False
    elif in_txn: pending.append(r)
    else: add([r])
got = {}
for line in open(out):
    r = json.loads(line)
    got.setdefault(r["partition"], []).append(r)
assert sorted(got) == sorted(expected), f"partitions {sorted(got)} != {sorted(expected)}"
for p, exp in expected.items():
    g = got[p]
    assert len(g) == len(exp), f"partition {p}: {len(g)} records, expected {len(exp)}"
    assert [x["offset"] for x in g] == sorted(x["offset"] for x in g), "offsets not sorted"
    for e, r in zip(exp, g):
        for f in ("key", "value"):
            assert r[f] == e.get(f), f"p{p} o{r['offset']}: {f} {r[f]!r} != {e.get(f)!r}"
        assert r["headers"] == (e.get("headers") or []), f"p{p} o{r['offset']}: headers {r['headers']}"
        if e.get("timestamp") is not None:
            assert r["timestamp"] == e["timestamp"], f"p{p} o{r['offset']}: timestamp {r['timestamp']}"
        assert r["timestamp_type"] == "CreateTime"
print("ok")
EOF
compare() { python3 "$TMP/compare.py" "$@"; }

check "source answers" "$ROOT/scripts/kafka-clusters.sh" status source
check "target answers" "$ROOT/scripts/kafka-clusters.sh" status target
check "kafka-topics --list (target)" kafka-topics --bootstrap-server "$DST" --list
check "kafka-consumer-groups --list (source)" kafka-consumer-groups --bootstrap-server "$SRC" --list

# Plain records: explicit partitions, headers (repeated, null, empty), null and
# empty key/value, timestamp 0, binary bytes.
cat >"$TMP/plain.jsonl" <<'EOF'
{"partition": 0, "key": "a2V5MQ==", "value": "dmFsdWUx", "headers": [["h1", "aGVsbG8="], ["h2", null], ["h1", ""]], "timestamp": 0}
{"partition": 0, "key": null, "value": "bnVsbGtleQ==", "timestamp": 1700000000000}
{"partition": 1, "key": "a2V5Mg==", "value": null, "headers": [], "timestamp": 1700000000001}
{"partition": 2, "key": "", "value": "", "timestamp": 5}
{"partition": 1, "key": "AAEC/w==", "value": "AP8=", "timestamp": 1700000000002}
EOF
T="$RUN-plain"
check "create-topic $T" kafka-peer create-topic --bootstrap "$SRC" --topic "$T" --partitions 3
check "produce $T" kafka-peer produce --bootstrap "$SRC" --topic "$T" <"$TMP/plain.jsonl"
kafka-peer dump --bootstrap "$SRC" --topic "$T" >"$TMP/plain.out" 2>/dev/null || true
check "dump $T round-trips" compare "$TMP/plain.jsonl" "$TMP/plain.out" read_committed

# Transactions: committed, aborted, and an aborted one at the very end.
cat >"$TMP/txn.jsonl" <<'EOF'
{"txn":"begin"}
{"partition":0,"key":"YzE=","value":"Y29tbWl0dGVkMQ=="}
{"partition":1,"key":"YzI=","value":"Y29tbWl0dGVkMg=="}
{"txn":"commit"}
{"txn":"begin"}
{"partition":0,"key":"YTE=","value":"YWJvcnRlZDE="}
{"partition":1,"key":"YTI=","value":"YWJvcnRlZDI="}
{"txn":"abort"}
{"txn":"begin"}
{"partition":0,"key":"YzM=","value":"Y29tbWl0dGVkMw==","timestamp":0}
{"txn":"commit"}
{"txn":"begin"}
{"partition":1,"key":"YTM=","value":"YWJvcnRlZDM="}
{"txn":"abort"}
EOF
T="$RUN-txn"
check "create-topic $T" kafka-peer create-topic --bootstrap "$SRC" --topic "$T" --partitions 2
check "transactional produce $T" kafka-peer produce --bootstrap "$SRC" --topic "$T" --transactional-id "$RUN" <"$TMP/txn.jsonl"
kafka-peer dump --bootstrap "$SRC" --topic "$T" >"$TMP/txn.rc" 2>/dev/null || true
check "dump read_committed omits aborted" compare "$TMP/txn.jsonl" "$TMP/txn.rc" read_committed
kafka-peer dump --bootstrap "$SRC" --topic "$T" --isolation read_uncommitted >"$TMP/txn.ru" 2>/dev/null || true
check "dump read_uncommitted has aborted" compare "$TMP/txn.jsonl" "$TMP/txn.ru" read_uncommitted

check "dump of a missing topic fails" bash -c "! kafka-peer dump --bootstrap $SRC --topic $RUN-missing"
# Java default partitioner (murmur2): "key1" -> 2 of 3, 40 of 100 (checked
# against an independent Python murmur2).
check "partition-for" test "$(kafka-peer partition-for --partitions 3 --key a2V5MQ==) $(kafka-peer partition-for --partitions 100 --key a2V5MQ==)" = "2 40"

for T in "$RUN-plain" "$RUN-txn"; do kafka-peer delete-topic --bootstrap "$SRC" --topic "$T" >/dev/null 2>&1 || true; done
echo "peer smoke: $pass passed, $fail failed"
((fail == 0))
