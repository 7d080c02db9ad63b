"""Restore options that change where records go or what they carry:
topic_mapping, source_partitions, partition_mapping, repartitioning, the time
window over a backup of many segments and blocks, and the x-original-* offset
headers (docs/config.md, "Restore options")."""

from __future__ import annotations

import random
import subprocess
from collections import Counter

from conftest import (EXIT_BAD_INPUT, KAFKA_BIN, SOURCE, TARGET, assert_error, assert_same_records,
                      b64, backup_config, cli_ok, content, create_topic, describe_topic, dump,
                      parallel, peer, produce, rec, restore_config, run_backup, run_cli, run_restore,
                      segment_files, unb64, unique, write_config)

BASE_TS = 1_700_000_000_000


def cluster_id(bootstrap: str) -> str:
    """The Kafka cluster id, from Kafka's own ClusterTool (not from kafka-backup)."""
    p = subprocess.run([str(KAFKA_BIN / "kafka-run-class"), "org.apache.kafka.tools.ClusterTool",
                        "cluster-id", "--bootstrap-server", bootstrap],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"ClusterTool cluster-id failed: {p.stderr[-2000:]}"
    for line in p.stdout.splitlines():
        if line.startswith("Cluster ID:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no cluster id in ClusterTool output: {p.stdout!r}")


def header_dict(r: dict) -> dict[str, str]:
    return {n: (unb64(v).decode() if v is not None else None) for n, v in r["headers"]}


def strip_offset_headers(r: dict) -> dict:
    return dict(r, headers=[h for h in r["headers"] if not h[0].startswith("x-")])


# ------------------------------------------------------------ segments

def test_small_backup_has_one_segment_per_nonempty_partition(tmp_path):
    topic = unique("one-seg")
    create_topic(topic, 3)
    # 20 records over partitions 0 and 2; partition 1 stays empty.
    produce(topic, [rec(2 * (i % 2), f"k{i}", f"v{i}", timestamp=BASE_TS + i) for i in range(20)])
    storage = tmp_path / "store"
    summary = run_backup(tmp_path, backup_config(storage, [topic], backup_id="small"))
    assert summary["records"] == 20, summary
    assert summary["segments"] == 2, f"expected one segment per non-empty partition: {summary}"
    segs = segment_files(storage, "small")
    assert len(segs) == 2, segs
    assert sorted(s.parent.name for s in segs) == ["0", "2"], segs


# --------------------------------------------------------- time window

WINDOW_PARTITIONS = 3
WINDOW_RECORDS = 1000                    # per partition
WINDOW_START, WINDOW_END = BASE_TS + 490, BASE_TS + 510


def window_records() -> list[dict]:
    """Per partition 1000 records with timestamps BASE_TS + i + 3p, each pair
    of neighbours swapped (not monotonic in offset order), so every partition
    has records just outside and exactly on both window edges, around offset
    500; values of 500 incompressible bytes."""
    rnd = random.Random(42)
    out = []
    for p in range(WINDOW_PARTITIONS):
        for j in range(WINDOW_RECORDS):
            i = j + 1 if j % 2 == 0 else j - 1          # 1, 0, 3, 2, ...
            ts = BASE_TS + i + 3 * p
            out.append(rec(p, f"w-{p}-{j}", f"p{p} j{j} ts{ts} ".encode() + rnd.randbytes(480),
                           headers=[("j", str(j))], timestamp=ts))
    return out


def test_time_window_straddles_segments_and_blocks(tmp_path, record_property):
    """The window's edges fall inside blocks and across a segment boundary in
    every partition; exactly the records with start <= timestamp <= end arrive.
    Two backups of the same data: small segments (100 records, ~50 KiB, each
    under the 64 KiB a segment read starts with) and larger ones (500
    records, ~250 KiB) with 4 KiB blocks, where the narrow window reads well
    under the stored size."""
    topic = unique("window-multi")
    create_topic(topic, WINDOW_PARTITIONS)
    produce(topic, window_records())
    storage = tmp_path / "store"
    small = run_backup(tmp_path, backup_config(storage, [topic], backup_id="small", segment_max_records=100,
                                               block_size_bytes=4096), name="small.yaml")
    large = run_backup(tmp_path, backup_config(storage, [topic], backup_id="large", segment_max_records=500,
                                               block_size_bytes=4096), name="large.yaml")
    total = WINDOW_PARTITIONS * WINDOW_RECORDS
    assert small["records"] == large["records"] == total
    assert small["segments"] == total // 100 and large["segments"] == total // 500, (small, large)

    src = dump(topic)
    for p in range(WINDOW_PARTITIONS):
        stamps = {r["timestamp"] for r in src if r["partition"] == p}
        assert {WINDOW_START - 1, WINDOW_START, WINDOW_END, WINDOW_END + 1} <= stamps
        inside = [r["offset"] for r in src if r["partition"] == p and WINDOW_START <= r["timestamp"] <= WINDOW_END]
        assert min(inside) < 500 <= max(inside), "the window should straddle the segment boundary at 500"
    expected = [r for r in src if WINDOW_START <= r["timestamp"] <= WINDOW_END]
    assert len(expected) == WINDOW_PARTITIONS * (WINDOW_END - WINDOW_START + 1)

    results = {}
    for backup_id in ("small", "large"):
        renamed = f"{topic}-{backup_id}"
        results[backup_id] = run_restore(tmp_path, restore_config(
            storage, backup_id=backup_id, topic_mapping={topic: renamed}, time_window_start=WINDOW_START,
            time_window_end=WINDOW_END), name=f"restore-{backup_id}.yaml")
        assert results[backup_id]["records"] == len(expected), results[backup_id]
    dst_small, dst_large, original = parallel(lambda: dump(f"{topic}-small", TARGET),
                                              lambda: dump(f"{topic}-large", TARGET),
                                              lambda: describe_topic(topic, TARGET, check=False))
    assert_same_records(expected, dst_small, what=f"{topic}-small")
    assert_same_records(expected, dst_large, what=f"{topic}-large")
    assert original is None, "topic_mapping also wrote the source name"

    for backup_id, summary in (("small", small), ("large", large)):
        fetched, stored = results[backup_id]["bytes_fetched"], summary["stored_bytes"]
        record_property(f"window_{backup_id}_bytes_fetched", fetched)
        record_property(f"window_{backup_id}_stored_bytes", stored)
        print(f"narrow window, {backup_id} segments: bytes_fetched={fetched} of stored_bytes={stored} "
              f"({100 * fetched / stored:.1f}%)")
    # Blocks outside the window are not read (docs/config.md): with segments
    # larger than the first read of a segment, the window reads well under half.
    fetched, stored = results["large"]["bytes_fetched"], large["stored_bytes"]
    assert 0 < fetched < stored / 2, f"bytes_fetched {fetched} is not well below the stored {stored}"


def test_validate_restore_time_window_between_records_selects_nothing(tmp_path):
    """Records at t=1000 and t=2000 in each partition: a window [1500, 1600]
    lies inside each partition's time range but selects no record."""
    topic = unique("window-gap")
    create_topic(topic, 2)
    produce(topic, [rec(p, f"k{p}{t}", f"at {t}", timestamp=BASE_TS + t) for p in range(2) for t in (1000, 2000)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="gap"))
    cfg = write_config(tmp_path, restore_config(storage, backup_id="gap", time_window_start=BASE_TS + 1500,
                                                time_window_end=BASE_TS + 1600))
    dry = cli_ok(["restore", "--config", cfg, "--dry-run", "--format", "json"]).json()
    assert dry["records"] == 0, dry
    r = run_cli(["validate-restore", "--config", cfg, "--format", "json"])
    assert r.rc == EXIT_BAD_INPUT, f"a window selecting no record must fail validate-restore: {r.describe()}"
    assert r.json()["ok"] is False
    assert describe_topic(topic, TARGET, check=False) is None


def test_time_window_end_before_start_is_a_config_error(tmp_path):
    storage = tmp_path / "store"
    storage.mkdir()
    cfg = write_config(tmp_path, restore_config(storage, backup_id="any", time_window_start=2000,
                                                time_window_end=1000), "inverted.yaml")
    for command in ("restore", "validate-restore", "three-phase-restore"):
        r = run_cli([command, "--config", cfg])
        assert_error(r, EXIT_BAD_INPUT, "time_window_end", "time_window_start", "inverted.yaml")


# ------------------------------------------- topic/partition selection

def test_topic_mapping_source_partitions_and_partition_mapping(tmp_path):
    topic = unique("mapping")
    create_topic(topic, 3)
    produce(topic, [rec(p, f"k-{p}-{i}", f"v-{p}-{i}", headers=[("p", str(p))], timestamp=BASE_TS + 10 * i + p)
                    for p in range(3) for i in range(5)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="map"))

    # Renamed, only partitions 0 and 2.
    only, moved = f"{topic}-only-0-2", f"{topic}-moved"
    result = run_restore(tmp_path, restore_config(storage, backup_id="map", topic_mapping={topic: only},
                                                  source_partitions={topic: [0, 2]}), "only.yaml")
    assert result["records"] == 10, result
    assert [(t["name"], t["source_name"]) for t in result["topics"]] == [(only, topic)]
    # Renamed, partition 1 -> 4 and 2 -> 0 (so 0 gets two sources; 0 is unmapped and keeps its number).
    result = run_restore(tmp_path, restore_config(storage, backup_id="map", topic_mapping={topic: moved},
                                                  partition_mapping={topic: {1: 4, 2: 0}}), "moved.yaml")
    assert result["records"] == 15, result

    src, dst_only, dst_moved, desc_moved, original = parallel(
        lambda: dump(topic), lambda: dump(only, TARGET), lambda: dump(moved, TARGET),
        lambda: describe_topic(moved, TARGET), lambda: describe_topic(topic, TARGET, check=False), workers=5)
    assert original is None, "the source name was created on the target"
    assert_same_records([r for r in src if r["partition"] in (0, 2)], dst_only, what=only)

    # The target is created with enough partitions for the mapping.
    assert desc_moved["partitions"] == 5, desc_moved
    got = {}
    for r in dst_moved:
        got.setdefault(r["partition"], []).append(content(r))
    want_from = {p: [content(r) for r in src if r["partition"] == p] for p in range(3)}
    assert sorted(got) == [0, 4], got.keys()
    assert got[4] == want_from[1]
    # Partition 0 holds source partitions 0 and 2, each in its order.
    assert sorted(got[0]) == sorted(want_from[0] + want_from[2])
    assert [c for c in got[0] if c in want_from[0]] == want_from[0]
    assert [c for c in got[0] if c in want_from[2]] == want_from[2]


def test_partition_mapping_beyond_existing_target_topic_fails(tmp_path):
    topic = unique("map-existing")
    renamed = topic + "-small"
    parallel(lambda: create_topic(topic, 2), lambda: create_topic(renamed, 2, TARGET))
    produce(topic, [rec(p, f"k{p}", f"v{p}", timestamp=BASE_TS + p) for p in range(2)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="beyond"))
    cfg = write_config(tmp_path, restore_config(storage, backup_id="beyond", topic_mapping={topic: renamed},
                                                partition_mapping={topic: {1: 5}}))
    r = run_cli(["restore", "--config", cfg])
    assert_error(r, EXIT_BAD_INPUT, renamed, "5")
    v = run_cli(["validate-restore", "--config", cfg, "--format", "json"])
    assert v.rc == EXIT_BAD_INPUT, v.describe()
    failed = [c for c in v.json()["checks"] if not c["ok"]]
    assert failed and renamed in failed[0]["detail"], failed
    assert dump(renamed, TARGET) == [], "a refused restore wrote records"
    assert describe_topic(renamed, TARGET)["partitions"] == 2


# ------------------------------------------------------- repartitioning

def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (32-bit, seed 0x9747b28c), as a signed int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, n: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % n


def repartition_keys() -> list[bytes]:
    keys = [f"user-{i}".encode() for i in range(150)]
    keys += [b"", b"a", b"ab", b"abc", bytes(range(256)), b"\xff\xfe\xfd\xfc\xfb", "clé-ü".encode()]
    rnd = random.Random(7)
    keys += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40))) for _ in range(40)]
    return keys


