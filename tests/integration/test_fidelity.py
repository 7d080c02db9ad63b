"""Acceptance round trip: backup from the source cluster, restore into the
target cluster, and compare both with an independent client record by record."""

from __future__ import annotations

import json
import os
import subprocess
import time


from conftest import (by_partition, PEER, SOURCE, TARGET, assert_same_records, backup_config, cli_ok, create_topic,
                      describe_topic, dump, parallel, produce, rec, restore_config, run_backup,
                      run_restore, unique)

ALL_BYTES = bytes(range(256))
DAY_MS = 86_400_000


def main_topic_records(partitions: int) -> list[dict]:
    """Every kind of record on every partition, explicit CreateTime timestamps
    (never 0: see test_create_time_zero_is_not_silently_changed)."""
    now = int(time.time() * 1000)
    stamps = [1, DAY_MS, 946_684_800_000, now - 3_600_000, now - 1, 1_700_000_000_000, 2]
    out = []
    for p in range(partitions):
        ts = iter(stamps[p % 3:] + stamps[: p % 3] + stamps)   # not monotonic within a partition
        out += [
            rec(p, None, f"null key on {p}", timestamp=next(ts)),
            rec(p, f"tomb-{p}", None, timestamp=next(ts)),                      # tombstone
            rec(p, f"empty-value-{p}", b"", timestamp=next(ts)),
            rec(p, b"", f"empty key on {p}", timestamp=next(ts)),
            rec(p, b"", b"", timestamp=next(ts)),
            rec(p, None, None, timestamp=next(ts)),                               # null key and value
            rec(p, bytes([p, 0, 255]), ALL_BYTES, timestamp=next(ts)),          # every byte value
            rec(p, ALL_BYTES[::-1], bytes([p]) * 3 + ALL_BYTES,
                headers=[("dup", b"first"), ("dup", b"second"), ("null-header", None),
                         ("empty-header", b""), ("binary", ALL_BYTES), ("dup", b"third")],
                timestamp=now - p),
            rec(p, f"k-{p}", f"v-{p}", headers=[("", b"empty name"), ("\u00e9t\u00e9", b"utf8")],
                timestamp=946_684_800_000 + p),
        ]
    # One big value (900 KiB, incompressible) between small ones.
    out.insert(5, rec(7, "big", os.urandom(900 * 1024), headers=[("size", b"921600")],
                      timestamp=now - 7))
    return out


def log_append_records(partitions: int) -> list[dict]:
    # The broker replaces these timestamps with its own append time.
    return [rec(p, f"la-{p}-{i}", f"log append {p}/{i}", headers=[("i", str(i))], timestamp=1000 + i)
            for p in range(partitions) for i in range(4)]


def compacted_batch(round_: int) -> list[dict]:
    """Every key written once per round on both partitions (the last round
    also deletes some keys with tombstones)."""
    out = []
    for p in range(2):
        for k in range(10):
            if round_ == 3 and k % 4 == 0:
                out.append(rec(p, f"key-{k}", None, timestamp=1_600_000_000_000 + round_))
            else:
                out.append(rec(p, f"key-{k}", f"round {round_} key {k} " + "x" * 100,
                               headers=[("round", str(round_))], timestamp=1_600_000_000_000 + round_))
    return out


def has_offset_gaps(records: list[dict]) -> bool:
    last: dict[int, int] = {}
    first: dict[int, int] = {}
    for r in records:
        p, o = r["partition"], r["offset"]
        if p in last and o != last[p] + 1:
            return True
        first.setdefault(p, o)
        last[p] = o
    return any(o != 0 for o in first.values())