def test_repartitioning_matches_java_default_partitioner(tmp_path):
    n = 5
    topic = unique("repart")
    create_topic(topic, 2)
    keys = repartition_keys()
    records = [rec(i % 2, k, f"keyed {i}", timestamp=BASE_TS + i) for i, k in enumerate(keys)]
    records += [rec(p, None, f"null key {p}/{i}", timestamp=BASE_TS + 1000 + i) for p in range(2) for i in range(3)]
    produce(topic, records)
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="repart"))

    # The Python murmur2 agrees with the Java client on a sample of keys.
    sample = random.Random(3).sample(keys[:150], 12) + keys[150:158]
    answers = parallel(*[(lambda k=k: peer("partition-for", "--partitions", str(n), "--key", b64(k)))
                         for k in sample], workers=10)
    java = [int(a.stdout.strip()) for a in answers]
    assert [java_partition(k, n) for k in sample] == java, "the murmur2 of this test disagrees with Java's"

    renamed = topic + "-x5"
    result = run_restore(tmp_path, restore_config(storage, backup_id="repart", topic_mapping={topic: renamed},
                                                  repartitioning={topic: n}))
    assert result["records"] == len(records), result
    src, dst, desc = parallel(lambda: dump(topic), lambda: dump(renamed, TARGET),
                              lambda: describe_topic(renamed, TARGET))
    assert desc["partitions"] == n
    assert len(dst) == len(src)
    wrong = []
    for r in dst:
        key = unb64(r["key"])
        if key is None:
            src_p = next(s["partition"] for s in src if s["value"] == r["value"])
            want = src_p % n
        else:
            want = java_partition(key, n)
        if r["partition"] != want:
            wrong.append((key, r["partition"], want))
    assert not wrong, f"{len(wrong)} records in the wrong partition (key, got, want): {wrong[:10]}"
    # Same content; records of one source partition keep their order in each target partition.
    assert Counter(content(r) for r in dst) == Counter(content(r) for r in src)
    src_order = {content(r): (r["partition"], r["offset"]) for r in src}
    for p in range(n):
        seq = [src_order[content(r)] for r in dst if r["partition"] == p]
        for sp in range(2):
            offs = [o for (q, o) in seq if q == sp]
            assert offs == sorted(offs), f"target partition {p}: records of source partition {sp} reordered"


# --------------------------------------------------------- offset headers

def test_offset_headers(tmp_path):
    topic = unique("hdr")
    create_topic(topic, 2)
    records = [rec(p, f"k-{p}-{i}", f"v-{p}-{i}", headers=[("orig", f"h{i}"), ("dup", b"1"), ("dup", None)],
                   timestamp=BASE_TS + 100 * i + p) for p in range(2) for i in range(4)]
    src_cluster, _ = parallel(lambda: cluster_id(SOURCE), lambda: produce(topic, records))
    storage = tmp_path / "store"
    # A backup that asks for the headers (the cluster id defaults to Kafka's),
    # and one that does not but labels its source.
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="with", include_offset_headers=True),
               name="with.yaml")
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="label", source_cluster_id="dc-east-1"),
               name="label.yaml")

    t_default, t_off, t_on = f"{topic}-default", f"{topic}-off", f"{topic}-on"
    run_restore(tmp_path, restore_config(storage, backup_id="with", topic_mapping={topic: t_default}), "r1.yaml")
    run_restore(tmp_path, restore_config(storage, backup_id="with", topic_mapping={topic: t_off},
                                         include_offset_headers=False), "r2.yaml")
    run_restore(tmp_path, restore_config(storage, backup_id="label", topic_mapping={topic: t_on},
                                         include_offset_headers=True), "r3.yaml")
    src, d_default, d_off, d_on = parallel(lambda: dump(topic), *[(lambda t=t: dump(t, TARGET))
                                                                  for t in (t_default, t_off, t_on)], workers=4)

    def check_headers(target: list[dict], cluster: str, what: str) -> None:
        assert_same_records(src, [strip_offset_headers(r) for r in target], what=what)
        for p in range(2):
            for s, t in zip([r for r in src if r["partition"] == p], [r for r in target if r["partition"] == p]):
                # The record's own headers first and unchanged, then the three added ones.
                assert t["headers"][:len(s["headers"])] == s["headers"], (what, t["headers"])
                added = t["headers"][len(s["headers"]):]
                assert [h[0] for h in added] == ["x-original-offset", "x-original-timestamp",
                                                 "x-source-cluster"], (what, added)
                h = header_dict({"headers": added})
                assert h["x-original-offset"] == str(s["offset"]), (what, h, s["offset"])
                assert h["x-original-timestamp"] == str(s["timestamp"]), (what, h, s["timestamp"])
                assert h["x-source-cluster"] == cluster, (what, h)

    check_headers(d_default, src_cluster, t_default)
    # restore.include_offset_headers: true adds them to a backup that did not ask, with its label.
    check_headers(d_on, "dc-east-1", t_on)
    # include_offset_headers: false strips them although the backup asked.
    assert_same_records(src, d_off, what=t_off)
    assert not any(h[0].startswith("x-") for r in d_off for h in r["headers"])