def produce_in_rounds(topic: str, rounds: list[list[dict]], pause: float = 0.3) -> None:
    """One kafka-peer produce fed round by round with pauses, so each round
    lands after the previous segment's segment.ms has passed (a roll)."""
    p = subprocess.Popen([str(PEER), "produce", "--bootstrap", SOURCE, "--topic", topic],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for batch in rounds:
            p.stdin.write("".join(json.dumps(r) + "\n" for r in batch))
            p.stdin.flush()
            time.sleep(pause)
        p.stdin.close()
        err = p.stderr.read()
        rc = p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert rc == 0, f"kafka-peer produce to {topic} exited {rc}: {err[-2000:]}"


def make_compaction_gaps(topic: str, timeout: float = 20.0) -> tuple[list[dict], int, bool]:
    """Writes every key in several rounds (each round rolls the 100 ms
    segment; a last record closes the segment of the last round), then polls
    until the cleaner has removed records or timeout.  Returns (source dump,
    records produced, offset gaps seen)."""
    rounds = [compacted_batch(r) for r in range(4)]
    rounds.append([rec(p, "roll", "closes the last round's segment", timestamp=1_600_000_000_999)
                   for p in range(2)])
    produced = sum(len(b) for b in rounds)
    produce_in_rounds(topic, rounds)
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        records = dump(topic)
        # Compacted and settled (two dumps in a row alike), or give up waiting.
        if (len(records) < produced and records == previous) or time.monotonic() > deadline:
            return records, produced, len(records) < produced and has_offset_gaps(records)
        previous = records
        time.sleep(0.5)


def assert_compaction_of(source: list[dict], target: list[dict], what: str) -> None:
    """The restored compacted topic keeps its cleanup.policy, so the target's
    cleaner may compact it further after the restore: per partition the target
    must equal the source, or be an in-order subsequence of it that still holds
    the last record of every key (tombstones may go: delete.retention.ms)."""
    src, dst = by_partition(source), by_partition(target)
    assert set(dst) <= set(src), (what, sorted(dst), sorted(src))
    for p, a in src.items():
        b = dst.get(p, [])
        if a == b:
            continue
        it = iter(a)
        assert all(any(x == y for y in it) for x in b), f"{what}[{p}]: target is not an in-order subset of the source"
        last = {}
        for x in a:
            last[x[0]] = x
        for key, x in last.items():
            if x[1] is not None:
                assert x in b, f"{what}[{p}]: the last record of key {key!r} is missing on the target"
        print(f"{what}[{p}]: the target's cleaner compacted {len(a)} records to {len(b)}")


def test_round_trip_is_exact(tmp_path, record_property):
    main = unique("fidelity-main")
    logappend = unique("fidelity-logappend")
    compacted = unique("fidelity-compacted")
    compact_configs = {
        "cleanup.policy": "compact",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "100",
    }
    parallel(
        lambda: create_topic(main, 12),
        lambda: create_topic(logappend, 3, configs={"message.timestamp.type": "LogAppendTime"}),
        lambda: create_topic(compacted, 2, configs=compact_configs),
    )
    main_records = main_topic_records(12)
    _, _, (compacted_src, compacted_produced, gaps) = parallel(
        lambda: produce(main, main_records),
        lambda: produce(logappend, log_append_records(3)),
        lambda: make_compaction_gaps(compacted),
    )
    record_property("compaction_gaps", gaps)
    record_property("compacted_records", f"{len(compacted_src)} of {compacted_produced} produced")
    print(f"compacted topic: {len(compacted_src)} of {compacted_produced} produced records "
          f"left before backup; offset gaps: {gaps}")

    storage = tmp_path / "store"
    summary = run_backup(tmp_path, backup_config(storage, [main, logappend, compacted], backup_id="fidelity"))
    assert summary["backup_id"] == "fidelity"
    assert summary["topics"] == 3

    # Source state after the backup.  Nothing writes to these topics any more,
    # but the cleaner may still remove records from the compacted one: the
    # backup then holds the state before or after that pass.
    src_main, src_la, compacted_after = parallel(
        lambda: dump(main), lambda: dump(logappend), lambda: dump(compacted))
    if compacted_after != compacted_src:
        print("the cleaner ran during the backup; comparing with the snapshot the backup counted")
        backed_up = summary["records"] - len(src_main) - len(src_la)
        if len(compacted_after) == backed_up:
            compacted_src = compacted_after
    src = {main: src_main, logappend: src_la, compacted: compacted_src}
    assert len(src_main) == len(main_records), "the peer did not write every main record"
    assert summary["records"] == sum(len(v) for v in src.values()), summary

    # validate --deep and describe.
    cli_ok(["validate", "--path", storage, "--backup-id", "fidelity", "--deep"])
    desc = cli_ok(["describe", "--path", storage, "--backup-id", "fidelity", "--format", "json"]).json()
    assert sorted(t["name"] for t in desc["topics"]) == sorted(src)
    for t in desc["topics"]:
        expected = src[t["name"]]
        assert t["records"] == len(expected), f"describe records for {t['name']}: {t['records']} != {len(expected)}"
        per_part = {}
        for r in expected:
            per_part[r["partition"]] = per_part.get(r["partition"], 0) + 1
        got = {p["partition"]: p["records"] for p in t["partitions"]}
        assert got == {p: per_part.get(p, 0) for p in got}, f"per-partition counts of {t['name']}"
        assert len(t["partitions"]) == t["partition_count"]
    desc_by_name = {t["name"]: t for t in desc["topics"]}
    assert desc_by_name[main]["partition_count"] == 12
    assert desc_by_name[logappend]["partition_count"] == 3
    assert desc_by_name[compacted]["partition_count"] == 2

    # Restore into the (empty) target cluster.
    result = run_restore(tmp_path, restore_config(storage, backup_id="fidelity"))
    assert result["records"] == summary["records"], result

    dst_main, dst_la, dst_compacted, *descs = parallel(
        lambda: dump(main, TARGET), lambda: dump(logappend, TARGET), lambda: dump(compacted, TARGET),
        lambda: describe_topic(main, SOURCE), lambda: describe_topic(main, TARGET),
        lambda: describe_topic(logappend, SOURCE), lambda: describe_topic(logappend, TARGET),
        lambda: describe_topic(compacted, SOURCE), lambda: describe_topic(compacted, TARGET),
    )

    assert_same_records(src_main, dst_main, what=main)
    assert len(dst_main) == len(main_records)
    assert_compaction_of(compacted_src, dst_compacted, what=compacted)

    # LogAppendTime: values kept; restored records read as CreateTime (the
    # restore writes them with CreateTime and switches the topic afterwards).
    assert all(r["timestamp_type"] == "LogAppendTime" for r in src_la)
    assert_same_records(src_la, dst_la, with_type=False, what=logappend)

    for name, (s, t) in zip((main, logappend, compacted), zip(descs[::2], descs[1::2])):
        assert t["partitions"] == s["partitions"], f"{name}: partition count {t['partitions']} != {s['partitions']}"
        for k, v in s["configs"].items():
            assert t["configs"].get(k) == v, f"{name}: target config {k}={t['configs'].get(k)!r}, source {v!r}"
    assert descs[3]["configs"].get("message.timestamp.type") == "LogAppendTime"
    assert descs[5]["configs"].get("cleanup.policy") == "compact"


def test_create_time_zero_survives_the_round_trip(tmp_path):
    """A CreateTime of exactly 0 survives a round trip (librdkafka sends 0 as
    "now": scripts/patches/librdkafka-create-time-zero.patch)."""
    topic = unique("ts-zero")
    create_topic(topic, 1)
    produce(topic, [rec(0, "zero", "created at the epoch", timestamp=0),
                    rec(0, "one", "one ms later", timestamp=1)])
    src = dump(topic)
    assert [r["timestamp"] for r in src] == [0, 1]
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="zero"))
    run_restore(tmp_path, restore_config(storage, backup_id="zero"))
    dst = dump(topic, TARGET)
    # Everything but the timestamp is right...
    assert_same_records([dict(r, timestamp=None) for r in src], [dict(r, timestamp=None) for r in dst],
                        what=topic)
    # ...and the timestamps too.
    assert [(r["timestamp"], r["timestamp_type"]) for r in dst] == [(0, "CreateTime"), (1, "CreateTime")], dst