def test_points_in_time_as_rfc3339_relative_and_flags(tmp_path):
    """restore.time_window_* as RFC 3339 strings (with an offset) select the
    same records as the epoch ms they name; --time-window-end overrides the
    config, also relative to now; a malformed time is refused naming the
    key or flag and the forms accepted."""
    import time as _time
    from datetime import datetime, timedelta, timezone

    topic = unique("rfc3339")
    create_topic(topic, 1)
    now_ms = int(_time.time() * 1000)
    # Ten records an hour apart ending three hours ago, and one a minute ago.
    stamps = [now_ms - (3 + 9 - i) * 3_600_000 for i in range(10)] + [now_ms - 60_000]
    produce(topic, [rec(0, f"k{i}", f"v{i}", timestamp=t) for i, t in enumerate(stamps)])
    storage = tmp_path / "store"
    run_backup(tmp_path, backup_config(storage, [topic], backup_id="pit"))

    def rfc3339(ms: int, tz: timezone = timezone.utc) -> str:
        return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="milliseconds")

    plus_two = timezone(timedelta(hours=2))
    start, end = stamps[2], stamps[6]
    by_ms = cli_ok(["restore", "--dry-run", "--format", "json", "--config", write_config(
        tmp_path, restore_config(storage, "pit", time_window_start=start, time_window_end=end), "ms.yaml")]).json()
    by_text = cli_ok(["restore", "--dry-run", "--format", "json", "--config", write_config(
        tmp_path, restore_config(storage, "pit", time_window_start=rfc3339(start),
                                 time_window_end=rfc3339(end, plus_two)), "rfc.yaml")]).json()
    assert by_ms["records"] == by_text["records"] == 5, (by_ms, by_text)

    # The flag wins over the config; -2h leaves out the record a minute old
    # and keeps the ten older ones; --time-window-start with it.
    cfg = write_config(tmp_path, restore_config(storage, "pit", time_window_end=stamps[0]), "flags.yaml")
    assert cli_ok(["restore", "--dry-run", "--format", "json", "--config", cfg]).json()["records"] == 1
    dry = cli_ok(["restore", "--dry-run", "--format", "json", "--config", cfg, "--time-window-end", "-2h"]).json()
    assert dry["records"] == 10, dry
    dry = cli_ok(["restore", "--dry-run", "--format", "json", "--config", cfg, "--time-window-start",
                  rfc3339(stamps[8]), "--time-window-end", "now"]).json()
    assert dry["records"] == 3, dry
    r = run_cli(["validate-restore", "--config", cfg, "--time-window-end", "-90m", "--format", "json"])
    assert r.rc == 0 and r.json()["ok"] is True, r.describe()

    # Restored for real through the flag: the records the window names.
    target = unique("rfc3339-restored")
    real = write_config(tmp_path, restore_config(storage, "pit", topic_mapping={topic: target}), "real.yaml")
    cli_ok(["restore", "--config", real, "--time-window-start", rfc3339(start, plus_two), "--time-window-end",
            rfc3339(end)])
    got = dump(target, TARGET)
    assert [r["timestamp"] for r in got] == stamps[2:7], got

    bad = write_config(tmp_path, restore_config(storage, "pit", time_window_end="2026-12-01T10:00:00"), "bad.yaml")
    assert_error(run_cli(["restore", "--config", bad]), EXIT_BAD_INPUT, "time_window_end", "bad.yaml", "time zone",
                 "RFC 3339")
    assert_error(run_cli(["restore", "--config", cfg, "--time-window-end", "-2x"]), EXIT_BAD_INPUT,
                 "--time-window-end", "unknown unit 'x'")
    assert_error(run_cli(["restore", "--config", cfg, "--time-window-start", "-1h", "--time-window-end", "-2h"]),
                 EXIT_BAD_INPUT, "ends", "before it starts")
